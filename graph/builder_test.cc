// The builder API: NumPy broadcasting and dtype promotion, literals, error
// recording, name scopes, no-grad scopes, naming and lookup.
#include "graph/builder.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "graph/interpreter.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

TensorType T(DType dtype, Dims dims) {
  return TensorType{dtype, std::move(dims)};
}

// Counts the nodes of `op` in the builder's graph.
int Count(const GraphBuilder& b, OpKind op) {
  int n = 0;
  for (const Node& node : b.graph()->nodes()) n += node.op == op;
  return n;
}

// The first error of `b`, as Build() reports it.
std::string BuildError(GraphBuilder& b) {
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_FALSE(g.ok());
  return g.ok() ? "" : std::string(g.status().message());
}

TEST(BuilderTest, DimOutOfRangeIsAnErrorNotACrash) {
  GraphBuilder b("g");
  Value x = b.Input("x", DType::kF32, {3, 4});
  EXPECT_EQ(x.dim(-1), 4);
  EXPECT_EQ(x.dim(0), 3);
  EXPECT_EQ(x.dim(2), -1);
  EXPECT_EQ(x.dim(-3), -1);
  b.Output("y", x);
  EXPECT_THAT(BuildError(b),
              HasSubstr("axis 2 is out of range for 'x' f32[3,4] (rank 2)"));
}

// Nodes do not move when the graph grows: a reference to a value's type
// (or a node) taken before adding thousands of nodes is still the node's.
TEST(BuilderTest, TypeReferencesStayValidWhileTheGraphGrows) {
  GraphBuilder b("g");
  Value x = b.Input("x", DType::kF32, {3, 4});
  const TensorType& type = x.type();
  const Node& node = b.graph()->node(x.id());
  Value y = x;
  for (int i = 0; i < 10000; ++i) y = y + 1.0;
  EXPECT_EQ(&type, &x.type());
  EXPECT_EQ(&node, &b.graph()->node(x.id()));
  EXPECT_EQ(type.dims, (Dims{3, 4}));
  b.Output("y", y);
  EXPECT_TRUE(b.Build().ok());
}

TEST(BuilderTest, NumpyBroadcasting) {
  GraphBuilder b;
  Value m = b.Input("m", DType::kF32, {2, 3});
  Value row = b.Input("row", DType::kF32, {3});
  Value col = b.Input("col", DType::kF32, {2, 1});
  Value s = b.Input("s", DType::kF32, {});
  Value t = b.Input("t", DType::kF32, {4, 1, 1});
  EXPECT_EQ((m + row).type(), T(DType::kF32, {2, 3}));
  EXPECT_EQ((col * row).type(), T(DType::kF32, {2, 3}));
  EXPECT_EQ((s - m).type(), T(DType::kF32, {2, 3}));
  EXPECT_EQ((t / m).type(), T(DType::kF32, {4, 2, 3}));
  EXPECT_EQ(Maximum(col, row).type(), T(DType::kF32, {2, 3}));
  EXPECT_EQ(Lt(row, col).type(), T(DType::kBool, {2, 3}));
  // Explicit broadcast_to nodes: no binary op sees unequal shapes.
  for (const Node& node : b.graph()->nodes()) {
    if (node.inputs.size() == 2) {
      EXPECT_EQ(b.graph()->type(node.inputs[0]).dims,
                b.graph()->type(node.inputs[1]).dims)
          << node.name;
    }
  }
  EXPECT_GT(Count(b, OpKind::kBroadcastTo), 0);
  // Equal shapes need none.
  GraphBuilder c;
  Value x = c.Input("x", DType::kF64, {2});
  x + x;
  EXPECT_EQ(Count(c, OpKind::kBroadcastTo), 0);
  EXPECT_TRUE(b.Build().ok());
}

