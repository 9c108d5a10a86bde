// adc plot IN.pb --of NAME --wrt X --range A:B [--order K] [--points N]
//          [--data FILE.tsv] -o FILE.svg|FILE.png
#include <iostream>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "graph/check.h"
#include "graph/file_io.h"
#include "tools/commands.h"
#include "tools/plot.h"

ABSL_DECLARE_FLAG(std::string, of);  // tools/cmd_grad.cc
ABSL_DECLARE_FLAG(std::string, wrt);
ABSL_DECLARE_FLAG(int, order);  // tools/cmd_gradcheck.cc
ABSL_FLAG(std::string, range, "", "The x interval A:B, e.g. -6.3:6.3.");
ABSL_FLAG(int, points, 201, "Number of evenly spaced samples (>= 2).");
ABSL_FLAG(std::string, data, "",
          "Also write the samples here (tab-separated: x, then each curve).");

namespace adc::cli {
namespace {

absl::Status RunPlot(const Args& args) {
  const std::string out = absl::GetFlag(FLAGS_o);
  const std::string of = absl::GetFlag(FLAGS_of);
  const std::string wrt = absl::GetFlag(FLAGS_wrt);
  if (of.empty()) return UsageError("plot", "missing --of NAME");
  if (wrt.empty()) return UsageError("plot", "missing --wrt X");
  if (out.empty()) return UsageError("plot", "missing -o FILE.svg|FILE.png");
  // A:B, where A may be negative (split at the last ':' that follows a
  // number).
  const std::string range = absl::GetFlag(FLAGS_range);
  const size_t colon = range.find(':', 1);
  double lo = 0, hi = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtod(range.substr(0, colon), &lo) ||
      !absl::SimpleAtod(range.substr(colon + 1), &hi)) {
    return UsageError("plot", absl::StrCat("--range '", range,
                                           "': expected A:B, e.g. -6.3:6.3"));
  }
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  ADC_ASSIGN_OR_RETURN(
      PlotData data,
      SampleDerivatives(graph, of, wrt, lo, hi, absl::GetFlag(FLAGS_order),
                        absl::GetFlag(FLAGS_points)));
  const std::string tsv = absl::GetFlag(FLAGS_data);
  if (!tsv.empty()) ADC_RETURN_IF_ERROR(WriteFile(tsv, PlotDataToTsv(data)));
  ADC_RETURN_IF_ERROR(DrawPlot(data, out));
  for (const std::string& name : data.names) std::cout << name << "\n";
  return absl::OkStatus();
}

}  // namespace

Command PlotCommand() {
  return {
      "plot",
      "IN.pb --of NAME --wrt X --range A:B [--order K] [--points N] "
      "[--data FILE.tsv] -o FILE.svg|FILE.png",
      "plot a scalar function of one input and its derivatives (gnuplot)",
      "Samples --of (a scalar) and its first --order derivatives with\n"
      "respect to the scalar input --wrt at --points evenly spaced values\n"
      "in --range (autodiff, then the graph batched over x and\n"
      "interpreted), and draws them in one picture with gnuplot. The graph\n"
      "must have no other inputs (parameters keep their stored values).\n"
      "Prints the curves' names.",
      {{"of", "NAME", "The scalar value to plot (required)."},
       {"wrt", "X", "The scalar input on the x axis (required)."},
       {"range", "A:B"},
       {"order", "K", "Derivatives to draw too (0 to 8; default 1)."},
       {"points", "N"},
       {"data", "FILE.tsv"},
       {"o", "FILE.svg|FILE.png", "The picture (required)."}},
      {"IN.pb"},
      RunPlot,
  };
}

}  // namespace adc::cli
