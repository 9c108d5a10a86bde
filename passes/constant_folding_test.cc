#include "passes/constant_folding.h"

#include <cmath>

#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/pass_test_util.h"
#include "passes/pass_util.h"

namespace adc {
namespace {

using pass_test::Constant;
using pass_test::CountOp;
using pass_test::Describe;
using pass_test::DTypeAttr;
using pass_test::Input;
using pass_test::IntAttr;
using pass_test::IntsAttr;
using pass_test::Node;
using pass_test::Output;
using pass_test::OutputNode;
using pass_test::Parse;
using pass_test::RunOnce;
using pass_test::Scalar;
using pass_test::Splat;

const Tensor& ValueOf(const adc::Node& node) {
  return node.attrs.GetTensor("value");
}

TEST(ConstantFoldingTest, FoldsChainsInOneRunWithTheInterpretersValues) {
  Graph g = Parse(Scalar("a", "F32", 0.1) + Scalar("b", "F32", 0.2) +
                  Node("s", "add", {"a", "b"}) + Node("e", "exp", {"s"}) +
                  Node("n", "neg", {"e"}) + Output("y", "n"));
  const Graph before = g;
  ConstantFolding fold;
  EXPECT_TRUE(RunOnce(fold, &g));
  const adc::Node& y = OutputNode(g, "y");
  EXPECT_EQ(y.op, OpKind::kConstant);
  EXPECT_EQ(y.name, "n");  // The folded node keeps its name.
  auto want = Interpret(before, {});
  ASSERT_TRUE(want.ok());
  EXPECT_TRUE(pass_test::BitIdentical(ValueOf(y), want->at("y")));
  // The folded operands are left for DCE.
  EXPECT_EQ(CountOp(g, OpKind::kConstant), 5);
}

TEST(ConstantFoldingTest, ElementwiseOnSplatsGivesASplat) {
  // 10^6 elements: evaluated once on the scalars, never materialized.
  Graph g = Parse(Splat("two", "F64", 2, {1000, 1000}) +
                  Splat("three", "F64", 3, {1000, 1000}) +
                  Node("m", "mul", {"two", "three"}) +
                  Node("c", "cast", {"m"}, DTypeAttr("dtype", "I32")) +
                  Output("y", "c"));
  ConstantFolding fold;
  EXPECT_TRUE(RunOnce(fold, &g));
  const adc::Node& y = OutputNode(g, "y");
  EXPECT_EQ(y.op, OpKind::kBroadcastTo);
  std::optional<Tensor> s = passes::SplatValue(g, *g.FindOutput("y"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->dtype(), DType::kI32);
  EXPECT_EQ(s->ints()[0], 6);
}

TEST(ConstantFoldingTest, SplatsAndSmallBroadcastsStay) {
  Graph g =
      Parse(Splat("big", "F32", 1.5, {1000, 1000}) + Scalar("s", "F32", 1) +
            Node("small", "broadcast_to", {"s"}, IntsAttr("shape", {2})) +
            Output("big", "big") + Output("small", "small"));
  const std::string before = GraphToText(g);
  ConstantFolding fold;
  EXPECT_FALSE(RunOnce(fold, &g));
  EXPECT_EQ(GraphToText(g), before);
}

TEST(ConstantFoldingTest, NeverMaterializesBigResults) {
  Graph g =
      Parse(Constant("row", "F32", {1, 3}, {1, 2, 3}) +
            Node("big", "broadcast_to", {"row"}, IntsAttr("shape", {1000, 3})) +
            Node("small", "broadcast_to", {"row"}, IntsAttr("shape", {4, 3})) +
            Node("iota", "iota", {},
                 DTypeAttr("dtype", "I32") + IntsAttr("shape", {100, 100})) +
            Node("iota_f", "cast", {"iota"}, DTypeAttr("dtype", "F32")) +
            Output("big", "big") + Output("small", "small") +
            Output("iota_f", "iota_f"));
  ConstantFolding fold;
  EXPECT_TRUE(RunOnce(fold, &g));
  EXPECT_EQ(OutputNode(g, "big").op, OpKind::kBroadcastTo);
  EXPECT_EQ(OutputNode(g, "iota_f").op, OpKind::kCast);
  const adc::Node& small = OutputNode(g, "small");
  ASSERT_EQ(small.op, OpKind::kConstant);
  EXPECT_EQ(ValueOf(small).num_elements(), 12);
  EXPECT_EQ(ValueOf(small).doubles()[5], 3);
  EXPECT_EQ(CountOp(g, OpKind::kIota), 1);
}

TEST(ConstantFoldingTest, ResultNoLargerThanItsInputsIsFolded) {
  // 2000 elements in, 2000 out: folding stores nothing new.
  std::vector<double> values(2000);
  for (int i = 0; i < 2000; ++i) values[i] = i * 0.5;
  Graph g = Parse(Constant("c", "F64", {2000}, values) +
                  Node("e", "neg", {"c"}) + Output("y", "e"));
  ConstantFolding fold;
  EXPECT_TRUE(RunOnce(fold, &g));
  const adc::Node& y = OutputNode(g, "y");
  ASSERT_EQ(y.op, OpKind::kConstant);
  EXPECT_EQ(ValueOf(y).doubles()[3], -1.5);
}

TEST(ConstantFoldingTest, UniformResultsBecomeSplats) {
  Graph g = Parse(Constant("c", "F32", {2, 2}, {1, 1, 1, 1}) +
                  Node("s", "reduce_sum", {"c"}, IntsAttr("axes", {0})) +
                  Output("y", "s"));
  ConstantFolding fold;
  EXPECT_TRUE(RunOnce(fold, &g));
  std::optional<Tensor> s = passes::SplatValue(g, *g.FindOutput("y"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->doubles()[0], 2);
  EXPECT_EQ(OutputNode(g, "y").type, (TensorType{DType::kF32, {2}}));
}

TEST(ConstantFoldingTest, FoldsIotaOperandsButNotIotaItself) {
  Graph g =
      Parse(Node("i", "iota", {},
                 DTypeAttr("dtype", "I64") + IntsAttr("shape", {3})) +
            Scalar("two", "I64", 2) +
            Node("b", "broadcast_to", {"two"}, IntsAttr("shape", {3})) +
            Node("m", "mul", {"i", "b"}) + Output("y", "m") + Output("i", "i"));
  ConstantFolding fold;
  EXPECT_TRUE(RunOnce(fold, &g));
  EXPECT_EQ(OutputNode(g, "i").op, OpKind::kIota);
  const adc::Node& y = OutputNode(g, "y");
  ASSERT_EQ(y.op, OpKind::kConstant);
  EXPECT_EQ(ValueOf(y).ints(), (std::vector<int64_t>{0, 2, 4}));
}

TEST(ConstantFoldingTest, StopGradientOfAConstantFolds) {
  Graph g = Parse(Scalar("c", "F64", 2) + Node("s", "stop_gradient", {"c"}) +
                  Output("y", "s"));
  ConstantFolding fold;
  EXPECT_TRUE(RunOnce(fold, &g));
  EXPECT_EQ(OutputNode(g, "y").op, OpKind::kConstant);
}

TEST(ConstantFoldingTest, SpecialValuesFoldExactly) {
  Graph g = Parse(Scalar("nz", "F64", -0.0) + Scalar("inf", "F64", INFINITY) +
                  Scalar("zero", "F64", 0.0) +
                  Node("d", "div", {"inf", "nz"}) +    // -inf
                  Node("s", "add", {"nz", "zero"}) +   // +0
                  Node("m", "mul", {"inf", "zero"}) +  // NaN
                  Node("r", "div", {"zero", "nz"}) +   // NaN
                  Output("d", "d") + Output("s", "s") + Output("m", "m") +
                  Output("r", "r"));
  const Graph before = g;
  ConstantFolding fold;
  EXPECT_TRUE(RunOnce(fold, &g));
  EXPECT_EQ(ValueOf(OutputNode(g, "d")).doubles()[0], -INFINITY);
  const double s = ValueOf(OutputNode(g, "s")).doubles()[0];
  EXPECT_TRUE(s == 0 && !std::signbit(s));
  EXPECT_TRUE(std::isnan(ValueOf(OutputNode(g, "m")).doubles()[0]));
  pass_test::ExpectSameOutputs(before, g, 1);
}

TEST(ConstantFoldingTest, NonConstantGraphIsUnchanged) {
  Graph g = Parse(Input("x", "F32", {2}) + Splat("one", "F32", 1, {2}) +
                  Node("a", "add", {"x", "one"}) + Node("e", "exp", {"a"}) +
                  Output("y", "e"));
  const std::string before = GraphToText(g);
  ConstantFolding fold;
  EXPECT_FALSE(RunOnce(fold, &g));
  EXPECT_EQ(GraphToText(g), before);
}

TEST(ConstantFoldingTest, BoundsTheWork) {
  // A 200x200 by 200x200 product is 8 * 10^6 multiply-adds.
  std::vector<double> values(200 * 200, 0.5);
  values[7] = 1;  // Not a splat.
  Graph g = Parse(Constant("a", "F32", {200, 200}, values) +
                  Node("m", "matmul", {"a", "a"}) + Output("y", "m"));
  ConstantFoldingOptions options;
  options.max_work = 1 << 20;
  ConstantFolding fold(options);
  EXPECT_FALSE(RunOnce(fold, &g));
  EXPECT_EQ(OutputNode(g, "y").op, OpKind::kMatMul);
}

}  // namespace
}  // namespace adc
