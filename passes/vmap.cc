#include "passes/vmap.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"

namespace adc {

namespace {

// A call with batched arguments calls batched copies of its functions: the
// forward function vmapped over the batched arguments, and the vjp function
// over them and y, dy, with the cotangents of shared (unbatched) arguments
// summed over the batch.
//
// The bodies see b's library (so that the batched copies of functions they
// call get names fresh in it), and those copies join b's library.
void ImportFunctions(GraphBuilder& b, const Graph& from) {
  for (const std::string& name : from.function_names()) {
    if (b.graph()->function(name) == nullptr) {
      b.graph()->AddFunction(name, *from.function(name));
    }
  }
}

absl::StatusOr<Value> BatchCall(GraphBuilder& b, const Node& node,
                                const std::vector<Value>& x,
                                const std::vector<bool>& xb, int64_t size) {
  auto load = [&](const std::string& attr) {
    Graph body = *b.graph()->function(node.attrs.GetString(attr));
    body.ShareFunctions(*b.graph());
    return body;
  };
  Graph forward = load("forward"), vjp = load("vjp");
  VmapOptions fo, vo;
  fo.size = vo.size = size;
  const std::vector<ValueId> f_in = forward.inputs(), v_in = vjp.inputs();
  for (size_t k = 0; k < x.size(); ++k) {
    if (!xb[k]) continue;
    fo.batched.push_back(forward.node(f_in[k]).name);
    vo.batched.push_back(vjp.node(v_in[k]).name);
  }
  vo.batched.push_back(vjp.node(v_in[x.size()]).name);      // y
  vo.batched.push_back(vjp.node(v_in[x.size() + 1]).name);  // dy
  ADC_ASSIGN_OR_RETURN(Graph batched_forward, Vmap(forward, fo));
  ImportFunctions(b, batched_forward);
  vjp.ShareFunctions(*b.graph());
  ADC_ASSIGN_OR_RETURN(Graph batched_vjp, Vmap(vjp, vo));
  ImportFunctions(b, batched_vjp);
  {
    GraphBuilder vb(&batched_vjp);
    size_t out = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      if (!IsFloat(x[k].dtype())) continue;
      GraphOutput& o = batched_vjp.mutable_outputs()[out++];
      if (!xb[k]) o.value = Sum(vb.Wrap(o.value), {0}).id();
    }
    if (!vb.ok()) return vb.status();
  }
  const std::string f_name = b.graph()->UniqueFunctionName(
      absl::StrCat(node.attrs.GetString("forward"), ".vmap", size));
  b.graph()->AddFunction(f_name, std::move(batched_forward));
  const std::string v_name = b.graph()->UniqueFunctionName(
      absl::StrCat(node.attrs.GetString("vjp"), ".vmap", size));
  b.graph()->AddFunction(v_name, std::move(batched_vjp));
  Attrs attrs = node.attrs;
  attrs.Set("forward", f_name)
      .Set("vjp", v_name)
      .Set("shape", ops::WithBatch(size, node.type.dims));
  return b.AddOp(OpKind::kCustomVjp, x, std::move(attrs));
}

}  // namespace

