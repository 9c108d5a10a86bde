#include "graph/verifier.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"

namespace adc {

absl::Status NodeError(const Node& node, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("node '", node.name, "' (",
                                                  GetOpDef(node.op).name,
                                                  "): ", status.message()));
}

absl::StatusOr<TensorType> InferNodeType(Node* node,
                                         absl::Span<const TensorType> inputs) {
  const OpDef& def = GetOpDef(node->op);
  const int n = static_cast<int>(inputs.size());
  if (n < def.min_inputs || (def.max_inputs >= 0 && n > def.max_inputs)) {
    std::string expected =
        def.max_inputs < 0 ? absl::StrCat("at least ", def.min_inputs)
        : def.min_inputs == def.max_inputs
            ? absl::StrCat(def.min_inputs)
            : absl::StrCat(def.min_inputs, " to ", def.max_inputs);
    return absl::InvalidArgumentError(
        absl::StrCat("expects ", expected, " input(s), got ", n));
  }
  for (const auto& [name, value] : node->attrs.map()) {
    const AttrSpec* spec = nullptr;
    for (const AttrSpec& s : def.attrs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      std::vector<std::string> known;
      for (const AttrSpec& s : def.attrs) known.push_back(s.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown attribute '", name, "' (", def.name, " takes ",
          known.empty() ? "no attributes" : absl::StrJoin(known, ", "), ")"));
    }
    if (KindOf(value) != spec->kind) {
      return absl::InvalidArgumentError(absl::StrCat(
          "attribute '", name, "' must be ", AttrKindName(spec->kind), ", not ",
          AttrKindName(KindOf(value))));
    }
  }
  for (const AttrSpec& s : def.attrs) {
    if (node->attrs.Has(s.name)) continue;
    if (!s.default_value.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing required attribute '", s.name, "' (",
                       AttrKindName(s.kind), ")"));
    }
    node->attrs.Set(s.name, *s.default_value);
  }
  ADC_ASSIGN_OR_RETURN(TensorType type, def.infer(*node, inputs));
  ADC_RETURN_IF_ERROR(ops::CheckDims(type.dims, "result shape"));
  return type;
}

absl::Status Verify(const Graph& graph) {
  absl::flat_hash_set<std::string> names;
  std::vector<TensorType> input_types;
  for (ValueId id = 0; id < graph.num_nodes(); ++id) {
    const Node& node = graph.node(id);
    if (node.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node ", id, " (", GetOpDef(node.op).name, ") has an empty name"));
    }
    if (!names.insert(node.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate value name '", node.name, "'"));
    }
    if (node.grad_level < 0 || node.grad_level > kMaxGradLevel) {
      return NodeError(node, absl::InvalidArgumentError(absl::StrCat(
                                 "grad_level ", node.grad_level,
                                 " is outside [0, ", kMaxGradLevel, "]")));
    }
    input_types.clear();
    for (ValueId in : node.inputs) {
      if (in < 0 || in >= id) {
        return NodeError(node, absl::InternalError(absl::StrCat(
                                   "input id ", in, " is not topological")));
      }
      input_types.push_back(graph.type(in));
    }
    Node copy = node;
    absl::StatusOr<TensorType> type = InferNodeType(&copy, input_types);
    if (!type.ok()) return NodeError(node, type.status());
    if (copy.attrs.map().size() != node.attrs.map().size()) {
      return NodeError(node,
                       absl::InternalError("attribute defaults not filled"));
    }
    if (*type != node.type) {
      return NodeError(node, absl::InvalidArgumentError(absl::StrCat(
                                 "declared type ", node.type.ToString(),
                                 " but the op gives ", type->ToString())));
    }
  }
  absl::flat_hash_set<std::string> output_names;
  for (const GraphOutput& out : graph.outputs()) {
    if (out.name.empty()) {
      return absl::InvalidArgumentError("an output has an empty name");
    }
    if (!output_names.insert(out.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate output name '", out.name, "'"));
    }
    if (out.value < 0 || out.value >= graph.num_nodes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("output '", out.name, "' refers to no value"));
    }
  }
  return absl::OkStatus();
}

}  // namespace adc
