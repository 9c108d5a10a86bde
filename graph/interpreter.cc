#include "graph/interpreter.h"

#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/verifier.h"

namespace adc {

absl::StatusOr<std::vector<Tensor>> InterpretAll(
    const Graph& graph, const std::map<std::string, Tensor>& feeds) {
  for (const auto& [name, tensor] : feeds) {
    std::optional<ValueId> id = graph.Find(name);
    if (!id || (graph.node(*id).op != OpKind::kInput &&
                graph.node(*id).op != OpKind::kParameter)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feed '", name, "' is not an input or parameter of the graph"));
    }
    if (tensor.type() != graph.type(*id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("feed '", name, "' is ", tensor.type().ToString(),
                       " but the graph "
                       "expects ",
                       graph.type(*id).ToString()));
    }
  }
  // Only evaluate what the outputs need.
  const int n = graph.num_nodes();
  std::vector<bool> needed(n, false);
  for (const GraphOutput& out : graph.outputs()) needed[out.value] = true;
  for (ValueId i = n - 1; i >= 0; --i) {
    if (!needed[i]) continue;
    for (ValueId in : graph.node(i).inputs) needed[in] = true;
  }
  std::vector<Tensor> values(n);
  std::vector<const Tensor*> args;
  for (ValueId i = 0; i < n; ++i) {
    if (!needed[i]) continue;
    const Node& node = graph.node(i);
    if (node.op == OpKind::kInput || node.op == OpKind::kParameter) {
      auto it = feeds.find(node.name);
      if (it != feeds.end()) {
        values[i] = it->second;
        continue;
      }
      if (node.op == OpKind::kInput) {
        return absl::InvalidArgumentError(
            absl::StrCat("input '", node.name, "' (", node.type.ToString(),
                         ") was not fed"));
      }
    }
    args.clear();
    for (ValueId in : node.inputs) args.push_back(&values[in]);
    absl::StatusOr<Tensor> value = GetOpDef(node.op).eval(node, args);
    if (!value.ok()) return NodeError(node, value.status());
    ADC_CHECK_MSG(value->type() == node.type,
                  absl::StrCat("kernel of ", node.name, " returned ",
                               value->type().ToString(), ", expected ",
                               node.type.ToString()));
    values[i] = *std::move(value);
  }
  return values;
}

absl::StatusOr<std::map<std::string, Tensor>> Interpret(
    const Graph& graph, const std::map<std::string, Tensor>& feeds) {
  absl::StatusOr<std::vector<Tensor>> values = InterpretAll(graph, feeds);
  if (!values.ok()) return values.status();
  std::map<std::string, Tensor> outputs;
  for (const GraphOutput& out : graph.outputs()) {
    outputs[out.name] = (*values)[out.value];
  }
  return outputs;
}

}  // namespace adc
