// adc vmap IN.pb --batched A[,B...] --size K [--keep NAMES] -o OUT.pb
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "graph/check.h"
#include "passes/vmap.h"
#include "tools/commands.h"

ABSL_FLAG(std::string, inputs, "",
          "Comma-separated inputs that get a leading batch dimension "
          "(required).");
ABSL_FLAG(int64_t, size, 0, "The batch size K (required, >= 1).");
ABSL_FLAG(std::string, keep, "",
          "Comma-separated outputs that keep their shape when they do not "
          "depend on a batched input (default: every output gets the batch "
          "dimension, broadcast if need be).");

namespace adc::cli {
namespace {

absl::Status RunVmap(const Args& args) {
  const std::string out = absl::GetFlag(FLAGS_o);
  VmapOptions options;
  options.batched =
      absl::StrSplit(absl::GetFlag(FLAGS_inputs), ',', absl::SkipEmpty());
  options.size = absl::GetFlag(FLAGS_size);
  options.keep_unbatched =
      absl::StrSplit(absl::GetFlag(FLAGS_keep), ',', absl::SkipEmpty());
  if (options.batched.empty()) return UsageError("vmap", "missing --inputs");
  if (options.size < 1) return UsageError("vmap", "missing --size K (K >= 1)");
  if (out.empty()) return UsageError("vmap", "missing -o OUT.pb");
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  ADC_ASSIGN_OR_RETURN(Graph batched, Vmap(graph, options));
  ADC_RETURN_IF_ERROR(SaveGraphFile(batched, out));
  for (const GraphOutput& o : batched.outputs()) {
    std::cout << o.name << " " << batched.type(o.value).ToString() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

Command VmapCommand() {
  return {
      "vmap",
      "IN.pb --inputs A[,B...] --size K [--keep NAMES] -o OUT.pb",
      "batch a graph: K instances in one call (vectorizing map)",
      "Rewrites the graph to compute K instances at once (JAX's vmap): each\n"
      "of --inputs gets a leading dimension K (instance i is slice i), and\n"
      "so does every value and output that depends on one; parameters are\n"
      "shared. Works on any graph, gradient graphs included (per-example\n"
      "gradients). Writes OUT.pb (.pbtxt for text) and prints the outputs\n"
      "with their types.",
      {{"inputs", "A[,B...]"},
       {"size", "K"},
       {"keep", "NAMES"},
       {"o", "OUT.pb",
        "Where to write the batched graph (required; .pbtxt for text "
        "format)."}},
      {"IN.pb"},
      RunVmap,
  };
}

}  // namespace adc::cli
