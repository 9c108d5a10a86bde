// Matrix products: c[..., i, j] = sum_k a[..., i, k] * b[..., k, j], as
// register tiles over b packed into panels, with the schedule that keeps
// each panel in cache (the blocking follows the target's registers).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "codegen/lowering.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"

namespace adc::codegen::lowering {
namespace {

// Parallel tasks a matmul aims for (fewer leave cores idle on uneven
// work) and the packing of b when it runs before the product.
constexpr int64_t kMinMatMulTasks = 8;
constexpr int64_t kPackTasks = 16;

// Whether a value is computed from a constant or iota leaf without passing
// through a buffer (a reduction's, matmul's, scan's or scatter's), so that
// LLVM may see its elements.
bool ReadsConstant(const Graph& g, ValueId v) {
  const Node& node = g.node(v);
  if (node.op == OpKind::kConstant || node.op == OpKind::kIota) return true;
  // Arguments and ops with update definitions are computed into a buffer.
  if (!FusesIntoConsumers(FamilyOf(node.op))) return false;
  for (ValueId in : node.inputs) {
    if (ReadsConstant(g, in)) return true;
  }
  return false;
}

// Whether v's last axis is its source's last axis when v is read through
// transposes (the common case: x^T's last axis is strided, x's is not).
bool LastAxisContiguous(const Graph& g, ValueId v) {
  int axis = g.type(v).rank() - 1;
  while (g.node(v).op == OpKind::kTranspose) {
    axis = static_cast<int>(g.node(v).attrs.GetInts("perm")[axis]);
    v = g.node(v).inputs[0];
  }
  return axis == g.type(v).rank() - 1;
}

}  // namespace

MatMulBlock PlanMatMul(int64_t m, int64_t n, const Halide::Target& target,
                       Halide::Type t) {
  const int vec = target.natural_vector_size(t);
  const bool many_registers = target.has_feature(Halide::Target::AVX512);
  const int rows = 6;
  const int vecs = many_registers ? 4 : 2;
  MatMulBlock b;
  b.cols = n >= vecs * vec ? vecs * vec : n >= vec ? vec : 0;
  b.rows =
      static_cast<int>(std::min<int64_t>(b.cols == vecs * vec ? rows : 4, m));
  return b;
}

// c[..., i, j] = sum_k a[..., i, k] * b[..., k, j], accumulated per register
// tile in `acc` and copied to the value's Func. b is first packed into
// zero-padded panels of `cols` columns (contiguous, whatever b's stride or
// layout), and rows of a are clamped, so a tile that rounds up past the edge
// reads valid memory (its extra results are never stored).
void Lowering::LowerMatMul(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId a = node.inputs[0], b = node.inputs[1];
  const int r = node.type.rank();
  const int64_t k = DimsOf(a)[r - 1];
  const int m = static_cast<int>(node.type.dims[r - 2]);
  const int n = static_cast<int>(node.type.dims[r - 1]);
  const Halide::Type t = TypeOf(id);
  const MatMulBlock block = PlanMatMul(m, n, target_, t);
  Lowered& l = values_[id];
  l.vars = MakeVars(r);
  l.rdom = RDom(0, static_cast<int>(k), absl::StrCat("k_", id));
  Index ai = AsIndex(l.vars), bi = AsIndex(l.vars);
  ai[r - 2] = Halide::min(l.vars[r - 2], m - 1);
  ai[r - 1] = l.rdom.x;
  const std::vector<Var> hv = HalideVars(l.vars);
  std::vector<Expr> hargs(hv.begin(), hv.end());
  Expr a_value = At(a, ai), b_value;
  if (block.cols > 0) {
    // packed(jj, kk, panel, batch...) = b[batch..., kk, panel * cols + jj].
    Var jj("jj"), kk("kk"), panel("panel");
    std::vector<Var> pv = {jj, kk, panel};
    pv.insert(pv.end(), hv.begin() + 2, hv.end());
    // b_cols(kk, col, batch...) = b[batch..., kk, col], zero past the last
    // column: b with k first, a Func of its own so that a transposed b can
    // be read in square blocks along k (SchedulePacking); inlined otherwise.
    Var bk("bk"), bc("bc");
    std::vector<Var> bv = {bk, bc};
    bv.insert(bv.end(), hv.begin() + 2, hv.end());
    Index src(r);
    for (int d = 0; d < r - 2; ++d) src[d] = l.vars[d];
    src[r - 2] = bk;
    src[r - 1] = Halide::min(bc, n - 1);
    l.b_cols = Func(absl::StrCat("b_cols", id));
    l.b_cols(bv) = Halide::select(bc < n, At(b, src), Const(t, 0));
    std::vector<Expr> bargs = {kk, panel * block.cols + jj};
    bargs.insert(bargs.end(), hv.begin() + 2, hv.end());
    l.packed = Func(absl::StrCat("packed", id));
    l.packed(pv) = l.b_cols(bargs);
    std::vector<Expr> pargs = {l.vars[r - 1] % block.cols, l.rdom.x,
                               l.vars[r - 1] / block.cols};
    pargs.insert(pargs.end(), hv.begin() + 2, hv.end());
    b_value = l.packed(pargs);
  } else {
    bi[r - 2] = l.rdom.x;
    b_value = At(b, bi);
  }
  l.acc = Func(absl::StrCat("acc", id));
  l.acc(hv) = Const(t, 0);
  // Accumulated under Halide's fast-math flags (for FMA contraction) on
  // data LLVM cannot see; an operand it could see as a constant would let
  // it fold x * NaN or x * 0 to anything (RandomGraphsTest), so then the
  // arithmetic is strict.
  Expr sum = l.acc(hargs) + a_value * b_value;
  if (t.is_float() && (ReadsConstant(g_, a) || ReadsConstant(g_, b))) {
    sum = Halide::strict_float(sum);
  }
  l.acc(hargs) = sum;
  l.func = Func(absl::StrCat("v_", id));
  l.func(hv) = l.acc(hargs);
}

// b's zero-padded panels (matmul), in blocks of rows of b by one vector of
// columns. Packed per task (at `task`) when each task has a panel of its
// own: then the packing runs in parallel with no loop of its own, and the
// panel is in cache when the task reads it (AVX-512, 2 threads: 256x784 @
// 784x512 0.61 -> 0.56 ms, a @ b^T 0.84 -> 0.74 ms, against packing all
// panels first in one parallel loop). Otherwise all panels first, in
// parallel over blocks of rows of b (when the product is `parallel`).
// An untransposed b is copied vector by vector, each row of b read once in
// order. A transposed b (strided along its columns) is read in square
// blocks of one vector by one vector: b_cols loads each column's run of k
// with dense loads, and the packing reads the block transposed, which LLVM
// does in registers with shuffles (AVX-512: a @ b^T, 256x512 @ (784x512)^T,
// 0.84 -> 0.64 ms; blocks vectorized in both axes at once were gathered
// with scalar loads, a quarter of the time). Tails are guarded
// (ShiftInwards would start a short K at a row before the start of b).
void Lowering::SchedulePacking(ValueId v, int cols, int panels,
                               std::optional<Var> task, bool parallel) {
  Lowered& l = values_[v];
  const Node& node = g_.node(v);
  const int r = node.type.rank();
  const int64_t k = DimsOf(node.inputs[0])[r - 1];
  const Halide::Type t = TypeOf(v);
  const int vec = target_.natural_vector_size(t);
  const std::vector<Var> pv = l.packed.args();  // (jj, kk, panel, batch...)
  const bool per_task = task.has_value();
  const bool transposed = !LastAxisContiguous(g_, node.inputs[1]);
  l.packed.bound(pv[0], 0, cols);
  if (per_task) {
    l.packed.compute_at(l.func, *task);
  } else {
    l.packed.compute_root().bound(pv[2], 0, panels);
  }
  // Rows of b per parallel task when packing all panels first: about
  // kPackTasks tasks, whole blocks of 32 rows.
  int64_t tasks = transposed ? panels : 1;  // Else rows of all panels.
  for (int d = 0; d < r - 2; ++d) tasks *= node.type.dims[d];
  const int64_t per_k = std::max<int64_t>(1, (kPackTasks + tasks - 1) / tasks);
  const int task_rows =
      per_task ? static_cast<int>(std::max<int64_t>(k, 1))
               : static_cast<int>(((k + per_k - 1) / per_k + 31) / 32 * 32);
  Var kt("kt"), kr("kr"), ko("ko"), ki("ki"), jo("jo"), ji("ji");
  l.packed.split(pv[1], kt, kr, task_rows, TailStrategy::GuardWithIf)
      .split(pv[0], jo, ji, vec)
      .vectorize(ji);
  if (transposed) {
    l.packed.split(kr, ko, ki, vec, TailStrategy::GuardWithIf)
        .reorder(ji, ki, jo, ko, kt)
        .unroll(ki);
    const std::vector<Var> bv = l.b_cols.args();
    l.b_cols.compute_at(l.packed, jo)
        .bound_extent(bv[1], vec)
        .vectorize(bv[0], vec, TailStrategy::GuardWithIf)
        .unroll(bv[1]);
  } else if (per_task) {
    l.packed.reorder(ji, jo, kr, kt);
  } else {
    // Each row of b read once, in order, written to every panel.
    l.packed.reorder(ji, jo, pv[2], kr, kt);
  }
  if (per_task || !parallel) return;
  Var blocks = kt;
  for (size_t d = transposed ? 2 : 3; d < pv.size(); ++d) {
    Var fused(absl::StrCat("blocks", d));
    l.packed.fuse(blocks, pv[d], fused);
    blocks = fused;
  }
  l.packed.parallel(blocks);
}

void Lowering::ScheduleMatMul(ValueId v) {
  Lowered& l = values_[v];
  const Node& node = g_.node(v);
  const Dims& out = node.type.dims;
  const int r = static_cast<int>(out.size());
  const int64_t m = out[r - 2], n = out[r - 1];
  const int64_t k = DimsOf(node.inputs[0])[r - 1];
  const Halide::Type t = TypeOf(v);
  const int vec = target_.natural_vector_size(t);
  const MatMulBlock block = PlanMatMul(m, n, target_, t);
  const bool parallel = NumElements(out) * k >= kParallelThreshold;
  Func f = l.func, acc = l.acc;
  const std::vector<Var> hv = f.args();  // (j, i, batch...)
  const Var j = hv[0], i = hv[1];
  f.compute_root();
  if (block.cols == 0) {
    // Narrow products (n < one vector): rows in parallel, K innermost.
    acc.compute_at(f, i);
    if (parallel && m >= 2) f.parallel(i);
    return;
  }
  // Tasks: one per column panel (batch dims fused in), each walking the
  // blocks of rows under it, so that its panel of b stays in cache while
  // a's rows stream by; with fewer than kMinMatMulTasks panels, the rows
  // are split into groups too. (Measured on AVX-512, 2 threads, the MLP
  // step: one task per block of rows walking every panel 6.3 ms, per panel
  // 4.8 ms: each row block read all of b, 1.6 MB, from L3.)
  const int64_t row_blocks = (m + block.rows - 1) / block.rows;
  const int panels = static_cast<int>((n + block.cols - 1) / block.cols);
  int64_t batch = 1;
  for (int d = 0; d < r - 2; ++d) batch *= out[d];
  int64_t groups = 1;
  if (parallel && panels * batch < kMinMatMulTasks) {
    groups = std::min(
        row_blocks, (kMinMatMulTasks + panels * batch - 1) / (panels * batch));
  }
  const int group_rows =
      static_cast<int>((row_blocks + groups - 1) / groups) * block.rows;
  Var jo("jo"), ji("ji"), io("io"), ii("ii"), ig("ig"), i2("i2");
  f.split(j, jo, ji, block.cols, TailStrategy::GuardWithIf)
      .split(i, ig, i2, group_rows, TailStrategy::GuardWithIf)
      .split(i2, io, ii, block.rows, TailStrategy::GuardWithIf)
      .reorder(ji, ii, io, jo, ig);
  Var task("task");
  f.fuse(jo, ig, task);
  for (int d = 2; d < r; ++d) {
    Var fused(absl::StrCat("task", d));
    f.fuse(task, hv[d], fused);
    task = fused;
  }
  if (parallel) f.parallel(task);
  SchedulePacking(v, block.cols, panels,
                  groups == 1 ? std::optional<Var>(task) : std::nullopt,
                  parallel);
  f.vectorize(ji, vec, TailStrategy::GuardWithIf);
  // The block has the same extent in every tile (tail tiles compute extra
  // elements from padded panels and clamped rows), so the accumulators stay
  // in registers.
  acc.compute_at(f, io)
      .bound_extent(j, block.cols)
      .bound_extent(i, block.rows)
      .vectorize(j, vec, TailStrategy::RoundUp)
      .unroll(j)
      .unroll(i);
  acc.update()
      .reorder(j, i, l.rdom.x)
      .vectorize(j, vec, TailStrategy::RoundUp)
      .unroll(j)
      .unroll(i);
}

}  // namespace adc::codegen::lowering
