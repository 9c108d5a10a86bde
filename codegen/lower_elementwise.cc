// Element-wise ops: the expression of each op on its operands' elements,
// one table row per op (the op's math is in math_kernels.h), and their
// lowering: a Func inlined into its consumers unless the fusion plan
// materializes it.
#include "absl/strings/str_cat.h"
#include "codegen/lowering.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/ops/random.h"

namespace adc::codegen::lowering {
namespace {

// What an op's row sees: its node and its operands' elements.
struct Elements {
  const Node& node;
  const std::vector<Expr>& x;
  Halide::Type t;  // Of the first operand.
  bool fp;         // Whether the first operand is a float.
};

using ElementFn = Expr (*)(const Elements& e);

// bools are UInt(8). (Rows need not make their float operations strict:
// ElementwiseExpr makes the whole expression strict.)
Expr Compare(Expr c) { return Halide::cast(Halide::UInt(8), c); }

// NaN propagates through maximum and minimum (torch.maximum).
Expr Extremum(const Elements& e, bool max) {
  Expr x = e.x[0], y = e.x[1];
  Expr m = max ? Halide::max(x, y) : Halide::min(x, y);
  if (!e.fp) return m;
  return Halide::select(Halide::is_nan(x) || Halide::is_nan(y), x + y, m);
}

// cast: to bool is != 0; float to integer maps NaN and out-of-range values
// to 0 (as the interpreter).
Expr CastTo(const Elements& e) {
  Expr x = e.x[0];
  const Halide::Type to = HalideType(e.node.type.dtype);
  if (e.node.type.dtype == DType::kBool) {
    return Halide::cast(to, x != Const(e.t, 0));
  }
  if (e.fp && !to.is_float()) {
    const double lo = to.bits() == 32 ? -2147483648.0 : -9223372036854775808.0;
    const double hi = to.bits() == 32 ? 2147483648.0 : 9223372036854775808.0;
    Expr in_range =
        x >= Halide::cast(e.t, Expr(lo)) && x < Halide::cast(e.t, Expr(hi));
    return Halide::select(in_range, Halide::cast(to, x), Const(to, 0));
  }
  return Halide::cast(to, x);
}

// Integer division truncates toward zero, and x / 0 = 0.
Expr Divide(const Elements& e) {
  Expr x = e.x[0], y = e.x[1];
  if (e.fp) return x / y;
  Expr zero = Const(e.t, 0);
  return Halide::select(y == zero, zero,
                        Halide::div_round_to_zero(
                            x, Halide::select(y == zero, Const(e.t, 1), y)));
}

// mul_no_nan(x, y) = 0 where y == 0, else x * y.
Expr MulNoNan(const Elements& e) {
  Expr zero = Const(e.t, 0);
  return Halide::select(e.x[1] == zero, zero, e.x[0] * e.x[1]);
}

// random_uniform(key, counter): graph/ops/random.h's SplitMix64 on uint64
// lanes (integers sign-extended to 64 bits, arithmetic mod 2^64), the top
// 24 or 53 bits scaled to [0, 1).
Expr RandomUniform(const Elements& e) {
  using Halide::UInt;
  auto u64 = [](Expr v) {
    return Halide::cast(UInt(64), Halide::cast(Halide::Int(64), v));
  };
  auto k = [](uint64_t c) { return Expr(c); };
  Expr z = u64(e.x[0]) + (u64(e.x[1]) + k(1)) * k(random::kGamma);
  z = (z ^ (z >> k(random::kShift1))) * k(random::kMix1);
  z = (z ^ (z >> k(random::kShift2))) * k(random::kMix2);
  z = z ^ (z >> k(random::kShift3));
  if (e.node.type.dtype == DType::kF32) {
    // 24 bits fit a uint32 and convert exactly.
    Expr top = Halide::cast(UInt(32), z >> k(40));
    return Halide::cast(Halide::Float(32), top) * Expr(0x1p-24f);
  }
  return Halide::cast(Halide::Float(64), z >> k(11)) * Expr(0x1p-53);
}

const absl::flat_hash_map<OpKind, ElementFn>& ElementLowerings() {
  using E = const Elements&;
  static const auto* table = new absl::flat_hash_map<OpKind, ElementFn>{
      {OpKind::kNeg, [](E e) { return -e.x[0]; }},
      {OpKind::kAbs,
       [](E e) { return Halide::cast(e.t, Halide::abs(e.x[0])); }},
      {OpKind::kSign, [](E e) { return SignOf(e.x[0]); }},
      {OpKind::kRound,
       [](E e) { return e.t.is_float() ? Halide::round(e.x[0]) : e.x[0]; }},
      {OpKind::kExp, [](E e) { return ExpOf(e.x[0]); }},
      {OpKind::kLog, [](E e) { return LogOf(e.x[0]); }},
      {OpKind::kLog1p, [](E e) { return Log1pOf(e.x[0]); }},
      {OpKind::kExpm1, [](E e) { return Expm1Of(e.x[0]); }},
      {OpKind::kSin, [](E e) { return SinOf(e.x[0]); }},
      {OpKind::kCos, [](E e) { return CosOf(e.x[0]); }},
      {OpKind::kTan, [](E e) { return TanOf(e.x[0]); }},
      {OpKind::kTanh, [](E e) { return TanhOf(e.x[0]); }},
      {OpKind::kSigmoid, [](E e) { return SigmoidOf(e.x[0]); }},
      {OpKind::kSqrt, [](E e) { return Halide::sqrt(e.x[0]); }},
      {OpKind::kErf, [](E e) { return ErfOf(e.x[0]); }},
      {OpKind::kAtan, [](E e) { return AtanOf(e.x[0]); }},
      {OpKind::kStopGradient, [](E e) { return e.x[0]; }},
      {OpKind::kCast, CastTo},
      {OpKind::kAdd, [](E e) { return e.x[0] + e.x[1]; }},
      {OpKind::kSub, [](E e) { return e.x[0] - e.x[1]; }},
      {OpKind::kMul, [](E e) { return e.x[0] * e.x[1]; }},
      {OpKind::kDiv, Divide},
      {OpKind::kPow, [](E e) { return PowOf(e.x[0], e.x[1]); }},
      {OpKind::kMaximum, [](E e) { return Extremum(e, true); }},
      {OpKind::kMinimum, [](E e) { return Extremum(e, false); }},
      {OpKind::kMulNoNan, MulNoNan},
      {OpKind::kLess, [](E e) { return Compare(e.x[0] < e.x[1]); }},
      {OpKind::kLessEqual, [](E e) { return Compare(e.x[0] <= e.x[1]); }},
      {OpKind::kGreater, [](E e) { return Compare(e.x[0] > e.x[1]); }},
      {OpKind::kGreaterEqual, [](E e) { return Compare(e.x[0] >= e.x[1]); }},
      {OpKind::kEqual, [](E e) { return Compare(e.x[0] == e.x[1]); }},
      {OpKind::kNotEqual, [](E e) { return Compare(e.x[0] != e.x[1]); }},
      {OpKind::kRandomUniform, RandomUniform},
      {OpKind::kSelect,
       [](E e) { return Halide::select(e.x[0] != 0, e.x[1], e.x[2]); }},
  };
  return *table;
}

}  // namespace

bool LowersElementwise(OpKind op) { return ElementLowerings().contains(op); }

Expr ElementwiseExpr(const Node& node, const std::vector<Expr>& args) {
  auto row = ElementLowerings().find(node.op);
  ADC_CHECK_MSG(
      row != ElementLowerings().end(),
      absl::StrCat("no element-wise lowering of ", GetOpDef(node.op).name));
  // Each operand is bound once (a Let) unless it is a constant or a
  // variable: kernels read their operands several times (special cases,
  // range reduction), and Halide inlines a Func once per read, so an
  // inlined chain of such ops grew multiplicatively inside Halide's
  // simplifier (a 1000-op chain, already cut into loops by the fusion
  // plan, compiled in 31 s instead of 41).
  std::vector<Expr> operands;
  std::vector<std::pair<std::string, Expr>> lets;
  for (const Expr& a : args) {
    if (a.as<Halide::Internal::IntImm>() || a.as<Halide::Internal::UIntImm>() ||
        a.as<Halide::Internal::FloatImm>() ||
        a.as<Halide::Internal::Variable>()) {
      operands.push_back(a);
      continue;
    }
    lets.push_back({Halide::Internal::unique_name('x'), a});
    operands.push_back(
        Halide::Internal::Variable::make(a.type(), lets.back().first));
  }
  const Elements e{node, operands, args[0].type(), args[0].type().is_float()};
  // Every element-wise op with a float operand or result is strict as a
  // whole, its comparisons included: the compiled code evaluates exactly
  // the graph's expression, as the interpreter does. Halide's default
  // reassociation would turn (x - m) - log(s) into x - (m + log(s)) and
  // lose the point of a stable formula (graph-level rewrites belong to the
  // optimization passes, which keep values exact), and under its fast-math
  // flags LLVM may assume no NaN or inf: it folded mul_no_nan(NaN, y) or
  // sum(x * -inf) to 0 when it could see the NaN or inf (RandomGraphsTest).
  Expr result = row->second(e);
  bool fp = result.type().is_float();
  for (const Expr& a : args) fp = fp || a.type().is_float();
  if (fp) result = Halide::strict_float(StrictComparisons(result));
  for (auto let = lets.rbegin(); let != lets.rend(); ++let) {
    result = Halide::Internal::Let::make(let->first, let->second, result);
  }
  return result;
}

void Lowering::LowerElementwise(ValueId id) {
  const Node& node = g_.node(id);
  Define(id, [&](const Index& i) {
    std::vector<Expr> args;
    for (ValueId v : node.inputs) args.push_back(At(v, i));
    return ElementwiseExpr(node, args);
  });
}

}  // namespace adc::codegen::lowering
