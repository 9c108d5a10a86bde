#include "graph/verifier.h"

#include <functional>
#include <map>

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

namespace {

std::string TypesToString(const std::vector<TensorType>& types) {
  std::vector<std::string> parts;
  for (const TensorType& t : types) parts.push_back(t.ToString());
  return absl::StrCat("(", absl::StrJoin(parts, ", "), ")");
}

// Checks that `attr` of a call node names a function of `library` taking
// `inputs` and returning `outputs`.
absl::Status CheckCallee(const Node& node, const Graph& library,
                         const std::string& attr,
                         const std::vector<TensorType>& inputs,
                         const std::vector<TensorType>& outputs) {
  const std::string& name = node.attrs.GetString(attr);
  const Graph* body = library.function(name);
  if (body == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(attr, " function '", name, "' is not in the library"));
  }
  if (body->InputTypes() != inputs || body->OutputTypes() != outputs) {
    return absl::InvalidArgumentError(absl::StrCat(
        attr, " function '", name, "' is ", TypesToString(body->InputTypes()),
        " -> ", TypesToString(body->OutputTypes()), " but the call needs ",
        TypesToString(inputs), " -> ", TypesToString(outputs)));
  }
  return absl::OkStatus();
}

// The output types of the function `attr` of `node` names, if it exists.
std::vector<TensorType> CalleeOutputs(const Node& node, const Graph& library,
                                      const std::string& attr) {
  const Graph* body = library.function(node.attrs.GetString(attr));
  return body == nullptr ? std::vector<TensorType>{} : body->OutputTypes();
}

// cond: both branches map the operands to the same result types; the node
// is one of them.
absl::Status CheckCond(const Node& node, const Graph& library,
                       const std::vector<TensorType>& input_types) {
  const std::vector<TensorType> operands(input_types.begin() + 1,
                                         input_types.end());
  const std::vector<TensorType> results =
      CalleeOutputs(node, library, "then_branch");
  ADC_RETURN_IF_ERROR(
      CheckCallee(node, library, "then_branch", operands, results));
  ADC_RETURN_IF_ERROR(
      CheckCallee(node, library, "else_branch", operands, results));
  const int64_t result = node.attrs.GetInt("result");
  if (result >= static_cast<int64_t>(results.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("result ", result, " but the branches return ",
                     results.size(), " value(s)"));
  }
  if (results[result] != node.type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "result ", result, " of the branches is ", results[result].ToString(),
        ", not ", node.type.ToString(), " (attributes dtype and shape)"));
  }
  return absl::OkStatus();
}

// while_loop: body maps (carried..., captured...) to the carried types, cond
// maps them to a bool scalar; the node is a carried value.
absl::Status CheckWhileLoop(const Node& node, const Graph& library,
                            const std::vector<TensorType>& input_types) {
  if (library.function(node.attrs.GetString("body")) == nullptr) {
    return CheckCallee(node, library, "body", {}, {});  // Not in the library.
  }
  const std::vector<TensorType> body_outputs =
      CalleeOutputs(node, library, "body");
  if (body_outputs.empty() || body_outputs.size() > input_types.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "body function '", node.attrs.GetString("body"), "' returns ",
        body_outputs.size(), " value(s); a loop carries 1 to ",
        input_types.size(), " (its operands: carried values, then captured)"));
  }
  const std::vector<TensorType> carried(
      input_types.begin(), input_types.begin() + body_outputs.size());
  ADC_RETURN_IF_ERROR(CheckCallee(node, library, "body", input_types, carried));
  ADC_RETURN_IF_ERROR(CheckCallee(node, library, "cond", input_types,
                                  {TensorType{DType::kBool, {}}}));
  if (node.attrs.GetInt("result") >= static_cast<int64_t>(carried.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("result ", node.attrs.GetInt("result"),
                     " but the loop "
                     "carries ",
                     carried.size(), " value(s)"));
  }
  return absl::OkStatus();
}

