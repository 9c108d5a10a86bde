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
// Multiply-adds below which a product's tasks (panels by groups of rows)
// run in groups: a parallel task costs about a microsecond to start.
constexpr int64_t kMinTaskMacs = int64_t{1} << 18;
// A panel's bytes above which tasks that share panels share blocks of k
// too (PlanKBlock): about a last-level cache's share per core.
constexpr int64_t kSharedPanelBytes = int64_t{4} << 20;
// Multiply-adds of a shared block of k below which it is not shared.
constexpr int64_t kMinSharedBlockMacs = int64_t{4} << 20;
// Dot products (DotPlan): at most this many outputs (their lanes' sums
// are stored, vec x chunks per output), and at least this many vectors
// of k per chunk.
constexpr int64_t kMaxDotOutputs = 2048;
constexpr int64_t kMinDotSteps = 256;

}  // namespace

bool ReadsConstant(const Graph& g, const Plan& plan, ValueId v) {
  // Values the plan stores (here or in an earlier stage) are read from
  // their buffers.
  if (!plan.why[v].empty()) return false;
  const Node& node = g.node(v);
  if (node.op == OpKind::kConstant || node.op == OpKind::kIota) return true;
  // Arguments and ops with update definitions are computed into a buffer.
  if (!FusesIntoConsumers(FamilyOf(node.op))) return false;
  for (ValueId in : node.inputs) {
    if (ReadsConstant(g, plan, in)) return true;
  }
  return false;
}

bool LastAxisContiguous(const Graph& g, ValueId v) {
  int axis = g.type(v).rank() - 1;
  while (g.node(v).op == OpKind::kTranspose) {
    axis = static_cast<int>(g.node(v).attrs.GetInts("perm")[axis]);
    v = g.node(v).inputs[0];
  }
  return axis == g.type(v).rank() - 1;
}

MatMulBlock PlanMatMul(int64_t m, int64_t n, const Halide::Target& target,
                       Halide::Type t) {
  const int vec = target.natural_vector_size(t);
  const bool many_registers = target.has_feature(Halide::Target::AVX512);
  const int rows = 6;
  const int vecs = many_registers ? 4 : 2;
  MatMulBlock b;
  b.cols = n >= vecs * vec ? vecs * vec : n >= vec ? vec : 0;
  // Narrower than a block but close to a whole number of vectors (a
  // convolution's output row of 56 or 28 pixels): those vectors, the last
  // one padded, with the full block's rows.
  const int64_t whole = (n + vec - 1) / vec;
  if (n > vec && n < vecs * vec && (whole * vec - n) * 4 <= n) {
    b.cols = static_cast<int>(whole) * vec;
    b.rows = static_cast<int>(std::min<int64_t>(rows, m));
    return b;
  }
  b.rows =
      static_cast<int>(std::min<int64_t>(b.cols == vecs * vec ? rows : 4, m));
  return b;
}

DotPlan PlanDot(int64_t m, int64_t n, int64_t k, const Halide::Target& target,
                Halide::Type t) {
  DotPlan p;
  const int vec = target.natural_vector_size(t);
  if (m * n > kMaxDotOutputs || k < kMinDotSteps * vec) return p;
  p.vec = vec;
  // rows x cols accumulators, plus rows vectors of a and one of b: 24 + 4
  // of 32 registers (AVX-512), 12 + 4 of 16.
  const bool many_registers = target.has_feature(Halide::Target::AVX512);
  p.rows = static_cast<int>(std::min<int64_t>(3, m));
  p.cols = static_cast<int>(std::min<int64_t>(many_registers ? 8 : 4, n));
  p.chunks =
      std::clamp<int64_t>(k / (kMinDotSteps * vec), 1, 2 * kMinMatMulTasks);
  p.steps = (k + p.chunks * vec - 1) / (p.chunks * vec);
  return p;
}

