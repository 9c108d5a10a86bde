#include "passes/cse.h"

#include <cmath>

#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/pass_test_util.h"

namespace adc {
namespace {

using pass_test::Constant;
using pass_test::CountOp;
using pass_test::Describe;
using pass_test::Input;
using pass_test::IntsAttr;
using pass_test::Node;
using pass_test::Output;
using pass_test::Parameter;
using pass_test::Parse;
using pass_test::RunOnce;
using pass_test::Scalar;

TEST(CommonSubexpressionEliminationTest, MergesDuplicatedSubgraphsInOneRun) {
  // Two copies of sin(exp(x)); the second copy's sin only matches once its
  // exp has merged.
  Graph g = Parse(Input("x", "F32", {3}) + Node("e1", "exp", {"x"}) +
                  Node("s1", "sin", {"e1"}) + Node("e2", "exp", {"x"}) +
                  Node("s2", "sin", {"e2"}) + Node("sum", "add", {"s1", "s2"}) +
                  Output("y", "sum") + Output("z", "s2"));
  const Graph before = g;
  CommonSubexpressionElimination cse;
  EXPECT_TRUE(RunOnce(cse, &g));
  EXPECT_EQ(CountOp(g, OpKind::kExp), 1);
  EXPECT_EQ(CountOp(g, OpKind::kSin), 1);
  // The first copy stays, with its name; outputs keep theirs.
  EXPECT_EQ(Describe(g, "y"), "add(s1,s1)");
  EXPECT_EQ(Describe(g, "z"), "sin(e1)");
  pass_test::ExpectSameOutputs(before, g);
}

TEST(CommonSubexpressionEliminationTest, CommutativeOpsMergeSwappedOperands) {
  Graph g = Parse(
      Input("a", "F32", {2}) + Input("b", "F32", {2}) +
      Node("add1", "add", {"a", "b"}) + Node("add2", "add", {"b", "a"}) +
      Node("mul1", "mul", {"a", "b"}) + Node("mul2", "mul", {"b", "a"}) +
      Node("eq1", "equal", {"a", "b"}) + Node("eq2", "equal", {"b", "a"}) +
      // Not commutative: maximum(+0, -0) is +0, maximum(-0, +0)
      // is -0.
      Node("max1", "maximum", {"a", "b"}) +
      Node("max2", "maximum", {"b", "a"}) + Node("sub1", "sub", {"a", "b"}) +
      Node("sub2", "sub", {"b", "a"}) + Node("mnn1", "mul_no_nan", {"a", "b"}) +
      Node("mnn2", "mul_no_nan", {"b", "a"}) + Output("add1", "add1") +
      Output("add2", "add2") + Output("mul1", "mul1") + Output("mul2", "mul2") +
      Output("eq1", "eq1") + Output("eq2", "eq2") + Output("max1", "max1") +
      Output("max2", "max2") + Output("sub1", "sub1") + Output("sub2", "sub2") +
      Output("mnn1", "mnn1") + Output("mnn2", "mnn2"));
  const Graph before = g;
  CommonSubexpressionElimination cse;
  EXPECT_TRUE(RunOnce(cse, &g));
  EXPECT_EQ(CountOp(g, OpKind::kAdd), 1);
  EXPECT_EQ(CountOp(g, OpKind::kMul), 1);
  EXPECT_EQ(CountOp(g, OpKind::kEqual), 1);
  EXPECT_EQ(CountOp(g, OpKind::kMaximum), 2);
  EXPECT_EQ(CountOp(g, OpKind::kSub), 2);
  EXPECT_EQ(CountOp(g, OpKind::kMulNoNan), 2);
  EXPECT_EQ(g.FindOutput("add2"), g.Find("add1"));
  pass_test::ExpectSameOutputs(before, g);
}

TEST(CommonSubexpressionEliminationTest, ConstantsMergeOnlyWhenBitIdentical) {
  Graph g =
      Parse(Input("x", "F64") + Scalar("one_a", "F64", 1) +
            Scalar("one_b", "F64", 1) + Scalar("zero", "F64", 0.0) +
            Scalar("neg_zero", "F64", -0.0) + Scalar("nan_a", "F64", NAN) +
            Scalar("nan_b", "F64", NAN) + Scalar("one_f32", "F32", 1) +
            Constant("v_a", "F64", {2}, {1, 2}) +
            Constant("v_b", "F64", {2}, {1, 2}) +
            Constant("v_c", "F64", {1, 2}, {1, 2}) + Output("one_a", "one_a") +
            Output("one_b", "one_b") + Output("zero", "zero") +
            Output("neg_zero", "neg_zero") + Output("nan_a", "nan_a") +
            Output("nan_b", "nan_b") + Output("one_f32", "one_f32") +
            Output("v_a", "v_a") + Output("v_b", "v_b") + Output("v_c", "v_c"));
  CommonSubexpressionElimination cse;
  EXPECT_TRUE(RunOnce(cse, &g));
  EXPECT_EQ(g.FindOutput("one_b"), g.Find("one_a"));
  EXPECT_EQ(g.FindOutput("nan_b"), g.Find("nan_a"));
  EXPECT_EQ(g.FindOutput("v_b"), g.Find("v_a"));
  // +0 and -0 are equal numbers but different values; f32 and f64 ones and
  // [2] and [1, 2] tensors have different types.
  EXPECT_NE(g.FindOutput("zero"), g.FindOutput("neg_zero"));
  EXPECT_NE(g.FindOutput("one_a"), g.FindOutput("one_f32"));
  EXPECT_NE(g.FindOutput("v_a"), g.FindOutput("v_c"));
  EXPECT_EQ(CountOp(g, OpKind::kConstant), 7);
}

TEST(CommonSubexpressionEliminationTest, AttributesMustBeIdentical) {
  Graph g = Parse(Input("x", "F32", {2, 3}) +
                  Node("s0", "reduce_sum", {"x"}, IntsAttr("axes", {0})) +
                  Node("s1", "reduce_sum", {"x"}, IntsAttr("axes", {1})) +
                  Node("s0_again", "reduce_sum", {"x"}, IntsAttr("axes", {0})) +
                  Node("p0", "pad", {"x"},
                       IntsAttr("low", {0, 1}) + IntsAttr("high", {0, 0}) +
                           IntsAttr("interior", {0, 0}) +
                           pass_test::FloatAttr("value", 0.0)) +
                  Node("p1", "pad", {"x"},
                       IntsAttr("low", {0, 1}) + IntsAttr("high", {0, 0}) +
                           IntsAttr("interior", {0, 0}) +
                           pass_test::FloatAttr("value", -0.0)) +
                  Output("s0", "s0") + Output("s1", "s1") +
                  Output("s0_again", "s0_again") + Output("p0", "p0") +
                  Output("p1", "p1"));
  CommonSubexpressionElimination cse;
  EXPECT_TRUE(RunOnce(cse, &g));
  EXPECT_EQ(CountOp(g, OpKind::kReduceSum), 2);
  EXPECT_EQ(g.FindOutput("s0_again"), g.Find("s0"));
  EXPECT_EQ(CountOp(g, OpKind::kPad), 2);  // pad values +0 and -0
}

TEST(CommonSubexpressionEliminationTest, InputsAndParametersNeverMerge) {
  Graph g = Parse(
      Input("a", "F32", {2}) + Input("b", "F32", {2}) +
      Parameter("p", "F32", {2}, {1, 2}) + Parameter("q", "F32", {2}, {1, 2}) +
      Node("ea", "exp", {"a"}) + Node("eb", "exp", {"b"}) +
      Node("ep", "exp", {"p"}) + Node("eq", "exp", {"q"}) + Output("ea", "ea") +
      Output("eb", "eb") + Output("ep", "ep") + Output("eq", "eq"));
  const std::string before = GraphToText(g);
  CommonSubexpressionElimination cse;
  EXPECT_FALSE(RunOnce(cse, &g));
  EXPECT_EQ(GraphToText(g), before);
}

TEST(CommonSubexpressionEliminationTest, IotaMergesByAttributes) {
  const std::string iota_attrs = pass_test::DTypeAttr("dtype", "I32") +
                                 IntsAttr("shape", {2, 3}) +
                                 pass_test::IntAttr("axis", 1);
  Graph g = Parse(
      Node("i1", "iota", {}, iota_attrs) + Node("i2", "iota", {}, iota_attrs) +
      Node("i3", "iota", {},
           pass_test::DTypeAttr("dtype", "I32") + IntsAttr("shape", {2, 3}) +
               pass_test::IntAttr("axis", 0)) +
      Node("s", "add", {"i1", "i2"}) + Node("t", "add", {"s", "i3"}) +
      Output("y", "t"));
  CommonSubexpressionElimination cse;
  EXPECT_TRUE(RunOnce(cse, &g));
  EXPECT_EQ(CountOp(g, OpKind::kIota), 2);
  EXPECT_EQ(Describe(g, "y"), "add(s,i3)");
}

}  // namespace
}  // namespace adc
