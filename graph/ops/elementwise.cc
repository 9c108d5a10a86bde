// Element-wise ops. Operands of binary and ternary ops have equal shapes and
// dtypes (the builder inserts broadcast_to and cast).
//
// NaN-safe gradients: every chain-rule product whose local derivative can be
// inf or NaN is written mul_no_nan(local, dy), which is 0 wherever dy == 0. So
// the zero cotangent that select sends to its untaken branch stays zero, and
// where(x > 0, log(x), 0) has gradient 0, not NaN, at x = 0 (JAX #1052,
// PyTorch #68425).
//
// Gradients are only ever requested for floating-point values (autodiff does
// not propagate through integer or bool values).
//
// Forward mode: each operand's Jacobian is diagonal, hence its own
// transpose, so an element-wise op's JVP is its gradient rule applied to the
// tangents (JvpKind::kFromGradient: no second rule per op); cast is linear
// (the JVP casts the tangent). Batching: every operand gets the batch
// dimension (ops::BatchElementwise).
#include <cmath>

#include "graph/ops/op_util.h"
#include "graph/ops/random.h"

namespace adc {
namespace {

using ops::Error;

// ---------------------------------------------------------------------------
// Shape rules.
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> InferUnaryFloat(const Node&,
                                           absl::Span<const TensorType> in) {
  ADC_RETURN_IF_ERROR(ops::RequireFloat(in[0], "operand"));
  return in[0];
}

absl::StatusOr<TensorType> InferUnaryNumeric(const Node&,
                                             absl::Span<const TensorType> in) {
  if (in[0].dtype == DType::kBool) {
    return Error("operand must be numeric, got ", in[0].ToString());
  }
  return in[0];
}

absl::StatusOr<TensorType> InferSameType(const Node&,
                                         absl::Span<const TensorType> in) {
  return in[0];
}

absl::StatusOr<TensorType> InferBinaryNumeric(const Node&,
                                              absl::Span<const TensorType> in) {
  ADC_RETURN_IF_ERROR(ops::RequireSameTypes(in));
  if (in[0].dtype == DType::kBool) {
    return Error("operands must be numeric, got ", in[0].ToString());
  }
  return in[0];
}

absl::StatusOr<TensorType> InferBinaryFloat(const Node&,
                                            absl::Span<const TensorType> in) {
  ADC_RETURN_IF_ERROR(ops::RequireSameTypes(in));
  ADC_RETURN_IF_ERROR(ops::RequireFloat(in[0], "operands"));
  return in[0];
}

absl::StatusOr<TensorType> InferCompare(const Node&,
                                        absl::Span<const TensorType> in) {
  ADC_RETURN_IF_ERROR(ops::RequireSameTypes(in));
  return TensorType{DType::kBool, in[0].dims};
}

absl::StatusOr<TensorType> InferCast(const Node& node,
                                     absl::Span<const TensorType> in) {
  return TensorType{node.attrs.GetDType("dtype"), in[0].dims};
}

// random_uniform(key, counter): integer operands of one dtype, a float
// result of attr dtype.
absl::StatusOr<TensorType> InferRandomUniform(const Node& node,
                                              absl::Span<const TensorType> in) {
  ADC_RETURN_IF_ERROR(ops::RequireSameTypes(in));
  if (!IsInteger(in[0].dtype)) {
    return Error("key and counter must be integers, got ", in[0].ToString());
  }
  const DType dtype = node.attrs.GetDType("dtype");
  if (!IsFloat(dtype)) {
    return Error("dtype must be f32 or f64, got ", DTypeName(dtype));
  }
  return TensorType{dtype, in[0].dims};
}

absl::StatusOr<TensorType> InferSelect(const Node&,
                                       absl::Span<const TensorType> in) {
  if (in[0].dtype != DType::kBool) {
    return Error("condition must be bool, got ", in[0].ToString());
  }
  if (in[1] != in[2] || in[0].dims != in[1].dims) {
    return Error(
        "condition and branches must have equal shapes and the "
        "branches equal dtypes, got ",
        in[0].ToString(), ", ", in[1].ToString(), " and ", in[2].ToString());
  }
  return in[1];
}

// ---------------------------------------------------------------------------
// Reference kernels.
// ---------------------------------------------------------------------------
using DoubleFn = double (*)(double);
using IntFn = int64_t (*)(int64_t);

absl::StatusOr<Tensor> MapUnary(const Node& node, const Tensor& x, DoubleFn f,
                                IntFn g) {
  Tensor out(node.type);
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    if (IsFloat(x.dtype())) {
      out.SetDouble(i, f(x.doubles()[i]));
    } else {
      out.SetInt(i, g(x.ints()[i]));
    }
  }
  return out;
}

using DoubleFn2 = double (*)(double, double);
using IntFn2 = int64_t (*)(int64_t, int64_t);

// out[i] = f(a[i], b[i]); floating-point operands use f, integer ones g.
Tensor MapBinary(const Node& node, const Tensor& a, const Tensor& b,
                 DoubleFn2 f, IntFn2 g) {
  Tensor out(node.type);
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    if (IsFloat(a.dtype())) {
      out.SetDouble(i, f(a.doubles()[i], b.doubles()[i]));
    } else {
      out.SetInt(i, g(a.ints()[i], b.ints()[i]));
    }
  }
  return out;
}

