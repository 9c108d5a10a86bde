// Forward mode on examples with exact expected values; every op's JVP is
// checked against its VJP and finite differences in tests/op_gradients_test.
#include "passes/forward_mode.h"

#include <cmath>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "passes/pass_test_util.h"

namespace adc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Tensor Vec(std::vector<double> v) {
  const int64_t n = v.size();
  return Tensor::FromDoubles(TensorType{DType::kF64, {n}}, std::move(v));
}

void ExpectNear(const Tensor& t, std::vector<double> expected) {
  ASSERT_EQ(t.num_elements(), static_cast<int64_t>(expected.size()))
      << t.ToString();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(t.GetDouble(i), expected[i],
                1e-12 * std::max(1.0, std::abs(expected[i])))
        << "element " << i << " of " << t.ToString();
  }
}

TEST(ForwardModeTest, SquareAlongOneHotAndOnes) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("y", Pow(x, 2.0));
  Graph g = pass_test::BuildOrFail(b);
  auto r = AddJvp(&g, {{"y"}, {"x"}, {}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->tangents, ElementsAre("x.tangent"));
  EXPECT_THAT(r->outputs, ElementsAre("y.jvp"));
  EXPECT_TRUE(g.outputs().back().is_gradient);
  const Tensor at = Vec({1, 2, -2});
  ExpectNear(
      pass_test::EvalOrFail(g, {{"x", at}, {"x.tangent", Vec({1, 0, 0})}})
          .at("y.jvp"),
      {2, 0, 0});
  ExpectNear(
      pass_test::EvalOrFail(g, {{"x", at}, {"x.tangent", Vec({1, 1, 1})}})
          .at("y.jvp"),
      {2, 4, -4});
}

TEST(ForwardModeTest, SumsTheDirectionalDerivativesOfEveryWrt) {
  // f = sin(x) * y: df = cos(x) y dx + sin(x) dy.
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  Value y = b.Input("y", DType::kF64, {2});
  b.Output("f", Sin(x) * y);
  Graph g = pass_test::BuildOrFail(b);
  auto r = AddJvp(&g, {{"f"}, {}, {}});  // wrt: every float input.
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->tangents, ElementsAre("x.tangent", "y.tangent"));
  auto out = pass_test::EvalOrFail(g, {{"x", Vec({0.5, -1})},
                                       {"y", Vec({2, 3})},
                                       {"x.tangent", Vec({1, -2})},
                                       {"y.tangent", Vec({0.25, 4})}});
  ExpectNear(out.at("f.jvp"), {std::cos(0.5) * 2 * 1 + std::sin(0.5) * 0.25,
                               std::cos(-1.0) * 3 * -2 + std::sin(-1.0) * 4});
}

