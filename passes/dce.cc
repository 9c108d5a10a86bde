#include "passes/dce.h"

#include <vector>

#include "passes/pass_util.h"

namespace adc {

absl::StatusOr<bool> DeadCodeElimination::Run(Graph* graph) {
  const std::vector<bool> live = passes::LiveValues(*graph);
  std::vector<bool> remove(graph->num_nodes(), false);
  bool any = false;
  for (ValueId i = 0; i < graph->num_nodes(); ++i) {
    const OpKind op = graph->node(i).op;
    if (live[i] || op == OpKind::kInput || op == OpKind::kParameter) continue;
    remove[i] = true;
    any = true;
  }
  if (any) graph->RemoveNodes(remove);
  return any;
}

}  // namespace adc
