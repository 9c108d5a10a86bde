// Imports a PyTorch-exported MLP (models/mlp_onnx/mlp.onnx), adds the loss
// sum(log_probs * w) with the builder, differentiates it with respect to the
// input and every parameter and checks values and gradients against PyTorch's
// (models/mlp_onnx/mlp_ref.txt, float64 autograd), at f32 tolerances.
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "codegen/run_compiled.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "tools/onnx/importer.h"

namespace adc {
namespace {

constexpr char kModel[] = "models/mlp_onnx/mlp.onnx";
constexpr char kRef[] = "models/mlp_onnx/mlp_ref.txt";

// Reads mlp_ref.txt: "<name> <dims, comma-separated, or -> <values...>" per
// line, '#' lines are comments. Tensors come back as f64.
std::map<std::string, Tensor> ReadReference(const std::string& path) {
  std::map<std::string, Tensor> tensors;
  std::ifstream file(path);
  EXPECT_TRUE(file) << "cannot open " << path;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    EXPECT_GE(fields.size(), 2u) << line;
    if (fields.size() < 2) continue;
    Dims dims;
    if (fields[1] != "-") {
      for (absl::string_view d : absl::StrSplit(fields[1], ',')) {
        int64_t v = 0;
        EXPECT_TRUE(absl::SimpleAtoi(d, &v)) << line;
        dims.push_back(v);
      }
    }
    std::vector<double> values;
    for (size_t i = 2; i < fields.size(); ++i) {
      double v = 0;
      EXPECT_TRUE(absl::SimpleAtod(fields[i], &v)) << fields[i];
      values.push_back(v);
    }
    TensorType type{DType::kF64, dims};
    EXPECT_EQ(static_cast<int64_t>(values.size()), type.num_elements())
        << fields[0];
    if (static_cast<int64_t>(values.size()) != type.num_elements()) continue;
    tensors[fields[0]] = Tensor::FromDoubles(type, values);
  }
  return tensors;
}

// f32 results against float64 references: |got - want| <= atol + rtol|want|.
void ExpectClose(const std::string& name, const Tensor& got,
                 const Tensor& want) {
  ASSERT_EQ(got.dims(), want.dims()) << name;
  EXPECT_EQ(got.dtype(), DType::kF32) << name;
  const double rtol = 1e-4, atol = 1e-6;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    EXPECT_NEAR(got.GetDouble(i), want.GetDouble(i),
                atol + rtol * std::abs(want.GetDouble(i)))
        << name << " element " << i;
  }
}

TEST(MlpOnnxTest, ImportsWithOnnxNames) {
  absl::StatusOr<Graph> g = ImportOnnx(kModel);
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<std::string> inputs, params;
  for (ValueId id : g->inputs()) inputs.push_back(g->node(id).name);
  for (ValueId id : g->parameters()) params.push_back(g->node(id).name);
  EXPECT_EQ(inputs, std::vector<std::string>({"x"}));
  EXPECT_EQ(params,
            std::vector<std::string>({"fc1.weight", "fc1.bias", "fc2.weight",
                                      "fc2.bias", "fc3.weight", "fc3.bias"}));
  ASSERT_EQ(g->outputs().size(), 1u);
  EXPECT_EQ(g->outputs()[0].name, "log_probs");
  EXPECT_EQ(g->type(g->outputs()[0].value).ToString(), "f32[4,3]");
  // Intermediates keep the exporter's value names.
  for (const char* name :
       {"/fc1/Gemm_output_0", "/Tanh_output_0", "/fc2/Gemm_output_0",
        "/Relu_output_0", "/fc3/Gemm_output_0"}) {
    EXPECT_TRUE(g->Find(name).has_value()) << name;
  }
  EXPECT_EQ(g->type(*g->Find("/fc1/Gemm_output_0")).ToString(), "f32[4,8]");
  // The imported graph is an ordinary graph: it round-trips through GraphDef
  // (what `adc import` writes).
  absl::StatusOr<Graph> round_trip = GraphFromProto(GraphToProto(*g));
  ASSERT_TRUE(round_trip.ok()) << round_trip.status();
  EXPECT_EQ(round_trip->num_nodes(), g->num_nodes());
  EXPECT_EQ(GraphToText(*round_trip), GraphToText(*g));
}

TEST(MlpOnnxTest, ValuesAndGradientsMatchPyTorch) {
  std::map<std::string, Tensor> ref = ReadReference(kRef);
  for (const char* name : {"x", "log_probs", "w", "loss", "x.grad"}) {
    ASSERT_EQ(ref.count(name), 1u) << name;
  }
  absl::StatusOr<Graph> g = ImportOnnx(kModel);
  ASSERT_TRUE(g.ok()) << g.status();

  // loss = sum(log_probs * w), added with the builder.
  {
    GraphBuilder b(&*g);
    Value log_probs = b.Find("log_probs");
    Value w = Constant(b, ref["w"].CastTo(DType::kF32));
    b.Output("loss", Sum(log_probs * w));
    ASSERT_TRUE(b.ok()) << b.status();
  }
  ASSERT_TRUE(Verify(*g).ok());

  std::vector<std::string> wrt = {"x"};
  for (ValueId id : g->parameters()) wrt.push_back(g->node(id).name);
  absl::StatusOr<std::vector<std::string>> grads =
      AddGradients(&*g, {.of = "loss", .wrt = wrt});
  ASSERT_TRUE(grads.ok()) << grads.status();
  ASSERT_TRUE(Verify(*g).ok());

  // The reference interpreter, then the compiled artifact through the
  // runtime: both match PyTorch.
  for (bool compiled : {false, true}) {
    SCOPED_TRACE(compiled ? "compiled" : "interpreted");
    const std::map<std::string, Tensor> feeds = {
        {"x", ref["x"].CastTo(DType::kF32)}};
    absl::StatusOr<std::map<std::string, Tensor>> out =
        compiled ? CompileAndRun(*g, feeds) : Interpret(*g, feeds);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose("log_probs", out->at("log_probs"), ref["log_probs"]);
    ExpectClose("loss", out->at("loss"), ref["loss"]);
    ASSERT_EQ(grads->size(), wrt.size());
    for (size_t i = 0; i < wrt.size(); ++i) {
      const std::string name = wrt[i] + ".grad";
      EXPECT_EQ((*grads)[i], name);
      ASSERT_EQ(ref.count(name), 1u) << name;
      ExpectClose(name, out->at(name), ref[name]);
    }
  }
}

}  // namespace
}  // namespace adc
