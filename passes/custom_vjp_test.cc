// Custom gradients (builder CustomVjp, op custom_vjp): autodiff uses the
// user's rule, to higher orders; the interpreter, forward mode, vmap and
// code generation (InlineCalls) use the forward function; the function
// library round-trips through the file format and the verifier checks it.
#include <cmath>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "passes/forward_mode.h"
#include "passes/inline_calls.h"
#include "passes/jacobian.h"
#include "passes/pass_test_util.h"
#include "passes/vmap.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

Tensor F64(Dims dims, std::vector<double> v) {
  return Tensor::FromDoubles(TensorType{DType::kF64, std::move(dims)},
                             std::move(v));
}

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), with the gradient
// sigmoid(x) written by hand.
Value StableSoftplus(GraphBuilder& b, Value x) {
  return CustomVjp(
      b, "softplus", {x},
      [](GraphBuilder&, const std::vector<Value>& a) {
        return Maximum(a[0], 0.0) + Log1p(Exp(-Abs(a[0])));
      },
      [](GraphBuilder&, const std::vector<Value>& a, Value, Value dy) {
        return std::vector<Value>{dy * Sigmoid(a[0])};
      });
}

// round(x) forward, identity gradient.
Value StraightThrough(GraphBuilder& b, Value x) {
  return CustomVjp(
      b, "ste", {x},
      [](GraphBuilder&, const std::vector<Value>& a) { return Round(a[0]); },
      [](GraphBuilder&, const std::vector<Value>&, Value, Value dy) {
        return std::vector<Value>{dy};
      });
}

const std::vector<double> kXs = {-1000, -3, -0.5, 0, 2, 1000};

Graph SoftplusGraph() {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {6});
  b.Output("f", Sum(StableSoftplus(b, x)));
  return pass_test::BuildOrFail(b);
}

TEST(CustomVjpTest, StableSoftplusValueGradientAndSecondDerivative) {
  Graph g = SoftplusGraph();
  EXPECT_THAT(g.function_names(),
              ::testing::ElementsAre("softplus.forward", "softplus.vjp"));
  GradOptions grad;
  grad.of = "f";
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  GradOptions grad2;
  grad2.of = "x.grad";
  grad2.seed = "ones";
  ASSERT_TRUE(AddGradients(&g, grad2).ok());
  auto out = pass_test::EvalOrFail(g, {{"x", F64({6}, kXs)}});
  double f = 0;
  for (double x : kXs)
    f += std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
  EXPECT_NEAR(out.at("f").GetDouble(0), f, 1e-12 * f);
  EXPECT_TRUE(std::isfinite(out.at("f").GetDouble(0)));
  for (int i = 0; i < 6; ++i) {
    const double s = Sigmoid(kXs[i]);
    EXPECT_NEAR(out.at("x.grad").GetDouble(i), s, 1e-15) << kXs[i];
    // The second derivative comes from differentiating the user's rule.
    EXPECT_NEAR(out.at("x.grad2").GetDouble(i), s * (1 - s), 1e-15) << kXs[i];
  }
}

TEST(CustomVjpTest, StraightThroughEstimator) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {4});
  Value w = b.Input("w", DType::kF64, {4});
  b.Output("f", Sum(StraightThrough(b, x) * w));
  b.Output("plain", Sum(Round(x) * w));
  Graph g = pass_test::BuildOrFail(b);
  GradOptions grad;
  grad.of = "f";
  grad.wrt = {"x"};
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  GradOptions plain;
  plain.of = "plain";
  plain.wrt = {"x"};
  ASSERT_TRUE(AddGradients(&g, plain).ok());
  auto out = pass_test::EvalOrFail(g, {{"x", F64({4}, {0.4, 1.5, 2.5, -1.7})},
                                       {"w", F64({4}, {1, 2, 3, 4})}});
  EXPECT_EQ(out.at("f").GetDouble(0), 0 * 1 + 2 * 2 + 2 * 3 + -2 * 4);
  EXPECT_EQ(out.at("x.grad"), F64({4}, {1, 2, 3, 4}));   // identity rule
  EXPECT_EQ(out.at("x.grad2"), F64({4}, {0, 0, 0, 0}));  // round alone
}

