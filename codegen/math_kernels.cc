#include "codegen/math_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

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

// Halide 14's vectorized f32 log and erf are polynomials without IEEE
// special cases (log(inf) = 88.7, log(1e-40) = -88.0, erf(inf) = NaN), and
// so was its exp (exp(NaN) = 0, exp(1e30) = 0): these add them. f64 goes to
// libm, which has them.

namespace {

constexpr char kFma[] = "adc_fma";
// 1.5 * 2^23: v + kRoundMagic - kRoundMagic is v rounded to the nearest
// integer (ties to even) for |v| < 2^22, and the low bits of
// v + kRoundMagic, read as an integer, are that integer's low bits.
constexpr float kRoundMagic = 12582912.0f;

Expr Strict(Expr e) { return Halide::strict_float(e); }

}  // namespace

Expr Fma(Expr a, Expr b, Expr c) {
  return Halide::Internal::Call::make(a.type(), kFma, {a, b, c},
                                      Halide::Internal::Call::PureExtern);
}

// f32 exp: x = k ln2 + r with k = round(x / ln2) (the 1.5 * 2^23 trick, whose
// sum also holds k in its low bits) and |r| <= ln2 / 2 by Cody-Waite with
// Cephes' ln2 in two pieces (the first of 9 bits, so x - k kLn2Hi is exact
// with FMA or without); e^r by Cephes' expf polynomial in FMAs; 2^k added
// to the result's exponent bits (1 ulp over the test's sweep; Halide's
// exp_f32, which this replaces, had 2 and half again as many operations).
// Results below 2^-126 (x < -87.34) are 0 or within 2^-126 of the true
// value, as with FTZ: the exponent bits cannot hold a subnormal. (Rescaling
// the argument for that range, exp(x + 64 ln2_hi) * 2^-64 exp(64 ln2_lo),
// gave subnormals within 2 ulps, and cost 10% on exp-bound graphs:
// log_softmax, the composite.) The absolute error there is below 1.2e-38.
// Above 88.7228317 (the largest f32 whose exp is finite) the result is inf;
// below -87.3365448 (ln 2^-126), 0, where k 2^23 would reach the sign bit.
// Each step strict: common-subexpression elimination lifts steps used twice
// out of the strict_float around the whole expression, and fast-math would
// fold t - kRoundMagic and the reduction away.
Expr ExpF32(Expr x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;     // 0x1.63p-1
  constexpr float kLn2Lo = -2.12194440e-4f;  // ln 2 - kLn2Hi
  Expr t = Strict(Fma(x, kLog2e, kRoundMagic));
  Expr k = Strict(t - kRoundMagic);
  Expr r = Strict(Fma(k, -kLn2Lo, Strict(Fma(k, -kLn2Hi, x))));
  Expr p = 1.9875691500e-4f;
  for (float c : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                  1.6666665459e-1f, 5.0000001201e-1f}) {
    p = Fma(p, r, c);
  }
  Expr y = Strict(Fma(p, Strict(r * r), r) + 1.0f);
  Expr scaled =
      Halide::reinterpret<int32_t>(y) + (Halide::reinterpret<int32_t>(t) << 23);
  return Halide::select(Halide::is_nan(x), x, x > 88.7228317f,
                        Infinity(x.type()), x < -87.3365448f,
                        Halide::cast(x.type(), 0.0f),
                        Halide::reinterpret<float>(scaled));
}

Expr ExpOf(Expr x) {
  return x.type() == Halide::Float(32) ? ExpF32(x) : Halide::exp(x);
}