TEST(ForwardModeTest, JvpOfJvpAlongOneDirectionIsTheSecondDerivative) {
  // f = x^3: the JVP of the JVP along the same tangent is 6 x t^2; along a
  // fresh tangent u it is 6 x t u.
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  b.Output("f", x * x * x);
  Graph g = pass_test::BuildOrFail(b);
  ASSERT_TRUE(AddJvp(&g, {{"f"}, {"x"}, {}}).ok());
  Graph same = g;
  auto r = AddJvp(&same, {{"f.jvp"}, {"x"}, {"x.tangent"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->tangents, ElementsAre("x.tangent"));
  EXPECT_THAT(r->outputs, ElementsAre("f.jvp.jvp"));
  ExpectNear(pass_test::EvalOrFail(
                 same, {{"x", Vec({2, -1})}, {"x.tangent", Vec({3, 0.5})}})
                 .at("f.jvp.jvp"),
             {6 * 2 * 9, 6 * -1 * 0.25});
  auto fresh = AddJvp(&g, {{"f.jvp"}, {"x"}, {}});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_THAT(fresh->tangents, ElementsAre("x.tangent2"));
  ExpectNear(pass_test::EvalOrFail(g, {{"x", Vec({2, -1})},
                                       {"x.tangent", Vec({3, 0.5})},
                                       {"x.tangent2", Vec({-1, 4})}})
                 .at("f.jvp.jvp"),
             {6 * 2 * 3 * -1, 6 * -1 * 0.5 * 4});
}

TEST(ForwardModeTest, ForwardOverReverseIsAHessianVectorProduct) {
  // f = sum(x^3 sin x): H = diag(6x sin x + 6x^2 cos x - x^3 sin x).
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("f", Sum(x * x * x * Sin(x)));
  Graph g = pass_test::BuildOrFail(b);
  GradOptions grad;
  grad.of = "f";
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  auto r = AddJvp(&g, {{"x.grad"}, {"x"}, {}});
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<double> xs = {0.5, -1.25, 2}, v = {1, -2, 0.5};
  auto out = pass_test::EvalOrFail(g, {{"x", Vec(xs)}, {"x.tangent", Vec(v)}});
  std::vector<double> expected;
  for (int i = 0; i < 3; ++i) {
    const double a = xs[i];
    expected.push_back((6 * a * std::sin(a) + 6 * a * a * std::cos(a) -
                        a * a * a * std::sin(a)) *
                       v[i]);
  }
  ExpectNear(out.at("x.grad.jvp"), expected);
}

TEST(ForwardModeTest, ReverseOverForwardGivesTheSameHessianVectorProduct) {
  // grad_x <grad f(x), t> = H t (H symmetric).
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  b.Output("f", Sum(Tanh(x) * Sin(x)));
  Graph g = pass_test::BuildOrFail(b);
  Graph fwd_rev = g;
  ASSERT_TRUE(AddJvp(&g, {{"f"}, {"x"}, {}}).ok());
  GradOptions grad;
  grad.of = "f.jvp";
  grad.wrt = {"x"};
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  GradOptions grad2;
  grad2.of = "f";
  ASSERT_TRUE(AddGradients(&fwd_rev, grad2).ok());
  ASSERT_TRUE(AddJvp(&fwd_rev, {{"x.grad"}, {"x"}, {}}).ok());
  const std::map<std::string, Tensor> feeds = {{"x", Vec({0.3, -0.7})},
                                               {"x.tangent", Vec({2, 1})}};
  const Tensor a = pass_test::EvalOrFail(g, feeds).at("x.grad");
  const Tensor c = pass_test::EvalOrFail(fwd_rev, feeds).at("x.grad.jvp");
  ExpectNear(a, {c.GetDouble(0), c.GetDouble(1)});
}

TEST(ForwardModeTest, StopGradientAndUnusedWrtGiveZeros) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  Value z = b.Input("z", DType::kF64, {2});
  b.Output("y", StopGradient(x) * x);
  b.Output("w", z * 2.0);
  Graph g = pass_test::BuildOrFail(b);
  ASSERT_TRUE(AddJvp(&g, {{"y", "w"}, {"x"}, {}}).ok());
  auto out = pass_test::EvalOrFail(
      g, {{"x", Vec({3, 4})}, {"z", Vec({1, 1})}, {"x.tangent", Vec({1, 1})}});
  ExpectNear(out.at("y.jvp"), {3, 4});  // d(sg(x) x) = sg(x) dx
  ExpectNear(out.at("w.jvp"), {0, 0});
}

TEST(ForwardModeTest, IntermediateWrtIsPerturbedWhereItIsComputed) {
  // h = 2x, y = h^2: with wrt h, dy = 2 h dh (x is not perturbed).
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {1});
  Value h = b.Named(x * 2.0, "h");
  b.Output("y", h * h);
  Graph g = pass_test::BuildOrFail(b);
  auto r = AddJvp(&g, {{"y"}, {"h"}, {}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->tangents, ElementsAre("h.tangent"));
  ExpectNear(
      pass_test::EvalOrFail(g, {{"x", Vec({3})}, {"h.tangent", Vec({0.5})}})
          .at("y.jvp"),
      {2 * 6 * 0.5});
}

TEST(ForwardModeTest, Errors) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  Value i = b.Input("i", DType::kI32, {2});
  b.Output("y", x * 2.0);
  b.Output("n", i);
  Graph g = pass_test::BuildOrFail(b);
  auto expect_error = [&](JvpOptions o, const std::string& message) {
    Graph copy = g;
    auto r = AddJvp(&copy, o);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.status().message(), HasSubstr(message));
  };
  expect_error({{}, {}, {}}, "no value to differentiate");
  expect_error({{"nope"}, {}, {}}, "no output or value named 'nope'");
  expect_error({{"n"}, {}, {}}, "only floating-point values");
  expect_error({{"y"}, {"i"}, {}}, "'i' is i32");
  expect_error({{"y"}, {"x", "x"}, {}}, "listed twice");
  expect_error({{"y"}, {"x"}, {"a", "b"}}, "2 names for 1 wrt");
  expect_error({{"y"}, {"x"}, {"i"}},
               "'i' already names a value that is not an input of type f64[2]");
}

}  // namespace
}  // namespace adc
