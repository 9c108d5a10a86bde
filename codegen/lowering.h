// The lowering of one stage of a graph to a Halide pipeline, shared by the
// files that implement it (internal to //codegen:lower):
//   lower.cc              the driver: stages, arguments, leaves, dispatch on
//                         the op's family, dense schedules
//   lower_elementwise.cc  element-wise ops (their math: math_kernels.h)
//   lower_reduction.cc    reductions, algorithm and schedule
//   lower_matmul.cc       matrix products, algorithm and schedule
//   lower_conv.cc         convolutions as products (their im2col packed)
//   lower_scan.cc         cumsum and scatter_add, algorithm and schedule
//   lower_movement.cc     data movement (reshape, transpose, gather, ...)
// Which values are materialized, and in which stage, is fusion_plan.h's.
#ifndef ADC_CODEGEN_LOWERING_H_
#define ADC_CODEGEN_LOWERING_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "Halide.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "codegen/fusion_plan.h"
#include "codegen/lower.h"
#include "codegen/math_kernels.h"
#include "graph/graph.h"

namespace adc::codegen::lowering {

using Halide::Expr;
using Halide::Func;
using Halide::RDom;
using Halide::RVar;
using Halide::TailStrategy;
using Halide::Var;

// Values with at least this many elements (of work) run in parallel, and
// with this many are vectorized.
inline constexpr int64_t kParallelThreshold = 1 << 14;
inline constexpr int64_t kVectorizeThreshold = 256;
// Elements per parallel task of a dense (element-wise) loop.
inline constexpr int kTaskElements = 8192;

// A tensor-order index (outermost dimension first).
using Index = std::vector<Expr>;

// The shape of a product c[batch..., i, j] = sum_k a[batch..., i, k] *
// b[batch..., k, j]: m rows, n columns, k terms, the batch dims (outermost
// first), and whether b is read transposed (strided along its columns).
struct ProductShape {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  Dims batch;
  bool b_transposed = false;
  // b may be read at columns n.. up to the last panel's end (conv's padded
  // input): the packing reads it there as it is, with no clamp, so that
  // runs of columns are dense loads (the extra columns' results are never
  // stored).
  bool b_columns_padded = false;
  // b's runs of columns are dense loads from a buffer stored first (conv
  // by planes, and by rows of stride 1): read in place by the tiles, not
  // packed, when a panel of b would fit in cache (DefineProduct).
  bool b_in_place = false;
  // Terms per step of a sum read in place, unrolled (0: not split): a
  // convolution's kernel taps, so that b's offsets, divisions of the term
  // by the kernel's extents, are constants within a step.
  int64_t k_step = 0;
};

// A product with few outputs and a long sum whose operands are both read
// with dense loads along k (the weight gradient of a convolution with few
// input channels, by planes): vector lanes along k, each summing its terms
// for a tile of `rows` x `cols` outputs in registers, in `chunks` parallel
// parts of k of `steps` vectors each; then the lanes and chunks summed.
// No packing: the regular product would pack b (dy) transposed into
// panels, a pass over it per task. k is padded to padded_k() with terms
// the operands make zero. chunks == 0: the product is not one of these.
struct DotPlan {
  int vec = 0;
  int rows = 0;
  int cols = 0;
  int64_t chunks = 0;
  int64_t steps = 0;
  int64_t padded_k() const { return chunks * steps * vec; }
};
DotPlan PlanDot(int64_t m, int64_t n, int64_t k, const Halide::Target& target,
                Halide::Type t);

// A tensor laid out flat over padded planes, stored first: src(f, b) for f
// in [0, extent), computed in rows of `row` (extent is a multiple of it).
// A tensor laid out flat over zero-padded planes (FlatPlanes): zero, then
// (update) each plane's box of data; `rdom` its domain (the box's axes
// innermost first, then the planes), box_row and box_size its innermost
// extent and elements per plane.
struct FlatSource {
  Func func;
  RDom rdom;
  int64_t row = 0;
  int64_t extent = 0;
  int64_t box_row = 0;
  int64_t box_size = 0;
};

// What the scheduler needs to know about one lowered value.
struct Lowered {
  Func func;  // The value, as seen by consumers.
  // For values with an update definition (reductions, matmul, cumsum,
  // scatter_add): the Func that carries it, its reduction domain and the
  // tensor-order pure vars of `func`.
  Func acc;
  RDom rdom;
  std::vector<Var> vars;
  // matmul and conv: the product c[batch..., i, j] = sum_k a[batch..., i,
  // k] * b[batch..., k, j] the register blocks compute (lower_matmul.cc),
  // in `product`: the value's own Func for matmul; for conv a buffer its
  // Func reads (lower_conv.cc).
  Func product;
  ProductShape shape;
  Func packed;  // b packed into panels.
  Func b_cols;  // b indexed (k, column, batch...).
  Func a_rows;  // conv: the rows of a (k, row, batch...), stored first.
  // conv weights copied to a_rows: the kernel's pixels, a run of terms
  // that each row reads from one run of w (reversed in an input
  // gradient's flipped weights).
  int64_t a_rows_run = 0;
  Func b_source;  // conv by rows: the input zero-padded, stored first.
  // conv by planes: operands laid out flat over padded planes, stored
  // first (FlatPlanes).
  std::vector<FlatSource> flat_sources;
  // Products summed in blocks of k (PlanKBlock): the sum of one block per
  // register tile, kpartial(j, i, batch..., block), over `rdom`; `blocks`
  // runs over the blocks in the update of `acc`.
  Func kpartial;
  RDom blocks;
  int64_t kblock = 0;
  // Blocks of k shared by all tasks (few panels of b): per block, every
  // panel packed, then every tile's sum added to `acc`, stored whole.
  bool kshared = false;
  // conv with a dilated input: its Func sums taps of the product (a
  // materialized value, not a view of the product).
  bool gathered = false;
  // conv whose product holds y's pixels outside its channels o, or
  // beside them (LowerConvWeightsByPlanes: [(n, p)][o]; LowerConvByPixels:
  // [p][o][n]; LowerConv's flattened columns: [o][(n, p)]):
  // y[n, o, p...] reads it transposed, so its copy out runs in vectors
  // along o (ScheduleConvCopy).
  bool copy_along_channels = false;
  Func partial;  // reductions with lanes: per-lane partial results.
  // Dot products (DotPlan): the lanes' sums per chunk, dot(lane, j, i,
  // chunk), each tile's computed in dot_tile.
  Func dot, dot_tile;
  DotPlan dot_plan;
};

// A stage's axes outside the innermost (hv innermost first, as Func::args)
// fused into one loop, which it returns (hv[r - 1] when r <= 2).
Var FuseOuterAxes(Halide::Stage s, const std::vector<Var>& hv);

// The vector width for rows of `extent` elements: the target's `vec`, or
// for rows narrower than that half or a quarter of it (at least 4), so
// that short rows keep dense loads, the last vector shifted inwards. 0:
// too short to vectorize.
inline int RowVectorWidth(int vec, int64_t extent) {
  int width = vec;
  while (width > 4 && extent < width) width /= 2;
  return extent >= width ? width : 0;
}

inline std::vector<Expr> ToHalideArgs(const Index& index) {
  return std::vector<Expr>(index.rbegin(), index.rend());
}

// Names of Halide Vars, Funcs, RDoms and ImageParams here have an
// underscore or a multi-letter prefix: Halide's code generator names its own
// temporaries one letter and a number (min and max of integers bind "a0" and
// "b1"), and a pipeline argument once named "a0" was captured by such a
// binding (LLVM's verifier rejected the code; OpsE2eTest.IntegerReductions).
inline std::vector<Var> MakeVars(int rank) {
  std::vector<Var> vars;
  for (int d = 0; d < rank; ++d) vars.emplace_back(absl::StrCat("d_", d));
  return vars;
}

inline std::vector<Var> HalideVars(const std::vector<Var>& vars) {
  return std::vector<Var>(vars.rbegin(), vars.rend());
}

inline Index AsIndex(const std::vector<Var>& vars) {
  return Index(vars.begin(), vars.end());
}

// The accumulator type of sums and products: f32 accumulates in f64 (so long
// sums keep f32 accuracy); others in their own type.
inline Halide::Type AccumulatorType(Halide::Type t) {
  return t == Halide::Float(32) ? Halide::Float(64) : t;
}

// Float accumulation is strict like element-wise arithmetic: under Halide's
// default fast-math flags LLVM may assume no inf operand, and a sum over a
// value it could see was x * -inf came out 0 (RandomGraphsTest).
inline Expr StrictIfFloat(Expr e) {
  return e.type().is_float() ? Halide::strict_float(e) : e;
}

// The register block of a matmul: `rows` x `cols` accumulators (cols a
// multiple of the vector width; 0 for products narrower than one vector).
struct MatMulBlock {
  int rows = 0;
  int cols = 0;
};

// The block fits the target's vector registers: rows x vectors accumulators,
// plus the vectors of b loaded per step and one broadcast of a.
//   32 registers (AVX-512): 6 rows x 4 vectors = 24 accumulators + 4 + 1
//   (256x784 @ 784x512, 2 threads: 0.95 ms; 8 x 3: 1.08, 12 x 2: 1.08,
//   4 x 6: 1.07, 14 x 2: 1.07).
//   16 registers (SSE, AVX2): 6 rows x 2 vectors = 12 accumulators + 2 + 1
//   (8 x 3 would need 28 and spill on every step). AVX2 code on Zen 5, 2
//   threads: the MLP step 7.2 ms with 4 x 3, 5.0 with 6 x 2, 6.1 with
//   8 x 1, 10.8 with 3 x 4 (6 rows use more of each cache line of a
//   transposed a, whose rows are far apart); single products 6 x 2 equal
//   or 2% faster.
// Products narrower than a block's columns use one vector
// (lower_matmul.cc; lower_matmul_test checks the fit on every level).
MatMulBlock PlanMatMul(int64_t m, int64_t n, const Halide::Target& target,
                       Halide::Type t);

// How a convolution is computed as products (lower_conv.cc; each method's
// comment there says when it applies and what it measured).
enum class ConvMethod {
  kDilatedInput,     // A product over the channels, then the taps summed.
  kWeightsByPlanes,  // Few outputs from a kernel as large as the image.
  kByPixels,         // One product per output pixel, the batch as columns.
  kByRows,           // One product per output row, read in place.
  kByPlanes,         // Columns flat over the zero-padded planes.
  kFlattened,        // Batch and pixels flattened into gathered columns.
};
ConvMethod PlanConv(const Graph& g, ValueId id, const Halide::Target& target,
                    int64_t max_window_elements);
// Rows of b (terms of the sum) per block when a task's packed panel of b
// would pass kPanelBytes (the dense weight gradients of convolutions, whose
// sums run over a batch's pixels, and deep products): the panel is packed
// and summed one block at a time, so that it stays in the core's cache. 0:
// the whole sum at once (also when no multiple of 16 in [128, 512] divides
// k). When tasks share packed panels (fewer panels than tasks), all tasks
// share each block too (Lowered::kshared).
inline constexpr int64_t kPanelBytes = 512 << 10;
int64_t PlanKBlock(const ProductShape& shape, const MatMulBlock& block,
                   Halide::Type t);
// Whether a value is computed from a constant or iota leaf without passing
// through a buffer (a reduction's, matmul's, scan's or scatter's, or one the
// plan stores), so that LLVM may see its elements (lower_matmul.cc).
bool ReadsConstant(const Graph& g, const Plan& plan, ValueId v);
// Whether v's last axis is its source's last axis when v is read through
// transposes (the common case: x^T's last axis is strided, x's is not).
bool LastAxisContiguous(const Graph& g, ValueId v);
// The element index of gather and scatter_add (lower_movement.cc).
Expr ClampIndex(Expr k, int64_t n);

// The expression of an element-wise op on its operands' elements (unary
// ops read x[0], binary ops x[0] and x[1], select x[0..2]); false from
// LowersElementwise if the op has none (lower_elementwise.cc).
Expr ElementwiseExpr(const Node& node, const std::vector<Expr>& args);
bool LowersElementwise(OpKind op);
// Whether a reduction op has an identity and combiner (lower_reduction.cc),
// and a data-movement op a lowering (lower_movement.cc).
bool LowersReduction(OpKind op);
bool LowersMovement(OpKind op);

// How a reduction is computed and scheduled (lower_reduction.cc), decided
// from its shapes and the target's vector width alone.
struct ReductionPlan {
  // Vector lanes over the innermost reduced axis when it is the contiguous
  // one: a partial reduction per lane (and per chunk), then a reduction
  // over lanes (and chunks). The axis is padded with the identity to
  // chunks * blocks * width elements. When the input is read as a flat
  // buffer, all trailing reduced axes are that axis, fused (a bias's
  // gradient, the sum of [N, C, 11, 11] over N, H and W: lanes over 121
  // elements, where 11 is narrower than two vectors of its f64 sum).
  bool lanes = false;
  int vec = 1;
  int width = 1;       // Lanes: vec, or several vectors on long rows.
  int lane_axes = 1;   // Trailing reduced axes fused into the lanes' axis.
  int64_t extent = 0;  // Of the lanes' axis.
  int64_t chunks = 1;  // Parallel chunks of that axis.
  int64_t blocks = 0;  // Steps of `width` lanes per chunk.
  // Otherwise (no lanes): vectorized over the innermost output dimension
  // (the input is contiguous there), rounded up to whole vectors: the
  // accumulator is padded and the reads of the input clamped. (A guarded
  // tail is unsafe here: Halide 14 drops the guard of a vectorized update
  // whose value contains a select, and the update then reads and writes
  // past the end of its buffers.)
  bool vector_out = false;
  // Parallel over output elements.
  bool parallel_out = false;
  int64_t work = 0;  // Input elements.
};
// `flat_input`: the input is a buffer that can be read with a flat index.
ReductionPlan PlanReduction(const Graph& g, ValueId v,
                            const Halide::Target& target, bool flat_input);

// Whether a cumsum is vectorized over the innermost dimension (when that is
// not the scan axis; lower_scan.cc).
bool ScanVectorized(const Graph& g, ValueId v, const Halide::Target& target);

// The source index of reshape from `in` to `out` for output index `o`
// (lower_movement.cc).
Index ReshapeSource(const Dims& in, const Dims& out, const Index& o);

// Lowers and schedules one stage.
class Lowering {
 public:
  // `unscheduled`: the algorithm without the schedule (for an
  // autoscheduler).
  Lowering(const Graph& graph, const Halide::Target& target, const Plan& plan,
           int stage, const LowerLimits& limits, bool unscheduled = false)
      : g_(graph),
        target_(target),
        limits_(limits),
        plan_(plan),
        stage_(stage),
        unscheduled_(unscheduled) {}