double SigmoidD(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// sign(x) = 1, -1 or x (so 0, -0 and NaN map to themselves).
double SignD(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }
int64_t SignI(int64_t x) { return (x > 0) - (x < 0); }

// max/min propagate NaN (as torch.maximum and numpy.maximum).
double MaxD(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
}
double MinD(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
}

// Integer division truncates toward zero (C, ONNX); x / 0 = 0.
int64_t DivI(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return static_cast<int64_t>(0ull - static_cast<uint64_t>(a));
  return a / b;
}

int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) +
                              static_cast<uint64_t>(b));
}
int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) -
                              static_cast<uint64_t>(b));
}
int64_t WrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) *
                              static_cast<uint64_t>(b));
}

#define UNARY_EVAL(NAME, F, G)                                      \
  absl::StatusOr<Tensor> NAME(const Node& node,                     \
                              absl::Span<const Tensor* const> in) { \
    return MapUnary(node, *in[0], F, G);                            \
  }
#define BINARY_EVAL(NAME, F, G)                                     \
  absl::StatusOr<Tensor> NAME(const Node& node,                     \
                              absl::Span<const Tensor* const> in) { \
    return MapBinary(node, *in[0], *in[1], F, G);                   \
  }

int64_t NoInt(int64_t) {
  ADC_CHECK(false);  // The shape rule admits floating-point operands only.
}
int64_t NoInt2(int64_t, int64_t) { ADC_CHECK(false); }

UNARY_EVAL(
    EvalNeg, [](double x) { return -x; },
    [](int64_t x) { return WrapSub(0, x); })
UNARY_EVAL(
    EvalAbs, [](double x) { return std::fabs(x); },
    [](int64_t x) { return x < 0 ? WrapSub(0, x) : x; })
UNARY_EVAL(EvalSign, SignD, SignI)
// Ties to even (the default rounding mode), as torch.round and ONNX Round.
UNARY_EVAL(
    EvalRound, [](double x) { return std::nearbyint(x); },
    [](int64_t x) { return x; })
UNARY_EVAL(
    EvalExp, [](double x) { return std::exp(x); }, NoInt)
UNARY_EVAL(
    EvalLog, [](double x) { return std::log(x); }, NoInt)
UNARY_EVAL(
    EvalLog1p, [](double x) { return std::log1p(x); }, NoInt)
UNARY_EVAL(
    EvalExpm1, [](double x) { return std::expm1(x); }, NoInt)
UNARY_EVAL(
    EvalSin, [](double x) { return std::sin(x); }, NoInt)
UNARY_EVAL(
    EvalCos, [](double x) { return std::cos(x); }, NoInt)
UNARY_EVAL(
    EvalTan, [](double x) { return std::tan(x); }, NoInt)
UNARY_EVAL(
    EvalTanh, [](double x) { return std::tanh(x); }, NoInt)
UNARY_EVAL(EvalSigmoid, SigmoidD, NoInt)
UNARY_EVAL(
    EvalSqrt, [](double x) { return std::sqrt(x); }, NoInt)
UNARY_EVAL(
    EvalErf, [](double x) { return std::erf(x); }, NoInt)
UNARY_EVAL(
    EvalAtan, [](double x) { return std::atan(x); }, NoInt)
UNARY_EVAL(
    EvalIdentity, [](double x) { return x; }, [](int64_t x) { return x; })

