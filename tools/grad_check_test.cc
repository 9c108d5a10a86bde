// The gradient checker's report: the worst element per wrt, mismatch counts,
// the cotangent modes, second order, and its errors. (Every op's gradient is
// checked with it in tests/op_gradients_test.cc.)
#include "tools/grad_check.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "gtest/gtest.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

const TensorType kF64x4{DType::kF64, {4}};

Tensor F64(Dims dims, std::vector<double> values) {
  return Tensor::FromDoubles(TensorType{DType::kF64, std::move(dims)},
                             std::move(values));
}

// y = sum(x^2 + stop_gradient(x^3) * c): autodiff sees 2x, finite
// differences 2x + 3 c x^2. With c = (0, 0, 1, 1e-3) at x = (0.5, -1, 2, 3),
// elements 2 (off by 12) and 3 (off by 0.027) are wrong, element 2 worst.
Graph FooledGraph() {
  GraphBuilder b("fooled");
  Value x = b.Input("x", DType::kF64, {4});
  Value c = Constant(b, F64({4}, {0, 0, 1, 1e-3}));
  b.Output("y", Sum(x * x + StopGradient(x * x * x) * c));
  return *b.Build();
}

TEST(GradCheckReportTest, WorstElementAndMismatchCount) {
  const std::map<std::string, Tensor> feeds = {
      {"x", F64({4}, {0.5, -1, 2, 3})}};
  absl::StatusOr<GradCheckReport> report =
      CheckGradients(FooledGraph(), "y", feeds, {}, {}, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->mismatches(), 2);
  EXPECT_EQ(report->num_elements(), 4);
  ASSERT_EQ(report->wrt.size(), 1u);
  const WrtCheck& c = report->wrt[0];
  EXPECT_EQ(c.wrt, "x");
  EXPECT_EQ(c.type, kF64x4);
  EXPECT_EQ(c.mismatches, 2);
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.worst, 2);
  EXPECT_DOUBLE_EQ(c.analytic, 4);
  EXPECT_NEAR(c.numeric, 16, 1e-6);
  EXPECT_NEAR(c.abs_error, 12, 1e-6);
  EXPECT_NEAR(c.rel_error, 0.75, 1e-7);

  const std::vector<std::string> lines = FormatReport(*report);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("worst x[2]"));
  EXPECT_THAT(lines[0], HasSubstr("analytic=4 numeric=1"));
  EXPECT_THAT(lines[0], HasSubstr("abs_err=12 rel_err=0.75"));
  EXPECT_THAT(lines[0], HasSubstr("FAILED (2 of 4 elements)"));
  EXPECT_THAT(ReportSummary(*report),
              HasSubstr("gradcheck: FAILED: 2 of 4 elements differ from "
                        "finite differences (x 2 of 4; order 1"));
  absl::Status status = ReportToStatus(*report);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("gradcheck failed for 2 element(s)"));
  EXPECT_THAT(status.message(), HasSubstr("worst x[2]"));
}

TEST(GradCheckReportTest, WorstElementWithinALooseTolerance) {
  // With rtol = 1 every element is within tolerance; the worst is still the
  // one with the largest error relative to its tolerance (element 2: 12 of
  // 16).
  const std::map<std::string, Tensor> feeds = {
      {"x", F64({4}, {0.5, -1, 2, 3})}};
  GradCheckOptions options;
  options.rtol = 1;
  absl::StatusOr<GradCheckReport> report =
      CheckGradients(FooledGraph(), "y", feeds, {}, options, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->mismatches(), 0);  // 12 <= 1e-6 + 16.
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->wrt[0].worst, 2);
  EXPECT_THAT(ReportSummary(*report),
              HasSubstr("gradcheck: passed (1 wrt, 4 elements; order 1"));
  EXPECT_TRUE(ReportToStatus(*report).ok());
}