TEST(CustomVjpTest, ForwardModeDifferentiatesTheForwardFunction) {
  // JVP (and forward over reverse) through the call: the derivative of the
  // forward function, sigmoid(x) t; the Hessian diag(s (1 - s)).
  Graph g = SoftplusGraph();
  Graph h = g;
  ASSERT_TRUE(AddJvp(&g, {{"f"}, {"x"}, {}}).ok());
  const Tensor t = F64({6}, {1, -1, 2, 0.5, 3, 1});
  auto out = pass_test::EvalOrFail(g, {{"x", F64({6}, kXs)}, {"x.tangent", t}});
  double want = 0;
  for (int i = 0; i < 6; ++i) want += Sigmoid(kXs[i]) * t.GetDouble(i);
  EXPECT_NEAR(out.at("f.jvp").GetDouble(0), want, 1e-14);
  ASSERT_TRUE(AddHessian(&h, "f", "x").ok());
  const Tensor hess =
      pass_test::EvalOrFail(h, {{"x", F64({6}, kXs)}}).at("x.hessian");
  for (int i = 0; i < 6; ++i) {
    const double s = Sigmoid(kXs[i]);
    EXPECT_NEAR(hess.GetDouble(i * 6 + i), s * (1 - s), 1e-15);
  }
}

TEST(CustomVjpTest, VmapBatchesTheFunctions) {
  // Per-example gradients through a custom rule with a shared weight: the
  // shared argument's cotangent is summed over the batch inside the batched
  // vjp function.
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  Value wv = b.Input("w", DType::kF64, {3});
  Value y = CustomVjp(
      b, "scaled", {x, wv},
      [](GraphBuilder&, const std::vector<Value>& a) {
        return Round(a[0]) * a[1];
      },
      [](GraphBuilder&, const std::vector<Value>& a, Value, Value dy) {
        return std::vector<Value>{dy * a[1], dy * Round(a[0])};
      });
  b.Output("f", Sum(y * y));
  Graph g = pass_test::BuildOrFail(b);
  absl::StatusOr<Graph> vg = Vmap(g, {{"x"}, 2, {}});
  ASSERT_TRUE(vg.ok()) << vg.status();
  GradOptions grad;
  grad.of = "f";
  grad.seed = "ones";
  ASSERT_TRUE(AddGradients(&*vg, grad).ok());
  const std::vector<double> x0 = {0.4, 1.6, -2.2}, x1 = {3.1, -0.6, 1.2};
  const std::vector<double> w = {0.5, -1, 2};
  std::vector<double> stacked = x0;
  stacked.insert(stacked.end(), x1.begin(), x1.end());
  auto out = pass_test::EvalOrFail(
      *vg, {{"x", F64({2, 3}, stacked)}, {"w", F64({3}, w)}});
  ASSERT_EQ(out.at("x.grad").dims(), Dims({2, 3}));
  ASSERT_EQ(out.at("w.grad").dims(), Dims({3}));
  for (int j = 0; j < 3; ++j) {
    const double r0 = std::nearbyint(x0[j]), r1 = std::nearbyint(x1[j]);
    // f_i = sum((round(x_i) w)^2); df/dy = 2y; the rule: dx = dy w.
    EXPECT_NEAR(out.at("x.grad").GetDouble(j), 2 * r0 * w[j] * w[j], 1e-14);
    EXPECT_NEAR(out.at("x.grad").GetDouble(3 + j), 2 * r1 * w[j] * w[j], 1e-14);
    EXPECT_NEAR(out.at("w.grad").GetDouble(j),
                2 * r0 * w[j] * r0 + 2 * r1 * w[j] * r1, 1e-13);
  }
}

// mish(x) = x tanh(softplus(x)), a custom_vjp whose forward and gradient
// call the stable softplus (itself a custom_vjp).
Value Mish(GraphBuilder& b, Value x) {
  return CustomVjp(
      b, "mish", {x},
      [](GraphBuilder& fb, const std::vector<Value>& a) {
        return a[0] * Tanh(StableSoftplus(fb, a[0]));
      },
      [](GraphBuilder& vb, const std::vector<Value>& a, Value, Value dy) {
        Value t = Tanh(StableSoftplus(vb, a[0]));
        return std::vector<Value>{dy *
                                  (t + a[0] * (1.0 - t * t) * Sigmoid(a[0]))};
      });
}