BINARY_EVAL(
    EvalAdd, [](double a, double b) { return a + b; }, WrapAdd)
BINARY_EVAL(
    EvalSub, [](double a, double b) { return a - b; }, WrapSub)
BINARY_EVAL(
    EvalMul, [](double a, double b) { return a * b; }, WrapMul)
BINARY_EVAL(
    EvalDiv, [](double a, double b) { return a / b; }, DivI)
BINARY_EVAL(
    EvalPow, [](double a, double b) { return std::pow(a, b); }, NoInt2)
BINARY_EVAL(EvalMaximum, MaxD,
            [](int64_t a, int64_t b) { return std::max(a, b); })
BINARY_EVAL(EvalMinimum, MinD,
            [](int64_t a, int64_t b) { return std::min(a, b); })
BINARY_EVAL(
    EvalMulNoNan, [](double a, double b) { return b == 0 ? 0.0 : a * b; },
    [](int64_t a, int64_t b) { return WrapMul(a, b); })

// Comparisons: the operands' dtype decides how elements compare.
template <typename Cmp>
Tensor Compare(const Node& node, const Tensor& a, const Tensor& b, Cmp cmp) {
  Tensor out(node.type);
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    const bool r = IsFloat(a.dtype()) ? cmp(a.doubles()[i], b.doubles()[i])
                                      : cmp(a.ints()[i], b.ints()[i]);
    out.SetInt(i, r);
  }
  return out;
}

#define COMPARE_EVAL(NAME, OP)                                      \
  absl::StatusOr<Tensor> NAME(const Node& node,                     \
                              absl::Span<const Tensor* const> in) { \
    return Compare(node, *in[0], *in[1],                            \
                   [](auto a, auto b) { return a OP b; });          \
  }
COMPARE_EVAL(EvalLess, <)
COMPARE_EVAL(EvalLessEqual, <=)
COMPARE_EVAL(EvalGreater, >)
COMPARE_EVAL(EvalGreaterEqual, >=)
COMPARE_EVAL(EvalEqual, ==)
COMPARE_EVAL(EvalNotEqual, !=)

absl::StatusOr<Tensor> EvalCast(const Node& node,
                                absl::Span<const Tensor* const> in) {
  return in[0]->CastTo(node.type.dtype);
}

absl::StatusOr<Tensor> EvalRandomUniform(const Node& node,
                                         absl::Span<const Tensor* const> in) {
  Tensor out(node.type);
  const int mantissa = node.type.dtype == DType::kF32 ? 24 : 53;
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    out.SetDouble(
        i, random::Uniform(random::Bits(in[0]->ints()[i], in[1]->ints()[i]),
                           mantissa));
  }
  return out;
}

