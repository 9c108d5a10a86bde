#include "passes/algebraic_simplifier.h"

#include <cmath>

#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/pass_test_util.h"
#include "passes/pass_util.h"

namespace adc {
namespace {

using pass_test::BoolAttr;
using pass_test::Constant;
using pass_test::CountOp;
using pass_test::Describe;
using pass_test::DTypeAttr;
using pass_test::FloatAttr;
using pass_test::Input;
using pass_test::IntsAttr;
using pass_test::Node;
using pass_test::Output;
using pass_test::OutputNode;
using pass_test::Parse;
using pass_test::RunOnce;
using pass_test::Scalar;
using pass_test::Splat;

// Runs the simplifier once on `body`, expects it to report `changed`, the
// outputs to be bit-identical before and after (on random and special
// values), and returns the result.
Graph Simplify(const std::string& body, bool changed = true,
               AlgebraicSimplifierOptions options = {}) {
  Graph g = Parse(body);
  const Graph before = g;
  const std::string before_text = GraphToText(g);
  AlgebraicSimplifier simplifier(options);
  EXPECT_EQ(RunOnce(simplifier, &g), changed) << GraphToText(g);
  if (!changed) {
    EXPECT_EQ(GraphToText(g), before_text);
  }
  pass_test::ExpectSameOutputs(before, g);
  return g;
}

// Is output `name` the value named `value`?
bool Is(const Graph& g, absl::string_view output, absl::string_view value) {
  return g.FindOutput(output).has_value() &&
         g.FindOutput(output) == g.Find(value);
}

const std::string kX = Input("x", "F32", {3});
const std::string kY = Input("y", "F32", {3});

TEST(AlgebraicSimplifierTest, AddAndSubtractZero) {
  Graph g = Simplify(
      kX + kY + Splat("zero", "F32", 0.0, {3}) +
      Splat("nzero", "F32", -0.0, {3}) + Node("e", "exp", {"y"}) +
      Node("x_plus_nzero", "add", {"x", "nzero"}) +   // x + (-0) => x
      Node("nzero_plus_x", "add", {"nzero", "x"}) +   // (-0) + x => x
      Node("x_minus_zero", "sub", {"x", "zero"}) +    // x - 0 => x
      Node("e_plus_zero", "add", {"e", "zero"}) +     // exp(y) + 0 => exp(y)
      Node("zero_plus_e", "add", {"zero", "e"}) +     // 0 + exp(y) => exp(y)
      Node("x_plus_zero", "add", {"x", "zero"}) +     // kept: x may be -0
      Node("x_minus_nzero", "sub", {"x", "nzero"}) +  // kept: -0 - -0 = +0
      Output("a", "x_plus_nzero") + Output("b", "nzero_plus_x") +
      Output("c", "x_minus_zero") + Output("d", "e_plus_zero") +
      Output("e", "zero_plus_e") + Output("f", "x_plus_zero") +
      Output("g", "x_minus_nzero"));
  EXPECT_TRUE(Is(g, "a", "x"));
  EXPECT_TRUE(Is(g, "b", "x"));
  EXPECT_TRUE(Is(g, "c", "x"));
  EXPECT_TRUE(Is(g, "d", "e"));
  EXPECT_TRUE(Is(g, "e", "e"));
  EXPECT_EQ(Describe(g, "f"), "add(x,zero)");
  EXPECT_EQ(Describe(g, "g"), "sub(x,nzero)");
}

TEST(AlgebraicSimplifierTest, IntegerAddSubMulByZero) {
  Graph g = Simplify(Input("i", "I32", {3}) + Splat("zero", "I32", 0, {3}) +
                     Node("a", "add", {"i", "zero"}) +
                     Node("s", "sub", {"zero", "i"}) +
                     Node("m", "mul", {"i", "zero"}) + Output("a", "a") +
                     Output("s", "s") + Output("m", "m"));
  EXPECT_TRUE(Is(g, "a", "i"));
  EXPECT_EQ(Describe(g, "s"), "neg(i)");  // 0 - i => neg(i)
  EXPECT_TRUE(Is(g, "m", "zero"));        // i * 0 => 0
}

TEST(AlgebraicSimplifierTest, FloatTimesZeroIsKept) {
  // inf * 0 = NaN and -1 * 0 = -0: x * 0 depends on x.
  Simplify(kX + Splat("zero", "F32", 0, {3}) + Node("m", "mul", {"x", "zero"}) +
               Output("m", "m"),
           /*changed=*/false);
}

TEST(AlgebraicSimplifierTest, MultiplyAndDivideByOne) {
  Graph g = Simplify(
      kX + Splat("one", "F32", 1, {3}) + Splat("minus_one", "F32", -1, {3}) +
      Node("a", "mul", {"x", "one"}) + Node("b", "mul", {"one", "x"}) +
      Node("c", "div", {"x", "one"}) + Node("d", "mul", {"x", "minus_one"}) +
      Node("e", "div", {"x", "minus_one"}) + Output("a", "a") +
      Output("b", "b") + Output("c", "c") + Output("d", "d") +
      Output("e", "e"));
  EXPECT_TRUE(Is(g, "a", "x"));
  EXPECT_TRUE(Is(g, "b", "x"));
  EXPECT_TRUE(Is(g, "c", "x"));
  EXPECT_EQ(Describe(g, "d"), "neg(x)");
  EXPECT_EQ(Describe(g, "e"), "neg(x)");
}

TEST(AlgebraicSimplifierTest, Negations) {
  Graph g = Simplify(
      kX + kY + Splat("three", "F32", 3, {3}) + Node("nx", "neg", {"x"}) +
      Node("nnx", "neg", {"nx"}) +  // neg(neg(x)) => x
      Node("ny", "neg", {"y"}) +
      Node("sum", "add", {"x", "ny"}) +    // x + neg(y) => x - y
      Node("diff", "sub", {"x", "ny"}) +   // x - neg(y) => x + y
      Node("prod", "mul", {"nx", "ny"}) +  // neg(x) * neg(y) => x * y
      Node("quot", "div", {"nx", "ny"}) +  // neg(x) / neg(y) => x / y
      Node("x3", "mul", {"x", "three"}) +
      Node("nx3", "neg", {"x3"}) +  // neg(x * 3) => x * -3
      Output("nnx", "nnx") + Output("sum", "sum") + Output("diff", "diff") +
      Output("prod", "prod") + Output("quot", "quot") + Output("nx3", "nx3"));
  EXPECT_TRUE(Is(g, "nnx", "x"));
  EXPECT_EQ(Describe(g, "sum"), "sub(x,y)");
  EXPECT_EQ(Describe(g, "diff"), "add(x,y)");
  EXPECT_EQ(Describe(g, "prod"), "mul(x,y)");
  EXPECT_EQ(Describe(g, "quot"), "div(x,y)");
  const adc::Node& nx3 = OutputNode(g, "nx3");
  ASSERT_EQ(nx3.op, OpKind::kMul);
  std::optional<Tensor> c = passes::SplatValue(g, nx3.inputs[1]);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->doubles()[0], -3);
  // The replacement took over the replaced node's name.
  EXPECT_EQ(nx3.name, "nx3");
}

TEST(AlgebraicSimplifierTest, MulNoNan) {
  Graph g = Simplify(
      kX + kY + Splat("two", "F32", 2, {3}) + Splat("one", "F32", 1, {3}) +
      Splat("zero", "F32", 0, {3}) + Splat("nzero", "F32", -0.0, {3}) +
      Splat("minus_two", "F32", -2, {3}) +
      Constant("mixed", "F32", {3}, {1, 0, 2}) +
      Constant("nonzero", "F32", {3}, {1, NAN, -INFINITY}) +
      Node("e", "exp", {"y"}) +
      Node("a", "mul_no_nan", {"x", "two"}) +      // => x * 2
      Node("b", "mul_no_nan", {"x", "one"}) +      // => x
      Node("c", "mul_no_nan", {"x", "zero"}) +     // => 0
      Node("d", "mul_no_nan", {"x", "nzero"}) +    // => +0
      Node("f", "mul_no_nan", {"x", "nonzero"}) +  // => x * nonzero
      Node("h", "mul_no_nan", {"two", "e"}) +      // => 2 * exp(y)
      // Kept: y may be 0 (mixed), -0 (2 * -0 = -0 but mul_no_nan gives +0),
      // or c < 0 (-2 * +0 = -0).
      Node("k1", "mul_no_nan", {"x", "mixed"}) +
      Node("k2", "mul_no_nan", {"two", "x"}) +
      Node("k3", "mul_no_nan", {"minus_two", "e"}) + Output("a", "a") +
      Output("b", "b") + Output("c", "c") + Output("d", "d") +
      Output("f", "f") + Output("h", "h") + Output("k1", "k1") +
      Output("k2", "k2") + Output("k3", "k3"));
  EXPECT_EQ(Describe(g, "a"), "mul(x,two)");
  EXPECT_TRUE(Is(g, "b", "x"));
  EXPECT_TRUE(Is(g, "c", "zero"));
  std::optional<Tensor> d = passes::SplatValue(g, *g.FindOutput("d"));
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(std::signbit(d->doubles()[0]));
  EXPECT_EQ(Describe(g, "f"), "mul(x,nonzero)");
  EXPECT_EQ(Describe(g, "h"), "mul(two,e)");
  EXPECT_EQ(OutputNode(g, "k1").op, OpKind::kMulNoNan);
  EXPECT_EQ(OutputNode(g, "k2").op, OpKind::kMulNoNan);
  EXPECT_EQ(OutputNode(g, "k3").op, OpKind::kMulNoNan);
}

TEST(AlgebraicSimplifierTest, IntegerMulNoNanIsMul) {
  Graph g = Simplify(Input("i", "I64", {2}) + Input("j", "I64", {2}) +
                     Node("m", "mul_no_nan", {"i", "j"}) + Output("m", "m"));
  EXPECT_EQ(Describe(g, "m"), "mul(i,j)");
}

TEST(AlgebraicSimplifierTest, Pow) {
  Graph g = Simplify(
      kX + Input("d", "F64", {3}) + Splat("one", "F32", 1, {3}) +
      Splat("two", "F32", 2, {3}) + Splat("zero", "F32", 0, {3}) +
      Splat("two_d", "F64", 2, {3}) + Node("p1", "pow", {"x", "one"}) +
      Node("p2", "pow", {"x", "two"}) + Node("p0", "pow", {"x", "zero"}) +
      Node("p2d", "pow", {"d", "two_d"}) + Output("p1", "p1") +
      Output("p2", "p2") + Output("p0", "p0") + Output("p2d", "p2d"));
  EXPECT_TRUE(Is(g, "p1", "x"));
  EXPECT_EQ(Describe(g, "p2"), "mul(x,x)");
  std::optional<Tensor> one = passes::SplatValue(g, *g.FindOutput("p0"));
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->doubles()[0], 1);
  // f64 pow(x, 2) is not always x * x bit for bit (glibc).
  EXPECT_EQ(Describe(g, "p2d"), "pow(d,two_d)");
}