namespace {

// Whether tasks share packed panels (ScheduleMatMul's groups > 1).
bool TasksSharePanels(const ProductShape& shape, const MatMulBlock& block) {
  int64_t batch = 1;
  for (int64_t d : shape.batch) batch *= d;
  const bool parallel =
      batch * shape.m * shape.n * shape.k >= kParallelThreshold;
  const int64_t panels = (shape.n + block.cols - 1) / block.cols;
  return parallel && panels * batch < kMinMatMulTasks;
}

// A product's tasks as one loop: a panel (jo) by a group of rows (ig),
// then the batch axes (vars[2...], innermost first).
Var FuseTasks(Halide::Stage s, Var jo, Var ig, const std::vector<Var>& vars) {
  Var task("task");
  s.fuse(jo, ig, task);
  for (size_t d = 2; d < vars.size(); ++d) {
    Var fused(absl::StrCat("task", d));
    s.fuse(task, vars[d], fused);
    task = fused;
  }
  return task;
}

// One block's sum per register tile (kpartial), computed at `tile`, a
// loop of acc's update over whole tiles: rows by columns in registers.
void ScheduleBlockSum(const Lowered& l, Func acc, Var tile,
                      const MatMulBlock& block, int vec) {
  const std::vector<Var> av = acc.args();  // (j, i, batch...)
  Func part = l.kpartial;
  part.compute_at(acc, tile)
      .bound_extent(av[0], block.cols)
      .bound_extent(av[1], block.rows)
      .vectorize(av[0], vec, TailStrategy::RoundUp)
      .unroll(av[0])
      .unroll(av[1]);
  part.update()
      .reorder(av[0], av[1], l.rdom.x)
      .vectorize(av[0], vec, TailStrategy::RoundUp)
      .unroll(av[0])
      .unroll(av[1]);
}

// Whether a panel of b (all k terms by the block's columns) fits in the
// cache a task has: then it is packed whole, or read in place.
bool PanelFits(const ProductShape& shape, const MatMulBlock& block,
               Halide::Type t) {
  return shape.k * block.cols * t.bytes() <= kPanelBytes;
}

}  // namespace

int64_t PlanKBlock(const ProductShape& shape, const MatMulBlock& block,
                   Halide::Type t) {
  if (block.cols == 0) return 0;
  if (PanelFits(shape, block, t)) return 0;
  const int vec = 16;  // Blocks of whole vectors on every target.
  for (int64_t kb = 512; kb >= 128; kb -= vec) {
    if (shape.k % kb != 0) continue;
    if (!TasksSharePanels(shape, block)) return kb;
    // Shared blocks start two parallel loops per block: worth it when the
    // tasks' own panels would stream from memory and a block is work
    // enough. (A 7x7/2 convolution's weight gradient, 25 MB per panel, 64
    // x 192 per block: 10.3 -> 9.6 ms; the small CNN's weight gradients,
    // 9 x 32 per block: 0.64 -> 0.95 ms, and 288 x 64 with 2.7 MB panels:
    // 1.39 -> 1.61 ms.)
    const int64_t panels = (shape.n + block.cols - 1) / block.cols;
    int64_t batch = 1;
    for (int64_t d : shape.batch) batch *= d;
    const bool shared =
        shape.k * block.cols * t.bytes() > kSharedPanelBytes &&
        batch * shape.m * panels * block.cols * kb >= kMinSharedBlockMacs;
    return shared ? kb : 0;
  }
  return 0;
}

