#include "passes/pass.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "graph/verifier.h"

namespace adc {

absl::StatusOr<bool> PassPipeline::Run(Graph* graph) {
  stats_.clear();
  bool changed = false;
  for (const std::unique_ptr<Pass>& pass : passes_) {
    PassStats stats;
    stats.name = std::string(pass->name());
    stats.nodes_before = graph->num_nodes();
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<bool> result = pass->Run(graph);
    stats.milliseconds = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - start)
                             .count();
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat("pass '", pass->name(),
                                       "': ", result.status().message()));
    }
    if (verify_) {
      absl::Status status = Verify(*graph);
      if (!status.ok()) {
        return absl::InternalError(
            absl::StrCat("graph fails verification after pass '", pass->name(),
                         "': ", status.message()));
      }
    }
    stats.changed = *result;
    stats.nodes_after = graph->num_nodes();
    stats_.push_back(stats);
    changed = changed || *result;
  }
  return changed;
}

}  // namespace adc