TEST(AlgebraicSimplifierTest, Select) {
  Graph g = Simplify(
      kX + kY + Input("c", "BOOL", {3}) + Splat("t", "BOOL", 1, {3}) +
      Splat("f", "BOOL", 0, {3}) + Node("s1", "select", {"t", "x", "y"}) +
      Node("s2", "select", {"f", "x", "y"}) +
      Node("s3", "select", {"c", "x", "x"}) +
      Node("s4", "select", {"c", "x", "y"}) + Output("s1", "s1") +
      Output("s2", "s2") + Output("s3", "s3") + Output("s4", "s4"));
  EXPECT_TRUE(Is(g, "s1", "x"));
  EXPECT_TRUE(Is(g, "s2", "y"));
  EXPECT_TRUE(Is(g, "s3", "x"));
  EXPECT_EQ(Describe(g, "s4"), "select(c,x,y)");
}

TEST(AlgebraicSimplifierTest, MaximumAndMinimumOfItself) {
  Graph g = Simplify(kX + kY + Node("a", "maximum", {"x", "x"}) +
                     Node("b", "minimum", {"x", "x"}) +
                     Node("c", "maximum", {"x", "y"}) + Output("a", "a") +
                     Output("b", "b") + Output("c", "c"));
  EXPECT_TRUE(Is(g, "a", "x"));
  EXPECT_TRUE(Is(g, "b", "x"));
  EXPECT_EQ(Describe(g, "c"), "maximum(x,y)");
}