absl::StatusOr<Tensor> EvalSelect(const Node& node,
                                  absl::Span<const Tensor* const> in) {
  Tensor out(node.type);
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    ops::CopyElement(in[0]->ints()[i] ? *in[1] : *in[2], i, &out, i);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Gradient rules.
// ---------------------------------------------------------------------------
// y = -x; dx = -dy
std::vector<Value> GradNeg(const GradContext& c) { return {-c.dy}; }

// y = |x|; dx = dy * sign(x)
std::vector<Value> GradAbs(const GradContext& c) {
  return {MulNoNan(Sign(c.x[0]), c.dy)};
}

// y = exp(x); dx = dy * y
std::vector<Value> GradExp(const GradContext& c) {
  return {MulNoNan(c.y, c.dy)};
}

// y = log(x); dx = dy / x
std::vector<Value> GradLog(const GradContext& c) {
  return {MulNoNan(Reciprocal(c.x[0]), c.dy)};
}

// y = log1p(x); dx = dy / (1 + x)
std::vector<Value> GradLog1p(const GradContext& c) {
  return {MulNoNan(Reciprocal(1.0 + c.x[0]), c.dy)};
}

// y = expm1(x); dx = dy * (y + 1)
std::vector<Value> GradExpm1(const GradContext& c) {
  return {MulNoNan(c.y + 1.0, c.dy)};
}

// y = sin(x); dx = dy * cos(x)
std::vector<Value> GradSin(const GradContext& c) {
  return {MulNoNan(Cos(c.x[0]), c.dy)};
}

// y = cos(x); dx = -dy * sin(x)
std::vector<Value> GradCos(const GradContext& c) {
  return {MulNoNan(-Sin(c.x[0]), c.dy)};
}

// y = tan(x); dx = dy * (1 + y^2)
std::vector<Value> GradTan(const GradContext& c) {
  return {MulNoNan(1.0 + c.y * c.y, c.dy)};
}

// y = tanh(x); dx = dy * (1 - y^2)
std::vector<Value> GradTanh(const GradContext& c) {
  return {MulNoNan(1.0 - c.y * c.y, c.dy)};
}

// y = sigmoid(x); dx = dy * y * (1 - y)
std::vector<Value> GradSigmoid(const GradContext& c) {
  return {MulNoNan(c.y * (1.0 - c.y), c.dy)};
}

// y = sqrt(x); dx = dy * 0.5 / y
std::vector<Value> GradSqrt(const GradContext& c) {
  return {MulNoNan(0.5 / c.y, c.dy)};
}

// y = erf(x); dx = dy * 2 / sqrt(pi) * exp(-x^2)
std::vector<Value> GradErf(const GradContext& c) {
  const double two_over_sqrt_pi = 1.1283791670955125738961589031215452;
  return {MulNoNan(two_over_sqrt_pi * Exp(-(c.x[0] * c.x[0])), c.dy)};
}

// y = atan(x); dx = dy / (1 + x^2) (1 + x^2 >= 1: never inf or NaN from a
// finite x; x = +-inf gives dy * 0)
std::vector<Value> GradAtan(const GradContext& c) {
  return {c.dy / (1.0 + Square(c.x[0]))};
}

// y = cast(x); dx = cast(dy) back to x's dtype (only float -> float carries a
// gradient).
std::vector<Value> GradCast(const GradContext& c) {
  if (!IsFloat(c.x[0].dtype())) return {Value()};
  return {Cast(c.dy, c.x[0].dtype())};
}

// z = x + w; dx = dy, dw = dy
std::vector<Value> GradAdd(const GradContext& c) { return {c.dy, c.dy}; }

// z = x - w; dx = dy, dw = -dy
std::vector<Value> GradSub(const GradContext& c) { return {c.dy, -c.dy}; }

// z = x * w; dx = dy * w, dw = dy * x
std::vector<Value> GradMul(const GradContext& c) {
  return {MulNoNan(c.x[1], c.dy), MulNoNan(c.x[0], c.dy)};
}

// z = x / w; dx = dy / w, dw = -dy * z / w
std::vector<Value> GradDiv(const GradContext& c) {
  Value inv = Reciprocal(c.x[1]);
  return {MulNoNan(inv, c.dy), MulNoNan(-(c.y * inv), c.dy)};
}

// z = x^w; dx = dy * w * x^(w-1), dw = dy * z * log(x)
// Written mul_no_nan(x^(w-1), w * dy) and mul_no_nan(log(x), z * dy), so
// w = 0 gives dx = 0 and x = 0 with z = 0 gives dw = 0 (as PyTorch).
// z = x^w; dx = w x^(w-1) dy, dw = log(x) z dy, except at x = 0 with
// w >= 0, where dw is 0 (log(0) z is -inf at w = 0 and NaN beyond), as in
// PyTorch and JAX: 0^w is flat or has no derivative there
// (codegen/edge_cases_test.cc).
std::vector<Value> GradPow(const GradContext& c) {
  Value x = c.x[0], w = c.x[1];
  Value zdy = c.y * c.dy;
  return {
      MulNoNan(Pow(x, w - 1.0), w * c.dy),
      MulNoNan(Log(x), Select(Eq(x, 0.0), Select(Ge(w, 0.0), 0.0, zdy), zdy))};
}

// z = max(x, w); dx = dy where x > w, dy / 2 where x == w, else 0 (and dw
// symmetrically): ties split the gradient, as torch.maximum and JAX.
std::vector<Value> GradMaximum(const GradContext& c) {
  Value x = c.x[0], w = c.x[1];
  Value half = 0.5 * c.dy;
  return {Select(Gt(x, w), c.dy, Select(Eq(x, w), half, 0.0)),
          Select(Gt(w, x), c.dy, Select(Eq(x, w), half, 0.0))};
}

// z = min(x, w); as maximum with < for >.
std::vector<Value> GradMinimum(const GradContext& c) {
  Value x = c.x[0], w = c.x[1];
  Value half = 0.5 * c.dy;
  return {Select(Lt(x, w), c.dy, Select(Eq(x, w), half, 0.0)),
          Select(Lt(w, x), c.dy, Select(Eq(x, w), half, 0.0))};
}

// z = mul_no_nan(x, w) = (w == 0 ? 0 : x * w);
// dx = mul_no_nan(dy, w), dw = mul_no_nan(x, dy)
std::vector<Value> GradMulNoNan(const GradContext& c) {
  return {MulNoNan(c.dy, c.x[1]), MulNoNan(c.x[0], c.dy)};
}

// z = select(c, a, b); da = select(c, dy, 0), db = select(c, 0, dy)
std::vector<Value> GradSelect(const GradContext& c) {
  Value cond = c.x[0];
  return {Value(), Select(cond, c.dy, 0.0), Select(cond, 0.0, c.dy)};
}

}  // namespace

