#include "graph/control_flow.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"

namespace adc {

bool IsControlFlow(const Node& node) {
  return GetOpDef(node.op).family == OpFamily::kControl;
}

std::string ConstructKey(const Node& node) {
  std::string key = absl::StrCat(GetOpDef(node.op).name, "(",
                                 absl::StrJoin(node.inputs, ","), ")");
  for (const auto& [name, value] : node.attrs.map()) {
    // A cond's dtype and shape are those of its result.
    if (name == "result" || name == "dtype" || name == "shape") continue;
    absl::StrAppend(&key, ";", name, "=");
    if (const auto* s = std::get_if<std::string>(&value)) {
      absl::StrAppend(&key, s->size(), ":", *s);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      absl::StrAppend(&key, *i);
    } else if (const auto* d = std::get_if<DType>(&value)) {
      absl::StrAppend(&key, DTypeName(*d));
    } else if (const auto* v = std::get_if<std::vector<int64_t>>(&value)) {
      absl::StrAppend(&key, "[", absl::StrJoin(*v, ","), "]");
    }
  }
  return key;
}

std::vector<std::vector<ValueId>> Constructs(const Graph& graph) {
  std::map<std::string, int> index;
  std::vector<std::vector<ValueId>> constructs;
  for (ValueId id = 0; id < graph.num_nodes(); ++id) {
    const Node& node = graph.node(id);
    if (!IsControlFlow(node)) continue;
    auto [it, added] = index.emplace(ConstructKey(node), constructs.size());
    if (added) constructs.emplace_back();
    constructs[it->second].push_back(id);
  }
  return constructs;
}

std::array<std::string, 2> FunctionNames(const Node& node) {
  if (node.op == OpKind::kCond) {
    return {node.attrs.GetString("then_branch"),
            node.attrs.GetString("else_branch")};
  }
  return {node.attrs.GetString("cond"), node.attrs.GetString("body")};
}

namespace {

const Graph& Function(const Node& node, const Graph& library, int which) {
  const std::string name = FunctionNames(node)[which];
  const Graph* f = library.function(name);
  ADC_CHECK_MSG(f != nullptr, absl::StrCat(node.name, ": function '", name,
                                           "' not in the library"));
  return *f;
}

}  // namespace

const Graph& FirstFunction(const Node& node, const Graph& library) {
  return Function(node, library, 0);
}

const Graph& SecondFunction(const Node& node, const Graph& library) {
  return Function(node, library, 1);
}

int NumResults(const Node& node, const Graph& library) {
  const Graph& f = node.op == OpKind::kCond ? FirstFunction(node, library)
                                            : SecondFunction(node, library);
  return static_cast<int>(f.outputs().size());
}

bool HasControlFlow(const Graph& graph) {
  auto any = [](const Graph& g) {
    for (const Node& node : g.nodes()) {
      if (IsControlFlow(node)) return true;
    }
    return false;
  };
  if (any(graph)) return true;
  for (const std::string& name : graph.function_names()) {
    if (any(*graph.function(name))) return true;
  }
  return false;
}

}  // namespace adc