TEST(AlgebraicSimplifierTest, Casts) {
  Graph g =
      Simplify(kX + Input("d", "F64", {3}) + Input("i", "I32", {3}) +
               Node("same", "cast", {"x"}, DTypeAttr("dtype", "F32")) +
               Node("up", "cast", {"x"}, DTypeAttr("dtype", "F64")) +
               Node("round_trip", "cast", {"up"}, DTypeAttr("dtype", "F32")) +
               Node("down", "cast", {"d"}, DTypeAttr("dtype", "F32")) +
               Node("lossy", "cast", {"down"}, DTypeAttr("dtype", "F64")) +
               Node("wide", "cast", {"i"}, DTypeAttr("dtype", "I64")) +
               Node("to_f32", "cast", {"wide"}, DTypeAttr("dtype", "F32")) +
               Output("same", "same") + Output("round_trip", "round_trip") +
               Output("lossy", "lossy") + Output("to_f32", "to_f32"));
  EXPECT_TRUE(Is(g, "same", "x"));
  EXPECT_TRUE(Is(g, "round_trip", "x"));          // f32 -> f64 -> f32 => x
  EXPECT_EQ(Describe(g, "lossy"), "cast(down)");  // f64 -> f32 -> f64 kept
  EXPECT_EQ(Describe(g, "to_f32"), "cast(i)");    // i32 -> i64 -> f32
  EXPECT_EQ(OutputNode(g, "to_f32").name, "to_f32");
}