// f32 log: x = m 2^e with m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact);
// log(1 + f) by Cephes' logf polynomial in FMAs, plus e ln 2 with ln 2 in two
// pieces (Cody-Waite, as in exp). Subnormal x is scaled by 2^24 first (e
// 24 less). Halide's log_f32, which this replaces, treated subnormals as
// 2^-126 and had no special values.
Expr LogF32(Expr x) {
  Expr subnormal = x < 1.17549435e-38f;
  Expr scaled = Halide::select(subnormal, x * 16777216.0f, x);
  Expr bits = Halide::reinterpret<int32_t>(scaled);
  Expr m = Halide::reinterpret<float>((bits & 0x007fffff) | 0x3f000000);
  Expr low = m < 0.707106781f;  // m in [1/2, 1): 2m - 1 and m - 1 exact.
  Expr f = Strict(Halide::select(low, m + m, m) - 1.0f);
  Expr e = (bits >> 23) - Halide::select(subnormal, 150, 126) -
           Halide::select(low, 1, 0);
  Expr ef = Halide::cast<float>(e);
  Expr z = Strict(f * f);
  Expr p = 7.0376836292e-2f;
  for (float c : {-1.1514610310e-1f, 1.1676998740e-1f, -1.2420140846e-1f,
                  1.4249322787e-1f, -1.6668057665e-1f, 2.0000714765e-1f,
                  -2.4999993993e-1f, 3.3333331174e-1f}) {
    p = Fma(p, f, c);
  }
  Expr y = Strict(Strict(p * f) * z);
  y = Fma(ef, -2.12194440e-4f, y);
  y = Fma(-0.5f, z, y);
  Expr log = Strict(Fma(ef, 0.693359375f, Strict(f + y)));
  return Halide::select(
      Halide::is_nan(x) || x < 0.0f,
      Halide::cast(x.type(), Expr(std::numeric_limits<float>::quiet_NaN())),
      x == 0.0f, -Infinity(x.type()), x == Infinity(x.type()), x, log);
}