  // Lowers the values of this stage (and what they inline), reading `external`
  // values (graph arguments, values of earlier stages) from buffers.
  // `outputs` are the values this stage must write, in order; `temporary`
  // says which of their buffers are the artifact's temporaries (aligned
  // and padded as Halide's own allocations), not the caller's.
  absl::Status Run(const std::vector<ValueId>& outputs,
                   const std::vector<bool>& external,
                   const std::vector<bool>& temporary);

  std::vector<Halide::ImageParam>& params() { return params_; }
  std::vector<ValueId>& param_values() { return param_values_; }
  std::vector<Func>& output_funcs() { return output_funcs_; }
  // The pipeline's output buffers (output_funcs, each tuple's elements in
  // order), as indices into Run's `outputs`.
  const std::vector<size_t>& output_order() const { return output_order_; }
  // What the stage computes, up to names (LoweredStage::shape).
  std::string& shape() { return shape_; }
  std::vector<const Attrs*>& shape_attrs() { return shape_attrs_; }

 private:
  // ------------------------------------------------------------------------
  // Algorithm.
  // ------------------------------------------------------------------------
  Expr At(ValueId v, const Index& index) {
    return values_[v].func(ToHalideArgs(index));
  }
  Halide::Type TypeOf(ValueId v) const { return HalideType(g_.type(v).dtype); }
  const Dims& DimsOf(ValueId v) const { return g_.type(v).dims; }

