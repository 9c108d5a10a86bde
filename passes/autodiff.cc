#include "passes/autodiff.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/ops/op_def.h"
#include "graph/verifier.h"
#include "passes/control_flow_vjp.h"
#include "passes/derivative_util.h"

namespace adc {
namespace {

absl::StatusOr<Value> MakeSeed(GraphBuilder& b, const GradOptions& options,
                               const std::string& of_name,
                               const TensorType& of_type) {
  if (options.seed.empty()) {
    if (of_type.num_elements() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "grad can be implicitly created only for scalar outputs: '", of_name,
          "' has shape ", DimsToString(of_type.dims), " (", of_type.ToString(),
          "); give a seed (--seed ones, or --seed NAME "
          "for a new input holding the vector of the vector-Jacobian "
          "product)"));
    }
    return Full(b, of_type, 1.0);
  }
  if (options.seed == "ones") return Full(b, of_type, 1.0);
  return passes::NamedInput(b, options.seed, of_type, "seed", of_name);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> AddGradients(
    Graph* graph, const GradOptions& options) {
  ADC_ASSIGN_OR_RETURN(const ValueId of,
                       passes::ResolveFloatValue(*graph, options.of, "of"));
  const TensorType of_type = graph->type(of);
  std::vector<std::string> wrt_names = options.wrt;
  ADC_ASSIGN_OR_RETURN(std::vector<ValueId> wrt,
                       passes::ResolveWrt(*graph, &wrt_names));

  const int level = passes::NextGradLevel(*graph);
  const int n = graph->num_nodes();  // The graph being differentiated.
  GraphBuilder b(graph);
  b.set_grad_level(level);
  NameScope scope(b, passes::LevelScope("grad", level));
  ADC_ASSIGN_OR_RETURN(Value seed, MakeSeed(b, options, options.of, of_type));

  // A value is relevant when it depends on a wrt and `of` depends on it, both
  // through differentiable ops on floating-point values.
  std::vector<bool> is_wrt(n, false), depends(n, false), reaches(n, false);
  for (ValueId w : wrt) is_wrt[w] = true;
  auto carries = [&](ValueId id) {
    const Node& node = graph->node(id);
    return GetOpDef(node.op).differentiable && IsFloat(node.type.dtype);
  };
  for (ValueId i = 0; i < n; ++i) {
    depends[i] = is_wrt[i];
    if (!carries(i)) continue;
    for (ValueId in : graph->node(i).inputs) {
      depends[i] = depends[i] || depends[in];
    }
  }
  reaches[of] = true;
  for (ValueId i = of; i >= 0; --i) {
    if (!reaches[i] || !carries(i)) continue;
    for (ValueId in : graph->node(i).inputs) reaches[in] = true;
  }
  auto relevant = [&](ValueId id) { return depends[id] && reaches[id]; };

  // Control flow is differentiated a construct at a time, at its first node,
  // with the cotangents of all of its nodes (every use of its results is
  // later in the graph, so they are complete by then).
  std::vector<std::vector<ValueId>> constructs = Constructs(*graph);
  std::vector<int> construct_of(n, -1);
  for (size_t k = 0; k < constructs.size(); ++k) {
    for (ValueId id : constructs[k]) construct_of[id] = static_cast<int>(k);
  }

  // Sweep backwards from `of`, summing cotangents.
  std::vector<Value> cotangent(n);
  if (relevant(of)) cotangent[of] = seed;
  for (ValueId i = of; i >= 0; --i) {
    const Node& node = graph->node(i);
    std::vector<Value> grads;
    if (construct_of[i] >= 0) {
      const std::vector<ValueId>& nodes = constructs[construct_of[i]];
      if (nodes.front() != i) continue;
      std::vector<Value> dys(NumResults(node, *graph));
      bool any = false;
      for (ValueId r : nodes) {
        if (r > of || !relevant(r) || !cotangent[r].valid()) continue;
        Value& dy = dys[graph->node(r).attrs.GetInt("result")];
        dy = dy.valid() ? dy + cotangent[r] : cotangent[r];
        any = true;
      }
      bool any_input = false;
      for (ValueId in : node.inputs) any_input = any_input || relevant(in);
      if (!any || !any_input) continue;
      grads = passes::ConstructVjp(b, node, dys);
    } else {
      if (!relevant(i) || !cotangent[i].valid() || !carries(i)) continue;
      bool any_input = false;
      for (ValueId in : node.inputs) any_input = any_input || relevant(in);
      if (!any_input) continue;
      GradContext ctx{&b, node, {}, b.Wrap(i), cotangent[i]};
      for (ValueId in : node.inputs) ctx.x.push_back(b.Wrap(in));
      grads = GetOpDef(node.op).grad(ctx);
    }
    if (!b.ok()) {
      return absl::Status(
          b.status().code(),
          absl::StrCat("while differentiating node ", i, " '", node.name, "' (",
                       GetOpDef(node.op).name, "): ", b.status().message()));
    }
    ADC_CHECK_MSG(grads.size() == node.inputs.size(),
                  absl::StrCat("gradient rule of ", GetOpDef(node.op).name,
                               " returned ", grads.size(), " cotangents"));
    for (size_t k = 0; k < grads.size(); ++k) {
      const ValueId in = node.inputs[k];
      if (!relevant(in) || !grads[k].valid()) continue;
      ADC_CHECK_MSG(
          grads[k].type() == graph->type(in),
          absl::StrCat("gradient rule of ", GetOpDef(node.op).name, " gave ",
                       grads[k].type().ToString(), " for input ", k,
                       " of type ", graph->type(in).ToString()));
      cotangent[in] =
          cotangent[in].valid() ? cotangent[in] + grads[k] : grads[k];
    }
  }

  // One output per wrt.
  std::vector<std::string> names;
  for (size_t k = 0; k < wrt.size(); ++k) {
    Value g = cotangent[wrt[k]];
    if (!g.valid()) {
      if (!options.allow_unused) {
        return absl::InvalidArgumentError(
            absl::StrCat("wrt: '", wrt_names[k], "' does not affect '",
                         options.of, "' (pass allow_unused to get zeros)"));
      }
      g = ZerosLike(b.Wrap(wrt[k]));
    }
    if (!b.ok()) return b.status();
    names.push_back(passes::FreshName(*graph, wrt_names[k] + ".grad"));
    graph->AddOutput(names.back(), g.id(), /*is_gradient=*/true);
  }

  // Remove the gradient nodes nothing uses (cotangents of inputs that were
  // not asked for, partial sums superseded by others, ...).
  passes::RemoveUnusedNodes(graph, n, level);
  return names;
}

absl::StatusOr<bool> AutodiffPass::Run(Graph* graph) {
  ADC_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       AddGradients(graph, options_));
  return true;
}

}  // namespace adc
