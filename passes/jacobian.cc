#include "passes/jacobian.h"

#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"
#include "passes/autodiff.h"
#include "passes/derivative_util.h"
#include "passes/forward_mode.h"
#include "passes/pass_util.h"
#include "passes/vmap.h"

namespace adc {
namespace {

std::vector<std::string> OutputNames(const Graph& graph) {
  std::vector<std::string> names;
  for (const GraphOutput& o : graph.outputs()) names.push_back(o.name);
  return names;
}

// Replaces the batched input `name` ([n] + dims, n = elements of dims) by
// the one-hot tensors: element i of the batch is 1 at i. Built from iotas
// (not stored: an n x n constant would be large).
void MakeOneHots(Graph* graph, const std::string& name) {
  const ValueId id = *graph->Find(name);
  const TensorType type = graph->type(id);
  const int64_t n = type.dims[0];
  GraphBuilder b(graph);
  Value eye =
      Cast(Eq(Iota(b, DType::kI64, {n, n}, 0), Iota(b, DType::kI64, {n, n}, 1)),
           type.dtype);
  eye = Reshape(eye, type.dims);
  ADC_CHECK_MSG(b.ok(), b.status().ToString());
  graph->ReplaceAllUsesWith(id, eye.id());
  std::vector<bool> remove(graph->num_nodes(), false);
  remove[*graph->Find(name)] = true;
  graph->RemoveNodes(remove);
}

// Adds output `name` = `value` ([n] + rest) rearranged to `dims`: as it is
// (reshaped) when `transpose` is false, else with the batch axis last.
void AddRearranged(Graph* graph, ValueId value, const Dims& dims,
                   bool transpose, const std::string& name) {
  GraphBuilder b(graph);
  Value v = b.Wrap(value);
  if (transpose) {
    const int64_t n = v.dim(0);
    v = Transpose(Reshape(v, {n, NumElements(v.dims()) / n}), {1, 0});
  }
  v = Reshape(v, dims);
  ADC_CHECK_MSG(b.ok(), b.status().ToString());
  graph->AddOutput(name, v.id(), /*is_gradient=*/true);
}

Dims Concat(const Dims& a, const Dims& b) {
  Dims r = a;
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

// Rows by batched VJPs: one seed per element of `of`.
absl::StatusOr<std::vector<std::string>> ReverseJacobian(
    Graph* graph, const std::string& of, const std::vector<std::string>& wrt,
    const std::vector<std::string>& out_names) {
  const TensorType of_type = graph->type(*graph->FindOutputOrValue(of));
  const std::vector<std::string> kept = OutputNames(*graph);
  GradOptions grad;
  grad.of = of;
  grad.wrt = wrt;
  grad.seed = passes::FreshName(*graph, of + ".jacobian_seed", true);
  ADC_ASSIGN_OR_RETURN(std::vector<std::string> grads,
                       AddGradients(graph, grad));
  ADC_ASSIGN_OR_RETURN(
      *graph, Vmap(*graph, {{grad.seed}, of_type.num_elements(), kept}));
  MakeOneHots(graph, grad.seed);
  for (size_t k = 0; k < wrt.size(); ++k) {
    const ValueId g = *graph->FindOutput(grads[k]);
    const Dims& x_dims = graph->type(g).dims;
    AddRearranged(graph, g,
                  Concat(of_type.dims, Dims(x_dims.begin() + 1, x_dims.end())),
                  /*transpose=*/false, out_names[k]);
    passes::RemoveOutput(graph, grads[k]);
  }
  return out_names;
}

// Columns by batched JVPs: one tangent per element of `wrt`.
absl::Status ForwardJacobian(Graph* graph, const std::string& of,
                             const std::string& wrt,
                             const std::string& out_name) {
  const TensorType of_type = graph->type(*graph->FindOutputOrValue(of));
  const std::vector<std::string> kept = OutputNames(*graph);
  JvpOptions jvp;
  jvp.of = {of};
  jvp.wrt = {wrt};
  jvp.tangents = {passes::FreshName(*graph, wrt + ".jacobian_tangent", true)};
  ADC_ASSIGN_OR_RETURN(JvpResult r, AddJvp(graph, jvp));
  ADC_ASSIGN_OR_RETURN(const ValueId w,
                       passes::ResolveFloatValue(*graph, wrt, "wrt"));
  const Dims x_dims = graph->type(w).dims;
  ADC_ASSIGN_OR_RETURN(
      *graph, Vmap(*graph, {{r.tangents[0]}, NumElements(x_dims), kept}));
  MakeOneHots(graph, r.tangents[0]);
  AddRearranged(graph, *graph->FindOutput(r.outputs[0]),
                Concat(of_type.dims, x_dims), /*transpose=*/true, out_name);
  passes::RemoveOutput(graph, r.outputs[0]);
  return absl::OkStatus();
}

absl::StatusOr<ValueId> ScalarOf(const Graph& graph, const std::string& of) {
  ADC_ASSIGN_OR_RETURN(ValueId id, passes::ResolveFloatValue(graph, of, "of"));
  if (graph.type(id).num_elements() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("of: '", of, "' must be a scalar (one element), not ",
                     graph.type(id).ToString()));
  }
  return id;
}

// Whether `of` depends on a call (a custom gradient): forward mode would
// differentiate its forward function rather than use the custom rule.
bool DependsOnCall(const Graph& graph, ValueId of) {
  const std::vector<bool> needed = passes::LiveValues(graph, {of});
  for (ValueId i = 0; i < graph.num_nodes(); ++i) {
    if (needed[i] && GetOpDef(graph.node(i).op).family == OpFamily::kCall) {
      return true;
    }
  }
  return false;
}

}  // namespace

JacobianMode ChooseJacobianMode(int64_t of_elements, int64_t wrt_elements) {
  return of_elements <= wrt_elements ? JacobianMode::kReverse
                                     : JacobianMode::kForward;
}

absl::StatusOr<std::vector<std::string>> AddJacobian(
    Graph* graph, const JacobianOptions& options) {
  ADC_ASSIGN_OR_RETURN(ValueId of,
                       passes::ResolveFloatValue(*graph, options.of, "of"));
  std::vector<std::string> wrt = options.wrt;
  ADC_ASSIGN_OR_RETURN(std::vector<ValueId> wrt_ids,
                       passes::ResolveWrt(*graph, &wrt));
  int64_t wrt_elements = 0;
  std::vector<std::string> out_names;
  for (size_t k = 0; k < wrt.size(); ++k) {
    wrt_elements += graph->type(wrt_ids[k]).num_elements();
    out_names.push_back(passes::FreshName(*graph, wrt[k] + ".jacobian"));
  }
  JacobianMode mode = options.mode;
  if (mode == JacobianMode::kAuto) {
    mode =
        DependsOnCall(*graph, of)
            ? JacobianMode::kReverse
            : ChooseJacobianMode(graph->type(of).num_elements(), wrt_elements);
  }
  const int n = graph->num_nodes();
  if (mode == JacobianMode::kReverse) {
    ADC_RETURN_IF_ERROR(
        ReverseJacobian(graph, options.of, wrt, out_names).status());
  } else {
    for (size_t k = 0; k < wrt.size(); ++k) {
      ADC_RETURN_IF_ERROR(
          ForwardJacobian(graph, options.of, wrt[k], out_names[k]));
    }
  }
  passes::RemoveUnusedNodes(graph, n);
  return out_names;
}

absl::StatusOr<std::string> AddHessian(Graph* graph, const std::string& of,
                                       const std::string& wrt) {
  ADC_RETURN_IF_ERROR(ScalarOf(*graph, of).status());
  const int n = graph->num_nodes();
  const std::string out_name = passes::FreshName(*graph, wrt + ".hessian");
  GradOptions grad;
  grad.of = of;
  grad.wrt = {wrt};
  ADC_ASSIGN_OR_RETURN(std::vector<std::string> grads,
                       AddGradients(graph, grad));
  // d(grad)/d(wrt): shape(wrt) + shape(wrt).
  ADC_RETURN_IF_ERROR(ForwardJacobian(graph, grads[0], wrt, out_name));
  passes::RemoveOutput(graph, grads[0]);
  passes::RemoveUnusedNodes(graph, n);
  return out_name;
}

absl::StatusOr<HvpResult> AddHvp(Graph* graph, const std::string& of,
                                 const std::string& wrt) {
  ADC_RETURN_IF_ERROR(ScalarOf(*graph, of).status());
  const int n = graph->num_nodes();
  HvpResult result;
  result.output = passes::FreshName(*graph, wrt + ".hvp");
  GradOptions grad;
  grad.of = of;
  grad.wrt = {wrt};
  ADC_ASSIGN_OR_RETURN(std::vector<std::string> grads,
                       AddGradients(graph, grad));
  JvpOptions jvp;
  jvp.of = {grads[0]};
  jvp.wrt = {wrt};
  ADC_ASSIGN_OR_RETURN(JvpResult r, AddJvp(graph, jvp));
  result.tangent = r.tangents[0];
  for (GraphOutput& o : graph->mutable_outputs()) {
    if (o.name == r.outputs[0]) o.name = result.output;
  }
  passes::RemoveOutput(graph, grads[0]);
  passes::RemoveUnusedNodes(graph, n);
  return result;
}

}  // namespace adc