Expr LogOf(Expr x) {
  return x.type() == Halide::Float(32) ? LogF32(x) : Halide::log(x);
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
  for (int k = 15; k >= 1; k -= 2) series = Fma(series, s2, 1.0f / k);
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
    series = Fma(series, x, static_cast<float>(1.0 / factorial));
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
// +-sin(r) or +-cos(r). Two reductions:
//  - |x| < 4096 (every vector of ordinary arguments): in f32, Cody-Waite
//    with pi/2 in four pieces (TrigReduceF32);
//  - beyond (up to 2^128; inf and NaN give NaN): Payne-Hanek in f64
//    (TrigReducePayneHanek), in a branch taken only by vectors that hold
//    such an argument (RarePath). No libm calls: a call in the loop, even
//    on a branch never taken, made LLVM keep the loop's vector values on the
//    stack (the calls clobber every vector register): 12% of the composite
//    gradient's time.
enum class Trig { kSin, kCos, kTan };

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
// far below an ulp of r. As FMAs (Fma: with or without the instruction, the
// same results, since j * kCi is exact; but for kC4's, far below an ulp).
// j = round(x 2 / pi) by the 1.5 * 2^23 trick, whose sum's low bits are
// j's. strict_float keeps the order: the simplifier and LLVM's fast-math
// would merge j * kC1 + j * kC2 into j * (kC1 + kC2), fold (r1 - r2) - j *
// kC2 to 0 and t - kRoundMagic to x 2 / pi.
Reduced TrigReduceF32(Expr x) {
  constexpr float kC1 = 1.57080078125f;                // 0x1.922p+0
  constexpr float kC2 = -4.453584551811218e-06f;       // -0x1.2aep-18
  constexpr float kC3 = -8.706138032721356e-10f;       // -0x1.deap-31
  constexpr float kC4 = 6.223371969669989e-14f;        // 0x1.184698p-44
  Expr t = Strict(Fma(x, 0.636619772f, kRoundMagic));  // 2 / pi
  Expr minus_j = Strict(kRoundMagic - t);
  // Each step strict: common-subexpression elimination lifts r1, r2 and r3
  // (used twice) into lets outside any strict_float around them.
  Expr r1 = Strict(Fma(minus_j, kC1, x));
  // r1 - j kC2 = r2 + e2 and r2 - j kC3 = r3 + e3 exactly (Fast2Sum: the
  // first operand is the larger, or the difference is exact and e is 0),
  // so r is rounded once.
  Expr r2 = Strict(Fma(minus_j, kC2, r1));
  Expr e2 = Strict(Fma(minus_j, kC2, Strict(r1 - r2)));
  Expr r3 = Strict(Fma(minus_j, kC3, r2));
  Expr e3 = Strict(Fma(minus_j, kC3, Strict(r2 - r3)));
  Expr r = Strict(r3 + Fma(minus_j, kC4, Strict(e2 + e3)));
  return {r, Halide::reinterpret<int32_t>(t) & 3};
}

// 2/pi in hexadecimal, the first 256 bits after the point.
constexpr char kTwoOverPiHex[] =
    "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041fe5163abdebbc561"
    "b7246e3a424dd2e006492eea09d1921cfe1deb1cb129a73ee88235f52ebb4484";
// Payne-Hanek: f32 x = m 2^e exactly (m an integer below 2^24), so x 2/pi
// mod 4 = m w(e) mod 4 with w(e) = 2^e 2/pi mod 4, a real below 4 that a
// table gives for every e of |x| >= 2^12 (e from -11 to 104) in three f64
// pieces: 27 bits (weights 2 to 2^-25), 27 bits (2^-26 to 2^-52) and 53
// bits (2^-53 to 2^-105). m times the first two is exact in f64; the first
// product is reduced mod 4 exactly (it and 4 round(it / 4) are multiples of
// 2^-25 below 2^26), j = round(sum), and f = ((p1 - j) + p2) + p3 is exact
// but for the last addition (p1 - j and p1 - j + p2 need at most 53 bits):
// r = f pi/2 has a relative error near 2^-52 however close x is to a multiple
// of pi/2. round(v) is (v + 1.5 2^52) - 1.5 2^52 (no rounding instructions on
// SSE2, and no libm). The table is a constant buffer in the compiled
// code (2.8 KB).
constexpr int kPayneHanekMinExponent = -11;
constexpr int kPayneHanekEntries = 104 - kPayneHanekMinExponent + 1;

const Halide::Buffer<double>& PayneHanekTable() {
  static const Halide::Buffer<double> table = [] {
    // Bit i (1-based) of 2/pi.
    auto bit = [](int i) -> uint64_t {
      if (i < 1) return 0;
      const int digit = (i - 1) / 4;
      const char c = kTwoOverPiHex[digit];
      const int v = c <= '9' ? c - '0' : c - 'a' + 10;
      return (v >> (3 - (i - 1) % 4)) & 1;
    };
    // The integer of bits [first, first + n) of 2/pi.
    auto bits = [&](int first, int n) {
      uint64_t v = 0;
      for (int i = first; i < first + n; ++i) v = v << 1 | bit(i);
      return v;
    };
    Halide::Buffer<double> t(kPayneHanekEntries, 3, "adc_payne_hanek");
    for (int k = 0; k < kPayneHanekEntries; ++k) {
      const int e = kPayneHanekMinExponent + k;
      // Bit i of 2/pi weighs 2^(e - i) in 2^e 2/pi; bits of weight 4 and
      // more drop out mod 4 (times an integer m), so w(e) starts at i = e - 1.
      t(k, 0) = std::ldexp(static_cast<double>(bits(e - 1, 27)), -25);
      t(k, 1) = std::ldexp(static_cast<double>(bits(e + 26, 27)), -52);
      t(k, 2) = std::ldexp(static_cast<double>(bits(e + 53, 53)), -105);
    }
    return t;
  }();
  return table;
}

Reduced TrigReducePayneHanek(Expr x) {
  Expr bits = Halide::reinterpret<int32_t>(Halide::abs(x));
  Expr e = (bits >> 23) - 150;
  Expr m = Halide::cast<double>((bits & 0x7fffff) | 0x800000);
  Expr k = Halide::clamp(e - kPayneHanekMinExponent, 0, kPayneHanekEntries - 1);
  const Halide::Buffer<double>& table = PayneHanekTable();
  const Expr magic(6755399441055744.0);  // 1.5 2^52
  auto round = [&](Expr v) { return Strict(Strict(v + magic) - magic); };
  Expr p1 = Strict(m * table(k, 0));
  p1 = Strict(
      p1 - Strict(round(Strict(p1 * Expr(0.25))) * Expr(4.0)));  // In [-2, 2].
  Expr p2 = Strict(m * table(k, 1));
  Expr p3 = Strict(m * table(k, 2));
  Expr j = round(Strict(p1 + p2));
  Expr f = Strict(Strict(Strict(p1 - j) + p2) + p3);
  Expr r = Halide::cast<float>(Strict(f * Expr(1.5707963267948966)));
  Expr q = Halide::cast<int32_t>(j);
  // x < 0: x 2/pi = -(|x| 2/pi). inf and NaN: r is NaN, and so is the result.
  Expr nan(std::numeric_limits<float>::quiet_NaN());
  return {Halide::select(Halide::is_nan(x) || Halide::is_inf(x), nan, x < 0.0f,
                         -r, r),
          Halide::select(x < 0.0f, -q, q) & 3};
}

// sin, cos or tan of x from its reduction.
Expr TrigKernel(Expr x, Reduced reduced, Trig fn) {
  Expr r = reduced.r;
  Expr q = reduced.q;
  if (fn == Trig::kCos) q = (q + 1) & 3;
  Expr r2 = r * r;
  // r + r^3 s(r2) and (1 - r2 / 2) + r2^2 c(r2), Horner's rule in FMAs
  // (without FMA as before them, a multiplication and an addition).
  Expr sin_r = Fma(
      r * r2,
      Fma(r2, Fma(r2, -1.9515295891e-4f, 8.3321608736e-3f), -1.6666654611e-1f),
      r);
  Expr cos_r =
      Fma(r2 * r2,
          Fma(r2, Fma(r2, 2.443315711809948e-5f, -1.388731625493765e-3f),
              4.166664568298827e-2f),
          Fma(-0.5f, r2, 1.0f));
  // sin(-0) = tan(-0) = -0: the reduction gives r = -0 - (-0) = +0.
  if (fn == Trig::kTan) {
    return Halide::select(x == 0.0f, x, q % 2 == 0, sin_r / cos_r,
                          -cos_r / sin_r);
  }
  // Quadrant q: sin_r, cos_r, -sin_r, -cos_r; the other function for odd q,
  // the sign bit flipped for q of 2 and 3 (bit operations: half as many as
  // a select per quadrant).
  Expr v = Halide::select((q & 1) == 0, sin_r, cos_r);
  Expr sign = Halide::cast<uint32_t>(q & 2) << 30;
  Expr signed_v =
      Halide::reinterpret<float>(Halide::reinterpret<uint32_t>(v) ^ sign);
  return fn == Trig::kSin ? Halide::select(x == 0.0f, x, signed_v) : signed_v;
}

Expr TrigF32(Expr x, Trig fn) {
  // !(|x| < 4096): NaN too.
  return RarePath(!(Halide::abs(x) < 4096.0f),
                  TrigKernel(x, TrigReducePayneHanek(x), fn),
                  TrigKernel(x, TrigReduceF32(x), fn));
}

constexpr char kRarePath[] = "adc_rare_path";

// A call of one of the markers (kFma, kRarePath) that the math lowering
// pass replaces.
bool IsMarker(const Halide::Internal::Call* op, const char* name) {
  return op->name == name &&
         op->call_type == Halide::Internal::Call::PureExtern;
}

bool IsRarePath(const Halide::Internal::Call* op) {
  return IsMarker(op, kRarePath);
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

// Custom lowering passes run after Halide's common-subexpression
// elimination, which lifts what a slow side computes twice (the f64
// reduction of sin, or what sin and cos of one argument share) into lets
// around the whole store, computed for every vector: such lets, used only
// on slow sides, are moved back into them first. Bottom up: a let whose
// value uses another let's variable is moved first, so that variable's use
// is then on the slow side too.
class SinkSlowLets : public Halide::Internal::IRMutator {
 public:
  using IRMutator::visit;

 private:
  Expr visit(const Halide::Internal::Let* op) override {
    return SinkLets<Halide::Internal::Let>(op);
  }
  Halide::Internal::Stmt visit(const Halide::Internal::LetStmt* op) override {
    return SinkLets<Halide::Internal::LetStmt>(op);
  }
  // A chain of lets (Let or LetStmt) and its body: the lets used only on
  // slow sides move into them, the others stay.
  template <typename LetT>
  auto SinkLets(const LetT* op) -> decltype(op->body) {
    std::vector<std::pair<std::string, Expr>> chain;
    decltype(op->body) body = op->body;
    chain.emplace_back(op->name, op->value);
    while (const LetT* inner = body.template as<LetT>()) {
      chain.emplace_back(inner->name, inner->value);
      body = inner->body;
    }
    body = mutate(body);
    for (auto& [name, value] : chain) value = mutate(value);
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
    for (const auto& [name, value] : kept) {
      body = LetT::make(name, value, body);
    }
    return body;
  }
};

// RarePath(cond, slow, fast) -> let f = fast in
//   if_then_else(any lane of cond, select(cond, slow, f), f)
// A scalar condition is a branch in LLVM (a vector one would be
// scalarized: CodeGen_LLVM), so the slow side runs only when needed.
//
// Fma's marker becomes LLVM's fma intrinsic where the target has FMA (on a
// vector, one call per lane, which LLVM's SLP vectorizer turns back into
// one vector instruction), else a * b + c, strict.
class LowerMarkers : public Halide::Internal::IRMutator {
 public:
  explicit LowerMarkers(bool has_fma) : has_fma_(has_fma) {}
  using IRMutator::visit;

 private:
  Expr visit(const Halide::Internal::Call* op) override {
    using Halide::Internal::Call;
    if (IsMarker(op, kFma)) {
      Expr a = mutate(op->args[0]), b = mutate(op->args[1]),
           c = mutate(op->args[2]);
      if (!has_fma_) return Strict(a * b + c);
      const char* name =
          op->type.bits() == 64 ? "llvm.fma.f64" : "llvm.fma.f32";
      return Call::make(op->type, name, {a, b, c}, Call::PureExtern);
    }
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
    // Expected false: LLVM's block frequencies then put register spills
    // on the slow side.
    any = Call::make(Halide::Bool(), "llvm.expect.i1",
                     {any, Halide::Internal::const_false()}, Call::PureExtern);
    Expr branch =
        Call::make(op->type, Call::if_then_else,
                   {any, Halide::Internal::Select::make(cond, slow, f), f},
                   Call::PureIntrinsic);
    return Halide::Internal::Let::make(name, fast, branch);
  }
  const bool has_fma_;
};

// A loop body storing several outputs (a tuple's elements, each a chain of
// lets around a store) that compute the same marker: sin(x2) for W1's value
// and both its gradients. Lowered per store, each would be a branch of its
// own whose result LLVM cannot share, and so is everything after it (W1's
// (1 + sin x2) / d three times). A marker whose closed form (its lets
// substituted) two stores share is bound once in a let around the body.
// Only where that is safe to hoist: stores directly under their let chains,
// markers outside other markers and conditional calls, reading no buffer
// the body stores to and no predicated loads.
class ShareRarePaths : public Halide::Internal::IRMutator {
 public:
  using IRMutator::visit;

 private:
  using Stmt = Halide::Internal::Stmt;
  Stmt visit(const Halide::Internal::For* op) override {
    Stmt body = mutate(op->body);
    std::vector<Stmt> parts;
    Flatten(body, &parts);
    if (parts.size() >= 2) body = Share(parts, body);
    return Halide::Internal::For::make(op->name, op->min, op->extent,
                                       op->for_type, op->device_api, body);
  }

  static void Flatten(const Stmt& s, std::vector<Stmt>* parts) {
    if (const auto* b = s.as<Halide::Internal::Block>()) {
      Flatten(b->first, parts);
      Flatten(b->rest, parts);
    } else {
      parts->push_back(s);
    }
  }

  // The markers an expression computes unconditionally (not inside another
  // marker or an if_then_else), each with the lets around it inside the
  // expression (outermost first).
  class Markers : public Halide::Internal::IRVisitor {
   public:
    struct Found {
      const Halide::Internal::Call* marker;
      std::vector<std::pair<std::string, Expr>> lets;
    };
    std::vector<Found> found;

   private:
    using IRVisitor::visit;
    void visit(const Halide::Internal::Call* op) override {
      if (IsRarePath(op)) {
        found.push_back({op, lets_});
      } else if (!op->is_intrinsic(Halide::Internal::Call::if_then_else)) {
        IRVisitor::visit(op);
      }
    }
    void visit(const Halide::Internal::Let* op) override {
      op->value.accept(this);
      lets_.emplace_back(op->name, op->value);
      op->body.accept(this);
      lets_.pop_back();
    }
    std::vector<std::pair<std::string, Expr>> lets_;
  };

  // Buffers read (and whether any load is predicated). Graph visitors and
  // graph_substitute/graph_equal: a closed form is a DAG whose tree could be
  // exponentially larger.
  class Loads : public Halide::Internal::IRGraphVisitor {
   public:
    std::set<std::string> names;
    bool predicated = false;

   private:
    using IRGraphVisitor::visit;
    void visit(const Halide::Internal::Load* op) override {
      names.insert(op->name);
      if (!Halide::Internal::is_const_one(op->predicate)) predicated = true;
      IRGraphVisitor::visit(op);
    }
  };

  // Replaces one node (by identity) with a variable.
  class Replace : public Halide::Internal::IRMutator {
   public:
    Replace(const Halide::Internal::Call* target, Expr var)
        : target_(target), var_(std::move(var)) {}

   private:
    using IRMutator::visit;
    Expr visit(const Halide::Internal::Call* op) override {
      return op == target_ ? var_ : IRMutator::visit(op);
    }
    const Halide::Internal::Call* target_;
    Expr var_;
  };

  Stmt Share(const std::vector<Stmt>& parts, const Stmt& body) {
    using namespace Halide::Internal;
    std::set<std::string> stored;
    for (const Stmt& part : parts) {
      Stmt s = part;
      while (const auto* let = s.as<LetStmt>()) s = let->body;
      const auto* store = s.as<Store>();
      if (store == nullptr) return body;
      stored.insert(store->name);
    }
    struct Use {
      size_t part;
      const Call* marker;
    };
    struct Group {
      Expr closed;
      std::vector<Use> uses;
    };
    std::vector<Group> groups;
    for (size_t k = 0; k < parts.size(); ++k) {
      std::vector<std::pair<std::string, Expr>> chain;
      Stmt s = parts[k];
      Markers markers;
      while (const auto* let = s.as<LetStmt>()) {
        chain.emplace_back(let->name, let->value);
        let->value.accept(&markers);
        s = let->body;
      }
      s.as<Store>()->value.accept(&markers);
      for (const Markers::Found& f : markers.found) {
        const Call* m = f.marker;
        // Innermost let first: a let's value uses only the lets before it.
        Expr closed(m);
        auto close = [&](const std::vector<std::pair<std::string, Expr>>& v) {
          for (auto it = v.rbegin(); it != v.rend(); ++it) {
            if (expr_uses_var(closed, it->first)) {
              closed = graph_substitute(it->first, it->second, closed);
            }
          }
        };
        close(f.lets);
        close(chain);
        Loads loads;
        closed.accept(&loads);
        bool hoistable = !loads.predicated;
        for (const std::string& name : loads.names) {
          if (stored.count(name) != 0) hoistable = false;
        }
        if (!hoistable) continue;
        auto same = std::find_if(
            groups.begin(), groups.end(),
            [&](const Group& g) { return graph_equal(g.closed, closed); });
        if (same == groups.end()) {
          groups.push_back({closed, {{k, m}}});
        } else {
          same->uses.push_back({k, m});
        }
      }
    }
    std::vector<Stmt> shared = parts;
    std::vector<std::pair<std::string, Expr>> hoisted;
    for (const Group& g : groups) {
      std::set<size_t> in_parts;
      for (const Use& u : g.uses) in_parts.insert(u.part);
      if (in_parts.size() < 2) continue;
      const std::string name = unique_name("rp");
      Expr var = Variable::make(g.closed.type(), name);
      hoisted.emplace_back(name, common_subexpression_elimination(g.closed));
      for (const Use& u : g.uses) {
        shared[u.part] = Replace(u.marker, var).mutate(shared[u.part]);
      }
    }
    if (hoisted.empty()) return body;
    Stmt result = Block::make(shared);
    for (auto it = hoisted.rbegin(); it != hoisted.rend(); ++it) {
      result = LetStmt::make(it->first, it->second, result);
    }
    return result;
  }
};

// The custom lowering pass: the three above, once over the whole
// statement (Halide calls mutate on it).
class MathLoweringPass : public Halide::Internal::IRMutator {
 public:
  explicit MathLoweringPass(bool has_fma) : has_fma_(has_fma) {}
  using IRMutator::mutate;
  Halide::Internal::Stmt mutate(const Halide::Internal::Stmt& s) override {
    return LowerMarkers(has_fma_).mutate(
        SinkSlowLets().mutate(ShareRarePaths().mutate(s)));
  }

 private:
  const bool has_fma_;
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

Halide::Internal::Stmt LowerMathMarkers(const Halide::Internal::Stmt& s,
                                        const Halide::Target& target) {
  return MathLoweringPass(target.has_feature(Halide::Target::FMA)).mutate(s);
}

void AddMathLoweringPasses(Halide::Pipeline& pipeline,
                           const Halide::Target& target) {
  // Owned by the pipeline.
  MathLoweringPass* pass =
      new MathLoweringPass(target.has_feature(Halide::Target::FMA));
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
  Expr poly = Fma(
      Fma(Fma(8.05374449538e-2f, z, -1.38776856032e-1f), z, 1.99777106478e-1f),
      z, -3.33329491539e-1f);
  Expr p = Fma(poly * z, t, t);
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
