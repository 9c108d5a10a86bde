#include "passes/dce.h"

#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/pass_test_util.h"

namespace adc {
namespace {

using pass_test::Input;
using pass_test::Node;
using pass_test::Output;
using pass_test::Parameter;
using pass_test::Parse;
using pass_test::RunOnce;

TEST(DeadCodeEliminationTest, RemovesNodesNoOutputDependsOn) {
  Graph g = Parse(Input("x", "F32", {2}) + Input("unused", "F32", {2}) +
                  Parameter("w", "F32", {2}, {1, 2}) +
                  Node("a", "exp", {"x"}) +       // live
                  Node("b", "sin", {"x"}) +       // dead
                  Node("c", "mul", {"b", "w"}) +  // dead, uses a parameter
                  Node("d", "neg", {"a"}) +       // live
                  Output("y", "d"));
  DeadCodeElimination dce;
  EXPECT_TRUE(RunOnce(dce, &g));
  EXPECT_EQ(g.num_nodes(), 5);  // x, unused, w, a, d
  EXPECT_FALSE(g.Find("b").has_value());
  EXPECT_FALSE(g.Find("c").has_value());
  // The signature stays, used or not.
  EXPECT_TRUE(g.Find("unused").has_value());
  EXPECT_TRUE(g.Find("w").has_value());
  EXPECT_EQ(pass_test::Describe(g, "y"), "neg(a)");
}

TEST(DeadCodeEliminationTest, LiveGraphIsUnchanged) {
  Graph g = Parse(Input("x", "F32", {2}) + Input("unused", "F32") +
                  Node("a", "exp", {"x"}) + Node("b", "add", {"a", "x"}) +
                  Output("y", "b") + Output("z", "a"));
  const std::string before = GraphToText(g);
  DeadCodeElimination dce;
  EXPECT_FALSE(RunOnce(dce, &g));
  EXPECT_EQ(GraphToText(g), before);
}

TEST(DeadCodeEliminationTest, GraphWithoutOutputsKeepsOnlyItsSignature) {
  Graph g = Parse(Input("x", "F64") + Parameter("w", "F64", {}, {3}) +
                  Node("a", "mul", {"x", "w"}) + Node("b", "exp", {"a"}));
  DeadCodeElimination dce;
  EXPECT_TRUE(RunOnce(dce, &g));
  EXPECT_EQ(g.num_nodes(), 2);
  EXPECT_EQ(g.inputs().size(), 1u);
  EXPECT_EQ(g.parameters().size(), 1u);
}

TEST(DeadCodeEliminationTest, OutputNamingAnInputOrParameter) {
  Graph g = Parse(Input("x", "F32") + Parameter("w", "F32", {}, {3}) +
                  Node("dead", "exp", {"x"}) + Output("x_out", "x") +
                  Output("w_out", "w"));
  DeadCodeElimination dce;
  EXPECT_TRUE(RunOnce(dce, &g));
  EXPECT_EQ(g.num_nodes(), 2);
  EXPECT_EQ(g.node(*g.FindOutput("x_out")).name, "x");
  EXPECT_EQ(g.node(*g.FindOutput("w_out")).name, "w");
}

TEST(DeadCodeEliminationTest, OutputsKeepTheirValues) {
  Graph g =
      Parse(Input("x", "F32", {3}) + Node("dead1", "sin", {"x"}) +
            Node("a", "exp", {"x"}) + Node("dead2", "cos", {"dead1"}) +
            Node("b", "tanh", {"a"}) + Output("y", "b") + Output("z", "a"));
  const Graph before = g;
  DeadCodeElimination dce;
  EXPECT_TRUE(RunOnce(dce, &g));
  EXPECT_EQ(g.num_nodes(), 3);
  pass_test::ExpectSameOutputs(before, g);
}

}  // namespace
}  // namespace adc