TEST(BuilderTest, BroadcastValuesAreRight) {
  GraphBuilder b;
  Value col = b.Input("col", DType::kF64, {2, 1});
  Value row = b.Input("row", DType::kF64, {3});
  b.Output("y", col * 10.0 + row);
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  auto out = Interpret(
      *g, {{"col", Tensor::FromDoubles(T(DType::kF64, {2, 1}), {1, 2})},
           {"row", Tensor::FromDoubles(T(DType::kF64, {3}), {0.5, 1.5, 2.5})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y"),
            Tensor::FromDoubles(T(DType::kF64, {2, 3}),
                                {10.5, 11.5, 12.5, 20.5, 21.5, 22.5}));
}

TEST(BuilderTest, BroadcastMismatchNamesTheValues) {
  GraphBuilder b;
  Value a = b.Input("a", DType::kF32, {2, 3});
  Value c = b.Input("c", DType::kF32, {4});
  EXPECT_FALSE((a + c).valid());
  EXPECT_EQ(BuildError(b),
            "add: cannot broadcast 'a' f32[2,3] with 'c' f32[4]");
}

TEST(BuilderTest, DTypePromotion) {
  GraphBuilder b;
  Value t = b.Input("t", DType::kBool, {2});
  Value i = b.Input("i", DType::kI32, {2});
  Value l = b.Input("l", DType::kI64, {2});
  Value f = b.Input("f", DType::kF32, {2});
  Value d = b.Input("d", DType::kF64, {2});
  // bool < i32 < i64 < f32 < f64.
  EXPECT_EQ((t + i).dtype(), DType::kI32);
  EXPECT_EQ((i + l).dtype(), DType::kI64);
  EXPECT_EQ((l * f).dtype(), DType::kF32);
  EXPECT_EQ((f - d).dtype(), DType::kF64);
  EXPECT_EQ((d / i).dtype(), DType::kF64);
  EXPECT_EQ(Maximum(i, f).dtype(), DType::kF32);
  EXPECT_EQ(Select(Gt(f, d), i, l).dtype(), DType::kI64);
  EXPECT_EQ(Concat({i, f, l}, 0).type(), T(DType::kF32, {6}));
  EXPECT_EQ(MatMul(i, d).dtype(), DType::kF64);
  // Explicit casts: binary ops see equal dtypes.
  for (const Node& node : b.graph()->nodes()) {
    if (node.op == OpKind::kSelect) continue;
    for (ValueId in : node.inputs) {
      EXPECT_EQ(b.graph()->type(in).dtype,
                b.graph()->type(node.inputs[0]).dtype)
          << node.name;
    }
  }
  EXPECT_GT(Count(b, OpKind::kCast), 0);
  EXPECT_TRUE(b.Build().ok());
}

TEST(BuilderTest, LiteralsTakeTheTensorsDType) {
  GraphBuilder b;
  Value f = b.Input("f", DType::kF32, {2});
  Value i = b.Input("i", DType::kI32, {2});
  Value d = b.Input("d", DType::kF64, {});
  EXPECT_EQ((2 * f).dtype(), DType::kF32);
  EXPECT_EQ((f + 1).dtype(), DType::kF32);
  EXPECT_EQ((1 - f).dtype(), DType::kF32);
  EXPECT_EQ((f / 3).dtype(), DType::kF32);
  EXPECT_EQ((i + 1).dtype(), DType::kI32);
  EXPECT_EQ((7 / i).dtype(), DType::kI32);
  EXPECT_EQ(Pow(d, 2.0).dtype(), DType::kF64);
  EXPECT_EQ(Pow(2.0, f).dtype(), DType::kF32);
  EXPECT_EQ(Maximum(i, 0).dtype(), DType::kI32);
  EXPECT_EQ(Where(Gt(f, 0), f, 0.0).dtype(), DType::kF32);
  EXPECT_EQ(Where(Gt(f, 0), 1.0, f).dtype(), DType::kF32);
  // No cast node: the literal is a constant of the tensor's dtype.
  EXPECT_EQ(Count(b, OpKind::kCast), 0);
  b.Output("y", 2 * f + 1);
  b.Output("k", i * 3 - 1);
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  auto out =
      Interpret(*g, {{"f", Tensor::FromDoubles(T(DType::kF32, {2}), {0.5, -1})},
                     {"i", Tensor::FromInts(T(DType::kI32, {2}), {2, -4})},
                     {"d", Tensor::Scalar(0, DType::kF64)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y"), Tensor::FromDoubles(T(DType::kF32, {2}), {2, -1}));
  EXPECT_EQ(out->at("k"), Tensor::FromInts(T(DType::kI32, {2}), {5, -13}));
}

TEST(BuilderTest, MatMulShapeMismatch) {
  GraphBuilder b;
  Value a = b.Input("a", DType::kF32, {2, 3});
  Value c = b.Input("c", DType::kF32, {4, 5});
  EXPECT_FALSE(MatMul(a, c).valid());
  EXPECT_EQ(BuildError(b),
            "matmul: contracting dimensions differ: 'a' f32[2,3] and 'c' "
            "f32[4,5]");
}

TEST(BuilderTest, MatMulErrorsNameTheUsersValues) {
  // A 1-D operand is reshaped internally; the error still names it.
  GraphBuilder b;
  Value v = b.Input("v", DType::kF32, {4});
  Value m = b.Input("m", DType::kF32, {3, 2});
  EXPECT_FALSE(MatMul(v, m).valid());
  EXPECT_EQ(BuildError(b),
            "matmul: contracting dimensions differ: 'v' f32[4] and 'm' "
            "f32[3,2]");
  GraphBuilder c;
  Value p = c.Input("p", DType::kF32, {2, 2, 3});
  Value q = c.Input("q", DType::kF32, {3, 3, 1});
  EXPECT_FALSE(MatMul(p, q).valid());
  EXPECT_EQ(BuildError(c),
            "matmul: cannot broadcast batch dimensions of 'p' f32[2,2,3] and "
            "'q' f32[3,3,1]");
  GraphBuilder d;
  Value s = d.Input("s", DType::kF32, {});
  EXPECT_FALSE(MatMul(s, s).valid());
  EXPECT_THAT(BuildError(d), HasSubstr("matmul: operands must have rank >= 1, "
                                       "got 's' f32[]"));
  GraphBuilder e;
  Value x = e.Input("x", DType::kF32, {3});
  Value y = e.Input("y", DType::kF32, {4});
  EXPECT_FALSE(Dot(x, y).valid());
  EXPECT_THAT(BuildError(e),
              HasSubstr("dot: needs two 1-D tensors of equal "
                        "length, got 'x' f32[3] and 'y' f32[4]"));
}

TEST(BuilderTest, MatMulShapes) {
  GraphBuilder b;
  Value v = b.Input("v", DType::kF32, {3});
  Value m = b.Input("m", DType::kF32, {3, 3});
  Value batch = b.Input("batch", DType::kF32, {5, 1, 3, 3});
  Value other = b.Input("other", DType::kF32, {4, 3, 2});
  EXPECT_EQ(MatMul(v, v).type(), T(DType::kF32, {}));
  EXPECT_EQ(MatMul(v, m).type(), T(DType::kF32, {3}));
  EXPECT_EQ(MatMul(m, v).type(), T(DType::kF32, {3}));
  EXPECT_EQ(MatMul(batch, v).type(), T(DType::kF32, {5, 1, 3}));
  EXPECT_EQ(MatMul(v, other).type(), T(DType::kF32, {4, 2}));
  EXPECT_EQ(MatMul(batch, other).type(), T(DType::kF32, {5, 4, 3, 2}));
  EXPECT_TRUE(b.Build().ok());
}

TEST(BuilderTest, BadAxes) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {2, 3});
  EXPECT_FALSE(Sum(x, {2}).valid());
  EXPECT_EQ(BuildError(b),
            "reduce_sum: axis 2 is out of range for 'x' f32[2,3]");
  const std::vector<std::pair<std::function<Value(Value)>, std::string>> cases =
      {
          {[](Value v) { return Max(v, {-3}); },
           "reduce_max: axis -3 is out of range for 'x' f32[2,3]"},
          {[](Value v) { return Mean(v, {5}); },
           "mean: axis 5 is out of range for 'x' f32[2,3]"},
          {[](Value v) { return Softmax(v, 2); },
           "reduce_max: axis 2 is out of range for 'x' f32[2,3]"},
          {[](Value v) { return LogSumExp(v, {7}); },
           "logsumexp: axis 7 is out of range for 'x' f32[2,3]"},
          {[](Value v) { return ExpandDims(v, 4); },
           "expand_dims: axis 4 is out of range for 'x' f32[2,3]"},
          {[](Value v) { return Flatten(v, -3); },
           "flatten: axis -3 is out of range for 'x' f32[2,3]"},
          {[](Value v) { return Index(v, 0, 2); },
           "index: axis 2 is out of range for 'x' f32[2,3]"},
          {[](Value v) { return Index(v, 3, 1); },
           "index: 3 is out of range for axis 1 of 'x' f32[2,3]"},
          {[](Value v) { return SliceAxis(v, 1, 0, 2, 0); },
           "slice: step must not be zero"},
          {[](Value v) { return Reverse(v, {2}); },
           "reverse: axis 2 is out of range for 'x' f32[2,3]"},
          {[](Value v) { return Squeeze(v, {0}); },
           "squeeze: axis 0 of 'x' f32[2,3] has size 2, not 1"},
          {[](Value v) { return CumSum(v, 2); },
           "node 'cumsum' (cumsum): axis 2 is out of range for rank 2"},
          {[](Value v) {
             return Transpose(v, {0, 0});
           },
           "node 'transpose' (transpose): perm [0,0] is not a permutation"},
          {[](Value v) {
             return Reshape(v, {4, -1});
           },
           "reshape: cannot reshape 'x' f32[2,3] (6 elements) to [4,-1]"},
          {[](Value v) {
             return Reshape(v, {4, 2});
           },
           "node 'reshape' (reshape): cannot reshape f32[2,3] (6 elements) "
           "to [4,2]"},
          {[](Value v) { return Pad(v, {0}, {0}); },
           "pad: needs one amount per axis of 'x' f32[2,3]"},
          {[](Value v) {
             return Pad(v, {-1, 0}, {0, 0}, 0, {1, 0});
           },
           "pad: negative padding with interior padding is not supported"},
          {[](Value v) {
             return Pad(v, {-2, 0}, {-1, 0});
           },
           "pad: negative padding of axis 0 removes more than its 2 elements"},
          {[](Value v) { return Log(Cast(v, DType::kI32)); },
           "node 'log' (log): operand must be f32 or f64, got i32[2,3]"},
          {[](Value v) { return Softplus(Cast(v, DType::kI64)); },
           "softplus: 'cast' is i64[2,3]; a floating-point dtype is required"},
          {[](Value v) { return Select(v, v, v); },
           "select: condition 'x' is f32[2,3], not bool"},
          {[](Value v) { return CrossEntropy(v, Cast(v, DType::kI32)); },
           "cross_entropy: needs logits [N, C] and integer labels [N], got "
           "'x' f32[2,3] and 'cast' i32[2,3]"},
          {[](Value v) { return Gather(v, v, 0); },
           "node 'gather' (gather): indices must be i32 or i64, got f32[2,3]"},
      };
  for (const auto& [f, message] : cases) {
    GraphBuilder g;
    Value x = g.Input("x", DType::kF32, {2, 3});
    EXPECT_FALSE(f(x).valid()) << message;
    EXPECT_THAT(BuildError(g), HasSubstr(message));
  }
}

TEST(BuilderTest, ErrorsAreRecordedOnce) {
  GraphBuilder b;
  Value a = b.Input("a", DType::kF32, {2, 3});
  Value c = b.Input("c", DType::kF32, {4, 5});
  Value bad = MatMul(a, c);  // The first mistake.
  EXPECT_FALSE(bad.valid());
  EXPECT_FALSE(b.ok());
  // Later ops, valid or not, neither crash nor replace the first error.
  EXPECT_FALSE(Sum(a, {9}).valid());
  EXPECT_FALSE(Exp(bad).valid());
  EXPECT_FALSE((bad + a).valid());
  EXPECT_FALSE((a + bad).valid());
  EXPECT_FALSE(Softmax(bad).valid());
  EXPECT_FALSE(LogSoftmax(bad).valid());
  EXPECT_FALSE(MseLoss(bad, a).valid());
  EXPECT_FALSE(Linear(a, bad).valid());
  EXPECT_FALSE(Concat({a, bad}, 0).valid());
  EXPECT_FALSE((a * 2.0).valid());  // Even valid ones return invalid values.
  EXPECT_FALSE(b.Input("z", DType::kF32, {}).valid());
  b.Output("y", bad);
  EXPECT_THAT(b.status().message(), HasSubstr("contracting dimensions differ"));
  EXPECT_EQ(BuildError(b),
            "matmul: contracting dimensions differ: 'a' f32[2,3] and 'c' "
            "f32[4,5]");
}

TEST(BuilderTest, InvalidOperands) {
  {
    GraphBuilder b;
    Value x = b.Input("x", DType::kF32, {2});
    EXPECT_FALSE((x + Value()).valid());
    EXPECT_THAT(BuildError(b),
                HasSubstr("invalid (default-constructed) Value"));
  }
  {
    GraphBuilder b1, b2;
    Value x = b1.Input("x", DType::kF32, {2});
    Value y = b2.Input("y", DType::kF32, {2});
    EXPECT_FALSE((x * y).valid());
    EXPECT_THAT(BuildError(b1),
                HasSubstr("operands belong to different builders"));
    EXPECT_TRUE(b2.ok());
  }
  {
    GraphBuilder b1, b2;
    Value y = b2.Input("y", DType::kF32, {2});
    b1.Output("out", y);
    EXPECT_THAT(BuildError(b1),
                HasSubstr("output 'out' is not a value of this builder"));
  }
  {
    // Default-constructed values alone: nothing to report on, no crash.
    EXPECT_FALSE((Value() + Value()).valid());
    EXPECT_FALSE(Exp(Value()).valid());
    EXPECT_FALSE(Sum(Value()).valid());
    EXPECT_FALSE(MatMul(Value(), Value()).valid());
    EXPECT_FALSE(Concat({}, 0).valid());
  }
}

TEST(BuilderTest, NameErrors) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {2});
  EXPECT_FALSE(b.Input("x", DType::kF32, {2}).valid());
  EXPECT_EQ(BuildError(b), "input name 'x' is taken");
  GraphBuilder c;
  EXPECT_FALSE(c.Input("", DType::kF32, {2}).valid());
  EXPECT_EQ(BuildError(c), "input name '' is empty");
  GraphBuilder d;
  d.Input("x", DType::kF32, {2});
  EXPECT_FALSE(d.Parameter("x", Tensor::Scalar(1)).valid());
  EXPECT_EQ(BuildError(d), "parameter name 'x' is taken");
  GraphBuilder e;
  Value y = e.Input("y", DType::kF32, {2});
  e.Output("o", y);
  e.Output("o", y);
  EXPECT_EQ(BuildError(e), "output name 'o' is taken");
  GraphBuilder f;
  EXPECT_FALSE(f.Input("neg", DType::kF32, {-2}).valid());
  EXPECT_EQ(BuildError(f),
            "node 'neg' (input): shape [-2] has a negative size");
  (void)x;
}

TEST(BuilderTest, ArangeErrors) {
  GraphBuilder b;
  EXPECT_FALSE(Arange(b, 0, 1, 0).valid());
  EXPECT_THAT(BuildError(b), HasSubstr("step non-zero"));
  GraphBuilder c;
  EXPECT_FALSE(Arange(c, 0, 1e300).valid());
  EXPECT_THAT(BuildError(c), HasSubstr("arange(0, 1e+300, 1)"));
  GraphBuilder d;
  EXPECT_FALSE(Arange(d, -1e308, 1e308).valid());
  EXPECT_FALSE(d.ok());
  GraphBuilder e;
  EXPECT_FALSE(Arange(e, 0, std::numeric_limits<double>::infinity()).valid());
  EXPECT_THAT(BuildError(e), HasSubstr("bounds must be finite"));
  GraphBuilder f;
  EXPECT_EQ(Arange(f, 5, 0).type(), T(DType::kF32, {0}));  // Empty.
  EXPECT_EQ(Arange(f, 0, 1, 0.3).type(), T(DType::kF32, {4}));
}

TEST(BuilderTest, ReshapeInference) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {2, 3, 4});
  EXPECT_EQ(Reshape(x, {-1, 4}).type(), T(DType::kF32, {6, 4}));
  EXPECT_EQ(Reshape(x, {2, -1}).type(), T(DType::kF32, {2, 12}));
  EXPECT_EQ(Reshape(x, {2, 3, 4}).id(), x.id());  // No node for a no-op.
  EXPECT_TRUE(b.ok());
  // Huge or negative dims next to -1 are reported, not multiplied out.
  const int64_t huge = int64_t{1} << 40;
  EXPECT_FALSE(Reshape(x, {-1, huge, huge}).valid());
  EXPECT_EQ(BuildError(b),
            "reshape: cannot reshape 'x' f32[2,3,4] (24 elements) to "
            "[-1,1099511627776,1099511627776]");
  GraphBuilder c;
  Value y = c.Input("y", DType::kF32, {6});
  EXPECT_FALSE(Reshape(y, {-1, -1}).valid());
  EXPECT_EQ(BuildError(c),
            "reshape: cannot reshape 'y' f32[6] (6 elements) to [-1,-1]");
  GraphBuilder d;
  Value z = d.Input("z", DType::kF32, {6});
  EXPECT_FALSE(Reshape(z, {3, -2}).valid());
  EXPECT_EQ(BuildError(d),
            "node 'reshape' (reshape): shape [3,-2] has a negative size");
}