// c[batch..., i, j] = sum_k a(i, k) * b(k, j), accumulated per register
// tile in `acc` and copied to `product`. b is first packed into zero-padded
// panels of `cols` columns (contiguous, whatever b's stride, layout or
// computation), and rows of a are clamped, so a tile that rounds up past
// the edge reads valid memory (its extra results are never stored).
void Lowering::DefineProduct(ValueId id, const ProductShape& shape,
                             const ProductOperand& a, const ProductOperand& b,
                             bool strict) {
  const Halide::Type t = TypeOf(id);
  const MatMulBlock block = PlanMatMul(shape.m, shape.n, target_, t);
  const int nb = static_cast<int>(shape.batch.size());
  const int m = static_cast<int>(shape.m), n = static_cast<int>(shape.n);
  Lowered& l = values_[id];
  l.shape = shape;
  const std::vector<Var> vars = MakeVars(nb + 2);  // batch..., i, j
  const Var i = vars[nb], j = vars[nb + 1];
  const std::vector<Var> hv = HalideVars(vars);
  std::vector<Expr> hargs(hv.begin(), hv.end());
  std::vector<Expr> batch(vars.begin(), vars.begin() + nb);
  std::vector<Expr> batch_h(hv.begin() + 2, hv.end());  // Innermost first.
  l.rdom = RDom(0, static_cast<int>(shape.k), absl::StrCat("k_", id));
  Expr a_value = a(Halide::min(i, m - 1), l.rdom.x, batch), b_value;
  // b in place only while a panel of it would fit in cache: a longer sum
  // read in place ran 5-13% slower than packed blocks of k (ResNet-18's
  // 512->512 at 7x7 and its input gradient, k = 4608).
  const bool in_place =
      shape.b_in_place && block.cols > 0 && PanelFits(shape, block, t);
  if (block.cols > 0 && !in_place) {
    // b_cols(kk, col, batch...) = b(kk, col), zero past the last column: b
    // with k first, a Func of its own so that a transposed b can be read in
    // square blocks along k (SchedulePacking); inlined otherwise.
    Var bk("bk"), bc("bc");
    std::vector<Var> bv = {bk, bc};
    bv.insert(bv.end(), hv.begin() + 2, hv.end());
    l.b_cols = Func(absl::StrCat("b_cols", id));
    l.b_cols(bv) =
        shape.b_columns_padded
            ? b(bk, bc, batch)
            : Halide::select(bc < n, b(bk, Halide::min(bc, n - 1), batch),
                             Const(t, 0));
    // packed(jj, kk, panel, batch...) = b_cols(kk, panel * cols + jj).
    Var jj("jj"), kk("kk"), panel("panel");
    std::vector<Var> pv = {jj, kk, panel};
    pv.insert(pv.end(), hv.begin() + 2, hv.end());
    std::vector<Expr> bargs = {kk, panel * block.cols + jj};
    bargs.insert(bargs.end(), batch_h.begin(), batch_h.end());
    l.packed = Func(absl::StrCat("packed", id));
    l.packed(pv) = l.b_cols(bargs);
    std::vector<Expr> pargs = {j % block.cols, l.rdom.x, j / block.cols};
    pargs.insert(pargs.end(), batch_h.begin(), batch_h.end());
    b_value = l.packed(pargs);
  } else {
    b_value = b(l.rdom.x, j, batch);
  }
  l.acc = Func(absl::StrCat("acc", id));
  l.acc(hv) = Const(t, 0);
  // Accumulated under Halide's fast-math flags (for FMA contraction) on
  // data LLVM cannot see; an operand it could see as a constant would let
  // it fold x * NaN or x * 0 to anything (RandomGraphsTest), so then the
  // arithmetic is strict.
  auto strictly = [strict](Expr e) { return strict ? StrictIfFloat(e) : e; };
  const int64_t kb = PlanKBlock(shape, block, t);
  if (kb > 0) {
    // acc += partial over the blocks; each partial sums one block.
    l.rdom = RDom(0, static_cast<int>(kb), absl::StrCat("k_", id));
    l.blocks = RDom(0, static_cast<int>(shape.k / kb), absl::StrCat("kb_", id));
    l.kblock = kb;
    l.kshared = TasksSharePanels(shape, block);
    Var blk("kblk");
    std::vector<Var> pv = hv;
    pv.push_back(blk);
    std::vector<Expr> pargs(hargs);
    pargs.push_back(blk);
    Expr kk = blk * static_cast<int>(kb) + l.rdom.x;
    Expr av = a(Halide::min(i, m - 1), kk, batch);
    std::vector<Expr> bargs = {j % block.cols, kk, j / block.cols};
    bargs.insert(bargs.end(), batch_h.begin(), batch_h.end());
    l.kpartial = Func(absl::StrCat("kpartial", id));
    l.kpartial(pv) = Const(t, 0);
    l.kpartial(pv) = strictly(l.kpartial(pargs) + av * l.packed(bargs));
    std::vector<Expr> at_block(hargs);
    at_block.push_back(l.blocks.x);
    l.acc(hargs) = strictly(l.acc(hargs) + l.kpartial(at_block));
  } else {
    l.acc(hargs) = strictly(l.acc(hargs) + a_value * b_value);
  }
  l.product = Func(absl::StrCat("v_", id));
  l.product(hv) = l.acc(hargs);
}

