#include "codegen/math_kernels.h"

#include <cmath>
#include <limits>

namespace adc::codegen {

using Halide::Expr;

Expr Const(Halide::Type t, double v) {
  if (t.is_float()) return Halide::cast(t, Expr(v));
  return Halide::cast(t, Expr(static_cast<int64_t>(v)));
}

Expr Infinity(Halide::Type t) {
  return t.is_float()
             ? Halide::cast(t, Expr(std::numeric_limits<double>::infinity()))
             : t.max();
}

// Halide 14's vectorized f32 exp, log and erf are polynomials without
// IEEE special cases (exp(NaN) = 0, exp(1e30) = 0, log(inf) = 88.7,
// log(1e-40) = -88.0, erf(inf) = NaN): these add them. f64 goes to libm,
// which has them.
//
// Results below 2^-126 (x < -87.34) are flushed to 0, as with FTZ: Halide's
// exp builds 2^k from the exponent bits. (Rescaling the argument for that
// range, exp(x + 64 ln2_hi) * 2^-64 exp(64 ln2_lo), gave subnormals within
// 2 ulps, and cost 10% on exp-bound graphs: log_softmax, the composite.)
// The absolute error there is below 1.2e-38.
Expr ExpOf(Expr x) {
  if (x.type() != Halide::Float(32)) return Halide::exp(x);
  // Halide::exp is written once: a call used twice is lifted out of its
  // strict_float by common-subexpression elimination, and Halide expands
  // exp_f32 into its polynomial only when it emits LLVM, then under
  // fast-math flags, which reassociate its range reduction (60 ulps on SSE
  // at x = -68).
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

namespace {

Expr ErfF32(Expr x) {
  // |erf(x)| rounds to 1 in f32 from |x| = 3.92; erf(-0) = -0 (Halide's
  // gives +0).
  return Halide::select(Halide::is_nan(x) || x == 0.0f, x,
                        Halide::abs(x) > 4.0f,
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
// The argument is reduced to r = x - j pi/2, |r| <= pi/4 (about), j an
// integer, then Cephes' minimax polynomials for sin and cos on [-pi/4, pi/4]
// in f32 (about 1 ulp) give the result: the quadrant q = j mod 4 picks
// +-sin(r) or +-cos(r). Three reductions, each for the arguments the one
// before cannot reduce exactly:
//  - |x| < 4096 (every vector of ordinary arguments): in f32, Cody-Waite
//    with pi/2 in four pieces (TrigReduceF32);
//  - |x| < 2^20: in f64, Cody-Waite with two constants (TrigReduceF64), in
//    a branch taken only by vectors that hold such an argument (RarePath);
//  - beyond, and inf and NaN: libm's sinf, cosf or tanf (Payne-Hanek
//    reduction), lane by lane, likewise in a branch of its own.
enum class Trig { kSin, kCos, kTan };

Expr TrigLibm(Expr x, Trig fn) {
  const char* name = fn == Trig::kSin   ? "sinf"
                     : fn == Trig::kCos ? "cosf"
                                        : "tanf";
  return Halide::Internal::Call::make(x.type(), name, {x},
                                      Halide::Internal::Call::PureExtern);
}

// The reduced argument and the quadrant.
struct Reduced {
  Expr r;  // f32
  Expr q;  // int32 in [0, 3]
};

// For |x| < 4096 (so |j| <= 2608 < 2^12): pi/2 = kC1 + kC2 + kC3 + kC4 to
// 2e-21, kC1..kC3 with 12 significant bits each, so every j * kCi is exact
// in f32, and so is x - j * kC1 (Sterbenz); the two subtractions after it
// keep their rounding errors; what is left is one rounding of r, far
// smaller ones of the error terms, and |j| 2e-21 from the constants: for the
// f32 arguments nearest a multiple of pi/2 (r down to about 1e-7 here) that is
// far below an ulp of r. strict_float keeps the order: the simplifier and
// LLVM's fast-math would merge j * kC1 + j * kC2 into j * (kC1 + kC2) and
// fold (r1 - r2) - j * kC2 to 0.
Reduced TrigReduceF32(Expr x) {
  constexpr float kC1 = 1.57080078125f;           // 0x1.922p+0
  constexpr float kC2 = -4.453584551811218e-06f;  // -0x1.2aep-18
  constexpr float kC3 = -8.706138032721356e-10f;  // -0x1.deap-31
  constexpr float kC4 = 6.223371969669989e-14f;   // 0x1.184698p-44
  Expr j = Halide::round(x * 0.636619772f);       // 2 / pi
  // Each step strict: common-subexpression elimination lifts r1, r2 and r3
  // (used twice) into lets outside any strict_float around them.
  auto strict = [](Expr e) { return Halide::strict_float(e); };
  Expr r1 = strict(x - j * kC1);
  // r1 - j kC2 = r2 + e2 and r2 - j kC3 = r3 + e3 exactly (Fast2Sum: the
  // first operand is the larger, or the difference is exact and e is 0),
  // so r is rounded once.
  Expr r2 = strict(r1 - j * kC2);
  Expr e2 = strict((r1 - r2) - j * kC2);
  Expr r3 = strict(r2 - j * kC3);
  Expr e3 = strict((r2 - r3) - j * kC3);
  Expr r = strict(r3 + ((e2 + e3) - j * kC4));
  return {r, Halide::cast<int>(j) & 3};
}

// For |x| < 2^20: in f64, pi/2 = kPio2Hi + kPio2Lo, kPio2Hi with 33
// significant bits, so j * kPio2Hi is exact for |j| < 2^20 and so is the
// first subtraction; the error left is about |j| 3.5e-27. (One f64
// constant, an error of |j| 6e-17, gave 2931 ulp at x = -534117.875, where
// r = 6.9e-8.) Strict for the same reasons as above.
Reduced TrigReduceF64(Expr x) {
  Expr xd = Halide::cast<double>(x);
  Expr j = Halide::round(xd * Expr(0.63661977236758134308));  // 2 / pi
  constexpr double kPio2Hi = 1.5707963267341256;
  constexpr double kPio2Lo = 6.077100506506192e-11;
  Expr r = Halide::strict_float(Halide::cast<float>(
      Halide::strict_float((xd - j * Expr(kPio2Hi)) - j * Expr(kPio2Lo))));
  Expr q = Halide::cast<int>(j - Expr(4.0) * Halide::floor(j * Expr(0.25)));
  return {r, q};
}

// sin, cos or tan of x from its reduction.
Expr TrigKernel(Expr x, Reduced reduced, Trig fn) {
  Expr r = reduced.r;
  Expr q = reduced.q;
  if (fn == Trig::kCos) q = (q + 1) & 3;
  Expr r2 = r * r;
  Expr sin_r = r + r * r2 *
                       (-1.6666654611e-1f +
                        r2 * (8.3321608736e-3f + r2 * -1.9515295891e-4f));
  Expr cos_r = 1.0f - 0.5f * r2 +
               r2 * r2 *
                   (4.166664568298827e-2f +
                    r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
  // sin(-0) = tan(-0) = -0: the reduction gives r = -0 - (-0) = +0.
  if (fn == Trig::kTan) {
    return Halide::select(x == 0.0f, x, q % 2 == 0, sin_r / cos_r,
                          -cos_r / sin_r);
  }
  if (fn == Trig::kSin) {
    return Halide::select(x == 0.0f, x, q == 0, sin_r, q == 1, cos_r, q == 2,
                          -sin_r, -cos_r);
  }
  return Halide::select(q == 0, sin_r, q == 1, cos_r, q == 2, -sin_r, -cos_r);
}

Expr TrigF32(Expr x, Trig fn) {
  Expr a = Halide::abs(x);
  Expr wide = RarePath(Halide::is_nan(x) || a >= 1048576.0f, TrigLibm(x, fn),
                       TrigKernel(x, TrigReduceF64(x), fn));
  // !(a < 4096): NaN too.
  return RarePath(!(a < 4096.0f), wide, TrigKernel(x, TrigReduceF32(x), fn));
}

constexpr char kRarePath[] = "adc_rare_path";

bool IsRarePath(const Halide::Internal::Call* op) {
  return op->name == kRarePath &&
         op->call_type == Halide::Internal::Call::PureExtern;
}

// Counts the uses of a variable outside and inside the slow sides of
// RarePath markers.
class SlowSideUses : public Halide::Internal::IRVisitor {
 public:
  explicit SlowSideUses(const std::string& name) : name_(name) {}
  int outside = 0;
  int inside = 0;

 private:
  using IRVisitor::visit;
  void Use() { ++(slow_depth_ > 0 ? inside : outside); }
  void visit(const Halide::Internal::Variable* op) override {
    if (op->name == name_) Use();
  }
  // Loads and stores name their buffer's host pointer, a let too.
  void visit(const Halide::Internal::Load* op) override {
    if (op->name == name_) Use();
    IRVisitor::visit(op);
  }
  void visit(const Halide::Internal::Store* op) override {
    if (op->name == name_) Use();
    IRVisitor::visit(op);
  }
  void visit(const Halide::Internal::Call* op) override {
    if (!IsRarePath(op)) return IRVisitor::visit(op);
    op->args[0].accept(this);
    ++slow_depth_;
    op->args[1].accept(this);
    --slow_depth_;
    op->args[2].accept(this);
  }
  const std::string& name_;
  int slow_depth_ = 0;
};

// Binds a variable inside the slow side of every RarePath marker that uses
// it: let name = value in slow.
class SinkIntoSlow : public Halide::Internal::IRMutator {
 public:
  SinkIntoSlow(const std::string& name, Expr value)
      : name_(name), value_(std::move(value)) {}

 private:
  using IRMutator::visit;
  Expr visit(const Halide::Internal::Call* op) override {
    if (!IsRarePath(op)) return IRMutator::visit(op);
    Expr slow = op->args[1];
    if (Halide::Internal::expr_uses_var(slow, name_)) {
      slow = Halide::Internal::Let::make(name_, value_, slow);
    }
    return Halide::Internal::Call::make(
        op->type, op->name, {mutate(op->args[0]), slow, mutate(op->args[2])},
        op->call_type);
  }
  const std::string& name_;
  Expr value_;
};

// RarePath(cond, slow, fast) -> let f = fast in
//   if_then_else(any lane of cond, select(cond, slow, f), f)
// A scalar condition is a branch in LLVM (a vector one would be
// scalarized: CodeGen_LLVM), so the slow side runs only when needed.
// Custom lowering passes run after Halide's common-subexpression
// elimination, which lifts what a slow side computes twice (the f64
// reduction of sin, or what sin and cos of one argument share) into lets
// around the whole store, computed for every vector: such lets, used only
// on slow sides, are moved back into them first.
class RarePathPass : public Halide::Internal::IRMutator {
 public:
  using IRMutator::visit;

 protected:
  Expr visit(const Halide::Internal::Call* op) override {
    using Halide::Internal::Call;
    if (!IsRarePath(op)) return IRMutator::visit(op);
    Expr cond = mutate(op->args[0]);
    Expr slow = mutate(op->args[1]);
    Expr fast = mutate(op->args[2]);
    const std::string name = Halide::Internal::unique_name('r');
    Expr f = Halide::Internal::Variable::make(fast.type(), name);
    Expr any = cond.type().is_vector()
                   ? Halide::Internal::VectorReduce::make(
                         Halide::Internal::VectorReduce::Or, cond, 1)
                   : cond;
    Expr branch =
        Call::make(op->type, Call::if_then_else,
                   {any, Halide::Internal::Select::make(cond, slow, f), f},
                   Call::PureIntrinsic);
    return Halide::Internal::Let::make(name, fast, branch);
  }
  Expr visit(const Halide::Internal::Let* op) override {
    return SinkLets<Halide::Internal::Let>(op);
  }
  Halide::Internal::Stmt visit(const Halide::Internal::LetStmt* op) override {
    return SinkLets<Halide::Internal::LetStmt>(op);
  }

 private:
  // A chain of lets (Let or LetStmt) and its body: the lets used only on
  // slow sides move into them, the others stay; then markers are lowered.
  template <typename LetT>
  auto SinkLets(const LetT* op) -> decltype(op->body) {
    std::vector<std::pair<std::string, Expr>> chain;
    decltype(op->body) body = op->body;
    chain.emplace_back(op->name, op->value);
    while (const LetT* inner = body.template as<LetT>()) {
      chain.emplace_back(inner->name, inner->value);
      body = inner->body;
    }
    // Innermost first: a let's value may use the lets around it.
    std::vector<std::pair<std::string, Expr>> kept;  // Innermost first.
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      SlowSideUses uses(it->first);
      body.accept(&uses);
      for (const auto& [name, value] : kept) value.accept(&uses);
      if (uses.outside > 0 || uses.inside == 0) {
        kept.emplace_back(*it);
        continue;
      }
      SinkIntoSlow sink(it->first, it->second);
      body = sink.mutate(body);
      for (auto& [name, value] : kept) value = sink.mutate(value);
    }
    body = mutate(body);
    for (const auto& [name, value] : kept) {
      body = LetT::make(name, mutate(value), body);
    }
    return body;
  }
};

}  // namespace

Expr RarePath(Expr cond, Expr slow, Expr fast) {
  // Equal types (a Select's rule), checked here where the caller is known.
  if (slow.type() != fast.type() || !cond.type().is_bool()) {
    throw Halide::CompileError("RarePath: operands of different types");
  }
  return Halide::Internal::Call::make(fast.type(), kRarePath,
                                      {cond, slow, fast},
                                      Halide::Internal::Call::PureExtern);
}

Halide::Internal::Stmt LowerRarePaths(const Halide::Internal::Stmt& s) {
  return RarePathPass().mutate(s);
}

void AddMathLoweringPasses(Halide::Pipeline& pipeline) {
  RarePathPass* pass = new RarePathPass();  // Owned by the pipeline.
  pipeline.add_custom_lowering_pass(pass, [pass] { delete pass; });
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
Expr PowOf(Expr x, Expr y) {
  const Halide::Type t = x.type();
  Expr nan = Halide::cast(t, Expr(std::numeric_limits<double>::quiet_NaN()));
  Expr p = t == Halide::Float(32)
               ? Halide::Internal::Call::make(
                     t, "powf", {x, y}, Halide::Internal::Call::PureExtern)
               : Halide::pow(x, y);
  return Halide::select(y == Const(t, 0) || x == Const(t, 1), Const(t, 1),
                        Halide::is_nan(x) || Halide::is_nan(y), nan, p);
}

Expr Log1pOf(Expr x) {
  const Halide::Type t = x.type();
  if (t == Halide::Float(32)) return Log1pF32(x);
  // f64: Kahan's trick, log1p(x) = x * log(u) / (u - 1) with u = 1 + x
  // (x where u == 1, u where u == inf), with libm's log. Strict:
  // reassociation would fold (1 + x) - 1 to x and lose the correction.
  Expr u = Const(t, 1) + x;
  return Halide::strict_float(
      Halide::select(u == Const(t, 1), x,
                     Halide::select(u == Infinity(t), u,
                                    Halide::log(u) * (x / (u - Const(t, 1))))));
}

Expr Expm1Of(Expr x) {
  const Halide::Type t = x.type();
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

Expr SinOf(Expr x) {
  return x.type() == Halide::Float(32) ? TrigF32(x, Trig::kSin)
                                       : Halide::sin(x);
}

Expr CosOf(Expr x) {
  return x.type() == Halide::Float(32) ? TrigF32(x, Trig::kCos)
                                       : Halide::cos(x);
}

Expr TanOf(Expr x) {
  return x.type() == Halide::Float(32) ? TrigF32(x, Trig::kTan)
                                       : Halide::tan(x);
}

Expr TanhOf(Expr x) {
  return x.type() == Halide::Float(32) ? TanhF32(x) : Halide::tanh(x);
}

Expr ErfOf(Expr x) {
  if (x.type() == Halide::Float(32)) return ErfF32(x);
  // Halide's erf is f32 only: call libm's erf for f64.
  return Halide::Internal::Call::make(x.type(), "erf", {x},
                                      Halide::Internal::Call::PureExtern);
}

// Vectorized f32 atan (Halide 14 calls scalar libm atanf per lane): Cephes'
// atanf. |x| is mapped to t in [-tan(pi/8), tan(pi/8)] by t = |x| below
// tan(pi/8), (|x| - 1) / (|x| + 1) (offset pi/4) below tan(3pi/8), else
// -1 / |x| (offset pi/2); a degree-9 odd minimax polynomial gives atan(t).
// The offsets carry their f32 rounding errors as low parts, added before the
// offsets (2 ulp worst over 2.5e7 arguments in a NumPy model, 3 without).
// Strict: reassociation would add the low part to the offset first.
// inf: -1/inf = -0, so pi/2; -0 and NaN come back as they are.
Expr AtanF32(Expr x) {
  Expr a = Halide::abs(x);
  Expr big = a > 2.414213562373095f;
  Expr mid = a > 0.4142135623730950f;
  Expr t = Halide::select(big, -1.0f / a, mid, (a - 1.0f) / (a + 1.0f), a);
  const float pio2 = 1.5707963267948966f, pio4 = 0.7853981633974483f;
  const float pio2_lo = static_cast<float>(1.5707963267948966 - pio2);
  const float pio4_lo = static_cast<float>(0.7853981633974483 - pio4);
  Expr hi = Halide::select(big, pio2, mid, pio4, 0.0f);
  Expr lo = Halide::select(big, pio2_lo, mid, pio4_lo, 0.0f);
  Expr z = t * t;
  Expr p =
      (((8.05374449538e-2f * z - 1.38776856032e-1f) * z + 1.99777106478e-1f) *
           z -
       3.33329491539e-1f) *
          z * t +
      t;
  Expr r = hi + (p + lo);
  return Halide::strict_float(
      Halide::select(Halide::is_nan(x) || x == 0.0f, x, x < 0.0f, -r, r));
}

// f32: AtanF32; f64: libm's atan.
Expr AtanOf(Expr x) {
  return x.type() == Halide::Float(32) ? AtanF32(x) : Halide::atan(x);
}

// e = exp(-|x|) <= 1 never overflows; sigmoid = 1 / (1 + e) for x >= 0,
// e / (1 + e) otherwise.
// NaN is passed through first: on 4- and 8-lane f32 vectors, LLVM made
// exp(-|NaN|) 0 and the sigmoid 1.
Expr SigmoidOf(Expr x) {
  const Halide::Type t = x.type();
  Expr e = ExpOf(-Halide::abs(x));
  Expr d = Const(t, 1) + e;
  return Halide::select(Halide::is_nan(x), x, x >= Const(t, 0), Const(t, 1) / d,
                        e / d);
}

namespace {

// Marks every comparison of floats in an expression strict. strict_float
// covers the float-typed nodes of its argument only; a comparison is
// bool-typed, and under Halide's default fast-math flags LLVM may assume its
// operands are not NaN or inf (x == inf folded away). Halide 14's strict
// <= and >= are wrong for NaN (NaN <= 0 was true: it is lowered as
// !(0 < NaN)), so they become strict < or ==.
class StrictComparisonsMutator : public Halide::Internal::IRMutator {
 public:
  using IRMutator::visit;

 private:
  template <typename Op>
  Expr Compare(const Op* op) {
    Expr e = IRMutator::visit(op);
    return op->a.type().is_float() ? Halide::strict_float(e) : e;
  }
  // a <= b as a < b || a == b, each strict.
  Expr LessOrEqual(Expr a, Expr b) {
    return Halide::strict_float(a < b) || Halide::strict_float(a == b);
  }
  Expr visit(const Halide::Internal::LT* op) override { return Compare(op); }
  Expr visit(const Halide::Internal::LE* op) override {
    if (!op->a.type().is_float()) return IRMutator::visit(op);
    return LessOrEqual(mutate(op->a), mutate(op->b));
  }
  Expr visit(const Halide::Internal::GT* op) override { return Compare(op); }
  Expr visit(const Halide::Internal::GE* op) override {
    if (!op->a.type().is_float()) return IRMutator::visit(op);
    return LessOrEqual(mutate(op->b), mutate(op->a));
  }
  Expr visit(const Halide::Internal::EQ* op) override { return Compare(op); }
  Expr visit(const Halide::Internal::NE* op) override { return Compare(op); }
};

}  // namespace

Expr StrictComparisons(Expr e) { return StrictComparisonsMutator().mutate(e); }

}  // namespace adc::codegen
