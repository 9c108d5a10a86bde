// Runs ONNX's per-op conformance cases of every supported op through the
// importer and the reference interpreter (and differentiates each), and a
// cross-section of them compiled through adc: no case may fail.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tools/onnx/conformance_lib.h"

namespace adc {
namespace {

// The cases from the test's runfiles (@onnx//:node_testdata), else from the
// system; "" if neither exists.
std::string NodeTestDir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  for (std::string dir :
       {srcdir ? std::string(srcdir) + "/onnx/share/libonnx-testdata/data/node"
               : std::string(),
        srcdir ? std::string(srcdir) +
                     "/adc/external/onnx/share/libonnx-testdata/data/node"
               : std::string(),
        std::string(kOnnxNodeTestDir)}) {
    if (!dir.empty() && std::filesystem::exists(dir + "/test_add/model.onnx")) {
      return dir;
    }
  }
  return "";
}

TEST(OnnxConformanceTest, SupportedOpsPassThroughTheInterpreter) {
  const std::string dir = NodeTestDir();
  if (dir.empty()) GTEST_SKIP() << "libonnx-testdata is not installed";
  ConformanceOptions options;
  options.data_dir = dir;
  options.backend = ConformanceBackend::kInterpret;
  // Every op the importer supports (a fixed list: dropping an op fails).
  options.ops = {
      "Abs",
      "Adagrad",
      "Adam",
      "Add",
      "And",
      "ArgMax",
      "ArgMin",
      "Atan",
      "AveragePool",
      "BatchNormalization",
      "Cast",
      "CastLike",
      "Celu",
      "Clip",
      "Concat",
      "Constant",
      "ConstantOfShape",
      "Conv",
      "ConvTranspose",
      "Cos",
      "CumSum",
      "Div",
      "Dropout",
      "Elu",
      "Equal",
      "Erf",
      "Exp",
      "Expand",
      "Flatten",
      "Gather",
      "GatherElements",
      "Gemm",
      "GlobalAveragePool",
      "GlobalMaxPool",
      "Greater",
      "GreaterOrEqual",
      "HardSigmoid",
      "HardSwish",
      "Identity",
      "InstanceNormalization",
      "IsInf",
      "IsNaN",
      "LayerNormalization",
      "LeakyRelu",
      "Less",
      "LessOrEqual",
      "Log",
      "LogSoftmax",
      "MatMul",
      "Max",
      "MaxPool",
      "Mean",
      "Min",
      "Momentum",
      "Mul",
      "Neg",
      "Not",
      "Or",
      "PRelu",
      "Pad",
      "Pow",
      "Range",
      "Reciprocal",
      "ReduceL1",
      "ReduceL2",
      "ReduceLogSum",
      "ReduceLogSumExp",
      "ReduceMax",
      "ReduceMean",
      "ReduceMin",
      "ReduceProd",
      "ReduceSum",
      "ReduceSumSquare",
      "Relu",
      "Reshape",
      "Round",
      "Selu",
      "Shape",
      "Sigmoid",
      "Sign",
      "Sin",
      "Size",
      "Slice",
      "Softmax",
      "Softplus",
      "Softsign",
      "Split",
      "Sqrt",
      "Squeeze",
      "Sub",
      "Sum",
      "Tan",
      "Tanh",
      "ThresholdedRelu",
      "Tile",
      "Transpose",
      "Trilu",
      "Unsqueeze",
      "Where",
      "Xor",
  };
  absl::StatusOr<ConformanceReport> report = RunConformance(options);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const CaseResult& c : report->cases) {
    if (c.outcome == CaseOutcome::kFailed) {
      ADD_FAILURE() << c.name << ": " << c.detail;
    }
  }
  EXPECT_EQ(report->failed, 0) << report->Summary();
  // The selection holds ~550 cases; most must run (the rest use dtypes adc
  // does not have, e.g. uint8, or training modes).
  EXPECT_GE(report->passed, 450) << report->Summary();
  std::printf("%s\n", report->Summary().c_str());
}

// A cross-section of the cases, one or two per op family, compiled through
// adc (values and gradients) as bounds-checked code (codegen/bounds_check.h:
// an access outside a buffer aborts the test): each must pass, not merely
// not fail. The full compiled run is `bazel run //tools/onnx:conformance`
// (about 16 minutes).
class CompiledConformanceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CompiledConformanceTest, Passes) {
  const std::string dir = NodeTestDir();
  if (dir.empty()) GTEST_SKIP() << "libonnx-testdata is not installed";
  ConformanceOptions options;
  options.data_dir = dir;
  options.backend = ConformanceBackend::kCompile;
  options.compile.check_bounds = true;
  const CaseResult result = RunConformanceCase(dir + "/" + GetParam(), options);
  EXPECT_EQ(result.outcome, CaseOutcome::kPassed)
      << result.name << ": " << result.detail;
}

INSTANTIATE_TEST_SUITE_P(
    CrossSection, CompiledConformanceTest,
    ::testing::Values(
        // Element-wise, with broadcasting.
        "test_add_bcast", "test_sub_bcast", "test_mul_bcast", "test_div_bcast",
        "test_pow_bcast_array", "test_neg", "test_abs", "test_sign", "test_exp",
        "test_log", "test_sqrt", "test_reciprocal", "test_sin", "test_cos",
        "test_tan", "test_tanh", "test_sigmoid", "test_relu", "test_erf",
        "test_softplus", "test_elu", "test_leakyrelu", "test_clip",
        "test_where_example", "test_less", "test_greater", "test_equal",
        "test_max_example", "test_sum_example", "test_mean_example",
        "test_cast_FLOAT_to_DOUBLE",
        // Reductions and normalizations.
        "test_reduce_sum_keepdims_random",
        "test_reduce_mean_default_axes_keepdims_random",
        "test_reduce_max_do_not_keepdims_random",
        "test_reduce_min_keepdims_random", "test_reduce_prod_keepdims_random",
        "test_reduce_log_sum_exp_keepdims_random", "test_softmax_axis_1",
        "test_logsoftmax_large_number", "test_layer_normalization_2d_axis0",
        "test_batchnorm_example", "test_argmax_default_axis_example",
        "test_argmin_keepdims_example", "test_tril_zero",
        // Linear algebra.
        "test_gemm_all_attributes", "test_matmul_4d",
        // Shapes and data movement.
        "test_reshape_negative_dim", "test_flatten_axis1",
        "test_transpose_all_permutations_3", "test_concat_3d_axis_1",
        "test_slice_neg_steps", "test_gather_1", "test_squeeze",
        "test_unsqueeze_axis_0", "test_expand_dim_changed",
        "test_cumsum_2d_axis_0", "test_constant_pad", "test_tril",
        "test_identity", "test_constant"));

}  // namespace
}  // namespace adc
