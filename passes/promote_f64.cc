#include "passes/promote_f64.h"

#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/verifier.h"

namespace adc {

namespace {

// One graph's nodes (the library aside).
absl::StatusOr<bool> PromoteNodes(Graph* graph) {
  bool changed = false;
  for (ValueId id = 0; id < graph->num_nodes(); ++id) {
    Node& node = graph->mutable_node(id);
    for (auto& [name, value] : node.attrs.mutable_map()) {
      // dtype f32 => f64
      if (DType* dtype = std::get_if<DType>(&value);
          dtype != nullptr && *dtype == DType::kF32) {
        *dtype = DType::kF64;
        changed = true;
      }
      // tensor f32[...]{v} => f64[...]{v} (exact)
      if (Tensor* tensor = std::get_if<Tensor>(&value);
          tensor != nullptr && tensor->dtype() == DType::kF32) {
        *tensor = tensor->CastTo(DType::kF64);
        changed = true;
      }
    }
    // Inputs come first (topological order), so their types are final.
    std::vector<TensorType> input_types;
    for (ValueId in : node.inputs) input_types.push_back(graph->type(in));
    absl::StatusOr<TensorType> type = InferNodeType(&node, input_types);
    if (!type.ok()) {
      return NodeError(node,
                       absl::Status(type.status().code(),
                                    absl::StrCat("after promotion to f64: ",
                                                 type.status().message())));
    }
    changed = changed || node.type != *type;
    node.type = *type;
  }
  return changed;
}

}  // namespace

absl::StatusOr<bool> PromoteToF64::Run(Graph* graph) {
  ADC_ASSIGN_OR_RETURN(bool changed, PromoteNodes(graph));
  // Function bodies too, so that calls keep matching their functions.
  std::vector<std::pair<std::string, Graph>> bodies;
  for (const std::string& name : graph->function_names()) {
    Graph body = *graph->function(name);
    absl::StatusOr<bool> c = PromoteNodes(&body);
    if (!c.ok()) {
      return absl::Status(
          c.status().code(),
          absl::StrCat("function '", name, "': ", c.status().message()));
    }
    changed = changed || *c;
    bodies.emplace_back(name, std::move(body));
  }
  graph->ClearFunctions();
  for (auto& [name, body] : bodies) graph->AddFunction(name, std::move(body));
  return changed;
}

}  // namespace adc