void Lowering::DefineDotProduct(ValueId id, const ProductShape& shape,
                                const DotPlan& plan, const ProductOperand& a,
                                const ProductOperand& b, bool strict) {
  ADC_CHECK(shape.batch.empty() && shape.k == plan.padded_k());
  const Halide::Type t = TypeOf(id);
  Lowered& l = values_[id];
  l.shape = shape;
  l.dot_plan = plan;
  const int m = static_cast<int>(shape.m), n = static_cast<int>(shape.n);
  auto strictly = [strict](Expr e) { return strict ? StrictIfFloat(e) : e; };
  Var lane("dlane"), j("dj"), i("di"), chunk("dchunk");
  l.rdom = RDom(0, static_cast<int>(plan.steps), absl::StrCat("k_", id));
  const Expr kk =
      (chunk * static_cast<int>(plan.steps) + l.rdom.x) * plan.vec + lane;
  l.dot_tile = Func(absl::StrCat("dot_tile", id));
  l.dot_tile(lane, j, i, chunk) = Const(t, 0);
  l.dot_tile(lane, j, i, chunk) = strictly(
      l.dot_tile(lane, j, i, chunk) +
      a(Halide::min(i, m - 1), kk, {}) * b(kk, Halide::min(j, n - 1), {}));
  l.dot = Func(absl::StrCat("dot", id));
  l.dot(lane, j, i, chunk) = l.dot_tile(lane, j, i, chunk);
  RDom parts(0, plan.vec, 0, static_cast<int>(plan.chunks),
             absl::StrCat("parts", id));
  l.acc = Func(absl::StrCat("acc", id));
  l.acc(j, i) = Const(t, 0);
  l.acc(j, i) = strictly(l.acc(j, i) + l.dot(parts.x, j, i, parts.y));
  l.product = Func(absl::StrCat("v_", id));
  l.product(j, i) = l.acc(j, i);
}

