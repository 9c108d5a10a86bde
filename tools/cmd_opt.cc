// adc opt IN.pb [-o OUT.pb]
#include <iostream>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "graph/check.h"
#include "passes/pass.h"
#include "passes/pipeline.h"
#include "tools/commands.h"

namespace adc::cli {
namespace {

// The optimization pipeline `adc opt` runs: passes/pipeline.h (simplify,
// constant folding, CSE and DCE to a fixed point), verifying after each pass.
std::unique_ptr<PassPipeline> BuildOptimizationPipeline() {
  OptimizationOptions options;
  options.verify_after_each_pass = true;
  return OptimizationPipeline(options);
}

absl::Status RunOpt(const Args& args) {
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  std::unique_ptr<PassPipeline> pipeline = BuildOptimizationPipeline();
  const int before = graph.num_nodes();
  ADC_ASSIGN_OR_RETURN(bool changed, pipeline->Run(&graph));

  const std::vector<PassStats>& stats = pipeline->stats();
  if (stats.empty()) {
    std::cout << "pipeline '" << pipeline->name() << "' has no passes yet\n";
  } else {
    std::cout << absl::StrFormat("%-24s %-8s %12s %12s %10s\n", "pass",
                                 "changed", "nodes before", "nodes after",
                                 "ms");
    for (const PassStats& s : stats) {
      std::cout << absl::StrFormat("%-24s %-8s %12d %12d %10.3f\n", s.name,
                                   s.changed ? "yes" : "no", s.nodes_before,
                                   s.nodes_after, s.milliseconds);
    }
  }
  double total_ms = 0;
  for (const PassStats& s : stats) total_ms += s.milliseconds;
  std::cout << absl::StrFormat("total: %s, nodes %d -> %d, %.3f ms\n",
                               changed ? "changed" : "unchanged", before,
                               graph.num_nodes(), total_ms);
  const std::string out = absl::GetFlag(FLAGS_o);
  if (!out.empty()) ADC_RETURN_IF_ERROR(SaveGraphFile(graph, out));
  return absl::OkStatus();
}

}  // namespace

Command OptCommand() {
  return {
      "opt",
      "IN.pb [-o OUT.pb]",
      "run the optimization pipeline, print per-pass statistics",
      "Runs the optimization pipeline on the graph (verifying after each "
      "pass)\n"
      "and prints, per pass, whether it changed the graph, the node counts\n"
      "before and after, and its time. Writes the result with -o.",
      {{"o", "OUT.pb",
        "Where to write the optimized graph (optional; .pbtxt for text "
        "format)."}},
      {"IN.pb"},
      RunOpt,
  };
}

}  // namespace adc::cli
