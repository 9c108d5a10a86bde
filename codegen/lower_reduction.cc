// Reductions (sum, max, min, prod over attr axes): each op's identity and
// combiner, the algorithm, and its schedule.
//
// Two strategies (PlanReduction): when the innermost reduced axis is the
// contiguous one, vector lanes (and parallel chunks) reduce it partially
// and a short loop combines the lanes; otherwise the reduction loop sits
// inside the output's loops, vectorized over the innermost output
// dimension.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "codegen/lowering.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/types.h"

namespace adc::codegen::lowering {
namespace {

struct ReductionOp {
  Expr (*identity)(Halide::Type t);
  Expr (*combine)(Expr acc, Expr v);
  bool widens;  // f32 accumulates in f64 (AccumulatorType).
};

// max/min propagate NaN (as torch.amax): a NaN accumulator stays, a NaN
// element is taken.
Expr Extremum(Expr a, Expr v, bool max) {
  if (!a.type().is_float()) return max ? Halide::max(a, v) : Halide::min(a, v);
  Expr better = Halide::strict_float(max ? v > a : v < a);
  return Halide::select(better || Halide::is_nan(v), v, a);
}

const absl::flat_hash_map<OpKind, ReductionOp>& ReductionOps() {
  static const auto* table = new absl::flat_hash_map<OpKind, ReductionOp>{
      {OpKind::kReduceSum,
       {[](Halide::Type t) { return Const(t, 0); },
        [](Expr a, Expr v) { return StrictIfFloat(a + v); }, true}},
      {OpKind::kReduceProd,
       {[](Halide::Type t) { return Const(t, 1); },
        [](Expr a, Expr v) { return StrictIfFloat(a * v); }, true}},
      {OpKind::kReduceMax,
       {[](Halide::Type t) {
          return t.is_float() ? -Infinity(t) : Expr(t.min());
        },
        [](Expr a, Expr v) { return Extremum(a, v, true); }, false}},
      {OpKind::kReduceMin,
       {[](Halide::Type t) { return t.is_float() ? Infinity(t) : t.max(); },
        [](Expr a, Expr v) { return Extremum(a, v, false); }, false}},
  };
  return *table;
}

const ReductionOp& ReductionOf(OpKind op) {
  auto row = ReductionOps().find(op);
  ADC_CHECK_MSG(row != ReductionOps().end(),
                absl::StrCat("no reduction lowering of ", GetOpDef(op).name));
  return row->second;
}

}  // namespace

bool LowersReduction(OpKind op) { return ReductionOps().contains(op); }

void Lowering::LowerReduce(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId x = node.inputs[0];
  const Dims& xd = DimsOf(x);
  const auto& axes = node.attrs.GetInts("axes");
  const bool keepdims = node.attrs.GetBool("keepdims");
  const Halide::Type t = TypeOf(id);
  const ReductionOp& op = ReductionOf(node.op);
  const Halide::Type acc_t = op.widens ? AccumulatorType(t) : t;
  const Expr identity = op.identity(acc_t);
  const ReductionPlan plan = PlanReduction(g_, id, target_, FlatInput(x));

  Lowered& l = values_[id];
  l.vars = MakeVars(node.type.rank());
  const std::vector<Var> hv = HalideVars(l.vars);
  std::vector<Expr> hargs(hv.begin(), hv.end());
  // The reduced axes other than the one given lanes, innermost first (the
  // RDom's first dimension is its innermost loop).
  std::vector<int64_t> loop_axes(axes.rbegin(), axes.rend());
  if (plan.lanes) {
    loop_axes.erase(loop_axes.begin(), loop_axes.begin() + plan.lane_axes);
  }
  std::vector<Halide::Range> ranges;
  if (plan.lanes) ranges.emplace_back(0, static_cast<int>(plan.blocks));
  for (int64_t a : loop_axes) ranges.emplace_back(0, static_cast<int>(xd[a]));
  if (!ranges.empty()) l.rdom = RDom(ranges, absl::StrCat("r_", id));
  // The input index: kept axes from the output's vars, reduced ones from the
  // RDom (and the lane).
  Var lane("lane"), chunk("chunk");
  Index src(xd.size());
  int out_axis = 0;
  for (int d = 0; d < static_cast<int>(xd.size()); ++d) {
    auto it = std::find(loop_axes.begin(), loop_axes.end(), d);
    if (it != loop_axes.end()) {
      src[d] = l.rdom[static_cast<int>(it - loop_axes.begin()) +
                      (plan.lanes ? 1 : 0)];
      if (keepdims) ++out_axis;
    } else if (std::find(axes.begin(), axes.end(), d) != axes.end()) {
      if (keepdims) ++out_axis;  // The lanes' axis: set below.
    } else {
      src[d] = l.vars[out_axis++];
      // The innermost output dimension, rounded up to whole vectors.
      if (plan.vector_out && out_axis == node.type.rank()) {
        src[d] = Halide::min(src[d], static_cast<int>(xd[d] - 1));
      }
    }
  }
  Expr v;
  if (plan.lanes) {
    Expr pos = chunk * static_cast<int>(plan.blocks * plan.width) +
               l.rdom.x * plan.width + lane;
    const Expr in = Halide::min(pos, static_cast<int>(plan.extent - 1));
    if (plan.lane_axes == 1) {
      src[axes.back()] = in;
      v = Halide::cast(acc_t, At(x, src));
    } else {
      // The fused axes' flat position, plus the outer axes' strides.
      const std::vector<int64_t> strides = RowMajorStrides(xd);
      Expr flat = in;
      for (int d = 0; d < static_cast<int>(xd.size()) - plan.lane_axes; ++d) {
        flat += src[d] * static_cast<int>(strides[d]);
      }
      v = Halide::cast(acc_t, (*FlatView(x))(flat));
    }
    if (plan.chunks * plan.blocks * plan.width > plan.extent) {
      v = Halide::select(pos < static_cast<int>(plan.extent), v, identity);
    }
    // partial(lane, chunk, out...) reduces its share of the axis.
    std::vector<Var> pv = {lane, chunk};
    pv.insert(pv.end(), hv.begin(), hv.end());
    std::vector<Expr> pargs(pv.begin(), pv.end());
    l.partial = Func(absl::StrCat("partial", id));
    l.partial(pv) = identity;
    l.partial(pargs) = op.combine(l.partial(pargs), v);
    // The accumulator reduces over lanes and chunks.
    RDom lanes(0, plan.width, 0, static_cast<int>(plan.chunks),
               absl::StrCat("lanes", id));
    std::vector<Expr> from = {lanes.x, lanes.y};
    from.insert(from.end(), hv.begin(), hv.end());
    l.acc = Func(absl::StrCat("acc", id));
    l.acc(hv) = identity;
    l.acc(hargs) = op.combine(l.acc(hargs), l.partial(from));
  } else {
    v = Halide::cast(acc_t, At(x, src));
    l.acc = Func(absl::StrCat("acc", id));
    l.acc(hv) = identity;
    l.acc(hargs) = op.combine(l.acc(hargs), v);
  }
  l.func = Func(absl::StrCat("v_", id));
  l.func(hv) = Halide::cast(t, l.acc(hargs));
}

ReductionPlan PlanReduction(const Graph& g, ValueId v,
                            const Halide::Target& target, bool flat_input) {
  const Node& node = g.node(v);
  ReductionPlan plan;
  const Dims& xd = g.type(node.inputs[0]).dims;
  const auto& axes = node.attrs.GetInts("axes");
  const int64_t n_out = NumElements(node.type.dims);
  plan.work = NumElements(xd);
  plan.parallel_out = n_out >= 2 && plan.work >= kParallelThreshold;
  const Halide::Type t = HalideType(node.type.dtype);
  const Halide::Type acc_t =
      ReductionOf(node.op).widens ? AccumulatorType(t) : t;
  plan.vec = target.natural_vector_size(acc_t);
  const Dims& out = node.type.dims;
  plan.vector_out = !out.empty() && out.back() >= plan.vec &&
                    plan.work >= kVectorizeThreshold;
  if (xd.empty() || axes.empty() ||
      axes.back() != static_cast<int64_t>(xd.size()) - 1) {
    return plan;
  }
  plan.extent = xd.back();
  if (flat_input) {
    for (int d = static_cast<int>(xd.size()) - 2,
             i = static_cast<int>(axes.size()) - 2;
         d >= 0 && i >= 0 && axes[i] == d; --d, --i) {
      plan.extent *= xd[d];
      ++plan.lane_axes;
    }
  }
  if (plan.extent < 2 * plan.vec || plan.work < kVectorizeThreshold)
    return plan;
  plan.lanes = true;
  plan.vector_out = false;
  // Long rows: several vectors of lanes, independent chains of adds.
  plan.width = plan.vec * (plan.extent >= 16 * plan.vec ? 4 : 1);
  // Few outputs from a long axis: parallel chunks of it too.
  if (n_out < 8 && plan.work >= 4 * kParallelThreshold) {
    plan.chunks = std::min<int64_t>(64, plan.extent / (64 * plan.width));
    plan.chunks = std::max<int64_t>(plan.chunks, 1);
  }
  const int64_t per_chunk = (plan.extent + plan.chunks - 1) / plan.chunks;
  plan.blocks = (per_chunk + plan.width - 1) / plan.width;
  return plan;
}

namespace {

// Parallel over the output: the axes outside the innermost fused into one
// loop, or the innermost alone when those are all 1 (keepdims: batch
// norm's statistics are [1, C, 1, 1], whose outermost axis is 1; a loop
// over it ran each of ResNet-18's on one core).
void ParallelOverOutputs(Halide::Stage stage, const std::vector<Var>& hv,
                         const Dims& out) {
  const int r = static_cast<int>(hv.size());
  int64_t outer = 1;
  for (int d = 1; d < r; ++d) outer *= out[r - 1 - d];
  if (outer < 2) {
    stage.parallel(hv[0]);
    return;
  }
  stage.parallel(FuseOuterAxes(stage, hv));
}

}  // namespace

void Lowering::ScheduleReduction(ValueId v) {
  Lowered& l = values_[v];
  const Node& node = g_.node(v);
  const Dims& out = node.type.dims;
  const ReductionPlan plan =
      PlanReduction(g_, v, target_, FlatInput(node.inputs[0]));
  l.acc.compute_root();
  const std::vector<Var> hv = l.acc.args();
  if (plan.lanes) {
    // Vector lanes (and chunks) over the contiguous reduced axis, then a
    // short combine over them per output element.
    const std::vector<Var> pv = l.partial.args();  // (lane, chunk, out...)
    std::vector<Halide::VarOrRVar> order = {pv[0]};
    for (int d = 0; d < l.rdom.dimensions(); ++d) order.push_back(l.rdom[d]);
    for (size_t d = 1; d < pv.size(); ++d) order.push_back(pv[d]);
    l.partial.vectorize(pv[0]);
    l.partial.update().reorder(order).vectorize(pv[0]);
    if (plan.chunks > 1 || hv.empty()) {
      l.partial.compute_root();
      if (plan.chunks > 1) l.partial.update().parallel(pv[1]);
    } else {
      l.partial.compute_at(l.acc, hv[0]);
      if (plan.parallel_out) ParallelOverOutputs(l.acc.update(), hv, out);
    }
    return;
  }
  // Otherwise the reduction loop sits inside the output's loops: vectorized
  // over the innermost output dimension when it is wide (the input is
  // contiguous there), parallel over the outer ones when there is work.
  const int r = static_cast<int>(out.size());
  if (r == 0) return;
  if (plan.vector_out) {
    // Whole vectors: the accumulator's extent is rounded up (its storage
    // grows with it) and the input index clamped (LowerReduce).
    l.acc.vectorize(hv[0], plan.vec, TailStrategy::RoundUp);
    l.acc.update().vectorize(hv[0], plan.vec, TailStrategy::RoundUp);
  }
  if (plan.parallel_out) ParallelOverOutputs(l.acc.update(), hv, out);
}

}  // namespace adc::codegen::lowering