TEST(AlgebraicSimplifierTest, StopGradient) {
  Graph g = Simplify(
      kX + Scalar("c", "F32", 2) + Input("i", "I32", {3}) +
      Node("s1", "stop_gradient", {"x"}) +
      Node("s2", "stop_gradient", {"s1"}) +  // => s1
      Node("sc", "stop_gradient", {"c"}) +   // constant: no gradient anyway
      Node("si", "stop_gradient", {"i"}) +   // integer: no gradient anyway
      Output("s2", "s2") + Output("sc", "sc") + Output("si", "si"));
  EXPECT_TRUE(Is(g, "s2", "s1"));
  EXPECT_TRUE(Is(g, "sc", "c"));
  EXPECT_TRUE(Is(g, "si", "i"));
  EXPECT_EQ(Describe(g, "s2"), "stop_gradient(x)");
}

TEST(AlgebraicSimplifierTest, StopGradientOfAnInputIsKeptByDefault) {
  Simplify(kX + Node("s", "stop_gradient", {"x"}) + Output("s", "s"),
           /*changed=*/false);
  Graph g = Simplify(kX + Node("s", "stop_gradient", {"x"}) + Output("s", "s"),
                     /*changed=*/true,
                     AlgebraicSimplifierOptions{/*keep_stop_gradient=*/false});
  EXPECT_TRUE(Is(g, "s", "x"));
}

TEST(AlgebraicSimplifierTest, ReshapeChains) {
  Graph g = Simplify(
      Input("m", "F32", {2, 3}) +
      Node("same", "reshape", {"m"}, IntsAttr("shape", {2, 3})) +
      Node("r1", "reshape", {"m"}, IntsAttr("shape", {6})) +
      Node("r2", "reshape", {"r1"}, IntsAttr("shape", {3, 2})) +
      Node("back", "reshape", {"r1"}, IntsAttr("shape", {2, 3})) +
      Output("same", "same") + Output("r2", "r2") + Output("back", "back"));
  EXPECT_TRUE(Is(g, "same", "m"));
  EXPECT_EQ(Describe(g, "r2"), "reshape(m)");
  EXPECT_TRUE(Is(g, "back", "m"));
  // r1 lost its last uses and is removed with the nodes it fed.
  EXPECT_EQ(CountOp(g, OpKind::kReshape), 1);
  EXPECT_FALSE(g.Find("r1").has_value());
}

TEST(AlgebraicSimplifierTest, TransposeChains) {
  Graph g =
      Simplify(Input("t", "F32", {2, 3, 4}) +
               Node("id", "transpose", {"t"}, IntsAttr("perm", {0, 1, 2})) +
               Node("a", "transpose", {"t"}, IntsAttr("perm", {1, 2, 0})) +
               Node("inv", "transpose", {"a"}, IntsAttr("perm", {2, 0, 1})) +
               Node("b", "transpose", {"a"}, IntsAttr("perm", {1, 0, 2})) +
               Output("id", "id") + Output("inv", "inv") + Output("b", "b"));
  EXPECT_TRUE(Is(g, "id", "t"));
  EXPECT_TRUE(Is(g, "inv", "t"));
  const adc::Node& b = OutputNode(g, "b");
  ASSERT_EQ(Describe(g, "b"), "transpose(t)");
  // a's axes are t's axes [1, 2, 0]; b's are a's [1, 0, 2], i.e. t's
  // [2, 1, 0].
  EXPECT_EQ(b.attrs.GetInts("perm"), (std::vector<int64_t>{2, 1, 0}));
}

