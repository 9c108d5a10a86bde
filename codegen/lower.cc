#include "codegen/lower.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"

namespace adc::codegen {

using Halide::Expr;
using Halide::Func;
using Halide::RDom;
using Halide::RVar;
using Halide::TailStrategy;
using Halide::Var;

Halide::Type HalideType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return Halide::Float(32);
    case DType::kF64:
      return Halide::Float(64);
    case DType::kI32:
      return Halide::Int(32);
    case DType::kI64:
      return Halide::Int(64);
    case DType::kBool:
      return Halide::UInt(8);
  }
  ADC_CHECK(false);
}

namespace {

// A tensor-order index (outermost dimension first).
using Index = std::vector<Expr>;

// What the scheduler needs to know about one lowered value.
struct Lowered {
  Func func;  // The value, as seen by consumers.
  // For values with an update definition (reductions, matmul, cumsum,
  // scatter_add): the Func that carries it, its reduction domain and the
  // tensor-order pure vars of `func`.
  Func acc;
  RDom rdom;
  std::vector<Var> vars;
  Func packed;   // matmul: b packed into panels.
  Func b_cols;   // matmul: b indexed (k, column, batch...).
  Func partial;  // reductions with lanes: per-lane partial results.
};

std::vector<Expr> ToHalideArgs(const Index& index) {
  return std::vector<Expr>(index.rbegin(), index.rend());
}

// Names of Halide Vars, Funcs, RDoms and ImageParams here have an
// underscore or a multi-letter prefix: Halide's code generator names its own
// temporaries one letter and a number (min and max of integers bind "a0" and
// "b1"), and a pipeline argument once named "a0" was captured by such a
// binding (LLVM's verifier rejected the code; OpsE2eTest.IntegerReductions).
std::vector<Var> MakeVars(int rank) {
  std::vector<Var> vars;
  for (int d = 0; d < rank; ++d) vars.emplace_back(absl::StrCat("d_", d));
  return vars;
}

std::vector<Var> HalideVars(const std::vector<Var>& vars) {
  return std::vector<Var>(vars.rbegin(), vars.rend());
}

Index AsIndex(const std::vector<Var>& vars) {
  return Index(vars.begin(), vars.end());
}

Expr Const(Halide::Type t, double v) {
  if (t.is_float()) return Halide::cast(t, Expr(v));
  return Halide::cast(t, Expr(static_cast<int64_t>(v)));
}

Expr Infinity(Halide::Type t) {
  return t.is_float()
             ? Halide::cast(t, Expr(std::numeric_limits<double>::infinity()))
             : t.max();
}

// The accumulator type of sums and products: f32 accumulates in f64 (so long
// sums keep f32 accuracy); others in their own type.
Halide::Type AccumulatorType(Halide::Type t) {
  return t == Halide::Float(32) ? Halide::Float(64) : t;
}

// The graph-level decisions: which values are materialized (and why), and
// in which stage.
struct Plan {
  std::vector<bool> needed;
  std::vector<std::string> why;  // Non-empty: materialized.
  std::vector<int> stage;        // Of materialized values; -1 otherwise.
  int num_stages = 1;
};

Plan MakePlan(const Graph& g);

// Lowers and schedules one stage.
class Lowering {
 public:
  Lowering(const Graph& graph, const Halide::Target& target, const Plan& plan,
           int stage)
      : g_(graph),
        target_(target),
        plan_(plan),
        stage_(stage),
        values_(graph.num_nodes()) {}

  // Lowers the values of this stage (and what they inline), reading `external`
  // values (graph arguments, values of earlier stages) from buffers.
  // `outputs` are the values this stage must write, in order.
  absl::Status Run(const std::vector<ValueId>& outputs,
                   const std::vector<bool>& external);

  std::vector<Halide::ImageParam>& params() { return params_; }
  std::vector<ValueId>& param_values() { return param_values_; }
  std::vector<Func>& output_funcs() { return output_funcs_; }

 private:
  // ------------------------------------------------------------------------
  // Algorithm.
  // ------------------------------------------------------------------------
  Expr At(ValueId v, const Index& index) {
    return values_[v].func(ToHalideArgs(index));
  }
  Halide::Type TypeOf(ValueId v) const { return HalideType(g_.type(v).dtype); }
  const Dims& DimsOf(ValueId v) const { return g_.type(v).dims; }

  void LowerNode(ValueId id);
  // Defines values_[id].func(vars) = e.
  void Define(ValueId id, const std::function<Expr(const Index&)>& body);
  Expr Elementwise(const Node& node, const std::vector<Expr>& args);
  Expr ElementwiseOp(const Node& node, const std::vector<Expr>& args);
  void LowerReduce(ValueId id);
  void LowerMatMul(ValueId id);
  void LowerCumSum(ValueId id);
  void LowerScatterAdd(ValueId id);
  Index ReshapeSource(const Dims& in, const Dims& out, const Index& o);

  // ------------------------------------------------------------------------
  // Schedule.
  // ------------------------------------------------------------------------
  void Schedule(const std::vector<bool>& here);
  void ScheduleScan(ValueId v);
  // Whether a cumsum is vectorized over the innermost dimension (when that
  // is not the scan axis).
  bool ScanVectorized(ValueId v) const;
  void ScheduleDense(Func f, const Dims& dims, Halide::Type t);
  void ScheduleReduction(ValueId v);
  struct ReductionPlan {
    // Vector lanes over the innermost reduced axis when it is the contiguous
    // one: a partial reduction per lane (and per chunk), then a reduction
    // over lanes (and chunks). The axis is padded with the identity to
    // chunks * blocks * vec elements.
    bool lanes = false;
    int vec = 1;
    int64_t extent = 0;  // Of the innermost reduced axis.
    int64_t chunks = 1;  // Parallel chunks of that axis.
    int64_t blocks = 0;  // Vectors per chunk.
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
  ReductionPlan PlanReduction(ValueId v) const;
  void ScheduleMatMul(ValueId v);
  void SchedulePacking(ValueId v, int cols, int panels,
                       std::optional<Var> task);

