// Scans (cumsum) and scatters (scatter_add): ops whose Func has an update
// definition that runs in order along an axis or over the updates; the
// algorithm and the schedule of each.
#include "absl/strings/str_cat.h"
#include "codegen/lowering.h"

namespace adc::codegen::lowering {

// out = cumsum along axis: inc(k) = sum_{j <= k} src(j) with src(j) =
// x(reverse ? n - 1 - j : j); exclusive results are inc(k - 1) (0 at k = 0).
void Lowering::LowerCumSum(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId x = node.inputs[0];
  const int64_t axis = node.attrs.GetInt("axis");
  const bool exclusive = node.attrs.GetBool("exclusive");
  const bool reverse = node.attrs.GetBool("reverse");
  const int n = static_cast<int>(node.type.dims[axis]);
  const Halide::Type t = TypeOf(id);
  const Halide::Type acc_t = AccumulatorType(t);
  Lowered& l = values_[id];
  l.vars = MakeVars(node.type.rank());
  auto flip = [&](Expr k) { return reverse ? (n - 1) - k : k; };
  Index i = AsIndex(l.vars);
  const std::vector<Var> hv = HalideVars(l.vars);
  // Reads of x, with the innermost index clamped when the scan is
  // vectorized over it in whole vectors (ScheduleScan).
  Index in = i;
  if (ScanVectorized(g_, id, target_)) {
    const int last = node.type.rank() - 1;
    in[last] = Halide::min(i[last], static_cast<int>(node.type.dims[last] - 1));
  }
  l.acc = Func(absl::StrCat("acc", id));
  {
    Index src = in;
    src[axis] = flip(i[axis]);
    l.acc(hv) = Halide::cast(acc_t, At(x, src));
  }
  if (n > 1) {
    l.rdom = RDom(1, n - 1, absl::StrCat("s_", id));
    Index cur = i, prev = i, src = in;
    cur[axis] = l.rdom.x;
    prev[axis] = l.rdom.x - 1;
    src[axis] = flip(l.rdom.x);
    l.acc(ToHalideArgs(cur)) = StrictIfFloat(l.acc(ToHalideArgs(prev)) +
                                             Halide::cast(acc_t, At(x, src)));
  }
  Index k = i;
  k[axis] = flip(i[axis]);
  Expr value;
  if (exclusive) {
    Index before = k;
    before[axis] = Halide::max(k[axis] - 1, 0);
    value = Halide::select(k[axis] == 0, Const(acc_t, 0),
                           l.acc(ToHalideArgs(before)));
  } else {
    value = l.acc(ToHalideArgs(k));
  }
  l.func = Func(absl::StrCat("v_", id));
  l.func(hv) = Halide::cast(t, value);
}

// out = base; out[p, clamp(idx[j]), q] += updates[p, j, q].
void Lowering::LowerScatterAdd(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId base = node.inputs[0], indices = node.inputs[1],
                updates = node.inputs[2];
  const int64_t axis = node.attrs.GetInt("axis");
  const int ir = g_.type(indices).rank();
  const Dims& ud = DimsOf(updates);
  const int64_t n = node.type.dims[axis];
  Lowered& l = values_[id];
  l.vars = MakeVars(node.type.rank());
  const std::vector<Var> hv = HalideVars(l.vars);
  l.acc = Func(absl::StrCat("acc", id));
  l.acc(hv) = At(base, AsIndex(l.vars));
  if (NumElements(ud) == 0) {
    l.func = Func(absl::StrCat("v_", id));
    l.func(hv) = l.acc(std::vector<Expr>(hv.begin(), hv.end()));
    return;
  }
  Index u;
  if (!ud.empty()) {
    std::vector<Halide::Range> ranges;
    for (auto it = ud.rbegin(); it != ud.rend(); ++it) {
      ranges.emplace_back(0, static_cast<int>(*it));
    }
    l.rdom = RDom(ranges, absl::StrCat("u_", id));
    for (int d = 0; d < static_cast<int>(ud.size()); ++d) {
      u.push_back(l.rdom[static_cast<int>(ud.size()) - 1 - d]);
    }
  }
  Index idx(u.begin() + axis, u.begin() + axis + ir);
  Expr k = ClampIndex(At(indices, idx), n);
  Index dst(u.begin(), u.begin() + axis);
  dst.push_back(k);
  dst.insert(dst.end(), u.begin() + axis + ir, u.end());
  l.acc(ToHalideArgs(dst)) =
      StrictIfFloat(l.acc(ToHalideArgs(dst)) + At(updates, u));
  l.func = Func(absl::StrCat("v_", id));
  l.func(hv) = l.acc(std::vector<Expr>(hv.begin(), hv.end()));
}

bool ScanVectorized(const Graph& g, ValueId v, const Halide::Target& target) {
  const Node& node = g.node(v);
  const Dims& dims = node.type.dims;
  const int r = static_cast<int>(dims.size());
  const Halide::Type acc_t = AccumulatorType(HalideType(node.type.dtype));
  return r >= 1 && node.attrs.GetInt("axis") != r - 1 &&
         dims[r - 1] >= target.natural_vector_size(acc_t);
}

void Lowering::ScheduleScan(ValueId v) {
  Lowered& l = values_[v];
  const Node& node = g_.node(v);
  l.acc.compute_root();
  // Vectorized and parallel over the other axes; the scan axis is sequential.
  const Dims& dims = node.type.dims;
  const int r = static_cast<int>(dims.size());
  const int h_axis = r - 1 - static_cast<int>(node.attrs.GetInt("axis"));
  const std::vector<Var> hv = l.acc.args();
  const int vec = target_.natural_vector_size(l.acc.output_types()[0]);
  const bool has_update = l.rdom.defined();
  if (ScanVectorized(g_, v, target_)) {
    // Whole vectors (padded accumulator, clamped reads: LowerCumSum); a
    // guarded tail on the update is unsafe in Halide 14 (ReductionPlan).
    l.acc.vectorize(hv[0], vec, TailStrategy::RoundUp);
    if (has_update) {
      l.acc.update().vectorize(hv[0], vec, TailStrategy::RoundUp);
    }
  }
  if (NumElements(dims) >= kParallelThreshold && r >= 2) {
    const int p = h_axis == r - 1 ? r - 2 : r - 1;
    l.acc.parallel(hv[p]);
    if (has_update) l.acc.update().parallel(hv[p]);
  }
}

// The copy of the base is dense; the scattered updates stay serial (two
// updates may hit one element).
void Lowering::ScheduleScatter(ValueId v) {
  Lowered& l = values_[v];
  l.acc.compute_root();
  ScheduleDense(l.acc, g_.node(v).type.dims, TypeOf(v));
  if (l.acc.num_update_definitions() > 0) l.acc.update().unscheduled();
}

}  // namespace adc::codegen::lowering
