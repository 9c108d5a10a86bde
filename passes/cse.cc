#include "passes/cse.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "graph/ops/op_def.h"
#include "passes/pass_util.h"

namespace adc {
namespace {

// Inputs in canonical order (sorted for commutative ops).
std::vector<ValueId> CanonicalInputs(const Node& node) {
  std::vector<ValueId> inputs = node.inputs;
  if (GetOpDef(node.op).commutative) std::sort(inputs.begin(), inputs.end());
  return inputs;
}

size_t HashNode(const Node& node) {
  size_t h = std::hash<int>()(static_cast<int>(node.op));
  for (ValueId in : CanonicalInputs(node)) h = h * 1000003u + in;
  return h * 1000003u + passes::HashAttrs(node.attrs);
}

bool SameComputation(const Node& a, const Node& b) {
  return a.op == b.op && a.type == b.type &&
         CanonicalInputs(a) == CanonicalInputs(b) &&
         passes::IdenticalAttrs(a.attrs, b.attrs);
}

}  // namespace

absl::StatusOr<bool> CommonSubexpressionElimination::Run(Graph* graph) {
  const int n = graph->num_nodes();
  std::vector<ValueId> forward(n);
  std::unordered_map<size_t, std::vector<ValueId>> seen;
  bool changed = false;
  for (ValueId i = 0; i < n; ++i) {
    forward[i] = i;
    Node& node = graph->mutable_node(i);
    // Earlier nodes are final: their duplicates point at the first copy.
    for (ValueId& in : node.inputs) in = forward[in];
    if (node.op == OpKind::kInput || node.op == OpKind::kParameter) continue;
    std::vector<ValueId>& bucket = seen[HashNode(node)];
    for (ValueId other : bucket) {
      if (SameComputation(graph->node(other), node)) {
        forward[i] = other;
        changed = true;
        break;
      }
    }
    if (forward[i] == i) bucket.push_back(i);
  }
  if (!changed) return false;
  for (GraphOutput& out : graph->mutable_outputs()) {
    out.value = forward[out.value];
  }
  std::vector<bool> remove(n);
  for (ValueId i = 0; i < n; ++i) remove[i] = forward[i] != i;
  graph->RemoveNodes(remove);
  return true;
}

}  // namespace adc
