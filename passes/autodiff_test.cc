// The reverse-mode examples of the core issue, with values from PyTorch in
// float64 (tolerance 1e-12 relative in f64, 1e-6 in f32).
#include "passes/autodiff.h"

#include <cmath>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"

namespace adc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Tensor Vec(std::vector<double> v, DType dtype = DType::kF64) {
  const int64_t n = v.size();
  return Tensor::FromDoubles(TensorType{dtype, {n}}, std::move(v));
}
Tensor Mat(int64_t rows, int64_t cols, std::vector<double> v) {
  return Tensor::FromDoubles(TensorType{DType::kF64, {rows, cols}},
                             std::move(v));
}
Tensor S(double v, DType dtype = DType::kF64) {
  return Tensor::Scalar(v, dtype);
}

// Builds with `build`, differentiates and interprets.
std::map<std::string, Tensor> DiffAndRun(
    Graph g, GradOptions options, const std::map<std::string, Tensor>& feeds) {
  auto names = AddGradients(&g, options);
  EXPECT_TRUE(names.ok()) << names.status();
  auto out = Interpret(g, feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::map<std::string, Tensor>{};
}

void ExpectNear(const Tensor& t, std::vector<double> expected,
                double rtol = 1e-12) {
  ASSERT_EQ(t.num_elements(), static_cast<int64_t>(expected.size()))
      << t.ToString();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(t.GetDouble(i), expected[i],
                rtol * std::max(1.0, std::abs(expected[i])))
        << "element " << i << " of " << t.ToString();
  }
}

Graph Build(GraphBuilder& b) {
  auto g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

TEST(AutodiffTest, ProductMinusSine) {
  for (DType dtype : {DType::kF64, DType::kF32}) {
    GraphBuilder b;
    Value x1 = b.Input("x1", dtype, {});
    Value x2 = b.Input("x2", dtype, {});
    b.Output("y", x1 * x2 - Sin(x2));
    auto out = DiffAndRun(Build(b), {.of = "y"},
                          {{"x1", S(2, dtype)}, {"x2", S(3, dtype)}});
    const double tol = dtype == DType::kF64 ? 1e-12 : 1e-6;
    ExpectNear(out["y"], {5.858879991940133}, tol);
    ExpectNear(out["x1.grad"], {3}, tol);
    ExpectNear(out["x2.grad"], {2.989992496600445}, tol);
  }
}

TEST(AutodiffTest, SumOfTwoLossesAndSharedIntermediate) {
  for (bool shared : {false, true}) {
    GraphBuilder b;
    Value x1 = b.Input("x1", DType::kF64, {});
    Value x2 = b.Input("x2", DType::kF64, {});
    Value p = x1 * x2;
    Value loss1 = (shared ? p : x1 * x2) - Sin(x2);
    Value loss2 = (shared ? p : x1 * x2) + Sin(x2);
    b.Output("total", loss1 + loss2);
    b.Output("weighted", loss1 + 0.5 * loss2);
    Graph g = Build(b);
    auto total = DiffAndRun(g, {.of = "total"}, {{"x1", S(2)}, {"x2", S(3)}});
    ExpectNear(total["x1.grad"], {6});
    ExpectNear(total["x2.grad"], {4});
    auto weighted =
        DiffAndRun(g, {.of = "weighted"}, {{"x1", S(2)}, {"x2", S(3)}});
    ExpectNear(weighted["x1.grad"], {4.5});
    ExpectNear(weighted["x2.grad"], {3.4949962483002226});
  }
}

TEST(AutodiffTest, VectorExamples) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {4});
  b.Output("dot", 2 * Dot(x, x));
  b.Output("sum", Sum(x));
  b.Output("square", x * x);
  Graph g = Build(b);
  const Tensor x0 = Vec({0, 1, 2, 3});
  ExpectNear(DiffAndRun(g, {.of = "dot", .wrt = {"x"}}, {{"x", x0}})["x.grad"],
             {0, 4, 8, 12});
  ExpectNear(DiffAndRun(g, {.of = "sum", .wrt = {"x"}}, {{"x", x0}})["x.grad"],
             {1, 1, 1, 1});
  ExpectNear(DiffAndRun(g, {.of = "square", .wrt = {"x"}, .seed = "ones"},
                        {{"x", x0}})["x.grad"],
             {0, 2, 4, 6});
  Graph copy = g;
  auto error = AddGradients(&copy, {.of = "square", .wrt = {"x"}});
  ASSERT_FALSE(error.ok());
  EXPECT_THAT(error.status().message(),
              HasSubstr("grad can be implicitly created only for scalar "
                        "outputs: 'square' has shape [4]"));
}

