// Element-wise ONNX ops: arithmetic (NumPy broadcasting, and the legacy
// broadcast of opsets before 7), unary functions and activations, variadic
// Sum/Mean/Max/Min, comparisons and logic, Where, IsNaN/IsInf, Clip and
// casts. Each op's import sits with its row of the table fragment.
#include <limits>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/types.h"
#include "onnx/onnx_pb.h"
#include "tools/onnx/node_ctx.h"
#include "tools/onnx/onnx_tensor.h"

namespace adc::onnx_import {
namespace {

// Opset < 7 binary ops with broadcast=1: B's dims match A's from `axis` on
// (default: the trailing dims); B is reshaped so that NumPy rules agree.
Value LegacyBroadcast(NodeCtx& c, Value a, Value b) {
  if (c.opset() >= 7 || c.Int("broadcast", 0) == 0 || !c.HasAttr("axis")) {
    return b;
  }
  int64_t axis = c.Int("axis", 0);
  if (axis < 0) axis += a.rank();
  const int64_t trailing = a.rank() - axis - b.rank();
  if (axis < 0 || trailing < 0) {
    c.Error("legacy broadcast axis ", c.Int("axis", 0), " does not fit ",
            a.type().ToString(), " and ", b.type().ToString());
    return Value();
  }
  Dims dims = b.dims();
  dims.insert(dims.end(), trailing, 1);
  return Reshape(b, dims);
}

// The binary functions of Add, Sub, Mul, Div, Max and Min.
Value AddFn(Value a, Value b) { return a + b; }
Value SubFn(Value a, Value b) { return a - b; }
Value MulFn(Value a, Value b) { return a * b; }
Value DivFn(Value a, Value b) { return a / b; }
Value MaxFn(Value a, Value b) { return Maximum(a, b); }
Value MinFn(Value a, Value b) { return Minimum(a, b); }

// Add, Sub, Mul, Div: element-wise with NumPy broadcasting (opset 7+; see
// LegacyBroadcast before). Integer division truncates toward zero.
template <Value (*kFn)(Value, Value)>
Outs ImportArithmetic(NodeCtx& c) {
  Value a = c.In(0);
  return {kFn(a, LegacyBroadcast(c, a, c.In(1)))};
}

// Element-wise functions of one or two inputs (broadcast), as the builder's
// of the same name.
template <Value (*kFn)(Value)>
Outs ImportUnary(NodeCtx& c) {
  return {kFn(c.In(0))};
}
template <Value (*kFn)(Value, Value)>
Outs ImportBinary(NodeCtx& c) {
  return {kFn(c.In(0), c.In(1))};
}

// Pow(X, Y) = X^Y, broadcast; the result has X's dtype (Y may have another
// numeric dtype). Integer bases are computed in f64 and cast back.
Outs ImportPow(NodeCtx& c) {
  Value x = c.In(0), y = c.In(1);
  if (IsFloat(x.dtype())) return {Pow(x, CastIfNeeded(y, x.dtype()))};
  return {
      Cast(Pow(Cast(x, DType::kF64), CastIfNeeded(y, DType::kF64)), x.dtype())};
}

// Sum, Mean, Max, Min of one or more inputs, broadcast together. Mean is
// the sum divided by the number of inputs. Max/Min propagate NaN.
template <Value (*kFn)(Value, Value), bool kMean = false>
Outs ImportVariadic(NodeCtx& c) {
  std::vector<Value> xs = c.Variadic();
  if (xs.empty()) return c.Error("needs at least one input");
  Value acc = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) acc = kFn(acc, xs[i]);
  if (kMean && xs.size() > 1) acc = acc / static_cast<double>(xs.size());
  return {acc};
}

// Clip(x, min, max) = min(max(x, min), max), like np.clip (min > max gives
// max; NaN stays NaN). Opset < 11: float attributes min/max; opset 11+:
// optional scalar inputs. An absent bound does not clip.
Outs ImportClip(NodeCtx& c) {
  Value x = c.In(0);
  if (c.HasAttr("min") || c.HasAttr("max")) {
    std::optional<double> lo, hi;
    if (c.HasAttr("min")) lo = c.Float("min", 0);
    if (c.HasAttr("max")) hi = c.Float("max", 0);
    return {Clip(x, lo, hi)};
  }
  if (c.Has(1)) {
    Value lo = c.In(1);
    x = Select(Lt(x, lo), lo, x);
  }
  if (c.Has(2)) {
    Value hi = c.In(2);
    x = Select(Gt(x, hi), hi, x);
  }
  return {x};
}

// Cast(x, to): element-wise conversion; float -> integer truncates toward
// zero, -> bool is x != 0.
Outs ImportCast(NodeCtx& c) {
  const int64_t to = c.Int("to", 0);
  std::optional<DType> dtype = DTypeFromOnnx(static_cast<int>(to));
  if (!c.ok()) return {};
  if (!dtype) {
    return c.Fail(UnsupportedDType(
        static_cast<int>(to),
        absl::StrCat("the result of Cast ('", c.node().output(0), "')")));
  }
  return {Cast(c.In(0), *dtype)};
}

// CastLike(x, like): Cast to like's dtype.
Outs ImportCastLike(NodeCtx& c) {
  return {CastIfNeeded(c.In(0), c.In(1).dtype())};
}

}  // namespace

