// adc jvp IN.pb --of A[,B...] [--wrt X,Y,...] [--tangent NAMES] -o OUT.pb
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "graph/check.h"
#include "passes/forward_mode.h"
#include "tools/commands.h"

ABSL_DECLARE_FLAG(std::string, of);   // tools/cmd_grad.cc
ABSL_DECLARE_FLAG(std::string, wrt);  // tools/cmd_grad.cc
ABSL_FLAG(std::string, tangent, "",
          "Comma-separated names of the tangent inputs, one per --wrt "
          "(default: <wrt>.tangent). A name that is already an input of the "
          "wrt's type is reused.");

namespace adc::cli {
namespace {

absl::Status RunJvp(const Args& args) {
  const std::string out = absl::GetFlag(FLAGS_o);
  JvpOptions options;
  options.of = absl::StrSplit(absl::GetFlag(FLAGS_of), ',', absl::SkipEmpty());
  options.wrt =
      absl::StrSplit(absl::GetFlag(FLAGS_wrt), ',', absl::SkipEmpty());
  options.tangents =
      absl::StrSplit(absl::GetFlag(FLAGS_tangent), ',', absl::SkipEmpty());
  if (options.of.empty()) return UsageError("jvp", "missing --of NAME");
  if (out.empty()) return UsageError("jvp", "missing -o OUT.pb");
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  ADC_ASSIGN_OR_RETURN(JvpResult result, AddJvp(&graph, options));
  ADC_RETURN_IF_ERROR(SaveGraphFile(graph, out));
  for (const std::string& name : result.tangents) {
    std::cout << "input  " << name << "\n";
  }
  for (const std::string& name : result.outputs) {
    std::cout << "output " << name << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

Command JvpCommand() {
  return {
      "jvp",
      "IN.pb --of A[,B...] [--wrt X,Y,...] [--tangent NAMES] -o OUT.pb",
      "append a Jacobian-vector product to a graph (forward mode)",
      "Adds a tangent input <wrt>.tangent per --wrt (same type) and appends\n"
      "the directional derivative of each --of along them as an output\n"
      "<of>.jvp (.jvp2, ... when taken), then writes the graph to OUT.pb\n"
      "(.pbtxt for text). Applies again for higher orders, and to gradient\n"
      "outputs (forward over reverse: Hessian-vector products). Prints the\n"
      "added inputs and outputs.",
      {{"of", "A[,B...]",
        "Comma-separated outputs or values to differentiate (required)."},
       {"wrt", "X,Y,..."},
       {"tangent", "NAMES"},
       {"o", "OUT.pb",
        "Where to write the graph with its JVPs (required; .pbtxt for text "
        "format)."}},
      {"IN.pb"},
      RunJvp,
  };
}

}  // namespace adc::cli
