#include "codegen/compile.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"
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

// A custom gradient compiles: the call as its forward function's code, the
// gradient as the user's rule inlined by autodiff.
TEST(CompileTest, CustomVjpCompilesAsItsForwardFunction) {
  GraphBuilder b("custom");
  Value x = b.Input("x", DType::kF32, {37});
  Value y = CustomVjp(
      b, "softplus", {x},
      [](GraphBuilder&, const std::vector<Value>& a) {
        return Maximum(a[0], 0.0) + Log1p(Exp(-Abs(a[0])));
      },
      [](GraphBuilder&, const std::vector<Value>& a, Value, Value dy) {
        return std::vector<Value>{dy * Sigmoid(a[0])};
      });
  b.Output("f", Sum(y * Round(x)));
  Graph g = Build(b);
  ASSERT_TRUE(AddGradients(&g, {.of = "f"}).ok());
  absl::Status status =
      testing::ExpectCompiledMatchesInterpreter(g, testing::RandomFeeds(g, 7));
  EXPECT_TRUE(status.ok()) << status;
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

namespace adc {
namespace {

// C's pow (the interpreter's): pow(x, 0) = 1 and pow(1, y) = 1 even for NaN.
TEST(CompileTest, PowOfNaNAsC) {
  for (DType dt : {DType::kF32, DType::kF64}) {
    GraphBuilder b("pow_nan");
    Value x = b.Input("x", dt, {6});
    Value y = b.Input("y", dt, {6});
    b.Output("p", Pow(x, y));
    Graph g = Build(b);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const std::map<std::string, Tensor> feeds = {
        {"x", Tensor::FromDoubles({dt, {6}}, {nan, 1, nan, -1, 2, 1})},
        {"y", Tensor::FromDoubles({dt, {6}}, {0, nan, 1, inf, nan, -0.0})}};
    auto out = CompileAndRun(g, feeds);
    ASSERT_TRUE(out.ok()) << out.status();
    const Tensor& p = (*out)["p"];
    EXPECT_EQ(p.GetDouble(0), 1);  // pow(NaN, 0)
    EXPECT_EQ(p.GetDouble(1), 1);  // pow(1, NaN)
    EXPECT_TRUE(std::isnan(p.GetDouble(2)));
    EXPECT_EQ(p.GetDouble(3), 1);  // pow(-1, inf)
    EXPECT_TRUE(std::isnan(p.GetDouble(4)));
    EXPECT_EQ(p.GetDouble(5), 1);  // pow(1, -0)
    EXPECT_TRUE(testing::ExpectCompiledMatchesInterpreter(g, feeds).ok());
  }
}

// i64 indices clamp in 64 bits: 2^32 + 1 is past the end (the last row),
// not row 1 after narrowing to 32 bits; -2^33 is before the start.
TEST(CompileTest, GatherAndScatterClampWideIndices) {
  GraphBuilder b("wide_indices");
  Value x = b.Input("x", DType::kF32, {5, 3});
  Value i = b.Input("i", DType::kI64, {4});
  Value u = b.Input("u", DType::kF32, {4, 3});
  b.Output("gather", Gather(x, i, 0));
  b.Output("scatter", ScatterAdd(x, i, u, 0));
  Graph g = Build(b);
  std::map<std::string, Tensor> feeds = testing::RandomFeeds(g, 3);
  const int64_t big = (int64_t{1} << 32) + 1;
  feeds["i"] =
      Tensor::FromInts({DType::kI64, {4}}, {big, -(int64_t{1} << 33), -1, 2});
  auto out = CompileAndRun(g, feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ((*out)["gather"].GetDouble(c), feeds["x"].GetDouble(4 * 3 + c));
    EXPECT_EQ((*out)["gather"].GetDouble(3 + c), feeds["x"].GetDouble(c));
  }
  absl::Status s = testing::ExpectCompiledMatchesInterpreter(g, feeds);
  EXPECT_TRUE(s.ok()) << s;
}

// A long chain of element-wise ops (issue 10's W5 pattern: sin, tanh,
// * 0.5, + x, sigmoid, repeated) and its gradient compile and match the
// interpreter. (Inlined whole, a chain of 1000 such ops took more than ten
// minutes to compile: the fusion plan now cuts chains at kMaxInlineCost,
// and each op binds its operands once.)
TEST(CompileTest, LongElementwiseChainAndItsGradient) {
  GraphBuilder b("chain");
  Value x = b.Input("x", DType::kF32, {37});
  Value v = x;
  for (int k = 0; k < 250; ++k) {
    switch (k % 5) {
      case 0:
        v = Sin(v);
        break;
      case 1:
        v = Tanh(v);
        break;
      case 2:
        v = v * 0.5;
        break;
      case 3:
        v = v + x;
        break;
      case 4:
        v = Sigmoid(v);
        break;
    }
  }
  b.Output("f", Sum(v));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(AddGradients(&*g, {.of = "f", .wrt = {"x"}}).ok());
  absl::Status s = testing::ExpectCompiledMatchesInterpreter(
      *g, testing::RandomFeeds(*g, 3));
  EXPECT_TRUE(s.ok()) << s;
}

// Compiled code addresses at most 2^31 - 1 bytes per tensor: larger ones are
// refused at compile time, naming the value.
TEST(CompileTest, TensorsTooLargeToAddressAreRefused) {
  for (const Dims& dims : std::vector<Dims>{
           {int64_t{1} << 29}, {3, int64_t{1} << 28}, {int64_t{3} << 30, 0}}) {
    GraphBuilder b("large");
    Value x = b.Input("x", DType::kF32, dims);
    b.Output("y", x * 2.0);
    Graph g = Build(b);
    absl::Status s = CompileToSharedLibrary(g, "/nonexistent/large.so");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()),
                ::testing::HasSubstr("value 'x' (f32["));
    EXPECT_THAT(std::string(s.message()),
                ::testing::HasSubstr("at most 2^31 - 1 bytes"));
  }
}

// Every tested feature level is accepted by --target (levels this CPU cannot
// run are compiled, not run); host-... adds features to the host's.
TEST(CompileTest, EveryFeatureLevelCompiles) {
  GraphBuilder b("levels");
  Value x = b.Input("x", DType::kF32, {37});
  b.Output("y", Sum(Exp(x) * x));
  Graph g = Build(b);
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    for (bool check : {false, true}) {
      CompileOptions options = level.options();
      options.check_bounds = check;
      SCOPED_TRACE(options.target);
      if (testing::WhyNotRunnable(level).empty()) {
        absl::Status s = testing::ExpectCompiledMatchesInterpreter(
            g, {testing::RandomFeeds(g, 1)}, options);
        EXPECT_TRUE(s.ok()) << s;
      } else {
        absl::Status s = CompileToSharedLibrary(
            g, absl::StrCat(std::getenv("TEST_TMPDIR"), "/level.so"), options);
        EXPECT_TRUE(s.ok()) << s;
      }
    }
  }
  EXPECT_TRUE(CompileToSharedLibrary(
                  g, absl::StrCat(std::getenv("TEST_TMPDIR"), "/hs.so"),
                  {.target = "host-sse41"})
                  .ok());
}

