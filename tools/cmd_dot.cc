// adc dot IN.pb -o FILE.dot|FILE.svg
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "tools/commands.h"
#include "tools/dot.h"

namespace adc::cli {
namespace {

absl::Status RunDot(const Args& args) {
  const std::string out = absl::GetFlag(FLAGS_o);
  if (out.empty()) return UsageError("dot", "missing -o FILE.dot|FILE.svg");
  std::string format;
  for (const char* ext : {"dot", "gv", "svg", "png", "pdf"}) {
    if (absl::EndsWith(out, absl::StrCat(".", ext))) format = ext;
  }
  if (format.empty()) {
    return UsageError("dot", absl::StrCat("-o '", out,
                                          "': the file name must end in .dot "
                                          "(DOT text) or .svg, .png, .pdf"));
  }
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  const std::string dot = GraphToDot(graph);
  if (format == "dot" || format == "gv") {
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    file << dot;
    file.close();
    if (!file) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot write '", out, "'"));
    }
    return absl::OkStatus();
  }
  return RenderDot(dot, format, out);
}

}  // namespace

Command DotCommand() {
  return {
      "dot",
      "IN.pb -o FILE.dot|FILE.svg",
      "draw a graph (Graphviz), gradient part marked",
      "Draws the graph like torchviz's make_dot: inputs light blue, "
      "parameters\n"
      "purple, constants small and grey, forward ops white; nodes added by\n"
      "autodiff sit in a dashed cluster per level with a warm fill; outputs\n"
      "are green boxes, gradient outputs orange. Labels read\n"
      "\"name / op / dtype[shape]\". FILE.dot gets the DOT text; .svg (also\n"
      ".png, .pdf) runs Graphviz's 'dot', which must be on PATH.",
      {{"o", "FILE.dot|FILE.svg",
        "Where to write the picture (required): .dot for DOT text; .svg, .png "
        "or .pdf run Graphviz."}},
      {"IN.pb"},
      RunDot,
  };
}

}  // namespace adc::cli