// transpose(a @ b) => b^T @ a^T (the transposes of a's and b's last two
// axes), whose transposes cancel against the operands' own: the weight
// gradient of x @ w^T is one product, not a product and a transpose.
TEST(AlgebraicSimplifierTest, TransposedProduct) {
  Graph g =
      Simplify(Input("a", "F32", {2, 3, 4}) + Input("b", "F32", {2, 4, 5}) +
               Node("ab", "matmul", {"a", "b"}) +
               Node("t", "transpose", {"ab"}, IntsAttr("perm", {0, 2, 1})) +
               Input("x", "F32", {6, 4}) + Input("w", "F32", {5, 4}) +
               Node("wt", "transpose", {"w"}, IntsAttr("perm", {1, 0})) +
               Node("xw", "matmul", {"x", "wt"}) +
               Node("u", "transpose", {"xw"}, IntsAttr("perm", {1, 0})) +
               Output("t", "t") + Output("u", "u"));
  const adc::Node& t = OutputNode(g, "t");
  ASSERT_EQ(t.op, OpKind::kMatMul);
  for (int i = 0; i < 2; ++i) {
    const adc::Node& op = g.node(t.inputs[i]);
    ASSERT_EQ(op.op, OpKind::kTranspose);
    EXPECT_EQ(g.node(op.inputs[0]).name, i == 0 ? "b" : "a");
    EXPECT_EQ(op.attrs.GetInts("perm"), (std::vector<int64_t>{0, 2, 1}));
  }
  // (x @ w^T)^T = w @ x^T: w's two transposes cancel.
  const adc::Node& u = OutputNode(g, "u");
  ASSERT_EQ(u.op, OpKind::kMatMul);
  EXPECT_EQ(g.node(u.inputs[0]).name, "w");
  EXPECT_EQ(g.node(u.inputs[1]).op, OpKind::kTranspose);
  EXPECT_EQ(g.node(g.node(u.inputs[1]).inputs[0]).name, "x");
}

TEST(AlgebraicSimplifierTest, TransposedProductKeptWhenShared) {
  // The product is used twice (rewriting would compute it twice), or the
  // transpose moves a batch axis.
  Simplify(Input("a", "F32", {2, 3, 4}) + Input("b", "F32", {2, 4, 5}) +
               Node("ab", "matmul", {"a", "b"}) +
               Node("t", "transpose", {"ab"}, IntsAttr("perm", {0, 2, 1})) +
               Node("s", "transpose", {"ab"}, IntsAttr("perm", {1, 0, 2})) +
               Output("t", "t") + Output("ab", "ab") + Output("s", "s"),
           /*changed=*/false);
}

TEST(AlgebraicSimplifierTest, BroadcastChains) {
  Graph g = Simplify(
      Input("v", "F32", {3}) + Input("s", "F32") +
      Node("same", "broadcast_to", {"v"}, IntsAttr("shape", {3})) +
      Node("b1", "broadcast_to", {"v"}, IntsAttr("shape", {2, 3})) +
      Node("b2", "broadcast_to", {"b1"}, IntsAttr("shape", {4, 2, 3})) +
      Node("lead", "reshape", {"v"}, IntsAttr("shape", {1, 3})) +
      Node("b3", "broadcast_to", {"lead"}, IntsAttr("shape", {2, 3})) +
      Node("col", "reshape", {"v"}, IntsAttr("shape", {3, 1})) +
      Node("b4", "broadcast_to", {"col"}, IntsAttr("shape", {3, 3})) +
      Node("one", "reshape", {"s"}, IntsAttr("shape", {1, 1})) +
      Node("b5", "broadcast_to", {"one"}, IntsAttr("shape", {2, 2})) +
      Output("same", "same") + Output("b2", "b2") + Output("b3", "b3") +
      Output("b4", "b4") + Output("b5", "b5"));
  EXPECT_TRUE(Is(g, "same", "v"));
  EXPECT_EQ(Describe(g, "b2"), "broadcast_to(v)");
  EXPECT_EQ(Describe(g, "b3"), "broadcast_to(v)");
  EXPECT_EQ(Describe(g, "b4"), "broadcast_to(col)");  // not a leading 1
  EXPECT_EQ(Describe(g, "b5"), "broadcast_to(s)");
}