TEST(GradCheckReportTest, PassingReportPerWrt) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2, 3});
  Value w = b.Parameter("w", F64({3}, {0.5, -0.25, 2}));
  Value s = b.Input("s", DType::kF64, {});
  b.Output("y", Sum(Sin(x) * w) * s);
  Graph g = *b.Build();
  const std::map<std::string, Tensor> feeds = {
      {"x", RandomTensor(TensorType{DType::kF64, {2, 3}}, 5)},
      {"s", F64({}, {1.5})}};
  absl::StatusOr<GradCheckReport> report =
      CheckGradients(g, "y", feeds, {}, {}, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok());
  ASSERT_EQ(report->wrt.size(), 3u);  // Inputs, then parameters.
  EXPECT_EQ(report->wrt[0].wrt, "x");
  EXPECT_EQ(report->wrt[1].wrt, "s");
  EXPECT_EQ(report->wrt[2].wrt, "w");
  for (const WrtCheck& c : report->wrt) {
    SCOPED_TRACE(c.wrt);
    EXPECT_GE(c.worst, 0);
    EXPECT_LE(c.abs_error, 1e-6 + 1e-5 * std::abs(c.numeric));
    EXPECT_TRUE(c.ok());
  }
  const std::vector<std::string> lines = FormatReport(*report);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[1], HasSubstr("worst s "));
  EXPECT_THAT(lines[1], HasSubstr("  ok"));
  // One column for the names and one for the elements.
  EXPECT_EQ(lines[0].find("analytic="), lines[1].find("analytic="));
  EXPECT_EQ(lines[0].find("analytic="), lines[2].find("analytic="));
  // Only the wrt asked for.
  report = CheckGradients(g, "y", feeds, {"w"}, {}, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->wrt.size(), 1u);
  EXPECT_EQ(report->wrt[0].wrt, "w");
}

TEST(GradCheckReportTest, ElementNames) {
  EXPECT_EQ(ElementName("x", {}, 0), "x");
  EXPECT_EQ(ElementName("w", {2, 3}, 4), "w[1,1]");
  EXPECT_EQ(ElementName("w", {2, 3}, 5), "w[1,2]");
  EXPECT_EQ(ElementName("v", {7}, 6), "v[6]");
}

// y = x * x (non-scalar): the check is of v^T J = 2 x v for the cotangent v
// of each mode.
TEST(GradCheckReportTest, CotangentModes) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("y", x * x);
  Graph g = *b.Build();
  const Tensor x0 = F64({3}, {0.5, -1, 2});
  for (const std::string mode : {"", "ones", "v", "v_random"}) {
    SCOPED_TRACE(mode);
    std::map<std::string, Tensor> feeds = {{"x", x0}};
    if (mode == "v") feeds["v"] = F64({3}, {1, 2, 3});
    GradCheckOptions options;
    options.cotangent = mode;
    absl::StatusOr<GradCheckReport> report =
        CheckGradients(g, "y", feeds, {}, options, 1);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->ok());
    const WrtCheck& c = report->wrt[0];
    const double xi = x0.GetDouble(c.worst);
    if (mode == "ones") {
      EXPECT_DOUBLE_EQ(c.analytic, 2 * xi);
    } else if (mode == "v") {
      EXPECT_DOUBLE_EQ(c.analytic, 2 * xi * (c.worst + 1));
    } else {  // Random in [0.5, 1.5].
      EXPECT_GE(std::abs(c.analytic), 2 * std::abs(xi) * 0.5);
      EXPECT_LE(std::abs(c.analytic), 2 * std::abs(xi) * 1.5);
    }
    EXPECT_NEAR(c.numeric, c.analytic, 1e-8);
  }
  // A fed cotangent must have of's type.
  GradCheckOptions options;
  options.cotangent = "v";
  absl::StatusOr<GradCheckReport> report = CheckGradients(
      g, "y", {{"x", x0}, {"v", F64({2}, {1, 2})}}, {"x"}, options, 1);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(),
              HasSubstr("cotangent 'v' is fed f64[2] but 'y' is f64[3]"));
}

// f = sg(sin x) + (x - sg(x)) * sg(cos x): right first derivative, zero
// second derivative to autodiff.
TEST(GradCheckReportTest, SecondOrder) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("straight_through",
           StopGradient(Sin(x)) + (x - StopGradient(x)) * StopGradient(Cos(x)));
  b.Output("cube", Sum(x * x * x));
  Graph g = *b.Build();
  const std::map<std::string, Tensor> feeds = {{"x", F64({3}, {0.3, -1, 2})}};
  auto first = CheckGradients(g, "straight_through", feeds, {}, {}, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->ok());
  auto second = CheckGradients(g, "straight_through", feeds, {}, {}, 2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->ok());
  EXPECT_EQ(second->order, 2);
  EXPECT_EQ(second->wrt[0].mismatches, 3);
  EXPECT_EQ(second->wrt[0].analytic, 0);  // What autodiff believes.
  // d2/dx2 sum(x^3) = 6x, times the projection's weight in [0.5, 1.5].
  auto cube = CheckGradients(g, "cube", feeds, {}, {}, 2);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_TRUE(cube->ok());
  const WrtCheck& c = cube->wrt[0];
  const double six_x = 6 * feeds.at("x").GetDouble(c.worst);
  EXPECT_GE(std::abs(c.analytic), std::abs(six_x) * 0.5);
  EXPECT_LE(std::abs(c.analytic), std::abs(six_x) * 1.5);
  EXPECT_THAT(ReportSummary(*cube), HasSubstr("order 2"));
}

