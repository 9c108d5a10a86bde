#include "codegen/fusion_plan.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/ops/op_def.h"

namespace adc::codegen {

bool Cheap(const Graph& g, ValueId v) {
  const Node& node = g.node(v);
  const OpDef& def = GetOpDef(node.op);
  // A value read from a buffer (an argument's, or one of its own) is cheap.
  if (!FusesIntoConsumers(def.family)) return true;
  return def.cheap_as_operand && Cheap(g, node.inputs[0]);
}

bool IsCrop(const Node& node) {
  if (node.op != OpKind::kSlice) return false;
  for (int64_t s : node.attrs.GetInts("stride")) {
    if (s != 1) return false;
  }
  return true;
}

namespace {

// Whether v is a transpose read only by products, through transposes (its
// operand is stored as theirs).
bool ReadByProducts(const Graph& g,
                    const std::vector<std::vector<ValueId>>& users, ValueId v) {
  if (g.node(v).op != OpKind::kTranspose) return false;
  for (ValueId w : users[v]) {
    if (FamilyOf(g.node(w).op) != OpFamily::kMatMul &&
        !ReadByProducts(g, users, w)) {
      return false;
    }
  }
  return true;
}

// The holes per element of a pad's operand: the product of its interior
// steps (1 for a pad without interior padding).
int64_t PadHoles(const Node& pad) {
  int64_t holes = 1;
  for (int64_t i : pad.attrs.GetInts("interior")) holes *= i + 1;
  return holes;
}

// Whether `dims` are whole phases of `pad`'s interior steps (an axis with a
// tail is not split into phases: Lowering::ScheduleDense).
bool WholePhases(const Dims& dims, const Node& pad) {
  const std::vector<int64_t>& interior = pad.attrs.GetInts("interior");
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] % (interior[d] + 1) != 0) return false;
  }
  return true;
}

// Whether the dilating pad v is only read in loops split into its phases
// (Lowering::PadPhases), where each element evaluates only the operands of
// the pads that land on it: its users, through element-wise ops and crops,
// are element-wise ops (whose loops are stored values, split into phases,
// whose other readers read the buffer), crops or products (whose operands
// are stored), all of whole phases, and the holes are what makes the pad
// larger than its operand.
bool InPhasedLoops(const Graph& g, const Plan& plan,
                   const std::vector<std::vector<ValueId>>& users, ValueId v) {
  const Node& pad = g.node(v);
  // One row is not split into phases (Lowering::ScheduleDense).
  const Dims& dims = pad.type.dims;
  if (dims.empty() || NumElements(dims) == dims.back() ||
      !WholePhases(dims, pad)) {
    return false;
  }
  const int64_t holes = PadHoles(pad);
  if (holes == 1 || NumElements(dims) >=
                        2 * NumElements(g.type(pad.inputs[0]).dims) * holes) {
    return false;
  }
  std::vector<ValueId> stack = {v};
  absl::flat_hash_set<ValueId> seen;
  while (!stack.empty()) {
    const ValueId u = stack.back();
    stack.pop_back();
    if (!seen.insert(u).second) continue;
    for (ValueId w : users[u]) {
      const OpFamily family = FamilyOf(g.node(w).op);
      if (family == OpFamily::kMatMul || ReadByProducts(g, users, w)) continue;
      if (!(family == OpFamily::kElementwise &&
            g.type(w).dims == g.type(u).dims) &&
          !IsCrop(g.node(w))) {
        return false;
      }
      if (!WholePhases(g.type(w).dims, pad)) return false;
      // A stored value's readers read its buffer.
      if (plan.why[w].empty()) stack.push_back(w);
    }
  }
  return true;
}

}  // namespace

