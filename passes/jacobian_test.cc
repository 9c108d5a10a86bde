// Jacobians, Hessians and HVPs with the exact expectations of the transforms
// issue (values worked out by hand, or finite differences of the gradient).
#include "passes/jacobian.h"

#include <cmath>
#include <random>

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

Tensor F64(Dims dims, std::vector<double> v) {
  return Tensor::FromDoubles(TensorType{DType::kF64, std::move(dims)},
                             std::move(v));
}

Tensor Random(Dims dims, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Tensor t(TensorType{DType::kF64, std::move(dims)});
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, dist(rng));
  return t;
}

void ExpectNear(const Tensor& got, const Tensor& want, double tol = 1e-12) {
  ASSERT_EQ(got.type(), want.type());
  for (int64_t i = 0; i < got.num_elements(); ++i) {
    EXPECT_NEAR(got.GetDouble(i), want.GetDouble(i),
                tol * (1 + std::abs(want.GetDouble(i))))
        << "element " << i;
  }
}

Graph Square() {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("y", Pow(x, 2.0));
  return pass_test::BuildOrFail(b);
}

TEST(JacobianTest, OfSquareIsDiagonalInBothModes) {
  for (JacobianMode mode :
       {JacobianMode::kReverse, JacobianMode::kForward, JacobianMode::kAuto}) {
    Graph g = Square();
    auto names = AddJacobian(&g, {"y", {"x"}, mode});
    ASSERT_TRUE(names.ok()) << names.status();
    EXPECT_THAT(*names, ElementsAre("x.jacobian"));
    EXPECT_EQ(g.inputs().size(), 1u) << "one-hot seeds are constants";
    auto out = pass_test::EvalOrFail(g, {{"x", F64({3}, {1, 2, -2})}});
    EXPECT_EQ(out.at("x.jacobian"), F64({3, 3}, {2, 0, 0, 0, 4, 0, 0, 0, -4}));
    EXPECT_EQ(out.at("y"), F64({3}, {1, 4, 4}));
  }
}

TEST(JacobianTest, RowsAreTheGradientsOfTheOneHotSeeds) {
  // f(x, w) = tanh(w x) (w 4x3, x 3): rows by reverse mode equal the VJPs
  // with one-hot seeds; columns by forward mode agree with them.
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  Value w = b.Input("w", DType::kF64, {4, 3});
  b.Output("y", Tanh(MatMul(w, x)));
  Graph g = pass_test::BuildOrFail(b);
  const std::map<std::string, Tensor> feeds = {{"x", Random({3}, 1)},
                                               {"w", Random({4, 3}, 2)}};
  Graph rev = g, fwd = g;
  ASSERT_TRUE(
      AddJacobian(&rev, {"y", {"x", "w"}, JacobianMode::kReverse}).ok());
  ASSERT_TRUE(
      AddJacobian(&fwd, {"y", {"x", "w"}, JacobianMode::kForward}).ok());
  auto r = pass_test::EvalOrFail(rev, feeds),
       f = pass_test::EvalOrFail(fwd, feeds);
  EXPECT_EQ(r.at("x.jacobian").dims(), Dims({4, 3}));
  EXPECT_EQ(r.at("w.jacobian").dims(), Dims({4, 4, 3}));
  ExpectNear(f.at("x.jacobian"), r.at("x.jacobian"));
  ExpectNear(f.at("w.jacobian"), r.at("w.jacobian"));
  for (int i = 0; i < 4; ++i) {
    Graph vjp = g;
    GradOptions grad;
    grad.of = "y";
    grad.wrt = {"x"};
    grad.seed = "s";
    ASSERT_TRUE(AddGradients(&vjp, grad).ok());
    std::map<std::string, Tensor> with_seed = feeds;
    Tensor s(TensorType{DType::kF64, {4}});
    s.SetDouble(i, 1.0);
    with_seed["s"] = s;
    const Tensor row = pass_test::EvalOrFail(vjp, with_seed).at("x.grad");
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(r.at("x.jacobian").GetDouble(i * 3 + j), row.GetDouble(j),
                  1e-14);
    }
  }
}

TEST(JacobianTest, MatrixOfAndWrtInBothModesMatchDifferences) {
  // y = tanh(w @ x) with x [3, 2]: the Jacobian [4, 2, 3, 2] by rows and by
  // columns, against central differences; wrt named by an output name.
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3, 2});
  Value w = b.Input("w", DType::kF64, {4, 3});
  b.Output("y", Tanh(MatMul(w, x)));
  b.Output("x_out", x * 1.0);
  Graph g = pass_test::BuildOrFail(b);
  const std::map<std::string, Tensor> feeds = {{"x", Random({3, 2}, 6)},
                                               {"w", Random({4, 3}, 7)}};
  Graph rev = g, fwd = g;
  ASSERT_TRUE(AddJacobian(&rev, {"y", {"x"}, JacobianMode::kReverse}).ok());
  auto names = AddJacobian(&fwd, {"y", {"x"}, JacobianMode::kForward});
  ASSERT_TRUE(names.ok()) << names.status();
  const Tensor jr = pass_test::EvalOrFail(rev, feeds).at("x.jacobian");
  const Tensor jf = pass_test::EvalOrFail(fwd, feeds).at("x.jacobian");
  ASSERT_EQ(jr.dims(), Dims({4, 2, 3, 2}));
  ExpectNear(jf, jr);
  const double eps = 1e-6;
  for (int k = 0; k < 6; ++k) {
    std::map<std::string, Tensor> plus = feeds, minus = feeds;
    plus["x"].SetDouble(k, feeds.at("x").GetDouble(k) + eps);
    minus["x"].SetDouble(k, feeds.at("x").GetDouble(k) - eps);
    const Tensor yp = pass_test::EvalOrFail(g, plus).at("y"),
                 ym = pass_test::EvalOrFail(g, minus).at("y");
    for (int i = 0; i < 8; ++i) {
      EXPECT_NEAR(jr.GetDouble(i * 6 + k),
                  (yp.GetDouble(i) - ym.GetDouble(i)) / (2 * eps), 1e-8);
    }
  }
  // "x_out" names a value (x * 1) by its output name.
  Graph by_output = g;
  ASSERT_TRUE(
      AddJacobian(&by_output, {"y", {"x_out"}, JacobianMode::kForward}).ok());
}