void Lowering::LowerMatMul(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId a = node.inputs[0], b = node.inputs[1];
  const int r = node.type.rank();
  ProductShape shape;
  shape.m = node.type.dims[r - 2];
  shape.n = node.type.dims[r - 1];
  shape.k = DimsOf(a)[r - 1];
  shape.batch.assign(node.type.dims.begin(), node.type.dims.end() - 2);
  shape.b_transposed = !LastAxisContiguous(g_, b);
  auto element = [this](ValueId v) {
    return [this, v](Expr row, Expr col, const std::vector<Expr>& batch) {
      Index index = batch;
      index.push_back(row);
      index.push_back(col);
      return At(v, index);
    };
  };
  DefineProduct(id, shape, element(a), element(b), StrictProduct(a, b));
  Lowered& l = values_[id];
  l.func = l.product;
  l.vars = MakeVars(r);  // The product's vars: batch..., i, j.
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
  const ProductShape& shape = l.shape;
  const int64_t k = shape.k;
  const Halide::Type t = TypeOf(v);
  const int vec = target_.natural_vector_size(t);
  const std::vector<Var> pv = l.packed.args();  // (jj, kk, panel, batch...)
  const bool per_task = task.has_value();
  const bool transposed = shape.b_transposed;
  l.packed.bound(pv[0], 0, cols);
  if (l.kpartial.defined()) {  // One block of k at a time.
    l.packed.compute_at(l.acc, l.blocks.x);
  } else if (per_task) {
    l.packed.compute_at(l.product, *task);
  } else {
    l.packed.compute_root().bound(pv[2], 0, panels);
  }
  // Rows of b per parallel task when packing all panels first: about
  // kPackTasks tasks, whole blocks of 32 rows.
  int64_t tasks = transposed ? panels : 1;  // Else rows of all panels.
  for (int64_t d : shape.batch) tasks *= d;
  const int64_t per_k = std::max<int64_t>(1, (kPackTasks + tasks - 1) / tasks);
  const int64_t kb = l.kpartial.defined() ? l.kblock : k;
  const int task_rows =
      per_task ? static_cast<int>(std::max<int64_t>(kb, 1))
               : static_cast<int>(((kb + per_k - 1) / per_k + 31) / 32 * 32);
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
  const ProductShape& shape = l.shape;
  const int64_t m = shape.m, n = shape.n, k = shape.k;
  const Halide::Type t = TypeOf(v);
  const int vec = target_.natural_vector_size(t);
  const MatMulBlock block = PlanMatMul(m, n, target_, t);
  int64_t batch = 1;
  for (int64_t d : shape.batch) batch *= d;
  const bool parallel = batch * m * n * k >= kParallelThreshold;
  if (l.a_rows.defined()) {  // conv: the rows of a, stored first.
    // In tiles of 16 rows by 8 vectors of terms, in parallel: an input
    // gradient's rows are the weights transposed and flipped, a gather
    // whose rows of terms each read every output channel's weights (18 KB
    // apart at 512 channels); a tile reads 16 rows' runs of each.
    // (ResNet-18's 512->512 input gradient: 5 ms on one core, 3 ms on two
    // untiled.)
    const std::vector<Var> av = l.a_rows.args();  // (kk, row, g)
    l.a_rows.compute_root();
    // (The last tile of terms shifts inwards: in Halide 14 a guarded tile
    // whose inside is vectorized stored whole vectors past the row.)
    const int64_t run = l.a_rows_run;
    if (run >= 4 && run <= 2 * vec && k % run == 0 &&
        k * m * batch >= kParallelThreshold) {
      // Weights copied (an input gradient's, flipped and transposed): each
      // row's run of a kernel's pixels is one run of w (reversed), so runs
      // are vectors of `run` lanes, with dense loads and stores; 16 runs a
      // row (whole cache lines of it), rows inside, in parallel over blocks
      // of 16 runs. (ResNet-18's 512->512 input gradient at 7x7: perf
      // samples of the copy 2100 -> 1050-1390 per 150 runs, the 16 x 8
      // vector tiles below had gathered.)
      Var ko("a_ko"), ki("a_ki"), kb("a_kb"), kt("a_kt"), task("a_task");
      l.a_rows.split(av[0], ko, ki, static_cast<int>(run))
          .split(ko, kt, kb, 16, TailStrategy::GuardWithIf)
          .reorder(ki, kb, av[1], kt, av[2])
          .vectorize(ki)
          .fuse(kt, av[2], task)
          .parallel(task);
    } else if (k >= 8 * vec && k * m * batch >= kParallelThreshold) {
      Var ko("a_ko"), ki("a_ki"), ro("a_ro"), ri("a_ri"), task("a_task");
      l.a_rows.split(av[0], ko, ki, 8 * vec, TailStrategy::ShiftInwards)
          .split(av[1], ro, ri, 16, TailStrategy::GuardWithIf)
          .reorder(ki, ri, ko, ro, av[2])
          .vectorize(ki, vec)
          .fuse(ro, av[2], task)
          .parallel(task);
    } else if (k >= vec) {
      l.a_rows.vectorize(av[0], vec, TailStrategy::GuardWithIf);
    }
  }
  if (l.b_source.defined()) {  // conv by rows: the padded input.
    const std::vector<Var> sv = l.b_source.args();
    Var outer("src_outer");
    l.b_source.compute_root().vectorize(sv[0], vec, TailStrategy::GuardWithIf);
    if (sv.size() >= 3) {
      l.b_source.fuse(sv[sv.size() - 2], sv[sv.size() - 1], outer);
      if (parallel) l.b_source.parallel(outer);
    }
  }
  for (FlatSource& src : l.flat_sources) {
    // By planes, (f, b): zero, row by row, rows in tasks (b may be 1).
    const std::vector<Var> sv = src.func.args();
    const int row = static_cast<int>(src.row);
    const int rows = static_cast<int>(src.extent / row);
    const int per_task = std::max(1, 4096 / row);
    Var rw("src_r"), xw("src_x"), ro("src_ro"), ri("src_ri"), outer("src_t");
    src.func.compute_root()
        .bound(sv[0], 0, rows * row)
        .split(sv[0], rw, xw, row, TailStrategy::RoundUp)
        .split(rw, ro, ri, per_task, TailStrategy::GuardWithIf)
        .fuse(ro, sv[1], outer);
    if (const int width = RowVectorWidth(vec, row); width > 0) {
      src.func.vectorize(xw, width, TailStrategy::ShiftInwards);
    }
    if (parallel) src.func.parallel(outer);
    // The box, row by row: runs of dense loads and stores, masked where a
    // row ends mid-vector; planes in tasks of about 4096 elements. Distinct
    // (r, b) store to distinct f, which Halide does not prove for an index
    // that is not a bare variable: allowed explicitly.
    Halide::Stage box = src.func.update(0);
    const RDom& r = src.rdom;
    box.allow_race_conditions();
    int box_width = vec;
    while (box_width > 4 && src.box_row <= box_width / 2) box_width /= 2;
    if (src.box_row >= 2) {
      RVar bo("box_o"), bi("box_i");
      box.split(r[0], bo, bi, box_width, TailStrategy::Predicate).vectorize(bi);
    }
    if (parallel) {
      RVar task("box_task"), group("box_group"), item("box_item");
      box.fuse(r[r.dimensions() - 1], sv[1], task);
      const int per = static_cast<int>(
          std::max<int64_t>(1, 4096 / std::max<int64_t>(1, src.box_size)));
      box.split(task, group, item, per, TailStrategy::GuardWithIf)
          .parallel(group);
    }
  }
  if (l.dot.defined()) return ScheduleDotProduct(v);
  Func f = l.product, acc = l.acc;
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
  int64_t groups = 1;
  if (parallel && panels * batch < kMinMatMulTasks) {
    groups = std::min(
        row_blocks, (kMinMatMulTasks + panels * batch - 1) / (panels * batch));
  }
  const int group_rows =
      static_cast<int>((row_blocks + groups - 1) / groups) * block.rows;
  if (l.kshared) {
    ScheduleSharedKBlocks(v, block, group_rows, panels, parallel);
    return;
  }
  Var jo("jo"), ji("ji"), io("io"), ii("ii"), ig("ig"), i2("i2");
  f.split(j, jo, ji, block.cols, TailStrategy::GuardWithIf)
      .split(i, ig, i2, group_rows, TailStrategy::GuardWithIf)
      .split(i2, io, ii, block.rows, TailStrategy::GuardWithIf)
      .reorder(ji, ii, io, jo, ig);
  const Var task = FuseTasks(f, jo, ig, hv);
  // Tasks of little work (the output rows of a convolution with a short
  // sum: the small CNN's first layer, 32 x 32 x 9 per row, 1664 rows) run
  // in groups, each task still packing its own panel.
  Var item = task;
  const int64_t task_macs =
      std::min<int64_t>(m, group_rows) * block.cols * std::max<int64_t>(k, 1);
  if (parallel && task_macs < kMinTaskMacs) {
    Var task_group("task_group");
    item = Var("task_item");
    f.split(task, task_group, item,
            static_cast<int>((kMinTaskMacs + task_macs - 1) / task_macs),
            TailStrategy::GuardWithIf)
        .parallel(task_group);
  } else if (parallel) {
    f.parallel(task);
  }
  if (l.packed.defined()) {
    SchedulePacking(v, block.cols, panels,
                    groups == 1 ? std::optional<Var>(item) : std::nullopt,
                    parallel);
  }
  f.vectorize(ji, vec, TailStrategy::GuardWithIf);
  if (l.kpartial.defined()) {
    // Summed in blocks of k: the task's accumulators (its rows by the
    // panel's columns) in memory, and for each block of k and each block
    // of rows the block's sum in registers, then added to them.
    const std::vector<Var> av = acc.args();  // (j, i, batch...)
    Var ao("ao"), ai("ai");
    acc.compute_at(f, task)
        .bound_extent(av[0], block.cols)
        .vectorize(av[0], vec, TailStrategy::RoundUp);
    acc.update()
        .split(av[1], ao, ai, block.rows, TailStrategy::GuardWithIf)
        .reorder(av[0], ai, ao, l.blocks.x)
        .vectorize(av[0], vec, TailStrategy::RoundUp)
        .unroll(av[0])
        .unroll(ai);
    ScheduleBlockSum(l, acc, ao, block, vec);
    return;
  }
  // The block has the same extent in every tile (tail tiles compute extra
  // elements from padded panels and clamped rows), so the accumulators stay
  // in registers.
  acc.compute_at(f, io)
      .bound_extent(j, block.cols)
      .bound_extent(i, block.rows)
      .vectorize(j, vec, TailStrategy::RoundUp)
      .unroll(j)
      .unroll(i);
  Halide::Stage update = acc.update();
  update.reorder(j, i, l.rdom.x)
      .vectorize(j, vec, TailStrategy::RoundUp)
      .unroll(j)
      .unroll(i);
  if (!l.packed.defined() && shape.k_step > 1 && k % shape.k_step == 0) {
    RVar ko_r("k_o"), ki_r("k_i");
    update.split(l.rdom.x, ko_r, ki_r, static_cast<int>(shape.k_step))
        .unroll(ki_r);
  }
}

