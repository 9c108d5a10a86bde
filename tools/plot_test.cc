// adc plot's sampling (the tutorials' sin/cos exercise, higher orders,
// errors) and its gnuplot drawing.
#include "tools/plot.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "gtest/gtest.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

Graph SinGraph(DType dtype) {
  GraphBuilder b("sin");
  Value x = b.Input("x", dtype, {});
  b.Output("y", Sin(x));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok());
  return *g;
}

TEST(PlotTest, SinAndItsDerivativesAreCosAndMinusSin) {
  absl::StatusOr<PlotData> data = SampleDerivatives(
      SinGraph(DType::kF64), "y", "x", -6.3, 6.3, /*order=*/3, 127);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->curves.size(), 4u);
  ASSERT_EQ(data->x.size(), 127u);
  EXPECT_EQ(data->x.front(), -6.3);
  EXPECT_EQ(data->x.back(), 6.3);
  for (size_t i = 0; i < data->x.size(); ++i) {
    const double x = data->x[i];
    EXPECT_DOUBLE_EQ(data->curves[0][i], std::sin(x));
    EXPECT_DOUBLE_EQ(data->curves[1][i], std::cos(x));
    EXPECT_DOUBLE_EQ(data->curves[2][i], -std::sin(x));
    EXPECT_DOUBLE_EQ(data->curves[3][i], -std::cos(x));
  }
  EXPECT_EQ(data->names[1], "y' (d/dx)");
  const std::string tsv = PlotDataToTsv(*data);
  EXPECT_THAT(tsv, HasSubstr("# x\ty\ty' (d/dx)\ty'' (d^2/dx^2)"));
}

TEST(PlotTest, ErrorsNameTheProblem) {
  const Graph g = SinGraph(DType::kF32);
  EXPECT_THAT(SampleDerivatives(g, "y", "x", 1, 0, 1, 10).status().message(),
              HasSubstr("not an interval"));
  EXPECT_THAT(SampleDerivatives(g, "y", "z", 0, 1, 1, 10).status().message(),
              HasSubstr("'z' is not an input"));
  EXPECT_THAT(SampleDerivatives(g, "y", "x", 0, 1, 9, 10).status().message(),
              HasSubstr("order 9"));
  GraphBuilder b("two");
  Value x = b.Input("x", DType::kF32, {});
  Value v = b.Input("v", DType::kF32, {3});
  b.Output("y", Sum(v * x));
  absl::StatusOr<Graph> two = b.Build();
  ASSERT_TRUE(two.ok());
  EXPECT_THAT(SampleDerivatives(*two, "y", "x", 0, 1, 1, 10).status().message(),
              HasSubstr("another input, 'v'"));
  EXPECT_THAT(SampleDerivatives(*two, "y", "v", 0, 1, 1, 10).status().message(),
              HasSubstr("f32[3]; a plot's x is a floating-point scalar"));
}

TEST(PlotTest, GnuplotDrawsAnSvg) {
  absl::StatusOr<PlotData> data =
      SampleDerivatives(SinGraph(DType::kF32), "y", "x", -3, 3, 1, 50);
  ASSERT_TRUE(data.ok()) << data.status();
  const std::string path = ::testing::TempDir() + "/sin.svg";
  absl::Status drawn = DrawPlot(*data, path);
  ASSERT_TRUE(drawn.ok()) << drawn;
  std::ifstream file(path);
  std::stringstream svg;
  svg << file.rdbuf();
  EXPECT_THAT(svg.str(), HasSubstr("<svg"));
  EXPECT_THAT(svg.str(), HasSubstr("y' (d/dx)"));
  EXPECT_THAT(DrawPlot(*data, "x.txt").message(),
              HasSubstr("must end in .svg or .png"));
}

}  // namespace
}  // namespace adc