TEST(AlgebraicSimplifierTest, SplatsThroughDataMovement) {
  Graph g =
      Simplify(Input("s", "F32") +
               Node("b", "broadcast_to", {"s"}, IntsAttr("shape", {2, 3})) +
               Node("r", "reshape", {"b"}, IntsAttr("shape", {6})) +
               Node("t", "transpose", {"b"}, IntsAttr("perm", {1, 0})) +
               Node("sl", "slice", {"b"},
                    IntsAttr("start", {0, 1}) + IntsAttr("limit", {2, 3}) +
                        IntsAttr("stride", {1, 1})) +
               Node("mx", "reduce_max", {"b"}, IntsAttr("axes", {1})) +
               Output("r", "r") + Output("t", "t") + Output("sl", "sl") +
               Output("mx", "mx"));
  EXPECT_EQ(Describe(g, "r"), "broadcast_to(s)");
  EXPECT_EQ(Describe(g, "t"), "broadcast_to(s)");
  EXPECT_EQ(Describe(g, "sl"), "broadcast_to(s)");
  EXPECT_EQ(Describe(g, "mx"), "broadcast_to(s)");
}

TEST(AlgebraicSimplifierTest, ElementwiseOpsOnBroadcastScalars) {
  Graph g = Simplify(
      Input("s", "F32") + Input("t", "F32") +
      Node("bs", "broadcast_to", {"s"}, IntsAttr("shape", {100, 100})) +
      Node("bt", "broadcast_to", {"t"}, IntsAttr("shape", {100, 100})) +
      Node("m", "mul", {"bs", "bt"}) + Output("m", "m"));
  const adc::Node& m = OutputNode(g, "m");
  ASSERT_EQ(m.op, OpKind::kBroadcastTo);
  const adc::Node& product = g.node(m.inputs[0]);
  EXPECT_EQ(product.op, OpKind::kMul);
  EXPECT_EQ(product.type.rank(), 0);
  EXPECT_EQ(CountOp(g, OpKind::kBroadcastTo), 1);
}

TEST(AlgebraicSimplifierTest, IdentityDataMovement) {
  Graph g =
      Simplify(Input("m", "F32", {2, 3}) +
               Node("sl", "slice", {"m"},
                    IntsAttr("start", {0, 0}) + IntsAttr("limit", {2, 3}) +
                        IntsAttr("stride", {1, 1})) +
               Node("rev", "slice", {"m"},
                    IntsAttr("start", {1, 2}) + IntsAttr("limit", {-1, -1}) +
                        IntsAttr("stride", {-1, -1})) +
               Node("p", "pad", {"m"},
                    IntsAttr("low", {0, 0}) + IntsAttr("high", {0, 0}) +
                        IntsAttr("interior", {0, 0}) + FloatAttr("value", 5)) +
               Node("c", "concat", {"m"}, pass_test::IntAttr("axis", 1)) +
               Output("sl", "sl") + Output("rev", "rev") + Output("p", "p") +
               Output("c", "c"));
  EXPECT_TRUE(Is(g, "sl", "m"));
  EXPECT_EQ(Describe(g, "rev"), "slice(m)");
  EXPECT_TRUE(Is(g, "p", "m"));
  EXPECT_TRUE(Is(g, "c", "m"));
}

TEST(AlgebraicSimplifierTest, ReductionsOverNothing) {
  Graph g =
      Simplify(Input("m", "F32", {2, 1}) + Node("e", "exp", {"m"}) +
               Node("max0", "reduce_max", {"m"}, IntsAttr("axes", {})) +
               Node("min1", "reduce_min", {"m"},
                    IntsAttr("axes", {1}) + BoolAttr("keepdims", true)) +
               Node("prod1", "reduce_prod", {"m"}, IntsAttr("axes", {1})) +
               Node("sum_e", "reduce_sum", {"e"}, IntsAttr("axes", {1})) +
               // Kept: 0 + (-0) = +0, so a sum over nothing is not x.
               Node("sum_m", "reduce_sum", {"m"}, IntsAttr("axes", {})) +
               Output("max0", "max0") + Output("min1", "min1") +
               Output("prod1", "prod1") + Output("sum_e", "sum_e") +
               Output("sum_m", "sum_m"));
  EXPECT_TRUE(Is(g, "max0", "m"));
  EXPECT_TRUE(Is(g, "min1", "m"));
  EXPECT_EQ(Describe(g, "prod1"), "reshape(m)");
  EXPECT_EQ(Describe(g, "sum_e"), "reshape(e)");
  EXPECT_EQ(Describe(g, "sum_m"), "reduce_sum(m)");
}