std::vector<OnnxOpEntry> ElementwiseOnnxOps() {
  return {
      {"Add", {ImportArithmetic<AddFn>, 2}},
      {"Sub", {ImportArithmetic<SubFn>, 2}},
      {"Mul", {ImportArithmetic<MulFn>, 2}},
      {"Div", {ImportArithmetic<DivFn>, 2}},
      {"Pow", {ImportPow, 2}},
      // Element-wise unary functions, as their names say.
      {"Neg", {ImportUnary<Neg>, 1}},
      {"Abs", {ImportUnary<Abs>, 1}},
      // Sign: 1, -1 or 0.
      {"Sign", {ImportUnary<Sign>, 1}},
      // Round: ties to even.
      {"Round", {ImportUnary<Round>, 1}},
      {"Exp", {ImportUnary<Exp>, 1}},
      {"Log", {ImportUnary<Log>, 1}},
      {"Sqrt", {ImportUnary<Sqrt>, 1}},
      // Reciprocal: 1 / x.
      {"Reciprocal", {ImportUnary<Reciprocal>, 1}},
      {"Sin", {ImportUnary<Sin>, 1}},
      {"Cos", {ImportUnary<Cos>, 1}},
      {"Tan", {ImportUnary<Tan>, 1}},
      {"Atan", {ImportUnary<Atan>, 1}},
      {"Tanh", {ImportUnary<Tanh>, 1}},
      // Sigmoid: 1 / (1 + exp(-x)).
      {"Sigmoid", {ImportUnary<Sigmoid>, 1}},
      // Relu: max(x, 0).
      {"Relu", {ImportUnary<Relu>, 1}},
      // Softplus: log(1 + exp(x)).
      {"Softplus", {ImportUnary<Softplus>, 1}},
      {"Erf", {ImportUnary<Erf>, 1}},
      // LeakyRelu: x for x >= 0, alpha * x otherwise (alpha default 0.01).
      {"LeakyRelu",
       {[](NodeCtx& c) -> Outs {
          return {LeakyRelu(c.In(0), c.Float("alpha", 0.01))};
        },
        1}},
      // Elu: x for x > 0, alpha * (exp(x) - 1) otherwise (alpha default 1).
      {"Elu",
       {[](NodeCtx& c) -> Outs {
          return {Elu(c.In(0), c.Float("alpha", 1.0))};
        },
        1}},
      // Selu: gamma * elu(x, alpha) (defaults: SELU's constants).
      {"Selu",
       {[](NodeCtx& c) -> Outs {
          return {c.Float("gamma", 1.05070102214813232421875) *
                  Elu(c.In(0), c.Float("alpha", 1.67326319217681884765625))};
        },
        1}},
      // Celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), alpha
      // default 1.
      {"Celu",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          const double alpha = c.Float("alpha", 1.0);
          return {Select(Gt(x, 0), x, alpha * Expm1(x / alpha))};
        },
        1}},
      // ThresholdedRelu: x for x > alpha, else 0 (alpha default 1).
      {"ThresholdedRelu",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {Select(Gt(x, c.Float("alpha", 1.0)), x, 0.0)};
        },
        1}},
      // PRelu(x, slope): x for x >= 0, slope * x otherwise (slope broadcast;
      // before opset 7, a 1-D slope of x's channel count applies per
      // channel, axis 1).
      {"PRelu",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0), slope = c.In(1);
          if (c.opset() < 7 && slope.rank() == 1 && x.rank() >= 2 &&
              slope.dim(0) == x.dim(1) && slope.dim(0) != 1) {
            Dims dims(x.rank() - 1, 1);
            dims[0] = slope.dim(0);
            slope = Reshape(slope, dims);
          }
          return {Select(Lt(x, 0), x * slope, x)};
        },
        2}},
      // HardSigmoid: max(0, min(1, alpha * x + beta)) (alpha 0.2, beta 0.5).
      {"HardSigmoid",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {
              Clip(c.Float("alpha", 0.2) * x + c.Float("beta", 0.5), 0.0, 1.0)};
        },
        1}},
      // HardSwish: x * max(0, min(1, x / 6 + 1 / 2)).
      {"HardSwish",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {x * Clip(x / 6.0 + 0.5, 0.0, 1.0)};
        },
        1}},
      // Softsign: x / (1 + |x|).
      {"Softsign",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {x / (1.0 + Abs(x))};
        },
        1}},
      {"Sum", {ImportVariadic<AddFn>, 1}},
      {"Mean", {ImportVariadic<AddFn, true>, 1}},
      {"Max", {ImportVariadic<MaxFn>, 1}},
      {"Min", {ImportVariadic<MinFn>, 1}},
      // Where(cond, x, y): x where cond, else y (broadcast).
      {"Where",
       {[](NodeCtx& c) -> Outs { return {Select(c.In(0), c.In(1), c.In(2))}; },
        3}},
      // Comparisons: bool results, broadcast.
      {"Less", {ImportBinary<Lt>, 2}},
      {"LessOrEqual", {ImportBinary<Le>, 2}},
      {"Greater", {ImportBinary<Gt>, 2}},
      {"GreaterOrEqual", {ImportBinary<Ge>, 2}},
      {"Equal", {ImportBinary<Eq>, 2}},
      // Logical ops on bools: not x = (x == false); a and b = (a ? b :
      // false); a or b = (a ? true : b); a xor b = (a != b).
      {"Not", {[](NodeCtx& c) -> Outs { return {Eq(c.In(0), 0.0)}; }, 1}},
      {"And",
       {[](NodeCtx& c) -> Outs { return {Select(c.In(0), c.In(1), 0.0)}; }, 2}},
      {"Or",
       {[](NodeCtx& c) -> Outs { return {Select(c.In(0), 1.0, c.In(1))}; }, 2}},
      {"Xor", {ImportBinary<Ne>, 2}},
      // IsNaN: x != x.
      {"IsNaN",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {Ne(x, x)};
        },
        1}},
      // IsInf: |x| == inf, restricted by detect_negative / detect_positive
      // (both default 1).
      {"IsInf",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          const double inf = std::numeric_limits<double>::infinity();
          const bool neg = c.Int("detect_negative", 1) != 0;
          const bool pos = c.Int("detect_positive", 1) != 0;
          if (neg && pos) return {Eq(Abs(x), inf)};
          if (neg) return {Eq(x, -inf)};
          if (pos) return {Eq(x, inf)};
          return {Full(c.b(), TensorType{DType::kBool, x.dims()}, 0)};
        },
        1}},
      {"Clip", {ImportClip, 1}},
      {"Cast", {ImportCast, 1}},
      {"CastLike", {ImportCastLike, 2}},
  };
}

}  // namespace adc::onnx_import