absl::StatusOr<Graph> Vmap(const Graph& graph, const VmapOptions& options) {
  if (options.size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vmap: the batch size must be at least 1, got ", options.size));
  }
  if (options.batched.empty()) {
    return absl::InvalidArgumentError("vmap: no input to batch");
  }
  absl::flat_hash_set<std::string> batched_names;
  for (const std::string& name : options.batched) {
    std::optional<ValueId> id = graph.Find(name);
    if (!id) {
      return absl::NotFoundError(
          absl::StrCat("vmap: no input named '", name, "'"));
    }
    if (graph.node(*id).op != OpKind::kInput) {
      return absl::InvalidArgumentError(
          absl::StrCat("vmap: '", name,
                       "' is not an input (only inputs can be batched; "
                       "parameters are shared by every instance)"));
    }
    if (!batched_names.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("vmap: '", name, "' is listed twice"));
    }
  }
  absl::flat_hash_set<std::string> keep(options.keep_unbatched.begin(),
                                        options.keep_unbatched.end());
  for (const std::string& name : keep) {
    if (!graph.FindOutput(name)) {
      return absl::NotFoundError(
          absl::StrCat("vmap: keep_unbatched: no output named '", name, "'"));
    }
  }

  // Every batched value must stay within the element limit.
  for (const Node& node : graph.nodes()) {
    const int64_t elements = std::max<int64_t>(1, node.type.num_elements());
    if (options.size > ops::kMaxElements / elements) {
      return absl::InvalidArgumentError(
          absl::StrCat("vmap: ", options.size, " instances of '", node.name,
                       "' (", node.type.ToString(), ") would exceed ",
                       ops::kMaxElements, " elements"));
    }
  }
  GraphBuilder b(graph.name());
  b.graph()->ShareFunctions(graph);
  const int n = graph.num_nodes();
  std::vector<Value> value(n);
  std::vector<bool> batched(n, false);
  for (ValueId i = 0; i < n; ++i) {
    const Node& node = graph.node(i);
    b.set_grad_level(node.grad_level);
    if (node.op == OpKind::kInput) {
      batched[i] = batched_names.contains(node.name);
      value[i] =
          b.Input(node.name, node.type.dtype,
                  batched[i] ? ops::WithBatch(options.size, node.type.dims)
                             : node.type.dims);
      continue;
    }
    if (node.op == OpKind::kParameter) {
      value[i] = b.Parameter(node.name, node.attrs.GetTensor("value"));
      continue;
    }
    std::vector<Value> x;
    std::vector<bool> xb;
    bool any = false;
    for (ValueId in : node.inputs) {
      x.push_back(value[in]);
      xb.push_back(batched[in]);
      any = any || batched[in];
    }
    if (!any) {
      value[i] = b.AddOp(node.op, std::move(x), node.attrs, node.name);
      continue;
    }
    Value v;
    const int before = b.graph()->num_nodes();
    if (GetOpDef(node.op).family == OpFamily::kControl) {
      return absl::UnimplementedError(absl::StrCat(
          "vmap: batching control flow (", GetOpDef(node.op).name, " '",
          node.name, "') is not supported yet"));
    }
    if (GetOpDef(node.op).family == OpFamily::kCall) {
      ADC_ASSIGN_OR_RETURN(v, BatchCall(b, node, x, xb, options.size));
    } else {
      NameScope scope(b, "vmap");
      v = GetOpDef(node.op).batch(
          BatchContext{&b, node, std::move(x), std::move(xb), options.size});
    }
    if (!b.ok()) {
      return absl::Status(
          b.status().code(),
          absl::StrCat("vmap: while batching node ", i, " '", node.name, "' (",
                       GetOpDef(node.op).name, "): ", b.status().message()));
    }
    const TensorType expected{node.type.dtype,
                              ops::WithBatch(options.size, node.type.dims)};
    ADC_CHECK_MSG(
        v.type() == expected,
        absl::StrCat("batching rule of ", GetOpDef(node.op).name, " gave ",
                     v.type().ToString(), ", expected ", expected.ToString()));
    // The result keeps the node's name (rules name their nodes under vmap/),
    // unless the rule returned an existing value (an identity reshape).
    if (v.id() >= before && !b.graph()->Find(node.name)) {
      v = b.Named(v, node.name);
    }
    value[i] = v;
    batched[i] = true;
  }
  b.set_grad_level(0);
  for (const GraphOutput& out : graph.outputs()) {
    Value v = value[out.value];
    if (!batched[out.value] && !keep.contains(out.name)) {
      NameScope scope(b, "vmap");
      v = BroadcastTo(v, ops::WithBatch(options.size, v.dims()));
    }
    if (!b.ok()) return b.status();
    b.graph()->AddOutput(out.name, v.id(), out.is_gradient);
  }
  return b.Build();
}

}  // namespace adc