  // Defines values_[id].func(vars) = e.
  void Define(ValueId id, const std::function<Expr(const Index&)>& body);
  // One lowering per family (lower.cc dispatches on OpDef::family).
  void LowerNode(ValueId id);
  // A value read from a buffer (a graph argument or an earlier stage's
  // value) as one row-major axis: a second view of the same buffer, for
  // reads whose flat index is simpler than the tensor's. nullopt if the
  // value is computed in this stage.
  std::optional<Halide::ImageParam> FlatView(ValueId id);
  // Whether FlatView(id) has a view (without making one).
  bool FlatInput(ValueId id) const;
  void LowerExternal(ValueId id);     // lower.cc
  void LowerLeaf(ValueId id);         // lower.cc
  void LowerElementwise(ValueId id);  // lower_elementwise.cc
  void LowerReduce(ValueId id);       // lower_reduction.cc
  void LowerMatMul(ValueId id);       // lower_matmul.cc
  void LowerConv(ValueId id);         // lower_conv.cc
  void LowerTransposedConv(ValueId id);
  void LowerConvByRows(ValueId id);
  void LowerConvByPixels(ValueId id);
  void LowerConvByPlanes(ValueId id);
  Func PaddedInput(ValueId id);  // lower_conv.cc
  // The rows of a conv's product: its weights as (term, row, group). Read
  // in place from a flat view of w's buffer when w is read from one (its
  // layout already is the rows'), else a copy stored first (set as
  // Lowered::a_rows).
  Func WeightRows(ValueId id);  // lower_conv.cc
  // Conv `id`'s input zero-padded by pads_low: x[n, ch, i - lo] inside x.
  Expr PaddedX(ValueId id, Expr n, Expr ch, const std::vector<Expr>& i);
  void LowerConvWeightsByPlanes(ValueId id);
  // Where a tensor's data lies in a plane, per axis: positions start <=
  // i < start + extent hold the tensor's elements source + (i - start).
  struct PlaneBox {
    int64_t start = 0, source = 0, extent = 0;
  };
  using FlatValue = std::function<Expr(Expr, Expr, const std::vector<Expr>&)>;
  // src(f, b) for f = a P + i over `planes` (P their product, i
  // row-major): value(a, b, q...) where i is inside `box` (q the source
  // elements) and a < outer, else zero. `reads`: the largest f read, plus
  // one.
  FlatSource FlatPlanes(const std::string& name, int64_t outer,
                        const Dims& planes, int64_t reads,
                        const std::vector<PlaneBox>& box,
                        const FlatValue& value);
  // Conv `id`'s input x in `planes`, padded by pads_low (PaddedX's box).
  std::vector<PlaneBox> PaddedBox(ValueId id, const Dims& planes);
  // The elements of a product's operands: a(row, term, batch...) and
  // b(term, column, batch...), batch indices outermost first. Rows and
  // columns passed are in range; terms range over [0, k).
  using ProductOperand =
      std::function<Expr(Expr, Expr, const std::vector<Expr>&)>;
  // Defines values_[id].product (lower_matmul.cc); `strict`: float
  // arithmetic without fast-math.
  void DefineProduct(ValueId id, const ProductShape& shape,
                     const ProductOperand& a, const ProductOperand& b,
                     bool strict);
  // The same as dot products (DotPlan; shape.k is plan.padded_k(), no
  // batch).
  void DefineDotProduct(ValueId id, const ProductShape& shape,
                        const DotPlan& plan, const ProductOperand& a,
                        const ProductOperand& b, bool strict);
  // `strict` for a product of the values a and b: LLVM could see a
  // constant in one of them (ReadsConstant).
  bool StrictProduct(ValueId a, ValueId b) const {
    return ReadsConstant(g_, plan_, a) || ReadsConstant(g_, plan_, b);
  }
  void LowerCumSum(ValueId id);      // lower_scan.cc
  void LowerScatterAdd(ValueId id);  // lower_scan.cc
  void LowerMovement(ValueId id);    // lower_movement.cc, one per op:
  void LowerReshape(ValueId id);
  void LowerTranspose(ValueId id);
  void LowerBroadcastTo(ValueId id);
  void LowerConcat(ValueId id);
  void LowerSlice(ValueId id);
  void LowerPad(ValueId id);
  void LowerGather(ValueId id);
  void LowerBarrier(ValueId id);
  using MemberLowering = void (Lowering::*)(ValueId id);
  static const absl::flat_hash_map<OpKind, MemberLowering>& MovementLowerings();
  friend bool LowersMovement(OpKind op);