// Chunks in parallel; in each, the tiles (rows of a inside, so that a
// tile's columns of b are read again from cache), each summing the
// chunk's terms in registers; then the lanes and chunks, serially.
void Lowering::ScheduleDotProduct(ValueId v) {
  Lowered& l = values_[v];
  const DotPlan& p = l.dot_plan;
  const ProductShape& shape = l.shape;
  const int rows = p.rows, cols = p.cols;
  const int mp = static_cast<int>((shape.m + rows - 1) / rows * rows);
  const int np = static_cast<int>((shape.n + cols - 1) / cols * cols);
  const std::vector<Var> dv = l.dot.args();  // (lane, j, i, chunk)
  Var jo("djo"), ji("dji"), io("dio"), ii("dii");
  // Whole tiles: rows and columns past the product's read its last ones
  // (DefineDotProduct) and are never read.
  l.dot.compute_root()
      .bound(dv[0], 0, p.vec)
      .bound(dv[1], 0, np)
      .bound(dv[2], 0, mp)
      .bound(dv[3], 0, static_cast<int>(p.chunks))
      .split(dv[1], jo, ji, cols)
      .split(dv[2], io, ii, rows)
      .reorder(dv[0], ji, ii, io, jo, dv[3])
      .vectorize(dv[0])
      .unroll(ji)
      .unroll(ii);
  if (shape.m * shape.n * shape.k >= kParallelThreshold && p.chunks > 1) {
    l.dot.parallel(dv[3]);
  }
  l.dot_tile.compute_at(l.dot, io)
      .bound_extent(dv[1], cols)
      .bound_extent(dv[2], rows)
      .vectorize(dv[0])
      .unroll(dv[1])
      .unroll(dv[2]);
  l.dot_tile.update()
      .reorder(dv[0], dv[1], dv[2], l.rdom.x)
      .vectorize(dv[0])
      .unroll(dv[1])
      .unroll(dv[2]);
  l.acc.compute_root();
  l.product.compute_root();
}