TEST(AutodiffTest, StopGradient) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  Value u = StopGradient(x * x);
  b.Output("z", Sum(u * x));
  auto out = DiffAndRun(Build(b), {.of = "z"}, {{"x", Vec({1, -2, 3})}});
  ExpectNear(out["x.grad"], {1, 4, 9});
}

TEST(AutodiffTest, NoGradScope) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  Value u;
  {
    NoGradScope no_grad(b);
    u = x * x;
  }
  b.Output("z", Sum(u * x));
  auto out = DiffAndRun(Build(b), {.of = "z"}, {{"x", Vec({1, -2, 3})}});
  ExpectNear(out["x.grad"], {1, 4, 9});
}

TEST(AutodiffTest, Composite) {
  GraphBuilder b;
  Value x1 = b.Input("x1", DType::kF64, {});
  Value x2 = b.Input("x2", DType::kF64, {});
  b.Output("f", (1 + Sin(x2)) / (x2 + Exp(x1)) + x1 * x2);
  auto out =
      DiffAndRun(Build(b), {.of = "f"}, {{"x1", S(1.5)}, {"x2", S(0.5)}});
  ExpectNear(out["f"], {1.0469726768804155});
  ExpectNear(out["x1.grad"], {0.23283374747559749});
  ExpectNear(out["x2.grad"], {1.6165488003791766});
}

TEST(AutodiffTest, CosPlusSin) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {});
  b.Output("y", Cos(x) + Sin(x));
  ExpectNear(DiffAndRun(Build(b), {.of = "y"}, {{"x", S(2)}})["x.grad"],
             {-1.325444263372824});
}

TEST(AutodiffTest, VectorWithSeedOnes) {
  GraphBuilder b;
  Value x1 = b.Input("x1", DType::kF64, {3});
  Value x2 = b.Input("x2", DType::kF64, {3});
  b.Output("f", x1 * x2 + Sin(x2) + Log(x1));
  auto out =
      DiffAndRun(Build(b), {.of = "f", .seed = "ones"},
                 {{"x1", Vec({1.2, 2.4, 3.3})}, {"x2", Vec({4.4, 5.2, 5.5})}});
  ExpectNear(out["x1.grad"], {5.233333, 5.616667, 5.803030}, 1e-6);
  ExpectNear(out["x2.grad"], {0.892667, 2.868517, 4.008670}, 1e-6);
}

TEST(AutodiffTest, ExplicitSeedAndJacobianRows) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("y", Pow(x, 2));
  Graph g = Build(b);
  auto out = DiffAndRun(g, {.of = "y", .seed = "v"},
                        {{"x", Vec({1, 2, -2})}, {"v", Vec({1, 0.8, 1.8})}});
  ExpectNear(out["x.grad"], {2, 3.2, -7.2});
  const std::vector<std::vector<double>> jacobian = {
      {2, 0, 0}, {0, 4, 0}, {0, 0, -4}};
  for (int row = 0; row < 3; ++row) {
    std::vector<double> onehot(3, 0.0);
    onehot[row] = 1;
    ExpectNear(
        DiffAndRun(g, {.of = "y", .seed = "v"},
                   {{"x", Vec({1, 2, -2})}, {"v", Vec(onehot)}})["x.grad"],
        jacobian[row]);
  }
}

TEST(AutodiffTest, CumSumAndIndexing) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("last", Index(CumSum(2 * x, 0), -1));
  b.Output("combo", 2 * Index(x, 0) + 3 * Index(x, 1) - 3 * Index(x, 2));
  Graph g = Build(b);
  ExpectNear(DiffAndRun(g, {.of = "last"}, {{"x", Vec({2, 2, 2})}})["x.grad"],
             {2, 2, 2});
  ExpectNear(DiffAndRun(g, {.of = "combo"}, {{"x", Vec({2, 2, 2})}})["x.grad"],
             {2, 3, -3});
}

TEST(AutodiffTest, SecondDerivativeOfCube) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2, 3});
  b.Output("f", Pow(x, 3));
  Graph g = Build(b);
  ASSERT_TRUE(AddGradients(&g, {.of = "f", .seed = "ones"}).ok());
  auto names = AddGradients(&g, {.of = "x.grad", .wrt = {"x"}, .seed = "ones"});
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("x.grad2"));
  auto out = Interpret(g, {{"x", Mat(2, 3, {2, 3, 2, 2, 3, 3})}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)["x.grad"], {12, 27, 12, 12, 27, 27});
  ExpectNear((*out)["x.grad2"], {12, 18, 12, 12, 18, 18});
}