// The signatures a call node needs of its functions.
absl::Status CheckCall(const Node& node, const Graph& library,
                       const std::vector<TensorType>& input_types) {
  if (node.op == OpKind::kCond) {
    return CheckCond(node, library, input_types);
  }
  if (node.op == OpKind::kWhileLoop) {
    return CheckWhileLoop(node, library, input_types);
  }
  if (node.op != OpKind::kCustomVjp) return absl::OkStatus();
  ADC_RETURN_IF_ERROR(
      CheckCallee(node, library, "forward", input_types, {node.type}));
  std::vector<TensorType> vjp_in = input_types, vjp_out;
  vjp_in.push_back(node.type);
  vjp_in.push_back(node.type);
  for (const TensorType& t : input_types) {
    if (IsFloat(t.dtype)) vjp_out.push_back(t);
  }
  return CheckCallee(node, library, "vjp", vjp_in, vjp_out);
}

absl::Status VerifyBody(const Graph& graph, const Graph& library);

// Function bodies: verified graphs without parameters or functions of their
// own (a vjp function of a call without float arguments has no outputs),
// and no call cycles.
absl::Status VerifyLibrary(const Graph& library) {
  // The depth of calls below each function: 0 while on the stack (a call
  // cycle), at least 1 once done. The recursion stops at kMaxCallDepth.
  std::map<std::string, int> height;
  std::function<absl::Status(const std::string&, int)> visit =
      [&](const std::string& name, int depth) -> absl::Status {
    if (depth > kMaxCallDepth) {
      return absl::ResourceExhaustedError(
          absl::StrCat("calls nest more than ", kMaxCallDepth,
                       " deep (kMaxCallDepth) at function '", name, "'"));
    }
    auto [it, is_new] = height.emplace(name, 0);
    if (!is_new && it->second == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("function '", name, "' calls itself"));
    }
    if (!is_new) return absl::OkStatus();
    int below = 0;
    const Graph* body = library.function(name);
    for (const Node& node : body->nodes()) {
      if (GetOpDef(node.op).family != OpFamily::kCall &&
          GetOpDef(node.op).family != OpFamily::kControl) {
        continue;
      }
      for (const AttrSpec& spec : GetOpDef(node.op).attrs) {
        if (spec.kind != AttrKind::kString || !node.attrs.Has(spec.name)) {
          continue;
        }
        const std::string& callee = node.attrs.GetString(spec.name);
        if (library.function(callee) != nullptr) {
          ADC_RETURN_IF_ERROR(visit(callee, depth + 1));
          below = std::max(below, height[callee]);
        }
      }
    }
    if (depth + below > kMaxCallDepth) {
      return absl::ResourceExhaustedError(
          absl::StrCat("calls nest more than ", kMaxCallDepth,
                       " deep (kMaxCallDepth) below function '", name, "'"));
    }
    height[name] = below + 1;
    return absl::OkStatus();
  };
  for (const std::string& name : library.function_names()) {
    const Graph* body = library.function(name);
    auto in_function = [&](const absl::Status& status) {
      return absl::Status(status.code(), absl::StrCat("function '", name,
                                                      "': ", status.message()));
    };
    if (!body->parameters().empty()) {
      return in_function(absl::InvalidArgumentError(
          "has parameters (a function's values come from its inputs)"));
    }
    if (body->has_functions()) {
      return in_function(absl::InvalidArgumentError(
          "has functions of its own (they belong to the top-level graph)"));
    }
    absl::Status status = VerifyBody(*body, library);
    if (!status.ok()) return in_function(status);
    ADC_RETURN_IF_ERROR(visit(name, 1));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Verify(const Graph& graph) {
  ADC_RETURN_IF_ERROR(VerifyBody(graph, graph));
  return VerifyLibrary(graph);
}

namespace {

// The graph's own invariants, with calls resolved in `library`.
absl::Status VerifyBody(const Graph& graph, const Graph& library) {
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
    if (GetOpDef(node.op).family == OpFamily::kCall ||
        GetOpDef(node.op).family == OpFamily::kControl) {
      absl::Status call = CheckCall(node, library, input_types);
      if (!call.ok()) return NodeError(node, call);
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

}  // namespace

}  // namespace adc
