#include "passes/vmap.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"

namespace adc {

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

  GraphBuilder b(graph.name());
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
    {
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
    // The result keeps the node's name (rules name their nodes under vmap/).
    if (!b.graph()->Find(node.name)) v = b.Named(v, node.name);
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