// Few panels of b and a long sum (a strided convolution's weight gradient:
// 64 rows by 147 columns summed over 100,352 terms): blocks of k outermost,
// as GotoBLAS orders its loops. Per block, every panel is packed (in
// parallel, each row of b read once) and then each task (a panel and a
// group of rows) adds its tiles' sums of the block to the accumulators,
// which are stored whole: the packed block stays in cache, where per-task
// panels of the whole sum streamed from memory once per block of rows.
void Lowering::ScheduleSharedKBlocks(ValueId v, const MatMulBlock& block,
                                     int group_rows, int panels,
                                     bool parallel) {
  Lowered& l = values_[v];
  const ProductShape& shape = l.shape;
  const Halide::Type t = TypeOf(v);
  const int vec = target_.natural_vector_size(t);
  const int64_t row_blocks = (shape.m + block.rows - 1) / block.rows;
  Func f = l.product, acc = l.acc;
  const std::vector<Var> av = acc.args();  // (j, i, batch...)
  const std::vector<Var> fv = f.args();
  // Whole tiles: rows past m read a's last row, columns past n the
  // panels' zeros; the product copies the valid ones.
  acc.compute_root()
      .bound(av[0], 0, panels * block.cols)
      .bound(av[1], 0, static_cast<int>(row_blocks * block.rows))
      .vectorize(av[0], vec);
  Var jo("jo"), ji("ji"), io("io"), ii("ii"), ig("ig"), i2("i2");
  Halide::Stage update = acc.update();
  update.split(av[0], jo, ji, block.cols, TailStrategy::GuardWithIf)
      .split(av[1], ig, i2, group_rows, TailStrategy::GuardWithIf)
      .split(i2, io, ii, block.rows, TailStrategy::GuardWithIf);
  std::vector<Halide::VarOrRVar> order = {ji, ii, io, jo, ig};
  for (size_t d = 2; d < av.size(); ++d) order.push_back(av[d]);
  order.push_back(l.blocks.x);
  update.reorder(order);
  const Var task = FuseTasks(update, jo, ig, av);
  if (parallel) update.parallel(task);
  update.vectorize(ji, vec, TailStrategy::GuardWithIf).unroll(ji).unroll(ii);
  ScheduleBlockSum(l, acc, io, block, vec);
  SchedulePacking(v, block.cols, panels, std::nullopt, parallel);
  f.vectorize(fv[0], vec, TailStrategy::GuardWithIf);
  if (parallel && shape.m >= 2) f.parallel(fv[1]);
}

}  // namespace adc::codegen::lowering