  // ------------------------------------------------------------------------
  // Schedule.
  // ------------------------------------------------------------------------
  void Schedule(const std::vector<bool>& here);  // lower.cc
  // The fusion plan stores v in this stage.
  bool MaterializedHere(ValueId v) const {
    return plan_.stage[v] == stage_ && !plan_.why[v].empty();
  }
  void DescribeShape(const std::vector<ValueId>& outputs,
                     const std::vector<bool>& here);  // lower.cc
  // A conv's copy out of a product that holds y's pixels outside its
  // channels (Lowered::copy_along_channels): vectors along o, the pixels
  // unrolled, so that y is written with interleaved (dense) stores. False
  // (nothing scheduled) where that does not apply.
  bool ScheduleConvCopy(ValueId v);
  // `phases` (per tensor axis, or empty): split that axis by its phase,
  // the inner loop unrolled (PadPhases).
  void ScheduleDense(Func f, const Dims& dims, Halide::Type t,
                     const std::vector<int64_t>& phases = {});
  // Per axis of v, the steps of the dilating pads v's loop evaluates
  // inline (through element-wise ops and crops), their least common
  // multiple; 1 where there are none.
  std::vector<int64_t> PadPhases(ValueId v) const;
  void ScheduleScan(ValueId v);       // lower_scan.cc
  void ScheduleScatter(ValueId v);    // lower_scan.cc
  void ScheduleReduction(ValueId v);  // lower_reduction.cc
  void ScheduleMatMul(ValueId v);     // lower_matmul.cc
  void ScheduleDotProduct(ValueId v);
  void SchedulePacking(ValueId v, int cols, int panels, std::optional<Var> task,
                       bool parallel);
  void ScheduleSharedKBlocks(ValueId v, const MatMulBlock& block,
                             int group_rows, int panels, bool parallel);

  const Graph& g_;
  Halide::Target target_;
  LowerLimits limits_;
  const Plan& plan_;
  const int stage_;
  const bool unscheduled_;
  // The values this stage reads or computes (a map: a default Lowered holds
  // Halide Funcs, each with a unique name, and stages are many).
  absl::node_hash_map<ValueId, Lowered> values_;
  std::vector<bool> external_;
  std::vector<Halide::ImageParam> params_;
  std::vector<ValueId> param_values_;
  absl::flat_hash_map<ValueId, Halide::ImageParam> flat_views_;
  std::vector<Func> output_funcs_;
  std::vector<size_t> output_order_;
  // Outputs computed as elements of a Tuple-valued output Func.
  absl::flat_hash_set<ValueId> in_tuple_;
  std::string shape_;
  std::vector<const Attrs*> shape_attrs_;
};

}  // namespace adc::codegen::lowering

#endif  // ADC_CODEGEN_LOWERING_H_