Plan MakePlan(const Graph& g) {
  const int n = g.num_nodes();
  Plan plan;
  plan.needed.assign(n, false);
  plan.why.assign(n, "");
  plan.stage.assign(n, -1);
  for (const GraphOutput& out : g.outputs()) plan.needed[out.value] = true;
  for (ValueId v = n - 1; v >= 0; --v) {
    if (!plan.needed[v]) continue;
    for (ValueId in : g.node(v).inputs) plan.needed[in] = true;
  }
  std::vector<std::vector<ValueId>> users(n);
  for (ValueId v = 0; v < n; ++v) {
    if (!plan.needed[v]) continue;
    for (ValueId in : g.node(v).inputs) users[in].push_back(v);
  }
  auto materialize = [&](ValueId v, const char* reason) {
    if (plan.why[v].empty() && !Cheap(g, v)) plan.why[v] = reason;
  };
  // Outputs, ops with update definitions, and operands whose recomputation
  // per use would multiply work.
  for (const GraphOutput& out : g.outputs()) materialize(out.value, "output");
  for (ValueId v = 0; v < n; ++v) {
    if (!plan.needed[v]) continue;
    const Node& node = g.node(v);
    switch (FamilyOf(node.op)) {
      case OpFamily::kReduction:
        plan.why[v] = "reduction";
        break;
      case OpFamily::kMatMul:
        plan.why[v] = "matmul";
        for (ValueId in : node.inputs) {
          // A transposed operand is read in place (b through its packing,
          // a's rows as strided scalars): materialize what it transposes.
          while (g.node(in).op == OpKind::kTranspose) in = g.node(in).inputs[0];
          materialize(in, "matmul operand");
        }
        break;
      case OpFamily::kScan:
        plan.why[v] = "scan";
        break;
      case OpFamily::kScatter:
        plan.why[v] = "scatter";
        break;
      case OpFamily::kMovement:
        if (node.op == OpKind::kBroadcastTo &&
            NumElements(node.type.dims) >
                NumElements(g.type(node.inputs[0]).dims)) {
          materialize(node.inputs[0], "broadcast operand");
        }
        break;
      case OpFamily::kLeaf:
      case OpFamily::kElementwise:
        break;
      case OpFamily::kCall:  // Inlined before lowering.
        ADC_CHECK_MSG(false, "a call reached the fusion plan (not inlined)");
      case OpFamily::kControl:
        // A step of its own, reading its operands from buffers (even cheap
        // ones: the step is C code, not a Halide Func).
        plan.why[v] = "control flow";
        for (ValueId in : node.inputs) {
          const OpKind op = g.node(in).op;
          if (plan.why[in].empty() && op != OpKind::kInput &&
              op != OpKind::kParameter) {
            plan.why[in] = "control-flow operand";
          }
        }
        break;
    }
  }
  // Pads at least doubling their operand (decided below, with the stored
  // values known).
  std::vector<ValueId> doubling;
  for (ValueId v = 0; v < n; ++v) {
    const Node& node = g.node(v);
    if (plan.needed[v] && node.op == OpKind::kPad &&
        NumElements(node.type.dims) >=
            2 * NumElements(g.type(node.inputs[0]).dims)) {
      doubling.push_back(v);
    }
  }
  // Values used more than once are recomputed per use when that is cheap
  // (a few arithmetic ops: cheaper than a round trip through memory, and
  // fewer loop nests to compile), and materialized otherwise. cost[v] is the
  // work of computing one element of v inline.
  const std::vector<int> uses = g.UseCounts();
  std::vector<int> cost(n, 0);
  // The work of one element of v inline, from its operands' (a stored
  // operand costs a load).
  auto inline_cost = [&](ValueId v) {
    const Node& node = g.node(v);
    int c = GetOpDef(node.op).inline_cost;
    // A dilating pad tests each axis's parity and divides per element
    // (kDilatingPadAxisCost per interior-padded axis): the sum of a max
    // pool's nine gradient pads, recomputed in each of batch norm's
    // backward reductions, took ResNet-18 20 ms.
    // An inline operand is evaluated for one element in `holes`: its pad
    // is read in loops split into phases, or the operand is stored
    // (InPhasedLoops, below).
    int64_t holes = 1;
    if (node.op == OpKind::kPad) {
      for (int64_t i : node.attrs.GetInts("interior")) {
        if (i > 0) c += kDilatingPadAxisCost;
      }
      holes = PadHoles(node);
    }
    for (ValueId in : node.inputs) {
      c += plan.why[in].empty() ? static_cast<int>(cost[in] / holes) : 1;
    }
    return std::min(c, 1 << 20);
  };
  auto assign_costs = [&] {
    for (ValueId v = 0; v < n; ++v) {
      if (!plan.needed[v]) continue;
      cost[v] = inline_cost(v);
      if (uses[v] >= 2 && cost[v] > kRecomputeBudget) {
        materialize(v, "used more than once");
      } else if (cost[v] > kMaxInlineCost && plan.why[v].empty()) {
        materialize(v, "inline expression too large");
      }
    }
  };
  assign_costs();
  // A pad at least doubling its operand evaluates an inline operand for
  // every output lane, holes included (AVX-512, the small CNN's max-pool
  // gradient at 64x64x11x11, four such pads of masked selects: 1.4 ms
  // inline), unless the holes are the interior's and every loop that reads
  // the pad is split into its phases. Decided once the values stored for
  // their cost are known (ResNet-18's max-pool gradient, read by batch
  // norm's sums, is one), then the costs again: a stored operand is a load.
  bool stored_operands = false;
  for (ValueId v : doubling) {
    const ValueId operand = g.node(v).inputs[0];
    if (plan.why[operand].empty() && !Cheap(g, operand) &&
        !InPhasedLoops(g, plan, users, v)) {
      materialize(operand, "pad operand");
      stored_operands = true;
    }
  }
  if (stored_operands) assign_costs();
  // A value used more than once whose uses all lead, through inlined
  // element-wise ops of its own shape, to graph outputs of that shape that
  // nothing else reads needs no buffer: the lowering computes those outputs
  // in one loop nest (one Tuple-valued Func), where the value's work is done
  // once per element. (W1's gradient: its shared quotient made two more
  // passes over memory.) Later values first, so that chains of such values
  // all fuse; then costs are recomputed, and a value whose inline
  // expression became too large is materialized after all.
  bool fused_any = false;
  for (ValueId v = n - 1; v >= 0; --v) {
    if (plan.why[v] != std::string("used more than once") ||
        FamilyOf(g.node(v).op) != OpFamily::kElementwise) {
      continue;
    }
    const Dims& dims = g.type(v).dims;
    std::vector<ValueId> stack = users[v];
    absl::flat_hash_set<ValueId> seen;
    bool ok = true;
    while (ok && !stack.empty()) {
      const ValueId u = stack.back();
      stack.pop_back();
      if (!seen.insert(u).second) continue;
      if (FamilyOf(g.node(u).op) != OpFamily::kElementwise ||
          g.type(u).dims != dims) {
        ok = false;
      } else if (plan.why[u].empty()) {
        stack.insert(stack.end(), users[u].begin(), users[u].end());
      } else {
        ok = plan.why[u] == std::string("output") && uses[u] == 1;
      }
    }
    if (ok) {
      plan.why[v].clear();
      fused_any = true;
    }
  }
  for (ValueId v = 0; v < n && fused_any; ++v) {
    if (!plan.needed[v]) continue;
    cost[v] = inline_cost(v);
    if (cost[v] > kMaxInlineCost && plan.why[v].empty()) {
      materialize(v, "inline expression too large");
    }
  }
  // Stages: consecutive runs of kMaxFuncsPerStage materialized values, and
  // a stage per control-flow construct (at its first needed node).
  plan.control.clear();
  absl::flat_hash_map<std::string, int> construct_stage;
  int open = -1, count = 0;  // The pipeline being filled, and its values.
  for (ValueId v = 0; v < n; ++v) {
    const Node& node = g.node(v);
    if (!plan.needed[v] || plan.why[v].empty() || node.op == OpKind::kInput ||
        node.op == OpKind::kParameter) {
      continue;
    }
    if (IsControlFlow(node)) {
      auto [it, added] = construct_stage.emplace(
          ConstructKey(node), static_cast<int>(plan.control.size()));
      if (added) {
        plan.control.push_back(v);
        open = -1;
      }
      plan.stage[v] = it->second;
      continue;
    }
    if (open < 0 || count == kMaxFuncsPerStage) {
      open = static_cast<int>(plan.control.size());
      plan.control.push_back(-1);
      count = 0;
    }
    plan.stage[v] = open;
    ++count;
  }
  if (plan.control.empty() || plan.control.back() >= 0) {
    plan.control.push_back(-1);
  }
  plan.num_stages = static_cast<int>(plan.control.size());
  return plan;
}

std::string PlanToString(const Graph& g, const Plan& plan) {
  std::string out;
  for (ValueId v = 0; v < g.num_nodes(); ++v) {
    if (plan.why[v].empty()) continue;
    const Node& node = g.node(v);
    absl::StrAppend(&out, "stage ", plan.stage[v], ": '", node.name, "' (",
                    GetOpDef(node.op).name, "): ", plan.why[v], "\n");
  }
  return out;
}

}  // namespace adc::codegen
