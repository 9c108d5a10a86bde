// Runs ONNX's per-op conformance cases of a fixed list of supported ops
// through the importer and the reference interpreter (and differentiates
// each): no case may fail.
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
      "Add",
      "And",
      "ArgMax",
      "ArgMin",
      "BatchNormalization",
      "Cast",
      "CastLike",
      "Celu",
      "Clip",
      "Concat",
      "Constant",
      "ConstantOfShape",
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
      "Greater",
      "GreaterOrEqual",
      "HardSigmoid",
      "HardSwish",
      "Identity",
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
      "Mean",
      "Min",
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

TEST(OnnxConformanceTest, CompileBackendHookIsASkipUntilWired) {
  const std::string dir = NodeTestDir();
  if (dir.empty()) GTEST_SKIP() << "libonnx-testdata is not installed";
  ConformanceOptions options;
  options.data_dir = dir;
  options.backend = ConformanceBackend::kCompile;
  options.filter = "test_add_bcast";
  absl::StatusOr<ConformanceReport> report = RunConformance(options);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->cases.size(), 1u);
  EXPECT_NE(report->cases[0].outcome, CaseOutcome::kFailed)
      << report->cases[0].detail;
}

}  // namespace
}  // namespace adc