TEST(CustomVjpTest, NestedCustomGradientsUsedTwiceAndBatched) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("f", Sum(Mish(b, x) + Mish(b, x * 2.0) + StableSoftplus(b, x)));
  Graph g = pass_test::BuildOrFail(b);
  GradOptions grad;
  grad.of = "f";
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  const std::vector<double> xs = {-1.5, 0.25, 2};
  auto mish_grad = [](double v) {
    const double sp = std::log1p(std::exp(v)), t = std::tanh(sp);
    return t + v * (1 - t * t) * Sigmoid(v);
  };
  auto out = pass_test::EvalOrFail(g, {{"x", F64({3}, xs)}});
  for (int i = 0; i < 3; ++i) {
    const double v = xs[i];
    EXPECT_NEAR(out.at("x.grad").GetDouble(i),
                mish_grad(v) + 2 * mish_grad(2 * v) + Sigmoid(v), 1e-14);
  }
  // Round trip, compiled form, and a batch of two.
  absl::StatusOr<Graph> back = GraphFromText(GraphToText(g));
  ASSERT_TRUE(back.ok()) << back.status();
  Graph inlined = g;
  ASSERT_TRUE(InlineCalls(&inlined).ok());
  EXPECT_EQ(pass_test::EvalOrFail(inlined, {{"x", F64({3}, xs)}}).at("x.grad"),
            out.at("x.grad"));
  absl::StatusOr<Graph> vg = Vmap(g, {{"x"}, 2, {}});
  ASSERT_TRUE(vg.ok()) << vg.status();
  std::vector<double> two = xs;
  two.insert(two.end(), {0.5, -0.5, 1});
  const Tensor batched =
      pass_test::EvalOrFail(*vg, {{"x", F64({2, 3}, two)}}).at("x.grad");
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(batched.GetDouble(i), out.at("x.grad").GetDouble(i), 1e-14);
  }
}

TEST(CustomVjpTest, InlineCallsKeepsTheValues) {
  Graph g = SoftplusGraph();
  GradOptions grad;
  grad.of = "f";
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  Graph inlined = g;
  ASSERT_TRUE(InlineCalls(&inlined).ok());
  EXPECT_FALSE(inlined.has_functions());
  for (const Node& node : inlined.nodes()) {
    EXPECT_NE(node.op, OpKind::kCustomVjp);
  }
  const std::map<std::string, Tensor> feeds = {{"x", F64({6}, kXs)}};
  EXPECT_EQ(pass_test::EvalOrFail(inlined, feeds),
            pass_test::EvalOrFail(g, feeds));
}

TEST(CustomVjpTest, FunctionsRoundTripThroughTheFileFormat) {
  Graph g = SoftplusGraph();
  GradOptions grad;
  grad.of = "f";
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  const std::string text = GraphToText(g);
  EXPECT_THAT(text, HasSubstr("version: 2"));
  EXPECT_THAT(text, HasSubstr("functions {"));
  absl::StatusOr<Graph> back = GraphFromText(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(GraphToText(*back), text);
  const std::map<std::string, Tensor> feeds = {{"x", F64({6}, kXs)}};
  EXPECT_EQ(pass_test::EvalOrFail(*back, feeds),
            pass_test::EvalOrFail(g, feeds));
}

TEST(CustomVjpTest, VerifierChecksTheLibrary) {
  const std::string text = GraphToText(SoftplusGraph());
  auto error = [](const std::string& bad) {
    absl::StatusOr<Graph> g = GraphFromText(bad);
    EXPECT_FALSE(g.ok());
    return std::string(g.status().message());
  };
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = text;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  EXPECT_THAT(error(replace("s: \"softplus.forward\"", "s: \"nope\"")),
              HasSubstr("forward function 'nope' is not in the library"));
  EXPECT_THAT(error(replace("s: \"softplus.vjp\"", "s: \"softplus.forward\"")),
              HasSubstr("vjp function 'softplus.forward' is (f64[6]) -> "
                        "(f64[6]) but the call needs (f64[6], f64[6], f64[6]) "
                        "-> (f64[6])"));
  EXPECT_THAT(
      error(replace("name: \"softplus.vjp\"", "name: \"softplus.forward\"")),
      HasSubstr("function 'softplus.forward' is defined twice"));
}

TEST(CustomVjpTest, BuilderErrors) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  CustomVjp(
      b, "bad", {x},
      [](GraphBuilder&, const std::vector<Value>& a) { return Exp(a[0]); },
      [](GraphBuilder&, const std::vector<Value>&, Value, Value dy) {
        return std::vector<Value>{Sum(dy)};
      });
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              HasSubstr("custom_vjp 'bad' vjp: vjp returned f64[] for "
                        "argument 0 of type f64[2]"));
}

}  // namespace
}  // namespace adc
