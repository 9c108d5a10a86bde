// adc grad IN.pb --of NAME [--wrt A,B,...] [--seed ones|NAME [--batched K]]
//          [--no-allow-unused] -o OUT.pb
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "graph/check.h"
#include "passes/autodiff.h"
#include "passes/vmap.h"
#include "tools/commands.h"

ABSL_FLAG(std::string, of, "",
          "The output or value to differentiate (required). A non-scalar "
          "needs --seed.");
ABSL_FLAG(std::string, wrt, "",
          "Comma-separated inputs, parameters or intermediate values to "
          "differentiate with respect to (default: every floating-point input "
          "and parameter).");
ABSL_FLAG(std::string, seed, "",
          "Seed of a non-scalar --of: 'ones', or the name of a new graph input "
          "(of the type of --of) holding the vector of a vector-Jacobian "
          "product.");
ABSL_FLAG(int64_t, batched, 0,
          "With --seed NAME: a batch of K seeds in one call (PyTorch's "
          "is_grads_batched): NAME has shape [K] + shape(--of) and each "
          "gradient [K] + shape(wrt).");
ABSL_FLAG(bool, no_allow_unused, false,
          "Fail if --of does not depend on some --wrt (default: its gradient "
          "is zeros, as PyTorch's allow_unused=True).");

namespace adc::cli {
namespace {

absl::Status RunGrad(const Args& args) {
  const std::string of = absl::GetFlag(FLAGS_of);
  const std::string out = absl::GetFlag(FLAGS_o);
  if (of.empty()) return UsageError("grad", "missing --of NAME");
  if (out.empty()) return UsageError("grad", "missing -o OUT.pb");
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));

  GradOptions options;
  options.of = of;
  options.wrt =
      absl::StrSplit(absl::GetFlag(FLAGS_wrt), ',', absl::SkipEmpty());
  options.seed = absl::GetFlag(FLAGS_seed);
  options.allow_unused = !absl::GetFlag(FLAGS_no_allow_unused);
  const int64_t batch = absl::GetFlag(FLAGS_batched);
  if (batch != 0 &&
      (batch < 1 || options.seed.empty() || options.seed == "ones")) {
    return UsageError("grad",
                      "--batched K needs K >= 1 and --seed NAME (a new input "
                      "holding the K seeds)");
  }
  std::vector<std::string> forward_outputs;
  for (const GraphOutput& o : graph.outputs())
    forward_outputs.push_back(o.name);
  ADC_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       AddGradients(&graph, options));
  if (batch != 0) {
    // The gradient part computed for K seeds at once; the forward outputs
    // keep their shapes.
    ADC_ASSIGN_OR_RETURN(graph,
                         Vmap(graph, {{options.seed}, batch, forward_outputs}));
  }
  ADC_RETURN_IF_ERROR(SaveGraphFile(graph, out));
  for (const std::string& name : names) std::cout << name << "\n";
  return absl::OkStatus();
}

}  // namespace

Command GradCommand() {
  return {
      "grad",
      "IN.pb --of NAME [--wrt A,B,...] [--seed ones|NAME [--batched K]] "
      "[--no-allow-unused] -o OUT.pb",
      "append the gradient of a value to a graph (reverse mode)",
      "Appends the gradient of --of with respect to --wrt to the graph, as "
      "new\n"
      "outputs named <wrt>.grad (.grad2, .grad3, ... when taken, e.g. when\n"
      "applied again for higher orders), and writes the result to OUT.pb\n"
      "(.pbtxt for text). Prints the names of the added gradient outputs, one\n"
      "per line. With --seed NAME --batched K, NAME holds K seeds and each\n"
      "gradient has a leading dimension K: K vector-Jacobian products (e.g.\n"
      "the rows of a Jacobian, from one-hot seeds) in one compiled call.",
      {{"of", "NAME"},
       {"wrt", "A,B,..."},
       {"seed", "ones|NAME"},
       {"batched", "K"},
       {"no-allow-unused", ""},
       {"o", "OUT.pb",
        "Where to write the graph with its gradients (required; .pbtxt for "
        "text format)."}},
      {"IN.pb"},
      RunGrad,
  };
}

}  // namespace adc::cli
