#include "passes/promote_f64.h"

#include <cmath>
#include <map>
#include <string>

#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"
#include "passes/pass_test_util.h"

namespace adc {
namespace {

using pass_test::Constant;
using pass_test::DTypeAttr;
using pass_test::Input;
using pass_test::IntsAttr;
using pass_test::Node;
using pass_test::Output;
using pass_test::Parameter;
using pass_test::Parse;
using pass_test::RunOnce;

// y = x * w + c + iota + cast<f32>(idx) + cast<f32>(d); z = cast<f64>(y):
// every place an f32 can hide (input, parameter, constant, iota, cast), next
// to integer and f64 values that must stay.
Graph MixedGraph() {
  return Parse(
      Input("x", "F32", {3}) + Input("d", "F64", {3}) +
      Input("idx", "I32", {3}) + Parameter("w", "F32", {3}, {0.1, 0.2, 0.3}) +
      Constant("c", "F32", {3}, {2.5, -1, 0.7}) +
      Node("i", "iota", {},
           DTypeAttr("dtype", "F32") + IntsAttr("shape", {3})) +
      Node("ci", "cast", {"idx"}, DTypeAttr("dtype", "F32")) +
      Node("cd", "cast", {"d"}, DTypeAttr("dtype", "F32")) +
      Node("xw", "mul", {"x", "w"}) + Node("a1", "add", {"xw", "c"}) +
      Node("a2", "add", {"a1", "i"}) + Node("a3", "add", {"a2", "ci"}) +
      Node("y", "add", {"a3", "cd"}) +
      Node("z", "cast", {"y"}, DTypeAttr("dtype", "F64")) + Output("y", "y") +
      Output("z", "z") + Output("idx_out", "idx"));
}

TEST(PromoteToF64Test, EveryF32BecomesF64) {
  Graph g = MixedGraph();
  PromoteToF64 promote;
  EXPECT_TRUE(RunOnce(promote, &g));
  for (const adc::Node& node : g.nodes()) {
    SCOPED_TRACE(node.name);
    EXPECT_NE(node.type.dtype, DType::kF32);
    for (const auto& [key, value] : node.attrs.map()) {
      if (const auto* dtype = std::get_if<DType>(&value)) {
        EXPECT_NE(*dtype, DType::kF32) << key;
      }
      if (const auto* tensor = std::get_if<Tensor>(&value)) {
        EXPECT_NE(tensor->dtype(), DType::kF32) << key;
      }
    }
  }
  EXPECT_EQ(g.type(*g.Find("x")).ToString(), "f64[3]");
  EXPECT_EQ(g.type(*g.Find("y")).ToString(), "f64[3]");
  EXPECT_EQ(g.type(*g.Find("i")).ToString(), "f64[3]");
  // Integers stay.
  EXPECT_EQ(g.type(*g.Find("idx")).ToString(), "i32[3]");
  // The stored values are the f32 values, exactly.
  const Tensor& w = g.node(*g.Find("w")).attrs.GetTensor("value");
  EXPECT_EQ(w.dtype(), DType::kF64);
  EXPECT_EQ(w.GetDouble(0), static_cast<double>(0.1f));
  EXPECT_NE(w.GetDouble(0), 0.1);
  // Names, inputs and outputs stay.
  EXPECT_EQ(g.num_nodes(), MixedGraph().num_nodes());
  EXPECT_EQ(g.outputs().size(), 3u);
}

TEST(PromoteToF64Test, ComputesTheSameValuesInF64) {
  const Graph before = MixedGraph();
  Graph after = before;
  PromoteToF64 promote;
  ASSERT_TRUE(RunOnce(promote, &after));
  const TensorType f32{DType::kF32, {3}};
  const Tensor x = Tensor::FromDoubles(f32, {0.5, -1.25, 3});
  const Tensor d =
      Tensor::FromDoubles(TensorType{DType::kF64, {3}}, {1, 2, 0.25});
  const Tensor idx = Tensor::FromInts(TensorType{DType::kI32, {3}}, {4, 0, -2});
  auto want = Interpret(before, {{"x", x}, {"d", d}, {"idx", idx}});
  ASSERT_TRUE(want.ok()) << want.status();
  auto got =
      Interpret(after, {{"x", x.CastTo(DType::kF64)}, {"d", d}, {"idx", idx}});
  ASSERT_TRUE(got.ok()) << got.status();
  for (const char* name : {"y", "z"}) {
    const Tensor& a = got->at(name);
    const Tensor& b = want->at(name);
    EXPECT_EQ(a.dtype(), DType::kF64) << name;
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(a.GetDouble(i), b.GetDouble(i),
                  1e-6 * std::abs(b.GetDouble(i)))
          << name << "[" << i << "]";
    }
  }
  EXPECT_EQ(got->at("idx_out"), idx);
}

TEST(PromoteToF64Test, PromotesFunctionBodies) {
  // A custom gradient's functions are promoted with the call.
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {2});
  Value y = CustomVjp(
      b, "twice", {x},
      [](GraphBuilder&, const std::vector<Value>& a) { return a[0] * 2.0; },
      [](GraphBuilder&, const std::vector<Value>&, Value, Value dy) {
        return std::vector<Value>{dy * 2.0};
      });
  b.Output("y", y);
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  PromoteToF64 promote;
  ASSERT_TRUE(RunOnce(promote, &*g));
  ASSERT_TRUE(Verify(*g).ok()) << Verify(*g);
  EXPECT_EQ(g->type(*g->FindOutput("y")).dtype, DType::kF64);
  for (const std::string& name : g->function_names()) {
    for (ValueId id : g->function(name)->inputs()) {
      EXPECT_EQ(g->function(name)->type(id).dtype, DType::kF64) << name;
    }
  }
  auto out = Interpret(
      *g, {{"x", Tensor::FromDoubles(TensorType{DType::kF64, {2}}, {1, -3})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y"),
            Tensor::FromDoubles(TensorType{DType::kF64, {2}}, {2, -6}));
}

TEST(PromoteToF64Test, F64GraphIsUnchanged) {
  Graph g = Parse(Input("x", "F64", {2}) + Parameter("w", "F64", {2}, {1, 2}) +
                  Node("y", "mul", {"x", "w"}) + Output("y", "y"));
  const std::string before = GraphToText(g);
  PromoteToF64 promote;
  EXPECT_FALSE(RunOnce(promote, &g));
  EXPECT_EQ(GraphToText(g), before);
}

}  // namespace
}  // namespace adc
