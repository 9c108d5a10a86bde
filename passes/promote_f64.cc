#include "passes/promote_f64.h"

#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/verifier.h"

namespace adc {

absl::StatusOr<bool> PromoteToF64::Run(Graph* graph) {
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

}  // namespace adc
