#include "passes/constant_folding.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"
#include "passes/pass_util.h"

namespace adc {
namespace {

// A constant input of a node being folded.
struct ConstantInput {
  const Node* node = nullptr;
  bool is_splat = false;  // All elements identical.
  Tensor scalar;          // The element, when is_splat.
  int64_t stored = 0;     // Elements the graph stores for it.
};

std::optional<ConstantInput> AsConstant(const Graph& graph, ValueId id) {
  ConstantInput c;
  c.node = &graph.node(id);
  if (c.node->op == OpKind::kConstant) {
    const Tensor& t = c.node->attrs.GetTensor("value");
    c.stored = t.num_elements();
    c.is_splat = passes::IsUniform(t);
    if (c.is_splat) c.scalar = passes::FirstElement(t);
    return c;
  }
  if (c.node->op == OpKind::kIota) {
    // Generated, not stored; a one-element iota is a splat of 0.
    c.is_splat = c.node->type.num_elements() == 1;
    if (c.is_splat) c.scalar = Tensor(TensorType{c.node->type.dtype, {}});
    return c;
  }
  if (std::optional<Tensor> s = passes::SplatValue(graph, id)) {
    c.stored = 1;
    c.is_splat = true;
    c.scalar = *std::move(s);
    return c;
  }
  return std::nullopt;
}

// The full value of a constant input.
absl::StatusOr<Tensor> Materialize(const ConstantInput& c) {
  if (c.node->op == OpKind::kConstant) return c.node->attrs.GetTensor("value");
  if (c.node->op == OpKind::kIota)
    return GetOpDef(OpKind::kIota).eval(*c.node, {});
  Tensor t(c.node->type);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    ops::CopyElement(c.scalar, 0, &t, i);
  }
  return t;
}

// Element operations needed to fold `node` (materializing non-stored inputs
// included).
int64_t Work(const Node& node, const std::vector<ConstantInput>& inputs) {
  int64_t work = node.type.num_elements();
  for (const ConstantInput& c : inputs) work += c.node->type.num_elements();
  if (node.op == OpKind::kMatMul) {
    const Dims& a = inputs[0].node->type.dims;
    work += node.type.num_elements() * a.back();
  }
  return work;
}

}  // namespace

absl::StatusOr<bool> ConstantFolding::Run(Graph* graph) {
  const int n = graph->num_nodes();
  bool changed = false, appended = false;
  for (ValueId i = 0; i < n; ++i) {
    const Node& node = graph->node(i);
    if (node.inputs.empty()) continue;  // Leaves are never folded.
    // Already a splat.
    if (node.op == OpKind::kBroadcastTo && passes::SplatValue(*graph, i)) {
      continue;
    }
    std::vector<ConstantInput> inputs;
    bool all_splats = true;
    int64_t largest_stored = 0;
    for (ValueId in : node.inputs) {
      std::optional<ConstantInput> c = AsConstant(*graph, in);
      if (!c) break;
      all_splats = all_splats && c->is_splat;
      largest_stored = std::max(largest_stored, c->stored);
      inputs.push_back(*std::move(c));
    }
    if (inputs.size() != node.inputs.size()) continue;

    // Evaluate: on the scalars for an element-wise op on splats, else on the
    // full values.
    Tensor result;
    bool splat_result = false;
    if (FamilyOf(node.op) == OpFamily::kElementwise && all_splats &&
        node.type.num_elements() > 1) {
      Node scalar_node = node;
      scalar_node.type.dims.clear();
      std::vector<const Tensor*> args;
      for (const ConstantInput& c : inputs) args.push_back(&c.scalar);
      absl::StatusOr<Tensor> r = GetOpDef(node.op).eval(scalar_node, args);
      if (!r.ok()) continue;
      result = *std::move(r);
      splat_result = true;
    } else {
      if (Work(node, inputs) > options_.max_work) continue;
      std::vector<Tensor> values;
      bool ok = true;
      for (const ConstantInput& c : inputs) {
        absl::StatusOr<Tensor> v = Materialize(c);
        if (!v.ok()) {
          ok = false;
          break;
        }
        values.push_back(*std::move(v));
      }
      if (!ok) continue;
      std::vector<const Tensor*> args;
      for (const Tensor& v : values) args.push_back(&v);
      absl::StatusOr<Tensor> r = GetOpDef(node.op).eval(node, args);
      if (!r.ok()) continue;
      result = *std::move(r);
      if (result.num_elements() > 1 && passes::IsUniform(result)) {
        result = passes::FirstElement(result);
        splat_result = true;
      } else if (result.num_elements() > options_.max_elements &&
                 result.num_elements() > largest_stored) {
        continue;  // Would materialize a big value.
      }
    }

    if (splat_result) {
      // node => broadcast_to(constant scalar)
      const std::string name = absl::StrCat(node.name, "/scalar");
      const int level = node.grad_level;
      ADC_ASSIGN_OR_RETURN(
          ValueId scalar,
          passes::AddInferredNode(graph, OpKind::kConstant, {},
                                  Attrs().Set("value", std::move(result)), name,
                                  level));
      Node& folded = graph->mutable_node(i);
      folded.op = OpKind::kBroadcastTo;
      folded.inputs = {scalar};
      folded.attrs = Attrs().Set("shape", folded.type.dims);
      appended = true;
    } else {
      Node& folded = graph->mutable_node(i);
      folded.op = OpKind::kConstant;
      folded.inputs.clear();
      folded.attrs = Attrs().Set("value", std::move(result));
    }
    changed = true;
  }
  if (appended) graph->SortTopologically();
  return changed;
}

}  // namespace adc