TEST(AlgebraicSimplifierTest, SumOfABroadcastScalar) {
  Graph g =
      Simplify(Input("s", "F32") + Input("d", "F64") + Input("i", "I32") +
               Node("e", "exp", {"s"}) + Node("ed", "exp", {"d"}) +
               Node("be", "broadcast_to", {"e"}, IntsAttr("shape", {4, 5})) +
               Node("bs", "broadcast_to", {"s"}, IntsAttr("shape", {4, 5})) +
               Node("bd", "broadcast_to", {"ed"}, IntsAttr("shape", {4, 5})) +
               Node("bi", "broadcast_to", {"i"}, IntsAttr("shape", {4, 5})) +
               Node("sum_e", "reduce_sum", {"be"}, IntsAttr("axes", {0})) +
               Node("sum_s", "reduce_sum", {"bs"}, IntsAttr("axes", {0, 1})) +
               Node("sum_d", "reduce_sum", {"bd"}, IntsAttr("axes", {0, 1})) +
               Node("sum_i", "reduce_sum", {"bi"}, IntsAttr("axes", {0, 1})) +
               Output("sum_e", "sum_e") + Output("sum_s", "sum_s") +
               Output("sum_d", "sum_d") + Output("sum_i", "sum_i"));
  // f32: exp(s) * 4, broadcast to [5].
  const adc::Node& sum_e = OutputNode(g, "sum_e");
  ASSERT_EQ(sum_e.op, OpKind::kBroadcastTo);
  const adc::Node& product = g.node(sum_e.inputs[0]);
  ASSERT_EQ(product.op, OpKind::kMul);
  EXPECT_EQ(g.node(product.inputs[0]).name, "e");
  EXPECT_EQ(passes::SplatValue(g, product.inputs[1])->doubles()[0], 4);
  // Kept: s may be -0 (a sum of -0s is +0), and f64 sums round n - 1 times.
  EXPECT_EQ(OutputNode(g, "sum_s").op, OpKind::kReduceSum);
  EXPECT_EQ(OutputNode(g, "sum_d").op, OpKind::kReduceSum);
  // Integers: i * 20.
  EXPECT_EQ(OutputNode(g, "sum_i").op, OpKind::kMul);
}

TEST(AlgebraicSimplifierTest, ReshapeOfAKeepdimsReduction) {
  Graph g = Simplify(Input("m", "F32", {4, 3}) +
                     Node("s", "reduce_sum", {"m"},
                          IntsAttr("axes", {0}) + BoolAttr("keepdims", true)) +
                     Node("r", "reshape", {"s"}, IntsAttr("shape", {3})) +
                     Output("r", "r"));
  const adc::Node& r = OutputNode(g, "r");
  EXPECT_EQ(Describe(g, "r"), "reduce_sum(m)");
  EXPECT_FALSE(r.attrs.GetBool("keepdims"));
  EXPECT_EQ(r.name, "r");
  EXPECT_EQ(g.num_nodes(), 2);
}

TEST(AlgebraicSimplifierTest, UnrelatedGraphIsUnchanged) {
  Simplify(kX + kY + Splat("two", "F32", 2, {3}) +
               Node("a", "add", {"x", "y"}) + Node("m", "mul", {"a", "two"}) +
               Node("e", "exp", {"m"}) + Node("d", "mul_no_nan", {"e", "x"}) +
               Node("t", "reduce_sum", {"d"}, IntsAttr("axes", {0})) +
               Output("t", "t") + Output("a", "a"),
           /*changed=*/false);
}

TEST(AlgebraicSimplifierTest, OutputsKeepNamesAndMayNameInputs) {
  Graph g = Simplify(kX + Splat("one", "F32", 1, {3}) +
                     Node("m", "mul", {"x", "one"}) + Output("result", "m") +
                     Output("other", "m"));
  ASSERT_EQ(g.outputs().size(), 2u);
  EXPECT_EQ(g.outputs()[0].name, "result");
  EXPECT_EQ(g.outputs()[1].name, "other");
  EXPECT_TRUE(Is(g, "result", "x"));
  EXPECT_TRUE(Is(g, "other", "x"));
  EXPECT_FALSE(g.Find("m").has_value());
}

}  // namespace
}  // namespace adc
