#include "codegen/compile.h"

#include "codegen/testing.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

Graph Build(GraphBuilder& b) {
  auto g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

TEST(CompileTest, SeedExampleWithGradients) {
  GraphBuilder b("seed");
  Value x1 = b.Input("x1", DType::kF32, {});
  Value x2 = b.Input("x2", DType::kF32, {});
  b.Output("y", x1 * x2 - Sin(x2));
  Graph g = Build(b);
  ASSERT_TRUE(AddGradients(&g, {.of = "y"}).ok());
  auto out =
      CompileAndRun(g, {{"x1", Tensor::Scalar(2)}, {"x2", Tensor::Scalar(3)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NEAR((*out)["y"].GetDouble(0), 5.858879991940133, 1e-5);
  EXPECT_NEAR((*out)["x1.grad"].GetDouble(0), 3, 1e-6);
  EXPECT_NEAR((*out)["x2.grad"].GetDouble(0), 2.989992496600445, 1e-6);
}

TEST(CompileTest, VectorOpsMatchInterpreter) {
  for (int64_t n : {7, 1000003}) {
    GraphBuilder b("vec");
    Value x = b.Input("x", DType::kF32, {n});
    Value w = b.Input("w", DType::kF32, {n});
    Value y = Exp(Sin(x) * w) + Tanh(x) / (1.5 + Cos(w));
    b.Output("y", y);
    b.Output("s", Sum(y * y));
    Graph g = Build(b);
    ASSERT_TRUE(AddGradients(&g, {.of = "s"}).ok());
    absl::Status s = testing::ExpectCompiledMatchesInterpreter(
        g, testing::RandomFeeds(g, 1));
    EXPECT_TRUE(s.ok()) << "n = " << n << ": " << s;
  }
}

}  // namespace
}  // namespace adc