TEST(JacobianTest, AutoTakesReverseModeForFewerOutputs) {
  EXPECT_EQ(ChooseJacobianMode(1, 100), JacobianMode::kReverse);
  EXPECT_EQ(ChooseJacobianMode(3, 3), JacobianMode::kReverse);
  EXPECT_EQ(ChooseJacobianMode(100, 2), JacobianMode::kForward);
}

TEST(HessianTest, OfSumOfCubeTimesSine) {
  // H = diag(6x sin x + 6x^2 cos x - x^3 sin x).
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {4});
  b.Output("f", Sum(x * x * x * Sin(x)));
  Graph g = pass_test::BuildOrFail(b);
  auto name = AddHessian(&g, "f", "x");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "x.hessian");
  const std::vector<double> xs = {0.5, -1.25, 2, 3};
  auto out = pass_test::EvalOrFail(g, {{"x", F64({4}, xs)}});
  Tensor want(TensorType{DType::kF64, {4, 4}});
  for (int i = 0; i < 4; ++i) {
    const double a = xs[i];
    want.SetDouble(i * 4 + i, 6 * a * std::sin(a) + 6 * a * a * std::cos(a) -
                                  a * a * a * std::sin(a));
  }
  ExpectNear(out.at("x.hessian"), want);
  EXPECT_FALSE(g.FindOutput("x.grad")) << "intermediate gradient not kept";
}

// f = sum(tanh(W x)^2), W 12x12 dense: the Hessian against central
// differences of the gradient, and H v against the HVP.
TEST(HessianTest, DenseHessianMatchesDifferencesOfTheGradient) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {12});
  Value w = b.Parameter("w", Random({12, 12}, 3, -0.5, 0.5));
  b.Output("f", Sum(Pow(Tanh(MatMul(w, x)), 2.0)));
  Graph g = pass_test::BuildOrFail(b);
  const Tensor x0 = Random({12}, 4);
  Graph hess = g, grad_graph = g, hvp = g;
  ASSERT_TRUE(AddHessian(&hess, "f", "x").ok());
  const Tensor h = pass_test::EvalOrFail(hess, {{"x", x0}}).at("x.hessian");
  ASSERT_EQ(h.dims(), Dims({12, 12}));
  GradOptions grad;
  grad.of = "f";
  ASSERT_TRUE(AddGradients(&grad_graph, grad).ok());
  const double eps = 1e-6;
  for (int j = 0; j < 12; ++j) {
    Tensor plus = x0, minus = x0;
    plus.SetDouble(j, x0.GetDouble(j) + eps);
    minus.SetDouble(j, x0.GetDouble(j) - eps);
    const Tensor gp =
        pass_test::EvalOrFail(grad_graph, {{"x", plus}}).at("x.grad");
    const Tensor gm =
        pass_test::EvalOrFail(grad_graph, {{"x", minus}}).at("x.grad");
    for (int i = 0; i < 12; ++i) {
      const double numeric = (gp.GetDouble(i) - gm.GetDouble(i)) / (2 * eps);
      EXPECT_NEAR(h.GetDouble(i * 12 + j), numeric, 1e-6) << i << "," << j;
    }
  }
  // Symmetric.
  for (int i = 0; i < 12; ++i) {
    for (int j = 0; j < i; ++j) {
      EXPECT_NEAR(h.GetDouble(i * 12 + j), h.GetDouble(j * 12 + i), 1e-12);
    }
  }
  auto r = AddHvp(&hvp, "f", "x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tangent, "x.tangent");
  EXPECT_EQ(r->output, "x.hvp");
  const Tensor v = Random({12}, 5);
  const Tensor hv =
      pass_test::EvalOrFail(hvp, {{"x", x0}, {"x.tangent", v}}).at("x.hvp");
  for (int i = 0; i < 12; ++i) {
    double want = 0;
    for (int j = 0; j < 12; ++j)
      want += h.GetDouble(i * 12 + j) * v.GetDouble(j);
    EXPECT_NEAR(hv.GetDouble(i), want, 1e-12 * (1 + std::abs(want)));
  }
  EXPECT_FALSE(hvp.FindOutput("x.grad"));
}

TEST(HessianTest, Errors) {
  Graph g = Square();
  auto h = AddHessian(&g, "y", "x");
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(), HasSubstr("'y' must be a scalar"));
  auto v = AddHvp(&g, "nope", "x");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("no output or value named"));
  auto j = AddJacobian(&g, {"y", {"z"}, JacobianMode::kAuto});
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(j.status().message(), HasSubstr("no value named 'z'"));
}

}  // namespace
}  // namespace adc