TEST(GradCheckReportTest, Errors) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  Value h = b.Input("h", DType::kF32, {2});
  Value i = b.Input("i", DType::kI32, {2});
  b.Output("y",
           Sum(Log(x)) + Sum(Cast(h, DType::kF64)) + Sum(Cast(i, DType::kF64)));
  Graph g = *b.Build();
  const std::map<std::string, Tensor> feeds = {
      {"x", F64({2}, {1, -1})},
      {"h", Tensor::Filled(TensorType{DType::kF32, {2}}, 1)},
      {"i", Tensor::Filled(TensorType{DType::kI32, {2}}, 1)}};
  auto message = [&](std::vector<std::string> wrt, int order = 1) {
    absl::StatusOr<GradCheckReport> r =
        CheckGradients(g, "y", feeds, std::move(wrt), {}, order);
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  EXPECT_THAT(message({"x"}), HasSubstr("value 'y' is not finite at the point "
                                        "checked (y = nan)"));
  EXPECT_THAT(message({"h"}), HasSubstr("wrt 'h' must be f64 for finite "
                                        "differences, not f32[2]"));
  EXPECT_THAT(message({"i"}), HasSubstr("wrt 'i' is i32[2]: only "
                                        "floating-point values have "
                                        "gradients"));
  EXPECT_THAT(message({"nope"}), HasSubstr("wrt 'nope' is not an input"));
  EXPECT_THAT(message({"x"}, 3), HasSubstr("order must be 1 or 2, not 3"));
  absl::StatusOr<GradCheckReport> r =
      CheckGradients(g, "nope", feeds, {"x"}, {}, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("no output or value named 'nope'"));
}

TEST(AddRandomInputsTest, FillsFloatInputsAndNamesIntegerOnes) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {3});
  Value d = b.Input("d", DType::kF64, {2, 2});
  Value w = b.Parameter("w", F64({3}, {1, 2, 3}));
  b.Output("y", Sum(Cast(x, DType::kF64) * w) + Sum(d));
  Graph g = *b.Build();
  std::map<std::string, Tensor> feeds = {{"d", F64({2, 2}, {1, 2, 3, 4})}};
  absl::StatusOr<std::vector<std::string>> filled =
      AddRandomInputs(g, 1, &feeds);
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_THAT(*filled, ::testing::ElementsAre("x"));
  EXPECT_EQ(feeds.size(), 2u);                          // Not the parameter.
  EXPECT_EQ(feeds.at("d"), F64({2, 2}, {1, 2, 3, 4}));  // Given: kept.
  const Tensor& random = feeds.at("x");
  EXPECT_EQ(random.type(), (TensorType{DType::kF32, {3}}));
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_GE(random.GetDouble(i), kRandomInputLo);
    EXPECT_LE(random.GetDouble(i), kRandomInputHi);
  }
  // Deterministic.
  std::map<std::string, Tensor> again;
  ASSERT_TRUE(AddRandomInputs(g, 1, &again).ok());
  EXPECT_EQ(again.at("x"), random);

  GraphBuilder ib;
  Value v = ib.Input("v", DType::kF64, {3});
  Value idx = ib.Input("idx", DType::kI64, {2});
  Value mask = ib.Input("mask", DType::kBool, {3});
  ib.Output("y", Sum(Select(mask, v, v * 2)) + Sum(Cast(idx, DType::kF64)));
  Graph with_indices = *ib.Build();
  std::map<std::string, Tensor> none;
  absl::StatusOr<std::vector<std::string>> error =
      AddRandomInputs(with_indices, 1, &none);
  ASSERT_FALSE(error.ok());
  EXPECT_THAT(error.status().message(),
              HasSubstr("inputs idx (i64[2]), mask (bool[3]) need values: "
                        "integer and bool inputs are not drawn at random"));
}

}  // namespace
}  // namespace adc
