// Importer unit tests on small models written in ONNX's textual syntax
// (onnx/defs/parser.h): op semantics across opsets, names, static operands
// and the error cases.
#include "tools/onnx/importer.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"
#include "onnx/defs/parser.h"
#include "passes/autodiff.h"
#include "tools/grad_check.h"

namespace adc {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

onnx::ModelProto Parse(const std::string& text) {
  onnx::ModelProto model;
  onnx::Common::Status status = onnx::OnnxParser::Parse(model, text.c_str());
  EXPECT_TRUE(status.IsOK()) << status.ErrorMessage() << "\n" << text;
  return model;
}

// A model of one graph at `opset`: "<signature> { <nodes> }".
std::string Model(int opset, const std::string& graph) {
  return absl::StrCat("<ir_version: 7, opset_import: [\"\" : ", opset, "]> ",
                      graph);
}

absl::StatusOr<Graph> Import(const std::string& text,
                             const ImportOptions& options = {}) {
  return ImportOnnxModel(Parse(text), options);
}

Graph MustImport(const std::string& text, const ImportOptions& options = {}) {
  absl::StatusOr<Graph> g = Import(text, options);
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *std::move(g) : Graph();
}

Tensor F32(Dims dims, std::vector<double> values) {
  return Tensor::FromDoubles(TensorType{DType::kF32, std::move(dims)},
                             std::move(values));
}

Tensor I64(Dims dims, std::vector<int64_t> values) {
  return Tensor::FromInts(TensorType{DType::kI64, std::move(dims)},
                          std::move(values));
}

std::vector<double> Values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.num_elements(); ++i) v.push_back(t.GetDouble(i));
  return v;
}

// Runs the graph and returns output `name`.
Tensor Eval(const Graph& g, const std::map<std::string, Tensor>& feeds,
            const std::string& name = "y") {
  absl::StatusOr<std::map<std::string, Tensor>> out = Interpret(g, feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok() || out->count(name) == 0) return Tensor();
  return out->at(name);
}

std::vector<std::string> Names(const Graph& g, std::vector<ValueId> ids) {
  std::vector<std::string> names;
  for (ValueId id : ids) names.push_back(g.node(id).name);
  return names;
}

Tensor Iota(Dims dims) {
  TensorType type{DType::kF32, dims};
  std::vector<double> v(type.num_elements());
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return Tensor::FromDoubles(type, v);
}

// ---------------------------------------------------------------------------
// Structure and names.
// ---------------------------------------------------------------------------
TEST(OnnxImporterTest, InputsParametersOutputsAndNames) {
  onnx::ModelProto model = Parse(Model(13, R"(
      g (float[2,3] x, float[3] b = {1.0, 2.0, 3.0}) => (float[2,3] y) {
        t = Add(x, b)
        y = Relu(t)
      })"));
  // An initializer that is not a graph input is a parameter as well.
  onnx::TensorProto* w = model.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);
  for (float v : {0.5f, 1.5f, -1.0f}) w->add_float_data(v);
  onnx::NodeProto* mul = model.mutable_graph()->add_node();
  mul->set_op_type("Mul");
  mul->add_input("y");
  mul->add_input("w");
  mul->add_output("z");
  *model.mutable_graph()->add_output() = model.graph().output(0);
  model.mutable_graph()->mutable_output(1)->set_name("z");

  absl::StatusOr<Graph> g = ImportOnnxModel(model);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(Names(*g, g->inputs()), ElementsAre("x"));
  EXPECT_THAT(Names(*g, g->parameters()), ElementsAre("b", "w"));
  ASSERT_EQ(g->outputs().size(), 2u);
  EXPECT_EQ(g->outputs()[0].name, "y");
  EXPECT_EQ(g->outputs()[1].name, "z");
  // Node outputs keep their ONNX names.
  EXPECT_TRUE(g->Find("t").has_value());
  EXPECT_TRUE(g->Find("y").has_value());
  EXPECT_TRUE(Verify(*g).ok());
  Tensor x = F32({2, 3}, {-2, 0, 1, 4, -5, -2});
  EXPECT_THAT(Values(Eval(*g, {{"x", x}})), ElementsAre(0, 2, 4, 5, 0, 1));
  EXPECT_THAT(Values(Eval(*g, {{"x", x}}, "z")),
              ElementsAre(0, 3, -4, 2.5, 0, -1));
}