// Halide's autoschedulers schedule the algorithm alone: element-wise ops,
// a reduction, a product and their gradients compile and match the
// interpreter, bounds-checked (odd sizes: every vector remainder).
TEST(CompileTest, AutoschedulersScheduleTheAlgorithm) {
  GraphBuilder b("auto");
  Value x = b.Input("x", DType::kF32, {13, 37});
  Value w = b.Input("w", DType::kF32, {37, 19});
  Value h = Tanh(MatMul(x, w));
  b.Output("loss", Sum(LogSoftmax(h, 1) * Sin(h)));
  Graph g = Build(b);
  ASSERT_TRUE(AddGradients(&g, {.of = "loss", .wrt = {"x", "w"}}).ok());
  for (const std::string& schedule : ScheduleNames()) {
    SCOPED_TRACE(schedule);
    CompileOptions options{.schedule = schedule};
    options.check_bounds = true;
    absl::Status s = testing::ExpectCompiledMatchesInterpreter(
        g, {testing::RandomFeeds(g, 1), testing::RandomFeeds(g, 2)}, options);
    EXPECT_TRUE(s.ok()) << s;
  }
  absl::Status s = CompileToSharedLibrary(
      g, absl::StrCat(std::getenv("TEST_TMPDIR"), "/bad.so"),
      {.schedule = "fastest"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr("unknown schedule 'fastest'; expected one "
                                   "of: default, adams2019, li2018, "
                                   "mullapudi2016"));
}

// A memory-checked artifact (Halide's asan feature) runs in
// codegen/memcheck_run under AddressSanitizer, with the same results.
TEST(CompileTest, MemoryCheckedArtifactRunsUnderAddressSanitizer) {
  GraphBuilder b("asan");
  Value x = b.Input("x", DType::kF32, {3, 37});
  b.Output("y", Softmax(x, 1) * Max(x, {0}));
  b.Output("s", Sum(x, {1}));
  Graph g = Build(b);
  ASSERT_TRUE(AddGradients(&g, {.of = "s", .seed = "ones"}).ok());
  absl::Status s = testing::ExpectCompiledMatchesInterpreter(
      g, {testing::RandomFeeds(g, 2)}, {.target = "host-asan"});
  EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace adc
