#include "passes/pass.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "graph/verifier.h"

namespace adc {

absl::StatusOr<bool> PassPipeline::Run(Graph* graph) {
  stats_.clear();
  bool changed = false;
  const int rounds = std::max(max_rounds_, 1);
  for (int round = 1; round <= rounds; ++round) {
    bool round_changed = false;
    for (const std::unique_ptr<Pass>& pass : passes_) {
      PassStats stats;
      stats.name = max_rounds_ > 0 ? absl::StrCat(pass->name(), "/", round)
                                   : std::string(pass->name());
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
              absl::StrCat("graph fails verification after pass '",
                           pass->name(), "': ", status.message()));
        }
      }
      stats.changed = *result;
      stats.nodes_after = graph->num_nodes();
      stats_.push_back(stats);
      round_changed = round_changed || *result;
    }
    changed = changed || round_changed;
    if (!round_changed) break;
  }
  return changed;
}

}  // namespace adc