std::vector<OpDef> ElementwiseOpDefs() {
  auto op = [](OpKind kind, std::string name, int arity, InferFn infer,
               EvalFn eval) {
    return OpDef(kind, std::move(name), OpFamily::kElementwise)
        .Inputs(arity)
        .Infer(infer)
        .Eval(eval)
        .Batch(ops::BatchElementwise);
  };
  auto unary = [&](OpKind kind, std::string name, InferFn infer, EvalFn eval) {
    return op(kind, std::move(name), 1, infer, eval);
  };
  auto binary = [&](OpKind kind, std::string name, InferFn infer, EvalFn eval) {
    return op(kind, std::move(name), 2, infer, eval);
  };
  // Transcendental functions cost about 20 simple operations inline.
  constexpr int kTranscendental = 20;
  using NZ = NegativeZero;
  return {
      unary(OpKind::kNeg, "neg", InferUnaryNumeric, EvalNeg)
          .Grad(GradNeg)
          .CheapAsOperand(),
      // Never -0: abs, exp, log, cos and sigmoid never return -0. The odd
      // functions give -0 only for -0 (other values are not small enough
      // to underflow to zero).
      unary(OpKind::kAbs, "abs", InferUnaryNumeric, EvalAbs)
          .Grad(GradAbs)
          .NegZero(NZ::kNever),
      // sign is piecewise constant: its derivative is 0 wherever it exists.
      unary(OpKind::kSign, "sign", InferUnaryNumeric, EvalSign)
          .NoGrad()
          .NegZero(NZ::kIfFirstMay),
      // round is piecewise constant too; round(-0.4) is -0.
      unary(OpKind::kRound, "round", InferUnaryNumeric, EvalRound)
          .NoGrad()
          .Cost(2),
      unary(OpKind::kExp, "exp", InferUnaryFloat, EvalExp)
          .Grad(GradExp)
          .Cost(kTranscendental)
          .NegZero(NZ::kNever),
      unary(OpKind::kLog, "log", InferUnaryFloat, EvalLog)
          .Grad(GradLog)
          .Cost(kTranscendental)
          .NegZero(NZ::kNever),
      unary(OpKind::kLog1p, "log1p", InferUnaryFloat, EvalLog1p)
          .Grad(GradLog1p)
          .Cost(kTranscendental)
          .NegZero(NZ::kIfFirstMay),
      unary(OpKind::kExpm1, "expm1", InferUnaryFloat, EvalExpm1)
          .Grad(GradExpm1)
          .Cost(kTranscendental)
          .NegZero(NZ::kIfFirstMay),
      unary(OpKind::kSin, "sin", InferUnaryFloat, EvalSin)
          .Grad(GradSin)
          .Cost(kTranscendental)
          .NegZero(NZ::kIfFirstMay),
      unary(OpKind::kCos, "cos", InferUnaryFloat, EvalCos)
          .Grad(GradCos)
          .Cost(kTranscendental)
          .NegZero(NZ::kNever),
      unary(OpKind::kTan, "tan", InferUnaryFloat, EvalTan)
          .Grad(GradTan)
          .Cost(kTranscendental)
          .NegZero(NZ::kIfFirstMay),
      unary(OpKind::kTanh, "tanh", InferUnaryFloat, EvalTanh)
          .Grad(GradTanh)
          .Cost(kTranscendental)
          .NegZero(NZ::kIfFirstMay),
      unary(OpKind::kSigmoid, "sigmoid", InferUnaryFloat, EvalSigmoid)
          .Grad(GradSigmoid)
          .Cost(kTranscendental)
          .NegZero(NZ::kNever),
      unary(OpKind::kSqrt, "sqrt", InferUnaryFloat, EvalSqrt)
          .Grad(GradSqrt)
          .Cost(4)
          .NegZero(NZ::kIfFirstMay),
      unary(OpKind::kErf, "erf", InferUnaryFloat, EvalErf)
          .Grad(GradErf)
          .Cost(kTranscendental)
          .NegZero(NZ::kIfFirstMay),
      unary(OpKind::kAtan, "atan", InferUnaryFloat, EvalAtan)
          .Grad(GradAtan)
          .Cost(kTranscendental)
          .NegZero(NZ::kIfFirstMay),
      // f64 -> f32 underflows tiny negatives to -0: a rule of its own.
      unary(OpKind::kCast, "cast", InferCast, EvalCast)
          .Attr("dtype", AttrKind::kDType)
          .Grad(GradCast)
          .Linear()
          .CheapAsOperand()
          .NegZero(NZ::kByRule),
      // stop_gradient: y = x; no gradient flows.
      unary(OpKind::kStopGradient, "stop_gradient", InferSameType, EvalIdentity)
          .NoGrad()
          .Cost(0)
          .CheapAsOperand()
          .NegZero(NZ::kIfFirstMay),
      // x + y is -0 iff both are -0; x - y iff x is -0 and y is +0.
      binary(OpKind::kAdd, "add", InferBinaryNumeric, EvalAdd)
          .Grad(GradAdd)
          .Commutative()
          .NegZero(NZ::kIfAllMay),
      binary(OpKind::kSub, "sub", InferBinaryNumeric, EvalSub)
          .Grad(GradSub)
          .NegZero(NZ::kIfFirstMay),
      binary(OpKind::kMul, "mul", InferBinaryNumeric, EvalMul)
          .Grad(GradMul)
          .Commutative(),
      binary(OpKind::kDiv, "div", InferBinaryNumeric, EvalDiv)
          .Grad(GradDiv)
          .Cost(4),
      binary(OpKind::kPow, "pow", InferBinaryFloat, EvalPow)
          .Grad(GradPow)
          .Cost(kTranscendental),
      binary(OpKind::kMaximum, "maximum", InferBinaryNumeric, EvalMaximum)
          .Grad(GradMaximum)
          .NegZero(NZ::kIfAnyMay),
      binary(OpKind::kMinimum, "minimum", InferBinaryNumeric, EvalMinimum)
          .Grad(GradMinimum)
          .NegZero(NZ::kIfAnyMay),
      binary(OpKind::kMulNoNan, "mul_no_nan", InferBinaryNumeric, EvalMulNoNan)
          .Grad(GradMulNoNan),
      // Comparisons have bool results: never -0.
      binary(OpKind::kLess, "less", InferCompare, EvalLess)
          .NoGrad()
          .NegZero(NZ::kNever),
      binary(OpKind::kLessEqual, "less_equal", InferCompare, EvalLessEqual)
          .NoGrad()
          .NegZero(NZ::kNever),
      binary(OpKind::kGreater, "greater", InferCompare, EvalGreater)
          .NoGrad()
          .NegZero(NZ::kNever),
      binary(OpKind::kGreaterEqual, "greater_equal", InferCompare,
             EvalGreaterEqual)
          .NoGrad()
          .NegZero(NZ::kNever),
      binary(OpKind::kEqual, "equal", InferCompare, EvalEqual)
          .NoGrad()
          .Commutative()
          .NegZero(NZ::kNever),
      binary(OpKind::kNotEqual, "not_equal", InferCompare, EvalNotEqual)
          .NoGrad()
          .Commutative()
          .NegZero(NZ::kNever),
      // Random numbers are in [0, 1): never -0. No gradient (integer
      // operands); about ten integer operations, three of them 64-bit
      // multiplies.
      binary(OpKind::kRandomUniform, "random_uniform", InferRandomUniform,
             EvalRandomUniform)
          .Attr("dtype", AttrKind::kDType)
          .NoGrad()
          .Cost(10)
          .NegZero(NZ::kNever),
      op(OpKind::kSelect, "select", 3, InferSelect, EvalSelect)
          .Grad(GradSelect)
          .NegZero(NZ::kIfBranchMay),
  };
}

}  // namespace adc