TEST(OnnxImporterTest, IdentityOutputIsTheExistingValue) {
  Graph g = MustImport(Model(13, R"(
      g (float[2] x) => (float[2] y, float[2] z) {
        y = Identity(x)
        z = Neg(y)
      })"));
  EXPECT_EQ(g.outputs()[0].value, *g.Find("x"));
  EXPECT_THAT(Values(Eval(g, {{"x", F32({2}, {1, -2})}}, "z")),
              ElementsAre(-1, 2));
}

TEST(OnnxImporterTest, HelperNodesAreScopedAndYieldOnnxNames) {
  // Gemm's helper nodes live under the node's name; a later ONNX value
  // named like a helper takes the name.
  Graph g = MustImport(Model(13, R"(
      g (float[2,2] a, float[2,2] b) => (float[2,2] y) {
        y0 = Gemm <alpha = 2.0, transB = 1> (a, b)
        y = Neg(y0)
      })"));
  EXPECT_TRUE(g.Find("y0").has_value());
  for (const Node& node : g.nodes()) {
    if (node.op == OpKind::kInput) continue;
    EXPECT_TRUE(node.name == "y0" || node.name == "y" ||
                absl::StartsWith(node.name, "y0/"))
        << node.name;
  }
}

// ---------------------------------------------------------------------------
// Op semantics.
// ---------------------------------------------------------------------------
TEST(OnnxImporterTest, GemmAlphaBetaTransposes) {
  Graph g = MustImport(Model(13, R"(
      g (float[3,2] a, float[4,3] b, float[4] c) => (float[2,4] y) {
        y = Gemm <alpha = 2.0, beta = 0.5, transA = 1, transB = 1> (a, b, c)
      })"));
  Tensor a = F32({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor b = F32({4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  Tensor c = F32({4}, {2, 4, 6, 8});
  // a^T = [[1,3,5],[2,4,6]]; a^T b^T = [[1,3,5,9],[2,4,6,12]].
  EXPECT_THAT(Values(Eval(g, {{"a", a}, {"b", b}, {"c", c}})),
              ElementsAre(3, 8, 13, 22, 5, 10, 15, 28));
}

TEST(OnnxImporterTest, SoftmaxAxisSemanticsDependOnOpset) {
  const std::string graph = R"(
      g (float[2,2,2] x) => (float[2,2,2] y) {
        y = Softmax <axis = 1> (x)
      })";
  Tensor x = F32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  // Opset 13: along axis 1 only.
  Tensor y13 = Eval(MustImport(Model(13, graph)), {{"x", x}});
  // Opset 11: x is coerced to [2, 4] and normalized along the 4.
  Tensor y11 = Eval(MustImport(Model(11, graph)), {{"x", x}});
  const double e2 = 1 / (1 + std::exp(2.0)), e1 = std::exp(1.0);
  const double s = 1 + e1 + e1 * e1 + e1 * e1 * e1;
  EXPECT_NEAR(y13.GetDouble(0), e2, 1e-6);
  EXPECT_NEAR(y13.GetDouble(2), 1 - e2, 1e-6);
  EXPECT_NEAR(y11.GetDouble(0), 1 / s, 1e-6);
  EXPECT_NEAR(y11.GetDouble(3), e1 * e1 * e1 / s, 1e-6);
}

TEST(OnnxImporterTest, SqueezeUnsqueezeAxesAsAttributeOrInput) {
  Tensor x = Iota({1, 3, 1});
  Graph old = MustImport(Model(11, R"(
      g (float[1,3,1] x) => (float[3,1,1] y) {
        s = Squeeze <axes = [0, -1]> (x)
        y = Unsqueeze <axes = [-1, 1]> (s)
      })"));
  EXPECT_EQ(old.type(old.outputs()[0].value).ToString(), "f32[3,1,1]");
  Graph now = MustImport(Model(13, R"(
      g (float[1,3,1] x) => (float[3,1,1] y) {
        a = Constant <value = int64[2] {0, -1}> ()
        s = Squeeze(x, a)
        b = Constant <value = int64[2] {-1, 1}> ()
        y = Unsqueeze(s, b)
      })"));
  EXPECT_EQ(now.type(now.outputs()[0].value).ToString(), "f32[3,1,1]");
  EXPECT_THAT(Values(Eval(now, {{"x", x}})), ElementsAre(0, 1, 2));
  // Squeeze without axes removes every size-1 axis.
  Graph all = MustImport(Model(13, R"(
      g (float[1,3,1] x) => (float[3] y) { y = Squeeze(x) })"));
  EXPECT_EQ(all.type(all.outputs()[0].value).ToString(), "f32[3]");
}

TEST(OnnxImporterTest, SliceNegativeClampedAndStepped) {
  Tensor x = Iota({2, 10});
  Graph g = MustImport(Model(13, R"(
      g (float[2,10] x) => (float[2,5] y) {
        starts = Constant <value = int64[1] {-1}> ()
        ends = Constant <value = int64[1] {-1000}> ()
        axes = Constant <value = int64[1] {-1}> ()
        steps = Constant <value = int64[1] {-2}> ()
        y = Slice(x, starts, ends, axes, steps)
      })"));
  EXPECT_THAT(Values(Eval(g, {{"x", x}})),
              ElementsAre(9, 7, 5, 3, 1, 19, 17, 15, 13, 11));
  // Opset 9: attributes; ends past the end clamp.
  Graph old = MustImport(Model(9, R"(
      g (float[2,10] x) => (float[1,3] y) {
        y = Slice <starts = [1, 7], ends = [5, 100]> (x)
      })"));
  EXPECT_THAT(Values(Eval(old, {{"x", x}})), ElementsAre(17, 18, 19));
}

TEST(OnnxImporterTest, ReshapeCopiesZerosAndInfersMinusOne) {
  Graph g = MustImport(Model(13, R"(
      g (float[2,3,4] x) => (float[2,12] y) {
        shape = Constant <value = int64[2] {0, -1}> ()
        y = Reshape(x, shape)
      })"));
  EXPECT_EQ(g.type(g.outputs()[0].value).ToString(), "f32[2,12]");
  Graph zero = MustImport(Model(14, R"(
      g (float[0,3] x) => (float[3,0] y) {
        shape = Constant <value = int64[2] {3, 0}> ()
        y = Reshape <allowzero = 1> (x, shape)
      })"));
  EXPECT_EQ(zero.type(zero.outputs()[0].value).ToString(), "f32[3,0]");
}

TEST(OnnxImporterTest, ClipBoundsAsAttributesOrInputs) {
  Tensor x = F32({4}, {-3, -1, 1, 3});
  Graph old = MustImport(Model(6, R"(
      g (float[4] x) => (float[4] y) { y = Clip <min = -2.0, max = 2.0> (x) })"));
  EXPECT_THAT(Values(Eval(old, {{"x", x}})), ElementsAre(-2, -1, 1, 2));
  Graph now = MustImport(Model(13, R"(
      g (float[4] x, float lo) => (float[4] y) { y = Clip(x, lo, ) })"));
  EXPECT_THAT(Values(Eval(now, {{"x", x}, {"lo", Tensor::Scalar(0)}})),
              ElementsAre(0, 0, 1, 3));
}

TEST(OnnxImporterTest, DropoutTrainingModeSeeds) {
  // Without a seed attribute, training-mode Dropouts share one i64 scalar
  // parameter "dropout_seed" (stored 0) and draw independent masks (a stream
  // per node); a new seed gives new masks. With `seed`, the mask is fixed.
  const std::string text = Model(13, R"(
      g (float[64] x) => (float[64] y, float[64] z, bool[64] m) {
        r = Constant <value = float {0.5}> ()
        t = Constant <value = bool {1}> ()
        y, m = Dropout(x, r, t)
        z = Dropout(x, r, t)
      })");
  Graph g = MustImport(text);
  ASSERT_EQ(g.parameters().size(), 1u);
  const Node& seed = g.node(g.parameters()[0]);
  EXPECT_EQ(seed.name, "dropout_seed");
  EXPECT_EQ(seed.type, (TensorType{DType::kI64, {}}));
  Tensor x(TensorType{DType::kF32, {64}});
  for (int i = 0; i < 64; ++i) x.SetDouble(i, i + 1);
  auto run = [&](int64_t s) {
    auto out = Interpret(g, {{"x", x}, {"dropout_seed", I64({}, {s})}});
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *std::move(out) : std::map<std::string, Tensor>();
  };
  auto differ = [](const Tensor& a, const Tensor& b) {
    int n = 0;
    for (int64_t i = 0; i < a.num_elements(); ++i) {
      n += (a.GetDouble(i) == 0) != (b.GetDouble(i) == 0);
    }
    return n;
  };
  std::map<std::string, Tensor> one = run(1), two = run(2);
  ASSERT_FALSE(one.empty());
  ASSERT_FALSE(two.empty());
  for (int i = 0; i < 64; ++i) {
    const double y = one["y"].GetDouble(i);
    EXPECT_TRUE(y == 0 || y == 2 * (i + 1)) << y;
    EXPECT_EQ(one["m"].GetInt(i) != 0, y != 0);
  }
  EXPECT_GT(differ(one["y"], one["z"]), 8);  // Two nodes, two masks.
  EXPECT_GT(differ(one["y"], two["y"]), 8);  // Two steps, two masks.
  Graph fixed = MustImport(Model(13, R"(
      g (float[64] x) => (float[64] y) {
        r = Constant <value = float {0.5}> ()
        t = Constant <value = bool {1}> ()
        y = Dropout <seed = 3> (x, r, t)
      })"));
  EXPECT_TRUE(fixed.parameters().empty());
  // The builder's Dropout with seed 3 on the node's stream (its output's
  // name).
  GraphBuilder b("expected");
  b.Output("y", Dropout(b.Input("x", DType::kF32, {64}), 0.5,
                        Constant(b, I64({}, {3})), RandomStream("y")));
  absl::StatusOr<Graph> expected = b.Build();
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(Eval(fixed, {{"x", x}}), Eval(*expected, {{"x", x}}));
  EXPECT_GT(differ(Eval(fixed, {{"x", x}}), one["y"]), 8);
  EXPECT_FALSE(Import(Model(13, R"(
      g (float[4] x) => (float[4] y) {
        r = Constant <value = float {1.0}> ()
        t = Constant <value = bool {1}> ()
        y = Dropout(x, r, t)
      })"))
                   .ok());
}

TEST(OnnxImporterTest, ReduceSumAxesFormsAndNoop) {
  Tensor x = Iota({2, 3});
  Graph old = MustImport(Model(11, R"(
      g (float[2,3] x) => (float[2] y) { y = ReduceSum <axes = [1], keepdims = 0> (x) })"));
  EXPECT_THAT(Values(Eval(old, {{"x", x}})), ElementsAre(3, 12));
  Graph now = MustImport(Model(13, R"(
      g (float[2,3] x) => (float[1,3] y) {
        axes = Constant <value = int64[1] {0}> ()
        y = ReduceSum(x, axes)
      })"));
  EXPECT_THAT(Values(Eval(now, {{"x", x}})), ElementsAre(3, 5, 7));
  Graph all = MustImport(Model(13, R"(
      g (float[2,3] x) => (float[1,1] y) { y = ReduceSum(x) })"));
  EXPECT_THAT(Values(Eval(all, {{"x", x}})), ElementsAre(15));
  Graph noop = MustImport(Model(13, R"(
      g (float[2,3] x) => (float[2,3] y) { y = ReduceSum <noop_with_empty_axes = 1> (x) })"));
  EXPECT_THAT(Values(Eval(noop, {{"x", x}})), ElementsAre(0, 1, 2, 3, 4, 5));
}

TEST(OnnxImporterTest, PadConstantModeAndCrop) {
  Graph g = MustImport(Model(13, R"(
      g (float[2,2] x) => (float[3,3] y) {
        pads = Constant <value = int64[4] {1, -1, 0, 2}> ()
        value = Constant <value = float {7.0}> ()
        y = Pad(x, pads, value)
      })"));
  EXPECT_THAT(Values(Eval(g, {{"x", F32({2, 2}, {1, 2, 3, 4})}})),
              ElementsAre(7, 7, 7, 2, 7, 7, 4, 7, 7));
}

TEST(OnnxImporterTest, ConstantForms) {
  Graph g = MustImport(Model(13, R"(
      g (float[2] x) => (float[2] y, int64[2] k) {
        a = Constant <value_float = 2.5> ()
        b = Constant <value_floats = [1.0, -1.0]> ()
        k = Constant <value_ints = [3, 4]> ()
        t = Mul(x, a)
        y = Add(t, b)
      })"));
  EXPECT_THAT(Values(Eval(g, {{"x", F32({2}, {2, 4})}})), ElementsAre(6, 9));
  EXPECT_THAT(Values(Eval(g, {{"x", F32({2}, {2, 4})}}, "k")),
              ElementsAre(3, 4));
}

TEST(OnnxImporterTest, IntegerDtypesAndCast) {
  Graph g = MustImport(Model(13, R"(
      g (int64[3] a, int32[3] b, bool[3] m) => (int64[3] y, float[3] z) {
        q = Div(a, a)
        c = Cast <to = 7> (b)
        y = Where(m, q, c)
        z = Cast <to = 1> (y)
      })"));
  Tensor a = I64({3}, {-7, 5, 1});
  Tensor b = Tensor::FromInts(TensorType{DType::kI32, {3}}, {10, 20, 30});
  Tensor m = Tensor::FromInts(TensorType{DType::kBool, {3}}, {1, 0, 1});
  EXPECT_THAT(Values(Eval(g, {{"a", a}, {"b", b}, {"m", m}})),
              ElementsAre(1, 20, 1));
  EXPECT_EQ(Eval(g, {{"a", a}, {"b", b}, {"m", m}}, "z").dtype(), DType::kF32);
}

// ---------------------------------------------------------------------------
// Static operands.
// ---------------------------------------------------------------------------
TEST(OnnxImporterTest, NonConstantShapeInputIsAClearError) {
  const std::string text = Model(13, R"(
      g (float[2,3] x, int64[2] shape) => (float[3,2] y) {
        y = Reshape(x, shape)
      })");
  absl::StatusOr<Graph> g = Import(text);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(g.status().message(),
              AllOf(HasSubstr("(Reshape)"), HasSubstr("'shape'"),
                    HasSubstr("graph input"),
                    HasSubstr("ImportOptions::constant_inputs")));
  EXPECT_THAT(StaticOperandInputs(Parse(text)), ElementsAre("shape"));
  // Frozen, it is a constant and no longer an input.
  ImportOptions options;
  options.constant_inputs["shape"] = I64({2}, {3, -1});
  Graph frozen = MustImport(text, options);
  EXPECT_THAT(Names(frozen, frozen.inputs()), ElementsAre("x"));
  EXPECT_EQ(frozen.type(frozen.outputs()[0].value).ToString(), "f32[3,2]");
}

TEST(OnnxImporterTest, StaticOperandsFoldThroughOps) {
  // Shape -> Gather -> Concat -> Reshape, as PyTorch exports x.view(n, -1).
  Graph g = MustImport(Model(13, R"(
      g (float[2,3,4] x) => (float[2,12] y) {
        s = Shape(x)
        i = Constant <value = int64[1] {0}> ()
        n = Gather(s, i)
        m = Constant <value = int64[1] {-1}> ()
        shape = Concat <axis = 0> (n, m)
        y = Reshape(x, shape)
      })"));
  EXPECT_EQ(g.type(g.outputs()[0].value).ToString(), "f32[2,12]");
  // A static operand computed from a graph input is an error naming it.
  absl::StatusOr<Graph> bad = Import(Model(13, R"(
      g (float[2,3] x, int32[2] s) => (float[3,2] y) {
        shape = Cast <to = 7> (s)
        y = Reshape(x, shape)
      })"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("graph input 's'"));
}

TEST(OnnxImporterTest, StaticOperandsAreNotMaterializedWhenLarge) {
  absl::StatusOr<Graph> g = Import(Model(13, R"(
      g (float[1,3] x) => (float[3] y) {
        n = Constant <value = int64[1] {1100000}> ()
        axes = ConstantOfShape <value = int64[1] {0}> (n)
        y = Squeeze(x, axes)
      })"));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(g.status().message(),
              AllOf(HasSubstr("(Squeeze)"), HasSubstr("'axes'"),
                    HasSubstr("it is too large to compute at import time "
                              "(i64[1100000])")));
}

TEST(OnnxImporterTest, InitializerUsedOnlyAsStaticOperandIsNotAParameter) {
  onnx::ModelProto model = Parse(Model(13, R"(
      g (float[2,3] x) => (float[3,2] y) { y = Reshape(x, shape) })"));
  onnx::TensorProto* shape = model.mutable_graph()->add_initializer();
  shape->set_name("shape");
  shape->set_data_type(onnx::TensorProto::INT64);
  shape->add_dims(2);
  shape->add_int64_data(3);
  shape->add_int64_data(2);
  absl::StatusOr<Graph> g = ImportOnnxModel(model);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->parameters().empty());
  EXPECT_TRUE(StaticOperandInputs(model).empty());
}

TEST(OnnxImporterTest, ExternalDataIsReadNextToTheModel) {
  onnx::ModelProto model = Parse(Model(13, R"(
      g (float[3] x) => (float[3] y) { y = Add(x, w) })"));
  onnx::TensorProto* w = model.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"location", "w.bin"}, {"offset", "4"}, {"length", "12"}}) {
    onnx::StringStringEntryProto* kv = w->add_external_data();
    kv->set_key(key);
    kv->set_value(value);
  }
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp ? tmp : "/tmp";
  const float data[4] = {99, 1.5, -2, 4};
  {
    std::ofstream bin(dir + "/w.bin", std::ios::binary);
    bin.write(reinterpret_cast<const char*>(data), sizeof(data));
    std::ofstream onnx_file(dir + "/external.onnx", std::ios::binary);
    model.SerializeToOstream(&onnx_file);
  }
  absl::StatusOr<Graph> g = ImportOnnx(dir + "/external.onnx");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(Values(Eval(*g, {{"x", F32({3}, {1, 1, 1})}})),
              ElementsAre(2.5, -1, 5));
  // From bytes there is no directory to find it in.
  std::string bytes;
  model.SerializeToString(&bytes);
  EXPECT_THAT(ImportOnnxBytes(bytes).status().message(),
              HasSubstr("external data"));
}

// ---------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------
TEST(OnnxImporterTest, UnsupportedOpsAreListedTogether) {
  absl::StatusOr<Graph> g = Import(R"(
      <ir_version: 7, opset_import: ["" : 13, "com.example" : 1]>
      g (float[1,1,4,4] x, float[1,1,3,3] w) => (float[1,1,2,2] y) {
        a = GRU(x, w, w)
        b = Relu(a)
        c = LSTM(b, w, w)
        d = GRU(c, w, w)
        e = Pad <mode = "reflect"> (d, w)
        y = com.example.Magic(e)
      })");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(g.status().message(),
            "unsupported ONNX ops: GRU (2 nodes), LSTM (1 node), Pad with "
            "mode 'reflect' (1 node), com.example.Magic (1 node)");
}

TEST(OnnxImporterTest, SymbolicInputDimsNeedPinning) {
  const std::string text = Model(13, R"(
      g (float[N,4] x) => (float[N,4] y) { y = Relu(x) })");
  absl::StatusOr<Graph> g = Import(text);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(g.status().message(),
              AllOf(HasSubstr("graph input 'x'"), HasSubstr("'N'"),
                    HasSubstr("static shapes")));
  ImportOptions options;
  options.input_dims["x"] = {2, 4};
  Graph pinned = MustImport(text, options);
  EXPECT_EQ(pinned.type(*pinned.Find("x")).ToString(), "f32[2,4]");
  options.input_dims["x"] = {2, 5};
  EXPECT_FALSE(Import(text, options).ok());
  ImportOptions typo;
  typo.input_dims["nope"] = {2, 4};
  EXPECT_THAT(Import(text, typo).status().message(), HasSubstr("'nope'"));
}

TEST(OnnxImporterTest, UnsupportedDtypeNamesTheValue) {
  absl::StatusOr<Graph> g = Import(Model(13, R"(
      g (float16[2] h) => (float16[2] y) { y = Relu(h) })"));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(g.status().message(),
              AllOf(HasSubstr("'h'"), HasSubstr("float16")));
  absl::StatusOr<Graph> cast = Import(Model(13, R"(
      g (float[2] x) => (uint8[2] y) { y = Cast <to = 2> (x) })"));
  ASSERT_FALSE(cast.ok());
  EXPECT_THAT(cast.status().message(),
              AllOf(HasSubstr("'y'"), HasSubstr("uint8")));
}

TEST(OnnxImporterTest, BuilderErrorsNameTheNode) {
  absl::StatusOr<Graph> g = Import(Model(13, R"(
      g (float[2,3] x, float[4] b) => (float[2,3] y) { y = Add(x, b) })"));
  ASSERT_FALSE(g.ok());
  // The checker does not know shapes; the builder's broadcast rule does.
  EXPECT_THAT(g.status().message(),
              AllOf(HasSubstr("(Add)"), HasSubstr("broadcast")));
}

TEST(OnnxImporterTest, LimitsRefuseHugeModelsBeforeImport) {
  const std::string text = Model(13, R"(
      g (float[2,3] x) => (float[2,3] y) {
        t = Relu(x)
        y = Neg(t)
      })");
  ImportOptions options;
  options.limits.max_nodes = 1;
  absl::StatusOr<Graph> g = Import(text, options);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(g.status().message(),
              HasSubstr("the model has 2 nodes, more than the limit of 1"));
  options.limits.max_nodes = 2;
  EXPECT_TRUE(Import(text, options).ok());
  // The file's size, before it is read.
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/limits.onnx";
  std::string bytes;
  Parse(text).SerializeToString(&bytes);
  std::ofstream(path, std::ios::binary) << bytes;
  options.limits.max_file_bytes = static_cast<int64_t>(bytes.size()) - 1;
  g = ImportOnnx(path, options);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(g.status().message(), HasSubstr("adc --max_graph_bytes"));
  options.limits.max_file_bytes = static_cast<int64_t>(bytes.size());
  EXPECT_TRUE(ImportOnnx(path, options).ok());
}

TEST(OnnxImporterTest, MalformedInputIsAnErrorNotACrash) {
  EXPECT_EQ(ImportOnnxBytes("this is not an onnx model").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ImportOnnxBytes("").ok());
  EXPECT_EQ(ImportOnnx("/nonexistent/model.onnx").status().code(),
            absl::StatusCode::kNotFound);
  // Truncations and byte flips of a valid model: any outcome but a crash.
  std::string bytes;
  Parse(Model(13, R"(
      g (float[2,3] x, float[3] b = {1.0, 2.0, 3.0}) => (float[3,2] y) {
        t = Add(x, b)
        shape = Constant <value = int64[2] {3, 2}> ()
        r = Reshape(t, shape)
        y = Softmax <axis = 0> (r)
      })"))
      .SerializeToString(&bytes);
  ASSERT_TRUE(ImportOnnxBytes(bytes).ok());
  for (size_t n = 0; n < bytes.size(); n += 3) {
    (void)ImportOnnxBytes(bytes.substr(0, n));
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    std::string mutated = bytes;
    for (int k = 0; k < 1 + i % 3; ++k) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng() % 256);
    }
    (void)ImportOnnxBytes(mutated);
  }
}

// libonnx's shape inference divides by these (a zero stride was SIGFPE:
// tests/fuzz/regressions/onnx).
TEST(OnnxImporterTest, ZeroStridesAndKernelsAreRefusedByName) {
  for (const std::string attr : {"strides = [0, 2]", "dilations = [1, 0]",
                                 "kernel_shape = [3, -1]", "group = 0"}) {
    absl::StatusOr<Graph> g = Import(Model(13, absl::StrCat(R"(
        g (float[1,1,7,5] x, float[1,1,3,3] w) => (float[1,1,4,3] y) {
          y = Conv <)",
                                                            attr, R"(> (x, w)
        })")));
    ASSERT_FALSE(g.ok()) << attr;
    EXPECT_THAT(g.status().message(),
                AllOf(HasSubstr("(Conv)"), HasSubstr("must be positive"),
                      HasSubstr(attr.substr(0, attr.find(' ')))));
  }
}

// ---------------------------------------------------------------------------
// Differentiation.
// ---------------------------------------------------------------------------
TEST(OnnxImporterTest, ImportedGraphsAreDifferentiable) {
  Graph g = MustImport(Model(13, R"(
      g (float[2,3] x, float[3,2] w = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}) => (float y) {
        h = MatMul(x, w)
        s = Softmax(h)
        y = ReduceSum <keepdims = 0> (s)
      })"));
  absl::StatusOr<std::vector<std::string>> grads =
      AddGradients(&g, {.of = "y"});
  ASSERT_TRUE(grads.ok()) << grads.status();
  EXPECT_THAT(*grads, ElementsAre("x.grad", "w.grad"));
  EXPECT_TRUE(Verify(g).ok());
  // sum(softmax) == 2 whatever the input: the gradients are 0.
  Tensor gx = Eval(g, {{"x", Iota({2, 3})}}, "x.grad");
  for (double v : Values(gx)) EXPECT_NEAR(v, 0, 1e-6);
  // Gradients w.r.t. a named intermediate work too.
  Graph g2 = MustImport(Model(13, R"(
      g (float[2] x) => (float y) {
        h = Mul(x, x)
        y = ReduceSum <keepdims = 0> (h)
      })"));
  ASSERT_TRUE(AddGradients(&g2, {.of = "y", .wrt = {"h", "x"}}).ok());
  EXPECT_THAT(Values(Eval(g2, {{"x", F32({2}, {1, -3})}}, "x.grad")),
              ElementsAre(2, -6));
  EXPECT_THAT(Values(Eval(g2, {{"x", F32({2}, {1, -3})}}, "h.grad")),
              ElementsAre(1, 1));
}

// Finite-difference checks (f64) of the gradients of imported compositions:
// the ops whose import builds more than one primitive.
TEST(OnnxImporterTest, GradientsOfCompositionsMatchFiniteDifferences) {
  struct Case {
    int opset;
    std::string graph;
  };
  const std::vector<Case> cases = {
      {13, R"(g (double[3,2] a, double[4,3] b, double[4] c) => (double[2,4] y) {
                y = Gemm <alpha = 0.5, beta = 2.0, transA = 1, transB = 1> (a, b, c)
              })"},
      {13, R"(g (double[2,3] x, double lo, double hi) => (double[2,3] y) {
                y = Clip(x, lo, hi)
              })"},
      {11, R"(g (double[2,3,2] x) => (double[2,3,2] y) {
                y = LogSoftmax <axis = 1> (x)
              })"},
      {13, R"(g (double[2,3,2] x) => (double[2,3,2] y) {
                y = Softmax <axis = 1> (x)
              })"},
      {17,
       R"(g (double[2,3,4] x, double[4] s, double[4] b) => (double[2,3,4] y) {
                y = LayerNormalization <epsilon = 0.01> (x, s, b)
              })"},
      {15, R"(g (double[2,3,2] x, double[3] s, double[3] b, double[3] m,
                 double[3] v) => (double[2,3,2] y) {
                y = BatchNormalization(x, s, b, m, v)
              })"},
      {13, R"(g (double[3,4] x) => (double[3,2] y) {
                i = Constant <value = int64[3,2] {0, 3, -1, 1, 2, 2}> ()
                y = GatherElements <axis = 1> (x, i)
              })"},
      {13, R"(g (double[2,3] x) => (double[4,3] y) {
                r = Constant <value = int64[2] {2, 1}> ()
                y = Tile(x, r)
              })"},
      {13, R"(g (double[2,5] x) => (double[1,2] y) {
                s = Constant <value = int64[2] {-1, 4}> ()
                e = Constant <value = int64[2] {-100, 0}> ()
                a = Constant <value = int64[2] {0, 1}> ()
                t = Constant <value = int64[2] {-3, -2}> ()
                z = Slice(x, s, e, a, t)
                p = Constant <value = int64[4] {0, 1, 0, -1}> ()
                y = Pad(z, p)
              })"},
      {13, R"(g (double[2,3] x) => (double[2] y, double[2,3] z, double u) {
                y = ReduceL2 <axes = [1], keepdims = 0> (x)
                axis = Constant <value = int64 {1}> ()
                z = CumSum <exclusive = 1, reverse = 1> (x, axis)
                u = ReduceLogSumExp <keepdims = 0> (x)
              })"},
      {13, R"(g (double[2,3] x, double[3] e) => (double[2,3] y) {
                p = Pow(x, e)
                h = HardSigmoid <alpha = 0.3> (x)
                s = Selu(x)
                q = Mul(p, h)
                y = Add(q, s)
              })"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.graph);
    onnx::ModelProto model = Parse(Model(c.opset, c.graph));
    absl::StatusOr<Graph> g = ImportOnnxModel(model);
    if (!g.ok()) {
      ADD_FAILURE() << g.status();
      continue;
    }
    // Smooth points: values in (0.3, 1.6) and away from every kink.
    std::map<std::string, Tensor> feeds;
    int k = 0;
    for (ValueId id : g->inputs()) {
      Tensor t(g->type(id));
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        t.SetDouble(i, 0.95 + 0.65 * std::sin(1.7 * ++k));
      }
      feeds[g->node(id).name] = t;
    }
    if (feeds.count("lo")) feeds["lo"] = Tensor::Scalar(0.6, DType::kF64);
    if (feeds.count("hi")) feeds["hi"] = Tensor::Scalar(1.3, DType::kF64);
    for (const GraphOutput& out : g->outputs()) {
      absl::Status status = GradCheck(*g, out.name, feeds);
      EXPECT_TRUE(status.ok()) << out.name << ": " << status;
    }
  }
}

TEST(OnnxImporterTest, SupportedOpsIncludeTheRequiredSet) {
  std::vector<std::string> ops = SupportedOnnxOps();
  for (const char* op : {"Add",
                         "Sub",
                         "Mul",
                         "Div",
                         "Pow",
                         "Neg",
                         "Abs",
                         "Sign",
                         "Exp",
                         "Log",
                         "Sqrt",
                         "Reciprocal",
                         "Sin",
                         "Cos",
                         "Tan",
                         "Tanh",
                         "Sigmoid",
                         "Relu",
                         "LeakyRelu",
                         "Elu",
                         "Softplus",
                         "Erf",
                         "Max",
                         "Min",
                         "Sum",
                         "Mean",
                         "Where",
                         "Less",
                         "LessOrEqual",
                         "Greater",
                         "GreaterOrEqual",
                         "Equal",
                         "Not",
                         "Clip",
                         "Cast",
                         "Gemm",
                         "MatMul",
                         "ReduceSum",
                         "ReduceMean",
                         "ReduceMax",
                         "ReduceMin",
                         "ReduceProd",
                         "ReduceLogSumExp",
                         "Softmax",
                         "LogSoftmax",
                         "Reshape",
                         "Flatten",
                         "Transpose",
                         "Concat",
                         "Slice",
                         "Gather",
                         "Squeeze",
                         "Unsqueeze",
                         "Expand",
                         "Pad",
                         "CumSum",
                         "Identity",
                         "Constant"}) {
    EXPECT_THAT(ops, testing::Contains(op));
  }
}

}  // namespace
}  // namespace adc