TEST(BuilderTest, NameScope) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {2});
  Value y, z, w;
  {
    NameScope layer(b, "layer1");
    y = Exp(x);
    {
      NameScope inner(b, "inner");
      z = y * y;
    }
    w = Exp(y);
  }
  Value after = Exp(x);
  EXPECT_EQ(x.name(), "x");  // Inputs keep their names.
  EXPECT_EQ(y.name(), "layer1/exp");
  EXPECT_EQ(z.name(), "layer1/inner/mul");
  EXPECT_EQ(w.name(), "layer1/exp_1");
  EXPECT_EQ(after.name(), "exp");
  EXPECT_EQ(b.AddOp(OpKind::kNeg, {x}, {}, "my_neg").name(), "my_neg");
  {
    NameScope s(b, "s");
    EXPECT_EQ(b.AddOp(OpKind::kNeg, {x}, {}, "my_neg").name(), "s/my_neg");
  }
  EXPECT_TRUE(b.Build().ok());
}

TEST(BuilderTest, NoGradScope) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  Value inside, outside;
  {
    NoGradScope no_grad(b);
    inside = Exp(x) * x;
    EXPECT_EQ(b.graph()->node(inside.id()).op, OpKind::kStopGradient);
  }
  outside = Exp(x) * x;
  EXPECT_NE(b.graph()->node(outside.id()).op, OpKind::kStopGradient);
  b.Output("inside", Sum(inside));
  b.Output("outside", Sum(outside));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  // d/dx sum(x e^x) = (1 + x) e^x outside; nothing flows from inside.
  Graph gi = *g;
  GradOptions options;
  options.of = "inside";
  options.allow_unused = false;
  EXPECT_FALSE(AddGradients(&gi, options).ok());
  options.of = "outside";
  ASSERT_TRUE(AddGradients(&*g, options).ok());
  auto out =
      Interpret(*g, {{"x", Tensor::FromDoubles(T(DType::kF64, {2}), {0, 1})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_DOUBLE_EQ(out->at("x.grad").GetDouble(0), 1);
  EXPECT_DOUBLE_EQ(out->at("x.grad").GetDouble(1), 2 * std::exp(1.0));
}

TEST(BuilderTest, NamedAndFind) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {2});
  Value h = b.Named(Exp(x), "hidden");
  EXPECT_EQ(h.name(), "hidden");
  b.Output("out", h * 2.0);
  b.Output("x_out", x);
  EXPECT_EQ(b.Find("hidden").id(), h.id());
  EXPECT_EQ(b.Find("x").id(), x.id());
  // Output names first.
  EXPECT_EQ(b.Find("x_out").id(), x.id());
  EXPECT_EQ(b.Find("out").id(), b.graph()->FindOutput("out").value());
  EXPECT_TRUE(b.ok());
  // Renaming to the same name is fine; to a taken one is an error.
  EXPECT_TRUE(b.Named(h, "hidden").valid());
  EXPECT_FALSE(b.Named(h, "x").valid());
  EXPECT_EQ(BuildError(b), "cannot name 'hidden' 'x': the name is taken");
  GraphBuilder c;
  EXPECT_FALSE(c.Find("nope").valid());
  EXPECT_EQ(BuildError(c), "no output or value named 'nope'");
  GraphBuilder d;
  Value y = d.Input("y", DType::kF32, {});
  EXPECT_FALSE(d.Named(y, "").valid());
  EXPECT_THAT(BuildError(d), HasSubstr("the name is empty"));
}

TEST(BuilderTest, BuildVerifiesAndEmptiesTheBuilder) {
  GraphBuilder b("g");
  Value x = b.Input("x", DType::kF32, {2});
  b.Output("y", Exp(x));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->name(), "g");
  EXPECT_TRUE(Verify(*g).ok());
  EXPECT_EQ(b.graph()->num_nodes(), 0);
  EXPECT_EQ(b.graph()->name(), "g");
}

TEST(BuilderTest, CompositesDecomposeIntoPrimitives) {
  // Composites have no op kinds of their own; they are built from primitives
  // (checked here for a few that could be mistaken for ops).
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2, 3});
  Value labels = b.Input("labels", DType::kI32, {2});
  b.Output("a", Softmax(x) + LogSoftmax(x) + Relu(x) + Softplus(x) +
                    Clip(x, -1, 1) + Rsqrt(Abs(x) + 1));
  b.Output("b", CrossEntropy(x, labels) + MseLoss(x, x) + Mean(x));
  b.Output("c", Linear(x, x));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->outputs().size(), 3u);
}

}  // namespace
}  // namespace adc
