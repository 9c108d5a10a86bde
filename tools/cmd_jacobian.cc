// adc jacobian IN.pb --of NAME [--wrt X,Y] [--mode rev|fwd|auto] -o OUT.pb
// adc hessian IN.pb --of NAME --wrt X -o OUT.pb
// adc hvp IN.pb --of NAME --wrt X -o OUT.pb
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "graph/check.h"
#include "passes/jacobian.h"
#include "tools/commands.h"

ABSL_DECLARE_FLAG(std::string, of);   // tools/cmd_grad.cc
ABSL_DECLARE_FLAG(std::string, wrt);  // tools/cmd_grad.cc
ABSL_FLAG(std::string, mode, "auto",
          "rev: rows by batched VJPs over one-hot seeds; fwd: columns by "
          "batched JVPs over one-hot tangents; auto: rev when --of has no "
          "more elements than the --wrt values together.");

namespace adc::cli {
namespace {

// --of, -o and the single --wrt of hessian and hvp.
absl::Status CheckFlags(const std::string& command, bool one_wrt) {
  if (absl::GetFlag(FLAGS_of).empty()) {
    return UsageError(command, "missing --of NAME");
  }
  if (one_wrt && (absl::GetFlag(FLAGS_wrt).empty() ||
                  absl::StrContains(absl::GetFlag(FLAGS_wrt), ','))) {
    return UsageError(command, "needs one --wrt X");
  }
  if (absl::GetFlag(FLAGS_o).empty()) {
    return UsageError(command, "missing -o OUT.pb");
  }
  return absl::OkStatus();
}

absl::Status RunJacobian(const Args& args) {
  ADC_RETURN_IF_ERROR(CheckFlags("jacobian", false));
  JacobianOptions options;
  options.of = absl::GetFlag(FLAGS_of);
  options.wrt =
      absl::StrSplit(absl::GetFlag(FLAGS_wrt), ',', absl::SkipEmpty());
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "rev") {
    options.mode = JacobianMode::kReverse;
  } else if (mode == "fwd") {
    options.mode = JacobianMode::kForward;
  } else if (mode != "auto") {
    return UsageError("jacobian",
                      "--mode must be rev, fwd or auto, not '" + mode + "'");
  }
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  ADC_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       AddJacobian(&graph, options));
  ADC_RETURN_IF_ERROR(SaveGraphFile(graph, absl::GetFlag(FLAGS_o)));
  for (const std::string& name : names) {
    std::cout << name << " " << graph.type(*graph.FindOutput(name)).ToString()
              << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunHessian(const Args& args) {
  ADC_RETURN_IF_ERROR(CheckFlags("hessian", true));
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  ADC_ASSIGN_OR_RETURN(
      std::string name,
      AddHessian(&graph, absl::GetFlag(FLAGS_of), absl::GetFlag(FLAGS_wrt)));
  ADC_RETURN_IF_ERROR(SaveGraphFile(graph, absl::GetFlag(FLAGS_o)));
  std::cout << name << " " << graph.type(*graph.FindOutput(name)).ToString()
            << "\n";
  return absl::OkStatus();
}

absl::Status RunHvp(const Args& args) {
  ADC_RETURN_IF_ERROR(CheckFlags("hvp", true));
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  ADC_ASSIGN_OR_RETURN(HvpResult r, AddHvp(&graph, absl::GetFlag(FLAGS_of),
                                           absl::GetFlag(FLAGS_wrt)));
  ADC_RETURN_IF_ERROR(SaveGraphFile(graph, absl::GetFlag(FLAGS_o)));
  std::cout << "input  " << r.tangent << "\noutput " << r.output << "\n";
  return absl::OkStatus();
}

FlagUse OfFlag() {
  return {"of", "NAME", "The output or value to differentiate (required)."};
}
FlagUse OutFlag() {
  return {"o", "OUT.pb",
          "Where to write the graph (required; .pbtxt for text format)."};
}

}  // namespace

Command JacobianCommand() {
  return {
      "jacobian",
      "IN.pb --of NAME [--wrt X,Y,...] [--mode rev|fwd|auto] -o OUT.pb",
      "append full Jacobians to a graph",
      "Appends <X>.jacobian of shape shape(of) + shape(X) for each --wrt X.\n"
      "rev computes its rows as vector-Jacobian products with the one-hot\n"
      "seeds, fwd its columns as Jacobian-vector products with the one-hot\n"
      "tangents, each batched into one graph (vmap). Prints the added\n"
      "outputs with their types.",
      {OfFlag(), {"wrt", "X,Y,..."}, {"mode", "rev|fwd|auto"}, OutFlag()},
      {"IN.pb"},
      RunJacobian,
  };
}

Command HessianCommand() {
  return {
      "hessian",
      "IN.pb --of NAME --wrt X -o OUT.pb",
      "append the Hessian of a scalar to a graph",
      "Appends <X>.hessian of shape shape(X) + shape(X), the matrix of\n"
      "second derivatives of the scalar --of (forward mode over reverse:\n"
      "batched JVPs of the gradient). Prints the added output.",
      {OfFlag(),
       {"wrt", "X", "The value to differentiate with respect to."},
       OutFlag()},
      {"IN.pb"},
      RunHessian,
  };
}

Command HvpCommand() {
  return {
      "hvp",
      "IN.pb --of NAME --wrt X -o OUT.pb",
      "append a Hessian-vector product to a graph",
      "Adds the input <X>.tangent (v, of X's type) and the output <X>.hvp =\n"
      "H v for the scalar --of, without forming H (the JVP of the\n"
      "gradient). Prints the added input and output.",
      {OfFlag(),
       {"wrt", "X", "The value to differentiate with respect to."},
       OutFlag()},
      {"IN.pb"},
      RunHvp,
  };
}

}  // namespace adc::cli
