#include "passes/inline_calls.h"

#include "graph/builder.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/ops/op_def.h"

namespace adc {

absl::Status InlineCalls(Graph* graph) {
  for (;;) {
    ValueId call = -1;
    for (ValueId i = 0; i < graph->num_nodes() && call < 0; ++i) {
      if (GetOpDef(graph->node(i).op).family == OpFamily::kCall) call = i;
    }
    if (call < 0) break;
    const Node& node = graph->node(call);
    const Graph* body = graph->function(node.attrs.GetString("forward"));
    ADC_CHECK_MSG(body != nullptr, "call of a function not in the library");
    GraphBuilder b(graph);
    b.set_grad_level(node.grad_level);
    std::vector<Value> args;
    for (ValueId in : node.inputs) args.push_back(b.Wrap(in));
    std::vector<Value> outs;
    {
      NameScope scope(b, node.name);
      outs = Inline(b, *body, args);
    }
    if (!b.ok()) return b.status();
    graph->ReplaceAllUsesWith(call, outs[0].id());
    // Ids are renumbered by the topological sort: find the call again.
    const std::vector<int> uses = graph->UseCounts();
    std::vector<bool> remove(graph->num_nodes(), false);
    for (ValueId i = 0; i < graph->num_nodes(); ++i) {
      remove[i] =
          GetOpDef(graph->node(i).op).family == OpFamily::kCall && uses[i] == 0;
    }
    graph->RemoveNodes(remove);
  }
  // The library is still called by control flow; otherwise nothing needs it.
  bool control_flow = false;
  for (const Node& node : graph->nodes()) {
    control_flow = control_flow || IsControlFlow(node);
  }
  if (!control_flow) graph->ClearFunctions();
  return absl::OkStatus();
}

}  // namespace adc