TEST(AutodiffTest, ThirdDerivativeOfSine) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {});
  b.Output("y", Sin(x));
  Graph g = Build(b);
  ASSERT_TRUE(AddGradients(&g, {.of = "y"}).ok());
  ASSERT_TRUE(AddGradients(&g, {.of = "x.grad", .wrt = {"x"}}).ok());
  ASSERT_TRUE(AddGradients(&g, {.of = "x.grad2", .wrt = {"x"}}).ok());
  auto out = Interpret(g, {{"x", S(3)}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)["x.grad"], {-0.9899924966004454});
  ExpectNear((*out)["x.grad2"], {-0.1411200080598672});
  ExpectNear((*out)["x.grad3"], {0.9899924966004454});
}

TEST(AutodiffTest, WrtIntermediate) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {});
  Value h = b.Named(x * x, "h");
  b.Output("y", 3 * h + h * h);
  // dy/dh = 3 + 2h; dy/dx = (3 + 2h) * 2x.
  auto out =
      DiffAndRun(Build(b), {.of = "y", .wrt = {"h", "x"}}, {{"x", S(2)}});
  ExpectNear(out["h.grad"], {11});
  ExpectNear(out["x.grad"], {44});
}

TEST(AutodiffTest, UnusedWrt) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  b.Input("w", DType::kF64, {2});
  b.Output("y", Sum(x));
  Graph g = Build(b);
  ExpectNear(DiffAndRun(g, {.of = "y"},
                        {{"x", Vec({1, 2})}, {"w", Vec({3, 4})}})["w.grad"],
             {0, 0});
  auto error = AddGradients(&g, {.of = "y", .allow_unused = false});
  ASSERT_FALSE(error.ok());
  EXPECT_THAT(error.status().message(), HasSubstr("'w' does not affect 'y'"));
}

TEST(AutodiffTest, NanSafeSelect) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {4});
  b.Output("log", Sum(Where(Gt(x, 0), Log(x), ZerosLike(x))));
  b.Output("sqrt", Sum(Where(Gt(x, 0), Sqrt(x), ZerosLike(x))));
  b.Output("exp", Sum(Where(Lt(x, 100), Exp(x), ZerosLike(x))));
  Graph g = Build(b);
  const Tensor x0 = Vec({0, -1, 4, 1000});
  ExpectNear(DiffAndRun(g, {.of = "log"}, {{"x", x0}})["x.grad"],
             {0, 0, 0.25, 0.001});
  ExpectNear(DiffAndRun(g, {.of = "sqrt"}, {{"x", x0}})["x.grad"],
             {0, 0, 0.25, 0.5 / std::sqrt(1000.0)});
  ExpectNear(DiffAndRun(g, {.of = "exp"}, {{"x", x0}})["x.grad"],
             {1, std::exp(-1.0), std::exp(4.0), 0});
}

TEST(AutodiffTest, ErrorsNameTheValue) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  Value i = b.Input("i", DType::kI32, {2});
  b.Output("y", Sum(x));
  b.Output("n", i);
  Graph g = Build(b);
  EXPECT_THAT(AddGradients(&g, {.of = "nope"}).status().message(),
              HasSubstr("no output or value named 'nope'"));
  EXPECT_THAT(AddGradients(&g, {.of = "n"}).status().message(),
              HasSubstr("'n' is i32[2]"));
  EXPECT_THAT(AddGradients(&g, {.of = "y", .wrt = {"i"}}).status().message(),
              HasSubstr("'i' is i32[2]"));
  EXPECT_THAT(AddGradients(&g, {.of = "y", .wrt = {"q"}}).status().message(),
              HasSubstr("no value named 'q'"));
}

TEST(AutodiffTest, GradientGraphRoundTripsThroughText) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {});
  b.Output("y", Exp(Sin(x)));
  Graph g = Build(b);
  ASSERT_TRUE(AddGradients(&g, {.of = "y"}).ok());
  auto reloaded = GraphFromText(GraphToText(g));
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(GraphToText(*reloaded), GraphToText(g));
  auto names = AddGradients(&*reloaded, {.of = "x.grad", .wrt = {"x"}});
  ASSERT_TRUE(names.ok()) << names.status();
  auto out = Interpret(*reloaded, {{"x", S(0.3)}});
  ASSERT_TRUE(out.ok());
  // d2/dx2 exp(sin x) = exp(sin x) (cos^2 x - sin x).
  const double s = std::sin(0.3), c = std::cos(0.3);
  ExpectNear((*out)["x.grad2"], {std::exp(s) * (c * c - s)});
}

}  // namespace
}  // namespace adc
