// `adc plot`: a scalar function of one input and its derivatives, sampled
// over a range and drawn with gnuplot (the tutorials' sin/cos exercise:
// sin and its derivative cos in one picture). Loss curves of training runs
// use the same drawing.
#ifndef ADC_TOOLS_PLOT_H_
#define ADC_TOOLS_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace adc {

// Curves sampled at common x values: curves[k][i] is curve k at x[i].
struct PlotData {
  std::string title;
  std::string x_label;
  std::vector<double> x;
  std::vector<std::string> names;
  std::vector<std::vector<double>> curves;
};

// Samples `of` (a scalar float value) and its first `order` derivatives
// with respect to `wrt` (a scalar float input, the graph's only input;
// parameters keep their stored values) at `points` evenly spaced x in
// [lo, hi], all at once: the derivatives are appended by autodiff, then the
// graph is batched over x (vmap) and interpreted. Errors name the problem
// (not scalar, other inputs, order outside 0..8, ...).
absl::StatusOr<PlotData> SampleDerivatives(const Graph& graph,
                                           const std::string& of,
                                           const std::string& wrt, double lo,
                                           double hi, int order, int points);

// The samples as text: a header line "# x name..." and one tab-separated
// line per x.
std::string PlotDataToTsv(const PlotData& data);

// Draws the curves with gnuplot into `path` (.svg or .png). gnuplot must be
// on PATH (Debian's gnuplot-nox).
absl::Status DrawPlot(const PlotData& data, const std::string& path);

}  // namespace adc

#endif  // ADC_TOOLS_PLOT_H_
