#include "passes/derivative_util.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "graph/control_flow.h"
#include "passes/pass_util.h"

namespace adc::passes {

int NextGradLevel(const Graph& graph) {
  int level = 1;
  for (const Node& node : graph.nodes()) {
    level = std::max(level, node.grad_level + 1);
  }
  return level;
}

std::string LevelScope(absl::string_view prefix, int level) {
  return level == 1 ? std::string(prefix) : absl::StrCat(prefix, level);
}

std::string FreshName(const Graph& graph, const std::string& base,
                      bool values_too) {
  auto taken = [&](const std::string& name) {
    return graph.FindOutput(name) || (values_too && graph.Find(name));
  };
  if (!taken(base)) return base;
  for (int k = 2;; ++k) {
    std::string candidate = absl::StrCat(base, k);
    if (!taken(candidate)) return candidate;
  }
}

absl::StatusOr<ValueId> ResolveFloatValue(const Graph& graph,
                                          const std::string& name,
                                          absl::string_view role) {
  const bool of = role == "of";
  // `of` names an output first; `wrt` a value first.
  std::optional<ValueId> id =
      of ? graph.FindOutputOrValue(name) : graph.Find(name);
  if (!id && !of) id = graph.FindOutput(name);
  if (!id) {
    return absl::NotFoundError(
        of ? absl::StrCat("of: no output or value named '", name,
                          "' to differentiate")
           : absl::StrCat(role, ": no value named '", name, "' in the graph"));
  }
  if (!IsFloat(graph.type(*id).dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat(role, ": '", name, "' is ", graph.type(*id).ToString(),
                     of ? "; only floating-point values can be differentiated"
                        : "; only floating-point values have derivatives"));
  }
  return *id;
}

absl::StatusOr<std::vector<ValueId>> ResolveWrt(
    const Graph& graph, std::vector<std::string>* names) {
  std::vector<ValueId> wrt;
  if (names->empty()) {
    for (ValueId id = 0; id < graph.num_nodes(); ++id) {
      const Node& node = graph.node(id);
      if ((node.op == OpKind::kInput || node.op == OpKind::kParameter) &&
          IsFloat(node.type.dtype)) {
        wrt.push_back(id);
        names->push_back(node.name);
      }
    }
    if (wrt.empty()) {
      return absl::InvalidArgumentError(
          "wrt: the graph has no floating-point inputs or parameters");
    }
    return wrt;
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& name : *names) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("wrt: '", name, "' is listed twice"));
    }
    absl::StatusOr<ValueId> id = ResolveFloatValue(graph, name, "wrt");
    if (!id.ok()) return id.status();
    wrt.push_back(*id);
  }
  return wrt;
}

absl::StatusOr<Value> NamedInput(GraphBuilder& b, const std::string& name,
                                 const TensorType& type, absl::string_view role,
                                 const std::string& type_of) {
  if (std::optional<ValueId> existing = b.graph()->Find(name)) {
    const Node& node = b.graph()->node(*existing);
    if (node.op != OpKind::kInput || node.type != type) {
      return absl::InvalidArgumentError(
          absl::StrCat(role, ": '", name,
                       "' already names a value that is not an input of type ",
                       type.ToString(), " (the type of '", type_of, "')"));
    }
    return b.Wrap(*existing);
  }
  Value input = b.Input(name, type.dtype, type.dims);
  if (!b.ok()) return b.status();
  return input;
}

void RemoveUnusedNodes(Graph* graph, ValueId first, int level) {
  const std::vector<bool> live = LiveValues(*graph);
  std::vector<bool> remove(graph->num_nodes(), false);
  bool any_removed = false;
  for (ValueId i = first; i < graph->num_nodes(); ++i) {
    const Node& node = graph->node(i);
    remove[i] = !live[i] && (level < 0 || node.grad_level == level) &&
                node.op != OpKind::kInput;
    any_removed = any_removed || remove[i];
  }
  if (any_removed) graph->RemoveNodes(remove);
}

void RemoveOutput(Graph* graph, const std::string& name) {
  std::vector<GraphOutput>& outputs = graph->mutable_outputs();
  outputs.erase(
      std::remove_if(outputs.begin(), outputs.end(),
                     [&](const GraphOutput& o) { return o.name == name; }),
      outputs.end());
}

std::optional<std::array<std::string, 2>> TransformFunctions(
    GraphBuilder& b, const Node& node, const FunctionTransform& transform,
    const std::string& suffix) {
  std::array<std::string, 2> names;
  const std::array<std::string, 2> originals = FunctionNames(node);
  for (int k = 0; k < 2; ++k) {
    absl::StatusOr<Graph> derived =
        transform(*b.graph()->function(originals[k]), *b.graph());
    if (!derived.ok()) {
      b.Fail(derived.status());
      return std::nullopt;
    }
    names[k] = b.graph()->AddDerivedFunction(originals[k] + suffix,
                                             *std::move(derived));
  }
  return names;
}

}  // namespace adc::passes