  const Graph& g_;
  Halide::Target target_;
  const Plan& plan_;
  const int stage_;
  std::vector<Lowered> values_;
  std::vector<bool> external_;
  std::vector<Halide::ImageParam> params_;
  std::vector<ValueId> param_values_;
  std::vector<Func> output_funcs_;
};

// --------------------------------------------------------------------------
// Algorithm.
// --------------------------------------------------------------------------

void Lowering::Define(ValueId id,
                      const std::function<Expr(const Index&)>& body) {
  Lowered& l = values_[id];
  l.vars = MakeVars(g_.type(id).rank());
  l.func = Func(absl::StrCat("v_", id));
  l.func(HalideVars(l.vars)) = Halide::cast(TypeOf(id), body(AsIndex(l.vars)));
}

// Halide 14's vectorized f32 exp, log and erf are polynomials without
// IEEE special cases (exp(NaN) = 0, exp(1e30) = 0, log(inf) = 88.7,
// log(1e-40) = -88.0, erf(inf) = NaN): these add them. f64 goes to libm,
// which has them.
Expr ExpOf(Expr x) {
  if (x.type() != Halide::Float(32)) return Halide::exp(x);
  return Halide::select(Halide::is_nan(x), x, x > 88.72283935546875f,
                        Infinity(x.type()), x < -104.0f,
                        Halide::cast(x.type(), 0.0f), Halide::exp(x));
}

Expr LogOf(Expr x) {
  if (x.type() != Halide::Float(32)) return Halide::log(x);
  // Subnormal x (below 2^-126, which Halide's log treats as 2^-126): scaled
  // by 2^24 first, log(x) = log(x 2^24) - 24 log 2.
  Expr subnormal = x < 1.17549435e-38f;
  Expr scaled = Halide::select(subnormal, x * 16777216.0f, x);
  Expr log = Halide::log(scaled) -
             Halide::select(subnormal, 16.635532333438687f, 0.0f);
  return Halide::select(
      Halide::is_nan(x) || x < 0.0f,
      Halide::cast(x.type(), Expr(std::numeric_limits<float>::quiet_NaN())),
      x == Infinity(x.type()), x, log);
}

Expr ErfF32(Expr x) {
  // |erf(x)| rounds to 1 in f32 from |x| = 3.92.
  return Halide::select(Halide::is_nan(x), x, Halide::abs(x) > 4.0f,
                        Halide::select(x > 0.0f, 1.0f, -1.0f), Halide::erf(x));
}

// f32 log1p: for |x| < 0.5, 2 atanh(s) = 2 (s + s^3/3 + ... + s^17/17) with
// s = x / (2 + x), |s| <= 1/3 (truncation < 2e-9 relative); elsewhere
// log(1 + x), whose result is then at least 0.29 in magnitude. Vectorizes;
// Halide's f32 log alone loses relative accuracy near 1.
Expr Log1pF32(Expr x) {
  Expr s = x / (2.0f + x);
  Expr s2 = s * s;
  Expr series = 1.0f / 17;
  for (int k = 15; k >= 1; k -= 2) series = series * s2 + 1.0f / k;
  Expr small = 2.0f * s * series;
  return Halide::select(Halide::abs(x) < 0.5f, small, LogOf(1.0f + x));
}

// f32 expm1: Taylor series to x^9 for |x| < 0.5 (truncation < 1e-9
// relative), exp(x) - 1 elsewhere (then at least 0.39 in magnitude).
Expr Expm1F32(Expr x) {
  Expr series = 1.0f / 362880;
  for (int k = 8; k >= 1; --k) {
    double factorial = 1;
    for (int j = 2; j <= k; ++j) factorial *= j;
    series = series * x + static_cast<float>(1.0 / factorial);
  }
  return Halide::select(Halide::abs(x) < 0.5f, x * series, ExpOf(x) - 1.0f);
}

// Vectorized f32 tanh (Halide 14 calls scalar libm tanhf, 16 calls per
// vector: the two tanh layers were 2.3 of the MLP step's 7.9 ms):
// tanh(x) = sign(x) e / (e + 2) with e = expm1(2|x|) (accurate near 0, where
// 1 - 2 / (exp(2x) + 1) would cancel); x itself for |x| < 2^-12 (relative
// error below x^2 / 3 < 2^-25; keeps -0 and subnormals); +-1 from |x| > 9,
// where tanh rounds to 1 in f32 (inf included); NaN stays NaN.
Expr TanhF32(Expr x) {
  Expr a = Halide::abs(x);
  Expr e = Expm1F32(2.0f * Halide::min(a, 9.5f));
  Expr t = e / (e + 2.0f);
  Expr magnitude = Halide::select(a > 9.0f, 1.0f, t);
  // NaN first: min(NaN, 9.5) may be 9.5.
  return Halide::select(Halide::is_nan(x) || a < 2.44140625e-4f, x, x < 0.0f,
                        -magnitude, magnitude);
}

// Vectorized f32 sin, cos and tan (Halide 14 calls scalar libm for them).
// Range reduction in f64: j = round(x * 2/pi), r = x - j * pi/2 (exact to far
// below f32 precision for |x| < 2^20), then Cephes' minimax polynomials for
// sin and cos on [-pi/4, pi/4] in f32 (about 1 ulp) and the quadrant
// q = j mod 4 picks +-sin(r) or +-cos(r). inf and NaN give NaN.
enum class Trig { kSin, kCos, kTan };

Expr TrigF32(Expr x, Trig fn) {
  Expr xd = Halide::cast<double>(x);
  Expr j = Halide::round(xd * Expr(0.63661977236758134308));  // 2 / pi
  Expr r = Halide::cast<float>(xd - j * Expr(1.57079632679489661923));
  Expr q = Halide::cast<int>(j - Expr(4.0) * Halide::floor(j * Expr(0.25)));
  if (fn == Trig::kCos) q = (q + 1) % 4;
  Expr r2 = r * r;
  Expr sin_r = r + r * r2 *
                       (-1.6666654611e-1f +
                        r2 * (8.3321608736e-3f + r2 * -1.9515295891e-4f));
  Expr cos_r = 1.0f - 0.5f * r2 +
               r2 * r2 *
                   (4.166664568298827e-2f +
                    r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
  if (fn == Trig::kTan) {
    return Halide::select(q % 2 == 0, sin_r / cos_r, -cos_r / sin_r);
  }
  return Halide::select(q == 0, sin_r, q == 1, cos_r, q == 2, -sin_r, -cos_r);
}

// sign(x) = 1, -1 or x (0, -0, NaN stay).
Expr SignOf(Expr x) {
  const Halide::Type t = x.type();
  return Halide::select(x > Const(t, 0), Const(t, 1),
                        Halide::select(x < Const(t, 0), Const(t, -1), x));
}

// x^y as C's pow (the interpreter's): pow(x, +-0) = 1 and pow(1, y) = 1
// for any x and y, NaN included; otherwise NaN in, NaN out. f32 calls libm's
// powf: Halide's f32 pow is exp(y log x) without IEEE special cases
// (pow(inf, 0.5) = 2^64, pow(0, -1) = 0).
Expr Pow(Expr x, Expr y) {
  const Halide::Type t = x.type();
  Expr nan = Halide::cast(t, Expr(std::numeric_limits<double>::quiet_NaN()));
  Expr p = t == Halide::Float(32)
               ? Halide::Internal::Call::make(
                     t, "powf", {x, y}, Halide::Internal::Call::PureExtern)
               : Halide::pow(x, y);
  return Halide::select(y == Const(t, 0) || x == Const(t, 1), Const(t, 1),
                        Halide::is_nan(x) || Halide::is_nan(y), nan, p);
}

// The element index of gather and scatter_add: an index counts from the end
// when negative, and is clamped into [0, n - 1], in its own integer type
// (an i64 index such as 2^32 + 1 must clamp to n - 1, not wrap to 1), then
// narrowed for addressing (n < 2^31: CheckAddressable).
Expr ClampIndex(Expr k, int64_t n) {
  const Halide::Type t = k.type();
  Expr wrapped = Halide::select(k < Const(t, 0), k + Const(t, n), k);
  return Halide::cast<int>(
      Halide::clamp(wrapped, Const(t, 0), Const(t, n - 1)));
}

// Marks every comparison of floats in an expression strict. strict_float
// covers the float-typed nodes of its argument only; a comparison is
// bool-typed, and under Halide's default fast-math flags LLVM may assume its
// operands are not NaN or inf (x == inf folded away).
class StrictComparisons : public Halide::Internal::IRMutator {
 public:
  using IRMutator::visit;

 private:
  template <typename Op>
  Expr Compare(const Op* op) {
    Expr e = IRMutator::visit(op);
    return op->a.type().is_float() ? Halide::strict_float(e) : e;
  }
  Expr visit(const Halide::Internal::LT* op) override { return Compare(op); }
  Expr visit(const Halide::Internal::LE* op) override { return Compare(op); }
  Expr visit(const Halide::Internal::GT* op) override { return Compare(op); }
  Expr visit(const Halide::Internal::GE* op) override { return Compare(op); }
  Expr visit(const Halide::Internal::EQ* op) override { return Compare(op); }
  Expr visit(const Halide::Internal::NE* op) override { return Compare(op); }
};

// The expression of an element-wise op on its operands' elements: unary
// ops read x[0], binary ops x[0] and x[1], select x[0..2].
Expr Lowering::Elementwise(const Node& node, const std::vector<Expr>& args) {
  // Every element-wise op with a float operand or result is strict as a
  // whole, its comparisons included: under Halide's default fast-math flags
  // LLVM may assume no NaN or inf, and folded mul_no_nan(NaN, y) or
  // sum(x * -inf) to 0 when it could see the NaN or inf (RandomGraphsTest).
  Expr e = ElementwiseOp(node, args);
  bool fp = e.type().is_float();
  for (const Expr& a : args) fp = fp || a.type().is_float();
  return fp ? Halide::strict_float(StrictComparisons().mutate(e)) : e;
}

Expr Lowering::ElementwiseOp(const Node& node, const std::vector<Expr>& args) {
  Expr x = args[0];
  Expr y = args.size() > 1 ? args[1] : Expr();
  const Halide::Type t = x.type();
  const bool fp = t.is_float();
  auto boolean = [](Expr c) { return Halide::cast(Halide::UInt(8), c); };
  // Float comparisons are strict: Halide's default fast-math flags would let
  // LLVM assume no NaN or inf operands.
  auto compare = [&](Expr c) {
    return boolean(fp ? Halide::strict_float(c) : c);
  };
  // Float arithmetic is strict: the compiled code evaluates exactly the
  // graph's expression (as the interpreter does); Halide's default
  // reassociation would turn (x - m) - log(s) into x - (m + log(s)) and lose
  // the point of a stable formula. Graph-level rewrites belong to the
  // optimization passes, which keep values exact.
  auto strict = [&](Expr e) { return fp ? Halide::strict_float(e) : e; };
  switch (node.op) {
    case OpKind::kNeg:
      return -x;
    case OpKind::kAbs:
      return Halide::cast(t, Halide::abs(x));
    case OpKind::kSign:
      return SignOf(x);
    case OpKind::kExp:
      return ExpOf(x);
    case OpKind::kLog:
      return LogOf(x);
    case OpKind::kLog1p: {
      if (t == Halide::Float(32)) return Log1pF32(x);
      // f64: Kahan's trick, log1p(x) = x * log(u) / (u - 1) with u = 1 + x
      // (x where u == 1, u where u == inf), with libm's log. Strict:
      // reassociation would fold (1 + x) - 1 to x and lose the correction.
      Expr u = Const(t, 1) + x;
      return Halide::strict_float(Halide::select(
          u == Const(t, 1), x,
          Halide::select(u == Infinity(t), u,
                         Halide::log(u) * (x / (u - Const(t, 1))))));
    }
    case OpKind::kExpm1: {
      if (t == Halide::Float(32)) return Expm1F32(x);
      // f64: expm1(x) = (u - 1) * x / log(u), u = exp(x) (x where u == 1; -1
      // where u == 0; u where u == inf): Kahan's trick, strict likewise.
      Expr u = Halide::exp(x);
      return Halide::strict_float(Halide::select(
          u == Const(t, 1), x,
          Halide::select(
              u == Const(t, 0), Const(t, -1),
              Halide::select(u == Infinity(t), u,
                             (u - Const(t, 1)) * (x / Halide::log(u))))));
    }
    case OpKind::kSin:
      return t == Halide::Float(32) ? TrigF32(x, Trig::kSin) : Halide::sin(x);
    case OpKind::kCos:
      return t == Halide::Float(32) ? TrigF32(x, Trig::kCos) : Halide::cos(x);
    case OpKind::kTan:
      return t == Halide::Float(32) ? TrigF32(x, Trig::kTan) : Halide::tan(x);
    case OpKind::kTanh:
      return t == Halide::Float(32) ? TanhF32(x) : Halide::tanh(x);
    case OpKind::kSigmoid: {
      // e = exp(-|x|) <= 1 never overflows; sigmoid = 1 / (1 + e) for x >= 0,
      // e / (1 + e) otherwise.
      Expr e = ExpOf(-Halide::abs(x));
      Expr d = Const(t, 1) + e;
      return Halide::select(x >= Const(t, 0), Const(t, 1) / d, e / d);
    }
    case OpKind::kSqrt:
      return Halide::sqrt(x);
    case OpKind::kErf:
      if (t == Halide::Float(32)) return ErfF32(x);
      // Halide's erf is f32 only: call libm's erf for f64.
      return Halide::Internal::Call::make(t, "erf", {x},
                                          Halide::Internal::Call::PureExtern);
    case OpKind::kStopGradient:
      return x;
    case OpKind::kCast: {
      const Halide::Type to = HalideType(node.type.dtype);
      if (node.type.dtype == DType::kBool) {
        return Halide::cast(to, x != Const(t, 0));
      }
      if (t.is_float() && !to.is_float()) {
        // NaN and out-of-range values become 0 (as the interpreter).
        const double lo =
            to.bits() == 32 ? -2147483648.0 : -9223372036854775808.0;
        const double hi =
            to.bits() == 32 ? 2147483648.0 : 9223372036854775808.0;
        Expr in_range = Halide::strict_float(x >= Halide::cast(t, Expr(lo)) &&
                                             x < Halide::cast(t, Expr(hi)));
        return Halide::select(in_range, Halide::cast(to, x), Const(to, 0));
      }
      return Halide::cast(to, x);
    }
    case OpKind::kAdd:
      return strict(x + y);
    case OpKind::kSub:
      return strict(x - y);
    case OpKind::kMul:
      return strict(x * y);
    case OpKind::kDiv:
      if (fp) return strict(x / y);
      // Integers: truncate toward zero; x / 0 = 0.
      return Halide::select(
          y == Const(t, 0), Const(t, 0),
          Halide::div_round_to_zero(
              x, Halide::select(y == Const(t, 0), Const(t, 1), y)));
    case OpKind::kPow:
      return Pow(x, y);
    case OpKind::kMaximum:
      if (!fp) return Halide::max(x, y);
      // NaN propagates (torch.maximum).
      return Halide::select(Halide::is_nan(x) || Halide::is_nan(y), x + y,
                            Halide::max(x, y));
    case OpKind::kMinimum:
      if (!fp) return Halide::min(x, y);
      return Halide::select(Halide::is_nan(x) || Halide::is_nan(y), x + y,
                            Halide::min(x, y));
    case OpKind::kMulNoNan:
      return Halide::select(
          fp ? Halide::strict_float(y == Const(t, 0)) : y == Const(t, 0),
          Const(t, 0), x * y);
    case OpKind::kLess:
      return compare(x < y);
    case OpKind::kLessEqual:
      return compare(x <= y);
    case OpKind::kGreater:
      return compare(x > y);
    case OpKind::kGreaterEqual:
      return compare(x >= y);
    case OpKind::kEqual:
      return compare(x == y);
    case OpKind::kNotEqual:
      return compare(x != y);
    case OpKind::kSelect:
      return Halide::select(args[0] != 0, args[1], args[2]);
    case OpKind::kInput:
    case OpKind::kParameter:
    case OpKind::kConstant:
    case OpKind::kIota:
    case OpKind::kReduceSum:
    case OpKind::kReduceMax:
    case OpKind::kReduceMin:
    case OpKind::kReduceProd:
    case OpKind::kMatMul:
    case OpKind::kReshape:
    case OpKind::kTranspose:
    case OpKind::kBroadcastTo:
    case OpKind::kConcat:
    case OpKind::kSlice:
    case OpKind::kPad:
    case OpKind::kGather:
    case OpKind::kScatterAdd:
    case OpKind::kCumSum:
      break;
  }
  ADC_CHECK_MSG(false, absl::StrCat("not an element-wise op: ", node.name));
}

// The source index of reshape: matches groups of input and output dims with
// equal products (ignoring size-1 dims), so splitting a dim needs no division
// and merging dims needs one division and one modulo per merged dim.
Index Lowering::ReshapeSource(const Dims& in, const Dims& out, const Index& o) {
  Index src(in.size(), Expr(0));
  if (NumElements(in) == 0) return src;
  std::vector<int> in_axes, out_axes;
  for (int i = 0; i < static_cast<int>(in.size()); ++i) {
    if (in[i] != 1) in_axes.push_back(i);
  }
  for (int i = 0; i < static_cast<int>(out.size()); ++i) {
    if (out[i] != 1) out_axes.push_back(i);
  }
  size_t a = 0, b = 0;
  while (a < in_axes.size() && b < out_axes.size()) {
    size_t a_end = a + 1, b_end = b + 1;
    int64_t pa = in[in_axes[a]], pb = out[out_axes[b]];
    while (pa != pb) {
      if (pa < pb) {
        pa *= in[in_axes[a_end++]];
      } else {
        pb *= out[out_axes[b_end++]];
      }
    }
    // Flat index of the group in the output.
    Expr flat = Expr(0);
    for (size_t k = b; k < b_end; ++k) {
      flat = flat * static_cast<int>(out[out_axes[k]]) + o[out_axes[k]];
    }
    // Split it over the group's input dims.
    int64_t stride = 1;
    for (size_t k = a_end; k-- > a;) {
      const int64_t n = in[in_axes[k]];
      Expr q = stride == 1 ? flat : flat / static_cast<int>(stride);
      src[in_axes[k]] = k == a ? q : q % static_cast<int>(n);
      stride *= n;
    }
    a = a_end;
    b = b_end;
  }
  return src;
}

void Lowering::LowerNode(ValueId id) {
  const Node& node = g_.node(id);
  const Halide::Type t = TypeOf(id);
  auto in = [&](int k) { return node.inputs[k]; };
  if (external_[id]) {
    // A graph argument or a value of an earlier stage: read from a buffer.
    Halide::ImageParam p(t, node.type.rank(),
                         absl::StrCat("in_", params_.size()));
    const std::vector<int64_t> strides = RowMajorStrides(node.type.dims);
    for (int d = 0; d < node.type.rank(); ++d) {
      const int h = node.type.rank() - 1 - d;
      p.dim(h).set_bounds(0, static_cast<int>(node.type.dims[d]));
      p.dim(h).set_stride(static_cast<int>(strides[d]));
    }
    params_.push_back(p);
    param_values_.push_back(id);
    Define(id, [&](const Index& i) { return p(ToHalideArgs(i)); });
    return;
  }
  switch (node.op) {
    case OpKind::kInput:
    case OpKind::kParameter:
      ADC_CHECK(false);  // Always external.
    case OpKind::kConstant: {
      const Tensor& value = node.attrs.GetTensor("value");
      if (value.num_elements() == 1) {
        const double v = value.GetDouble(0);
        Expr e = IsFloat(value.dtype())
                     ? Halide::cast(t, Expr(v))
                     : Halide::cast(t, Expr(value.GetInt(0)));
        Define(id, [&](const Index&) { return e; });
        return;
      }
      if (value.num_elements() == 0) {
        // Never read (Halide cannot embed a buffer without storage).
        Expr zero = Halide::cast(t, Expr(0));
        Define(id, [&](const Index&) { return zero; });
        return;
      }
      // A tensor constant becomes a buffer embedded in the code.
      std::vector<int> extents;
      for (auto it = value.dims().rbegin(); it != value.dims().rend(); ++it) {
        extents.push_back(static_cast<int>(*it));
      }
      Halide::Buffer<> buffer(t, extents);
      std::vector<uint8_t> bytes = value.ToBytes();
      std::memcpy(buffer.data(), bytes.data(), bytes.size());
      Define(id, [&](const Index& i) { return buffer(ToHalideArgs(i)); });
      return;
    }
    case OpKind::kIota: {
      const int64_t axis = node.attrs.GetInt("axis");
      Define(id, [&](const Index& i) { return i[axis]; });
      return;
    }
    case OpKind::kNeg:
    case OpKind::kAbs:
    case OpKind::kSign:
    case OpKind::kExp:
    case OpKind::kLog:
    case OpKind::kLog1p:
    case OpKind::kExpm1:
    case OpKind::kSin:
    case OpKind::kCos:
    case OpKind::kTan:
    case OpKind::kTanh:
    case OpKind::kSigmoid:
    case OpKind::kSqrt:
    case OpKind::kErf:
    case OpKind::kCast:
    case OpKind::kStopGradient:
      Define(id, [&](const Index& i) {
        std::vector<Expr> args;
        for (ValueId v : node.inputs) args.push_back(At(v, i));
        return Elementwise(node, args);
      });
      return;
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kPow:
    case OpKind::kMaximum:
    case OpKind::kMinimum:
    case OpKind::kMulNoNan:
    case OpKind::kLess:
    case OpKind::kLessEqual:
    case OpKind::kGreater:
    case OpKind::kGreaterEqual:
    case OpKind::kEqual:
    case OpKind::kNotEqual:
    case OpKind::kSelect:
      Define(id, [&](const Index& i) {
        std::vector<Expr> args;
        for (ValueId v : node.inputs) args.push_back(At(v, i));
        return Elementwise(node, args);
      });
      return;
    case OpKind::kReduceSum:
    case OpKind::kReduceMax:
    case OpKind::kReduceMin:
    case OpKind::kReduceProd:
      LowerReduce(id);
      return;
    case OpKind::kMatMul:
      LowerMatMul(id);
      return;
    case OpKind::kReshape:
      Define(id, [&](const Index& i) {
        return At(in(0), ReshapeSource(DimsOf(in(0)), node.type.dims, i));
      });
      return;
    case OpKind::kTranspose: {
      const auto& perm = node.attrs.GetInts("perm");
      Define(id, [&](const Index& i) {
        Index src(i.size());
        for (size_t d = 0; d < perm.size(); ++d) src[perm[d]] = i[d];
        return At(in(0), src);
      });
      return;
    }
    case OpKind::kBroadcastTo: {
      const Dims& xd = DimsOf(in(0));
      const int lead = node.type.rank() - static_cast<int>(xd.size());
      Define(id, [&](const Index& i) {
        Index src(xd.size());
        for (size_t d = 0; d < xd.size(); ++d) {
          src[d] = xd[d] == 1 ? Expr(0) : i[lead + d];
        }
        return At(in(0), src);
      });
      return;
    }
    case OpKind::kConcat: {
      const int64_t axis = node.attrs.GetInt("axis");
      Define(id, [&](const Index& i) {
        // The last input is the default; earlier ones are selected by range.
        // Each read is clamped into its input, as bounds inference requires.
        Expr result;
        int64_t offset =
            NumElements(node.type.dims) == 0 ? 0 : node.type.dims[axis];
        for (int k = static_cast<int>(node.inputs.size()) - 1; k >= 0; --k) {
          const int64_t n = DimsOf(in(k))[axis];
          offset -= n;
          if (n == 0) continue;
          Index src = i;
          src[axis] = Halide::clamp(i[axis] - static_cast<int>(offset), 0,
                                    static_cast<int>(n - 1));
          Expr v = At(in(k), src);
          result =
              result.defined()
                  ? Halide::select(i[axis] >= static_cast<int>(offset) &&
                                       i[axis] < static_cast<int>(offset + n),
                                   v, result)
                  : v;
        }
        return result.defined() ? result : Const(t, 0);
      });
      return;
    }
    case OpKind::kSlice: {
      const auto& start = node.attrs.GetInts("start");
      const auto& stride = node.attrs.GetInts("stride");
      Define(id, [&](const Index& i) {
        Index src(i.size());
        for (size_t d = 0; d < i.size(); ++d) {
          src[d] =
              static_cast<int>(start[d]) + i[d] * static_cast<int>(stride[d]);
        }
        return At(in(0), src);
      });
      return;
    }
    case OpKind::kPad: {
      const auto& low = node.attrs.GetInts("low");
      const auto& interior = node.attrs.GetInts("interior");
      const Dims& xd = DimsOf(in(0));
      Expr value = Const(t, node.attrs.GetFloat("value"));
      if (NumElements(xd) == 0) {
        Define(id, [&](const Index&) { return value; });
        return;
      }
      Define(id, [&](const Index& i) {
        Expr inside = Halide::cast<bool>(true);
        Index src(i.size());
        for (size_t d = 0; d < i.size(); ++d) {
          const int step = static_cast<int>(interior[d] + 1);
          Expr q = i[d] - static_cast<int>(low[d]);
          inside =
              inside && q >= 0 && q <= static_cast<int>((xd[d] - 1) * step);
          if (step > 1) inside = inside && q % step == 0;
          src[d] = Halide::clamp(step > 1 ? q / step : q, 0,
                                 static_cast<int>(xd[d] - 1));
        }
        return Halide::select(inside, At(in(0), src), value);
      });
      return;
    }
    case OpKind::kGather: {
      const int64_t axis = node.attrs.GetInt("axis");
      const int ir = g_.type(in(1)).rank();
      const int64_t n = DimsOf(in(0))[axis];
      Define(id, [&](const Index& i) {
        Index idx(i.begin() + axis, i.begin() + axis + ir);
        Expr k = ClampIndex(At(in(1), idx), std::max<int64_t>(n, 1));
        Index src(i.begin(), i.begin() + axis);
        src.push_back(k);
        src.insert(src.end(), i.begin() + axis + ir, i.end());
        return At(in(0), src);
      });
      return;
    }
    case OpKind::kScatterAdd:
      LowerScatterAdd(id);
      return;
    case OpKind::kCumSum:
      LowerCumSum(id);
      return;
  }
}

// Identity and combiner of each reduction. max/min propagate NaN (as
// torch.amax): a NaN accumulator stays, a NaN element is taken.
Expr ReduceIdentity(OpKind op, Halide::Type t) {
  if (op == OpKind::kReduceSum) return Const(t, 0);
  if (op == OpKind::kReduceProd) return Const(t, 1);
  const bool max = op == OpKind::kReduceMax;
  if (t.is_float()) return max ? -Infinity(t) : Infinity(t);
  return max ? t.min() : t.max();
}

// Float accumulation is strict like element-wise arithmetic: under Halide's
// default fast-math flags LLVM may assume no inf operand, and a sum over a
// value it could see was x * -inf came out 0 (RandomGraphsTest).
Expr StrictIfFloat(Expr e) {
  return e.type().is_float() ? Halide::strict_float(e) : e;
}

Expr ReduceCombine(OpKind op, Expr a, Expr v) {
  if (op == OpKind::kReduceSum) return StrictIfFloat(a + v);
  if (op == OpKind::kReduceProd) return StrictIfFloat(a * v);
  const bool max = op == OpKind::kReduceMax;
  if (!a.type().is_float()) return max ? Halide::max(a, v) : Halide::min(a, v);
  Expr better = Halide::strict_float(max ? v > a : v < a);
  return Halide::select(better || Halide::is_nan(v), v, a);
}

void Lowering::LowerReduce(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId x = node.inputs[0];
  const Dims& xd = DimsOf(x);
  const auto& axes = node.attrs.GetInts("axes");
  const bool keepdims = node.attrs.GetBool("keepdims");
  const Halide::Type t = TypeOf(id);
  const bool sum_or_prod =
      node.op == OpKind::kReduceSum || node.op == OpKind::kReduceProd;
  const Halide::Type acc_t = sum_or_prod ? AccumulatorType(t) : t;
  const Expr identity = ReduceIdentity(node.op, acc_t);
  const ReductionPlan plan = PlanReduction(id);

  Lowered& l = values_[id];
  l.vars = MakeVars(node.type.rank());
  const std::vector<Var> hv = HalideVars(l.vars);
  std::vector<Expr> hargs(hv.begin(), hv.end());
  // The reduced axes other than the one given lanes, innermost first (the
  // RDom's first dimension is its innermost loop).
  std::vector<int64_t> loop_axes(axes.rbegin(), axes.rend());
  if (plan.lanes) loop_axes.erase(loop_axes.begin());
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
    const int64_t a = axes.back();
    Expr pos = chunk * static_cast<int>(plan.blocks * plan.vec) +
               l.rdom.x * plan.vec + lane;
    src[a] = Halide::min(pos, static_cast<int>(plan.extent - 1));
    v = Halide::cast(acc_t, At(x, src));
    if (plan.chunks * plan.blocks * plan.vec > plan.extent) {
      v = Halide::select(pos < static_cast<int>(plan.extent), v, identity);
    }
    // partial(lane, chunk, out...) reduces its share of the axis.
    std::vector<Var> pv = {lane, chunk};
    pv.insert(pv.end(), hv.begin(), hv.end());
    std::vector<Expr> pargs(pv.begin(), pv.end());
    l.partial = Func(absl::StrCat("partial", id));
    l.partial(pv) = identity;
    l.partial(pargs) = ReduceCombine(node.op, l.partial(pargs), v);
    // The accumulator reduces over lanes and chunks.
    RDom lanes(0, plan.vec, 0, static_cast<int>(plan.chunks),
               absl::StrCat("lanes", id));
    std::vector<Expr> from = {lanes.x, lanes.y};
    from.insert(from.end(), hv.begin(), hv.end());
    l.acc = Func(absl::StrCat("acc", id));
    l.acc(hv) = identity;
    l.acc(hargs) = ReduceCombine(node.op, l.acc(hargs), l.partial(from));
  } else {
    v = Halide::cast(acc_t, At(x, src));
    l.acc = Func(absl::StrCat("acc", id));
    l.acc(hv) = identity;
    l.acc(hargs) = ReduceCombine(node.op, l.acc(hargs), v);
  }
  l.func = Func(absl::StrCat("v_", id));
  l.func(hv) = Halide::cast(t, l.acc(hargs));
}

// The op families that lowering and scheduling treat alike.
enum class Family {
  kLeaf,         // input, parameter, constant, iota
  kElementwise,  // unary, binary, select, cast, stop_gradient
  kMovement,     // reshape, transpose, broadcast_to, concat, slice, pad, gather
  kReduction,
  kMatMul,
  kScan,     // cumsum
  kScatter,  // scatter_add
};

Family FamilyOf(OpKind op);

// Whether a value is computed from a constant or iota leaf without passing
// through a buffer (a reduction's, matmul's, scan's or scatter's), so that
// LLVM may see its elements.
bool ReadsConstant(const Graph& g, ValueId v) {
  const Node& node = g.node(v);
  if (node.op == OpKind::kConstant || node.op == OpKind::kIota) return true;
  switch (FamilyOf(node.op)) {
    case Family::kReduction:
    case Family::kMatMul:
    case Family::kScan:
    case Family::kScatter:
    case Family::kLeaf:  // Input or parameter: an argument.
      return false;      // Computed into a buffer.
    case Family::kElementwise:
    case Family::kMovement:
      break;
  }
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
// Products narrower than a block's columns use one vector.
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
  if (ScanVectorized(id)) {
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

// --------------------------------------------------------------------------
// Schedule.
//
// Values are inlined into their consumers (fused) unless materialized:
// outputs, ops with update definitions (reductions, matmul, cumsum,
// scatter_add), values used more than once (unless cheap to recompute),
// operands of matmul and of broadcasts (which would otherwise be recomputed
// per use). Materialized values are computed at the root, parallel over
// their outer dimensions and vectorized at the natural width of the target.
// --------------------------------------------------------------------------

constexpr int64_t kParallelThreshold = 1 << 14;
// Parallel tasks a matmul aims for (fewer leave cores idle on uneven
// work) and the packing of b when it runs before the product.
constexpr int64_t kMinMatMulTasks = 8;
constexpr int64_t kPackTasks = 16;
constexpr int64_t kVectorizeThreshold = 256;

Family FamilyOf(OpKind op) {
  switch (op) {
    case OpKind::kInput:
    case OpKind::kParameter:
    case OpKind::kConstant:
    case OpKind::kIota:
      return Family::kLeaf;
    case OpKind::kNeg:
    case OpKind::kAbs:
    case OpKind::kSign:
    case OpKind::kExp:
    case OpKind::kLog:
    case OpKind::kLog1p:
    case OpKind::kExpm1:
    case OpKind::kSin:
    case OpKind::kCos:
    case OpKind::kTan:
    case OpKind::kTanh:
    case OpKind::kSigmoid:
    case OpKind::kSqrt:
    case OpKind::kErf:
    case OpKind::kCast:
    case OpKind::kStopGradient:
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kPow:
    case OpKind::kMaximum:
    case OpKind::kMinimum:
    case OpKind::kMulNoNan:
    case OpKind::kLess:
    case OpKind::kLessEqual:
    case OpKind::kGreater:
    case OpKind::kGreaterEqual:
    case OpKind::kEqual:
    case OpKind::kNotEqual:
    case OpKind::kSelect:
      return Family::kElementwise;
    case OpKind::kReshape:
    case OpKind::kTranspose:
    case OpKind::kBroadcastTo:
    case OpKind::kConcat:
    case OpKind::kSlice:
    case OpKind::kPad:
    case OpKind::kGather:
      return Family::kMovement;
    case OpKind::kReduceSum:
    case OpKind::kReduceMax:
    case OpKind::kReduceMin:
    case OpKind::kReduceProd:
      return Family::kReduction;
    case OpKind::kMatMul:
      return Family::kMatMul;
    case OpKind::kCumSum:
      return Family::kScan;
    case OpKind::kScatterAdd:
      return Family::kScatter;
  }
  ADC_CHECK(false);
}

// Values that are as cheap to recompute as to load: leaves, values computed
// into buffers by their own schedule (their Func is a load), and pure index
// remapping, negation or casts of cheap values.
bool Cheap(const Graph& g, ValueId v) {
  const Node& node = g.node(v);
  switch (FamilyOf(node.op)) {
    case Family::kLeaf:
    case Family::kReduction:
    case Family::kMatMul:
    case Family::kScan:
    case Family::kScatter:
      return true;
    case Family::kElementwise:
      return (node.op == OpKind::kStopGradient || node.op == OpKind::kCast ||
              node.op == OpKind::kNeg) &&
             Cheap(g, node.inputs[0]);
    case Family::kMovement:
      return node.op != OpKind::kConcat && node.op != OpKind::kPad &&
             node.op != OpKind::kGather && Cheap(g, node.inputs[0]);
  }
  ADC_CHECK(false);
}

// Rough cost of computing one element of an op inline (in simple ops).
int OpCost(OpKind op) {
  switch (op) {
    case OpKind::kExp:
    case OpKind::kLog:
    case OpKind::kLog1p:
    case OpKind::kExpm1:
    case OpKind::kSin:
    case OpKind::kCos:
    case OpKind::kTan:
    case OpKind::kTanh:
    case OpKind::kSigmoid:
    case OpKind::kErf:
    case OpKind::kPow:
      return 20;
    case OpKind::kDiv:
    case OpKind::kSqrt:
      return 4;
    case OpKind::kReshape:
    case OpKind::kTranspose:
    case OpKind::kBroadcastTo:
    case OpKind::kSlice:
    case OpKind::kStopGradient:
      return 0;
    case OpKind::kInput:
    case OpKind::kParameter:
    case OpKind::kConstant:
    case OpKind::kIota:
    case OpKind::kNeg:
    case OpKind::kAbs:
    case OpKind::kSign:
    case OpKind::kCast:
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kMaximum:
    case OpKind::kMinimum:
    case OpKind::kMulNoNan:
    case OpKind::kLess:
    case OpKind::kLessEqual:
    case OpKind::kGreater:
    case OpKind::kGreaterEqual:
    case OpKind::kEqual:
    case OpKind::kNotEqual:
    case OpKind::kSelect:
    case OpKind::kConcat:
    case OpKind::kPad:
    case OpKind::kGather:
      return 1;
    case OpKind::kReduceSum:
    case OpKind::kReduceMax:
    case OpKind::kReduceMin:
    case OpKind::kReduceProd:
    case OpKind::kMatMul:
    case OpKind::kCumSum:
    case OpKind::kScatterAdd:
      return 1;  // A load from their own buffer.
  }
  ADC_CHECK(false);
}

void Lowering::ScheduleDense(Func f, const Dims& dims, Halide::Type t) {
  const int r = static_cast<int>(dims.size());
  if (r == 0) return;
  std::vector<Var> hv = f.args();
  Halide::Stage s(f);
  const int vec = target_.natural_vector_size(t);
  const int64_t inner = dims[r - 1];
  const int64_t total = NumElements(dims);
  // Small values stay scalar loops: vector and parallel code for them would
  // cost more compile time than it saves at run time.
  if (total < kVectorizeThreshold) return;
  // Pure definitions only: they may recompute a few elements at the edge
  // (ShiftInwards: the last vector or chunk shifts inwards, no scalar tail
  // loop).
  const TailStrategy tail = TailStrategy::ShiftInwards;
  if (r == 1) {
    if (total >= kParallelThreshold) {
      Var xo("xo"), xi("xi");
      s.split(hv[0], xo, xi, 8192, tail).parallel(xo).vectorize(xi, vec, tail);
    } else if (inner >= vec) {
      s.vectorize(hv[0], vec, tail);
    }
    return;
  }
  if (inner >= vec) s.vectorize(hv[0], vec, tail);
  if (total >= kParallelThreshold) {
    Var outer = hv[r - 1];
    for (int d = r - 2; d >= 1; --d) {
      Var fused(absl::StrCat(outer.name(), "_", hv[d].name()));
      s.fuse(hv[d], outer, fused);
      outer = fused;
    }
    s.parallel(outer);
  }
}

Lowering::ReductionPlan Lowering::PlanReduction(ValueId v) const {
  const Node& node = g_.node(v);
  ReductionPlan plan;
  const Dims& xd = DimsOf(node.inputs[0]);
  const auto& axes = node.attrs.GetInts("axes");
  const int64_t n_out = NumElements(node.type.dims);
  plan.work = NumElements(xd);
  plan.parallel_out = n_out >= 2 && plan.work >= kParallelThreshold;
  const bool sum_or_prod =
      node.op == OpKind::kReduceSum || node.op == OpKind::kReduceProd;
  const Halide::Type acc_t =
      sum_or_prod ? AccumulatorType(TypeOf(v)) : TypeOf(v);
  plan.vec = target_.natural_vector_size(acc_t);
  const Dims& out = node.type.dims;
  plan.vector_out = !out.empty() && out.back() >= plan.vec &&
                    plan.work >= kVectorizeThreshold;
  if (xd.empty() || axes.empty() ||
      axes.back() != static_cast<int64_t>(xd.size()) - 1) {
    return plan;
  }
  plan.extent = xd.back();
  if (plan.extent < 2 * plan.vec || plan.work < kVectorizeThreshold)
    return plan;
  plan.lanes = true;
  plan.vector_out = false;
  // Few outputs from a long axis: parallel chunks of it too.
  if (n_out < 8 && plan.work >= 4 * kParallelThreshold) {
    plan.chunks = std::min<int64_t>(64, plan.extent / (64 * plan.vec));
    plan.chunks = std::max<int64_t>(plan.chunks, 1);
  }
  const int64_t per_chunk = (plan.extent + plan.chunks - 1) / plan.chunks;
  plan.blocks = (per_chunk + plan.vec - 1) / plan.vec;
  return plan;
}

void Lowering::ScheduleReduction(ValueId v) {
  Lowered& l = values_[v];
  const Node& node = g_.node(v);
  const Dims& out = node.type.dims;
  const ReductionPlan plan = PlanReduction(v);
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
      if (plan.parallel_out) l.acc.update().parallel(hv.back());
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
  if (plan.parallel_out) l.acc.update().parallel(hv[r - 1]);
}

// b's zero-padded panels (matmul), in blocks of rows of b by one vector of
// columns. Packed per task (at `task`) when each task has a panel of its
// own: then the packing runs in parallel with no loop of its own, and the
// panel is in cache when the task reads it (AVX-512, 2 threads: 256x784 @
// 784x512 0.61 -> 0.56 ms, a @ b^T 0.84 -> 0.74 ms, against packing all
// panels first in one parallel loop). Otherwise all panels first, in
// parallel over blocks of rows of b.
// An untransposed b is copied vector by vector, each row of b read once in
// order. A transposed b (strided along its columns) is read in square
// blocks of one vector by one vector: b_cols loads each column's run of k
// with dense loads, and the packing reads the block transposed, which LLVM
// does in registers with shuffles (AVX-512: a @ b^T, 256x512 @ (784x512)^T,
// 0.84 -> 0.64 ms; blocks vectorized in both axes at once were gathered
// with scalar loads, a quarter of the time). Tails are guarded
// (ShiftInwards would start a short K at a row before the start of b).
void Lowering::SchedulePacking(ValueId v, int cols, int panels,
                               std::optional<Var> task) {
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
  const bool parallel = NumElements(node.type.dims) * k >= kParallelThreshold;
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
                  groups == 1 ? std::optional<Var>(task) : std::nullopt);
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
      case Family::kReduction:
        plan.why[v] = "reduction";
        break;
      case Family::kMatMul:
        plan.why[v] = "matmul";
        for (ValueId in : node.inputs) {
          // A transposed operand is read in place (b through its packing,
          // a's rows as strided scalars): materialize what it transposes.
          while (g.node(in).op == OpKind::kTranspose) in = g.node(in).inputs[0];
          materialize(in, "matmul operand");
        }
        break;
      case Family::kScan:
        plan.why[v] = "scan";
        break;
      case Family::kScatter:
        plan.why[v] = "scatter";
        break;
      case Family::kMovement:
        if (node.op == OpKind::kBroadcastTo &&
            NumElements(node.type.dims) >
                NumElements(g.type(node.inputs[0]).dims)) {
          materialize(node.inputs[0], "broadcast operand");
        }
        break;
      case Family::kLeaf:
      case Family::kElementwise:
        break;
    }
  }
  // Values used more than once are recomputed per use when that is cheap
  // (a few arithmetic ops: cheaper than a round trip through memory, and
  // fewer loop nests to compile), and materialized otherwise. cost[v] is the
  // work of computing one element of v inline.
  const std::vector<int> uses = g.UseCounts();
  std::vector<int> cost(n, 0);
  // Measured on the composite gradient (2^22 elements): budget 6 -> 12.9 ms,
  // 24 -> 11.5 ms, 48 -> 9.8 ms (outputs and one shared value materialized).
  constexpr int kRecomputeBudget = 48;
  for (ValueId v = 0; v < n; ++v) {
    if (!plan.needed[v]) continue;
    const Node& node = g.node(v);
    int c = OpCost(node.op);
    for (ValueId in : node.inputs) c += plan.why[in].empty() ? cost[in] : 1;
    cost[v] = std::min(c, 1 << 20);
    if (uses[v] >= 2 && cost[v] > kRecomputeBudget) {
      materialize(v, "used more than once");
    }
  }
  // Stages: consecutive runs of kMaxFuncsPerStage materialized values.
  int count = 0;
  for (ValueId v = 0; v < n; ++v) {
    const OpKind op = g.node(v).op;
    if (!plan.needed[v] || plan.why[v].empty() || op == OpKind::kInput ||
        op == OpKind::kParameter) {
      continue;
    }
    plan.stage[v] = count++ / kMaxFuncsPerStage;
  }
  plan.num_stages =
      std::max(1, (count + kMaxFuncsPerStage - 1) / kMaxFuncsPerStage);
  return plan;
}

void Lowering::Schedule(const std::vector<bool>& here) {
  for (ValueId v = 0; v < g_.num_nodes(); ++v) {
    if (!here[v] || external_[v]) continue;
    const Node& node = g_.node(v);
    Lowered& l = values_[v];
    switch (FamilyOf(node.op)) {
      case Family::kReduction:
        ScheduleReduction(v);
        break;
      case Family::kMatMul:
        ScheduleMatMul(v);
        continue;  // The value's Func is scheduled there too.
      case Family::kScan:
        ScheduleScan(v);
        break;
      case Family::kScatter:
        // The copy of the base is dense; the scattered updates stay serial
        // (two updates may hit one element).
        l.acc.compute_root();
        ScheduleDense(l.acc, node.type.dims, TypeOf(v));
        if (l.acc.num_update_definitions() > 0) l.acc.update().unscheduled();
        break;
      case Family::kLeaf:
      case Family::kElementwise:
      case Family::kMovement:
        break;
    }
    bool is_output = false;
    for (const Func& f : output_funcs_) {
      is_output = is_output || f.name() == l.func.name();
    }
    // Materialized values of this stage, and the outputs it writes.
    if (is_output ||
        (plan_.stage[v] == stage_ && !plan_.why[v].empty() && !Cheap(g_, v))) {
      l.func.compute_root();
      ScheduleDense(l.func, node.type.dims, TypeOf(v));
    }
  }
}

bool Lowering::ScanVectorized(ValueId v) const {
  const Node& node = g_.node(v);
  const Dims& dims = node.type.dims;
  const int r = static_cast<int>(dims.size());
  const Halide::Type acc_t = AccumulatorType(TypeOf(v));
  return r >= 1 && node.attrs.GetInt("axis") != r - 1 &&
         dims[r - 1] >= target_.natural_vector_size(acc_t);
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
  if (ScanVectorized(v)) {
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

absl::Status Lowering::Run(const std::vector<ValueId>& outputs,
                           const std::vector<bool>& external) {
  const int n = g_.num_nodes();
  external_ = external;
  // What this stage computes: its outputs and everything they read, up to
  // external values.
  std::vector<bool> here(n, false);
  for (ValueId v : outputs) here[v] = true;
  for (ValueId v = n - 1; v >= 0; --v) {
    if (!here[v] || external_[v]) continue;
    for (ValueId in : g_.node(v).inputs) here[in] = true;
  }
  for (ValueId v = 0; v < n; ++v) {
    if (!here[v]) continue;
    const Node& node = g_.node(v);
    try {
      LowerNode(v);
    } catch (const Halide::Error& e) {
      return absl::InternalError(
          absl::StrCat("while lowering node '", node.name, "' (",
                       GetOpDef(node.op).name, ") to Halide: ", e.what()));
    }
  }
  try {
    // One Func per output. An output whose value is external, or is read by
    // anything else in this stage (a Func or another output), is a copy:
    // Halide 14 assumes the buffer of an output Func that other Funcs read
    // is aligned like its own allocations (64 bytes), which callers' buffers
    // need not be.
    std::vector<int> reads(n, 0);
    for (ValueId v = 0; v < n; ++v) {
      if (!here[v] || external_[v]) continue;
      for (ValueId in : g_.node(v).inputs) ++reads[in];
    }
    for (ValueId v : outputs) ++reads[v];
    for (ValueId v : outputs) {
      const Dims& dims = g_.type(v).dims;
      Func f;
      if (reads[v] > 1 || external_[v]) {
        f = Func(absl::StrCat("out", output_funcs_.size(), "_v", v));
        std::vector<Var> hv = HalideVars(MakeVars(g_.type(v).rank()));
        std::vector<Expr> args(hv.begin(), hv.end());
        f(hv) = values_[v].func(args);
        f.compute_root();
        ScheduleDense(f, dims, TypeOf(v));
      } else {
        f = values_[v].func;
      }
      const std::vector<int64_t> strides = RowMajorStrides(dims);
      for (int d = 0; d < static_cast<int>(dims.size()); ++d) {
        const int h = static_cast<int>(dims.size()) - 1 - d;
        f.output_buffer().dim(h).set_bounds(0, static_cast<int>(dims[d]));
        f.output_buffer().dim(h).set_stride(static_cast<int>(strides[d]));
      }
      output_funcs_.push_back(f);
    }
    Schedule(here);
  } catch (const Halide::Error& e) {
    return absl::InternalError(
        absl::StrCat("while scheduling the pipeline: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoweredGraph> LowerGraph(const Graph& graph,
                                        const Halide::Target& target) {
  const int n = graph.num_nodes();
  const Plan plan = MakePlan(graph);
  LoweredGraph result;
  for (ValueId v = 0; v < n; ++v) {
    if (!plan.why[v].empty()) result.materialized.push_back({v, plan.why[v]});
  }
  // Signature argument indices: inputs, parameters, outputs.
  std::vector<int> arg_index(n, -1);
  int num_args = 0;
  for (ValueId v : graph.inputs()) arg_index[v] = num_args++;
  for (ValueId v : graph.parameters()) arg_index[v] = num_args++;
  const int first_output = num_args;
  // The stage in which each needed value becomes available to later stages
  // (-1: a graph argument, available from the start).
  std::vector<int> ready(n, -2);
  for (ValueId v = 0; v < n; ++v) {
    const OpKind op = graph.node(v).op;
    if (op == OpKind::kInput || op == OpKind::kParameter) ready[v] = -1;
    if (plan.stage[v] >= 0) ready[v] = plan.stage[v];
  }
  // Which later stages read each value (through inlined consumers).
  std::vector<std::vector<bool>> read_by(plan.num_stages,
                                         std::vector<bool>(n, false));
  // Outputs of each stage: its materialized values that later stages read,
  // and the graph outputs computed there (graph outputs that are arguments
  // are copied in the last stage).
  std::vector<std::vector<ValueId>> stage_values(plan.num_stages);
  std::vector<std::vector<int>> stage_graph_outputs(plan.num_stages);
  for (size_t k = 0; k < graph.outputs().size(); ++k) {
    const ValueId v = graph.outputs()[k].value;
    const int s = ready[v] >= 0 ? ready[v] : plan.num_stages - 1;
    stage_graph_outputs[s].push_back(static_cast<int>(k));
  }
  for (int s = plan.num_stages - 1; s >= 0; --s) {
    std::vector<bool>& reads = read_by[s];
    for (int k : stage_graph_outputs[s]) reads[graph.outputs()[k].value] = true;
    for (ValueId v = n - 1; v >= 0; --v) {
      if (plan.stage[v] == s) reads[v] = true;
      if (!reads[v] || ready[v] == -1 || (ready[v] >= 0 && ready[v] < s)) {
        continue;
      }
      for (ValueId in : graph.node(v).inputs) reads[in] = true;
    }
  }
  // Where each value is stored for later stages: the caller's buffer of the
  // first graph output that names it, or a temporary.
  std::vector<StageBuffer> home(n);
  std::vector<bool> has_home(n, false);
  for (ValueId v = 0; v < n; ++v) {
    if (ready[v] == -1) {
      home[v] = {StageBuffer::kArgument, arg_index[v]};
      has_home[v] = true;
    }
  }
  for (size_t k = 0; k < graph.outputs().size(); ++k) {
    const ValueId v = graph.outputs()[k].value;
    if (!has_home[v]) {
      home[v] = {StageBuffer::kArgument, first_output + static_cast<int>(k)};
      has_home[v] = true;
    }
  }
  for (int s = 0; s < plan.num_stages; ++s) {
    for (ValueId v = 0; v < n; ++v) {
      if (plan.stage[v] != s || has_home[v]) continue;
      bool later = false;
      for (int t = s + 1; t < plan.num_stages; ++t)
        later = later || read_by[t][v];
      if (!later) continue;
      home[v] = {StageBuffer::kTemporary,
                 static_cast<int>(result.temporaries.size())};
      has_home[v] = true;
      result.temporaries.push_back(graph.type(v));
    }
  }
  for (int s = 0; s < plan.num_stages; ++s) {
    // This stage's outputs: its values needed later (in their homes), then
    // graph outputs it computes that are not those values' homes.
    std::vector<ValueId> outputs;
    LoweredStage stage;
    for (ValueId v = 0; v < n; ++v) {
      if (plan.stage[v] != s || !has_home[v] || ready[v] == -1) continue;
      outputs.push_back(v);
      stage.outputs.push_back(home[v]);
      stage.output_types.push_back(graph.type(v));
    }
    for (int k : stage_graph_outputs[s]) {
      const ValueId v = graph.outputs()[k].value;
      const StageBuffer b{StageBuffer::kArgument, first_output + k};
      if (has_home[v] && home[v].kind == b.kind && home[v].index == b.index &&
          ready[v] >= 0) {
        continue;  // Written above.
      }
      outputs.push_back(v);
      stage.outputs.push_back(b);
      stage.output_types.push_back(graph.type(v));
    }
    if (outputs.empty()) continue;
    std::vector<bool> external(n, false);
    for (ValueId v = 0; v < n; ++v) {
      external[v] = ready[v] == -1 || (ready[v] >= 0 && ready[v] < s);
    }
    Lowering lowering(graph, target, plan, s);
    ADC_RETURN_IF_ERROR(lowering.Run(outputs, external));
    for (size_t i = 0; i < lowering.params().size(); ++i) {
      const ValueId v = lowering.param_values()[i];
      ADC_CHECK(has_home[v]);
      stage.args.push_back(lowering.params()[i]);
      stage.inputs.push_back(home[v]);
      stage.input_types.push_back(graph.type(v));
    }
    for (ValueId v = 0; v < n; ++v) {
      if (plan.stage[v] == s && ready[v] != -1) {
        stage.nodes.push_back(absl::StrCat("'", graph.node(v).name, "' (",
                                           GetOpDef(graph.node(v).op).name,
                                           ")"));
      }
    }
    stage.pipeline = Halide::Pipeline(lowering.output_funcs());
    result.stages.push_back(std::move(stage));
  }
  return result;
}

}  // namespace adc::codegen
