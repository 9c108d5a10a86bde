// Finite-difference gradient tests of every differentiable op and every
// builder composite: for each case of the table, f64 inputs at random points
// away from kinks and singularities, GradCheck (first derivative) and
// GradGradCheck (second derivative) through the reference interpreter.
//
// Linear ops (data movement, sums) are squared or passed through a smooth
// function, so that the second pass differentiates through their gradient
// rules too. A coverage test checks that the forward graphs of the table use
// every differentiable op kind; the non-differentiable ones must pass no
// gradient. Numerically delicate composites get value and gradient checks at
// extreme inputs, in f32 and f64.
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"
#include "graph/ops/random.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "passes/forward_mode.h"
#include "passes/pass_test_util.h"
#include "passes/vmap.h"
#include "tools/grad_check.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------

// A graph input (or parameter) of a case: f64 values drawn uniformly from
// [lo, hi], or the given values.
struct In {
  std::string name;
  Dims dims;
  double lo = -2, hi = 2;
  std::vector<double> values;  // Explicit values (any dtype), if non-empty.
  DType dtype = DType::kF64;
  bool parameter = false;
};

In Rand(std::string name, Dims dims, double lo = -2, double hi = 2) {
  In in;
  in.name = std::move(name);
  in.dims = std::move(dims);
  in.lo = lo;
  in.hi = hi;
  return in;
}

In Vals(std::string name, Dims dims, std::vector<double> values,
        DType dtype = DType::kF64) {
  In in;
  in.name = std::move(name);
  in.dims = std::move(dims);
  in.values = std::move(values);
  in.dtype = dtype;
  return in;
}

In Param(std::string name, Dims dims, double lo = -1, double hi = 1) {
  In in = Rand(std::move(name), std::move(dims), lo, hi);
  in.parameter = true;
  return in;
}

using BuildFn = std::function<Value(GraphBuilder&, const std::vector<Value>&)>;

struct GradCase {
  std::string name;
  std::vector<In> inputs;
  BuildFn build;  // Returns the value to differentiate.
  double eps = 1e-6;
  double tol = 1e-5;  // atol and rtol.
};

void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }

GradCase Case(std::string name, std::vector<In> inputs, BuildFn build) {
  return GradCase{std::move(name), std::move(inputs), std::move(build)};
}

// Small helpers for the builders below.
Value Sq(Value v) { return Square(v); }
Value I32(GraphBuilder& b, Dims dims, std::vector<int64_t> values) {
  return Constant(b, Tensor::FromInts(TensorType{DType::kI32, std::move(dims)},
                                      std::move(values)));
}
Value I64(GraphBuilder& b, Dims dims, std::vector<int64_t> values) {
  return Constant(b, Tensor::FromInts(TensorType{DType::kI64, std::move(dims)},
                                      std::move(values)));
}

std::vector<GradCase> AllCases() {
  using V = const std::vector<Value>&;
  using B = GraphBuilder&;
  // Values away from 0 (the kink of abs, relu, sign, ...).
  const std::vector<double> kAwayFromZero = {-1.7, -0.6, -0.2, 0.3, 0.9, 1.6};
  std::vector<GradCase>
      cases =
          {
              // --- Element-wise unary
              // ----------------------------------------------
              Case("Neg", {Rand("x", {2, 3})},
                   [](B, V x) { return Sq(-x[0]); }),
              Case("NegFunction", {Rand("x", {3})},
                   [](B, V x) { return Neg(Sin(x[0])); }),
              Case("Abs", {Vals("x", {6}, kAwayFromZero)},
                   [](B, V x) { return Abs(x[0]) * Sin(x[0]); }),
              Case("SignTimesSquare", {Vals("x", {6}, kAwayFromZero)},
                   [](B, V x) { return Sign(x[0]) * x[0] * x[0]; }),
              Case("Exp", {Rand("x", {2, 3})},
                   [](B, V x) { return Exp(x[0]); }),
              Case("Log", {Rand("x", {2, 3}, 0.5, 3)},
                   [](B, V x) { return Log(x[0]); }),
              Case("Log1p", {Rand("x", {4}, -0.5, 2)},
                   [](B, V x) { return Log1p(x[0]); }),
              Case("Expm1", {Rand("x", {4})},
                   [](B, V x) { return Expm1(x[0]); }),
              Case("Sin", {Rand("x", {4})}, [](B, V x) { return Sin(x[0]); }),
              Case("Cos", {Rand("x", {4})}, [](B, V x) { return Cos(x[0]); }),
              Case("Tan", {Rand("x", {4}, -1, 1)},
                   [](B, V x) { return Tan(x[0]); }),
              Case("Tanh", {Rand("x", {4})}, [](B, V x) { return Tanh(x[0]); }),
              Case("Sigmoid", {Rand("x", {4}, -4, 4)},
                   [](B, V x) { return Sigmoid(x[0]); }),
              Case("Sqrt", {Rand("x", {4}, 0.5, 3)},
                   [](B, V x) { return Sqrt(x[0]); }),
              Case("Erf", {Rand("x", {4})}, [](B, V x) { return Erf(x[0]); }),
              Case("Atan", {Rand("x", {4}, -3, 3)},
                   [](B, V x) { return Atan(x[0]); }),
              Case("Square", {Rand("x", {4})},
                   [](B, V x) { return Square(x[0]); }),
              Case("Rsqrt", {Rand("x", {4}, 0.5, 3)},
                   [](B, V x) { return Rsqrt(x[0]); }),
              Case("Reciprocal", {Vals("x", {4}, {-1.5, -0.7, 0.6, 2.2})},
                   [](B, V x) { return Reciprocal(x[0]); }),
              // f64 -> f32 -> f64: finite differences see f32 rounding, so a
              // larger
              // step and tolerance.
              [] {
                GradCase c =
                    Case("CastF32F64", {Rand("x", {3}, 0.5, 2)}, [](B, V x) {
                      Value f = Cast(x[0], DType::kF32);
                      return Cast(Exp(f) * f, DType::kF64) * x[0];
                    });
                c.eps = 1e-3;
                c.tol = 1e-3;
                return c;
              }(),
              // --- Element-wise binary
              // ---------------------------------------------
              Case("AddBroadcast", {Rand("x", {2, 3}), Rand("w", {3})},
                   [](B, V x) { return Sq(x[0] + x[1]); }),
              Case("AddLiteral", {Rand("x", {3})},
                   [](B, V x) { return Sq(x[0] + 1.5) + Sq(2.0 + x[0]); }),
              Case("SubBroadcast", {Rand("x", {2, 1}), Rand("w", {1, 3})},
                   [](B, V x) { return Sq(x[0] - x[1]) + Sq(1.0 - x[0]); }),
              Case("MulBroadcastScalar", {Rand("x", {2, 3}), Rand("w", {})},
                   [](B, V x) { return x[0] * x[1] * x[0]; }),
              Case(
                  "Div", {Rand("x", {2, 3}), Rand("w", {2, 3}, 0.5, 2)},
                  [](B, V x) { return x[0] / x[1] + 1.0 / x[1] + x[0] / 3.0; }),
              Case("Pow",
                   {Rand("x", {2, 3}, 0.5, 2), Rand("w", {2, 3}, -1.5, 1.5)},
                   [](B, V x) { return Pow(x[0], x[1]); }),
              Case("PowLiterals", {Rand("x", {4})},
                   [](B, V x) { return Pow(x[0], 3.0) + Pow(2.0, x[0]); }),
              Case("Maximum",
                   {Vals("x", {5}, {0.3, -1.2, 2.0, -0.5, 0.1}),
                    Vals("w", {5}, {1.0, -1.5, 1.1, 0.4, -0.3})},
                   [](B, V x) {
                     return Maximum(x[0], x[1]) * x[0] + Maximum(x[0], 0.25);
                   }),
              Case("Minimum",
                   {Vals("x", {5}, {0.3, -1.2, 2.0, -0.5, 0.1}),
                    Vals("w", {5}, {1.0, -1.5, 1.1, 0.4, -0.3})},
                   [](B, V x) {
                     return Minimum(x[0], x[1]) * x[1] + Minimum(x[0], -0.25);
                   }),
              Case("MulNoNan",
                   {Rand("x", {4}), Vals("w", {4}, {0.5, 0.0, -1.5, 2.0})},
                   [](B, V x) { return MulNoNan(Sin(x[0]), x[1]) * x[0]; }),
              // --- Select
              // ----------------------------------------------------------
              Case("Select",
                   {Vals("c", {4}, {-1, 2, -3, 4}), Rand("x", {4}),
                    Rand("w", {4})},
                   [](B, V x) {
                     return Select(Gt(x[0], 0), Sin(x[1]), Exp(x[2]));
                   }),
              Case("WhereBroadcastLiteral",
                   {Vals("c", {3}, {-1, 2, 0.5}), Rand("x", {2, 3})},
                   [](B, V x) {
                     return Where(Lt(x[0], 1), Sq(x[1]), 0.0) +
                            Select(Gt(x[0], 0), 2.0, Sin(x[1]));
                   }),
              // --- Activations
              // -----------------------------------------------------
              Case("Relu", {Vals("x", {6}, kAwayFromZero)},
                   [](B, V x) { return Sq(Relu(x[0])); }),
              Case("LeakyRelu", {Vals("x", {6}, kAwayFromZero)},
                   [](B, V x) { return Sq(LeakyRelu(x[0], 0.1)); }),
              Case("Elu", {Vals("x", {6}, kAwayFromZero)},
                   [](B, V x) { return Sq(Elu(x[0], 0.7)); }),
              Case("Softplus",
                   {Vals("x", {6}, {-30, -1.7, -0.2, 0.3, 1.6, 30})},
                   [](B, V x) { return Softplus(x[0]); }),
              Case("Clip", {Vals("x", {6}, {-1.3, -0.2, 0.1, 0.9, 1.5, 0.6})},
                   [](B, V x) {
                     return Sq(Clip(x[0], -0.5, 0.7)) +
                            Sq(Clip(x[0], std::nullopt, 0.2)) +
                            Sq(Clip(x[0], 0.0, std::nullopt));
                   }),
              // --- Reductions
              // ------------------------------------------------------
              Case("SumAxes", {Rand("x", {2, 3, 2})},
                   [](B, V x) {
                     return Sq(Sum(x[0], {0, -1}));
                   }),
              Case("SumKeepDims", {Rand("x", {2, 3})},
                   [](B, V x) { return Sq(Sum(x[0], {1}, true)) * x[0]; }),
              Case("SumAll", {Rand("x", {2, 3})},
                   [](B, V x) { return Sin(Sum(x[0])); }),
              Case("Mean", {Rand("x", {2, 3})},
                   [](B, V x) {
                     return Sq(Mean(x[0])) +
                            Sum(Sq(Mean(x[0], {0}, true) * x[0]));
                   }),
              Case("Max", {Rand("x", {3, 4})},
                   [](B, V x) { return Sq(Max(x[0], {1})) + Sq(Max(x[0])); }),
              Case("MaxKeepDims", {Rand("x", {3, 4})},
                   [](B, V x) { return Max(x[0], {0}, true) * x[0]; }),
              Case("Min", {Rand("x", {3, 4})},
                   [](B, V x) { return Sq(Min(x[0], {-1})) + Sin(Min(x[0])); }),
              Case("ProdAll", {Rand("x", {2, 3}, 0.5, 1.5)},
                   [](B, V x) { return Prod(x[0]); }),
              Case("ProdAxisKeepDims", {Rand("x", {2, 3, 2})},
                   [](B, V x) { return Prod(x[0], {1}, true) * x[0]; }),
              Case(
                  "ProdWithZeros",
                  {Vals("x", {2, 4}, {2, 0, 3, 4, 0, 1.5, 0, 2})},
                  [](B, V x) { return Sum(Sq(Prod(x[0], {1}))) + Sum(Prod(x[0], {0})); }),
              Case("LogSumExp", {Rand("x", {2, 3}, -3, 3)},
                   [](B, V x) {
                     return LogSumExp(x[0], {1}) + LogSumExp(x[0]);
                   }),
              Case("LogSumExpKeepDims", {Rand("x", {2, 3}, -3, 3)},
                   [](B, V x) { return LogSumExp(x[0], {0}, true) * x[0]; }),
              Case("Softmax", {Rand("x", {2, 4}, -3, 3)},
                   [](B, V x) { return Softmax(x[0]) + Softmax(x[0], 0); }),
              Case("LogSoftmax", {Rand("x", {2, 4}, -3, 3)},
                   [](B, V x) {
                     return LogSoftmax(x[0]) + LogSoftmax(x[0], 0);
                   }),
              // --- Linear algebra
              // --------------------------------------------------
              // barrier: x, ordered after w (which gets no gradient).
              Case("Barrier", {Rand("x", {3}), Rand("w", {2})},
                   [](B, V x) { return Sq(Barrier(Sin(x[0]), {x[1]})); }),
              // --- Calls: a custom gradient (the true one, so finite
              // differences agree), with a shared second argument.
              Case("CustomVjp", {Rand("x", {2, 3}), Rand("w", {3}, 0.5, 2)},
                   [](B b, V x) {
                     Value y = CustomVjp(
                         b, "softplus_scaled", {x[0], BroadcastTo(x[1], {2, 3})},
                         [](B, V a) {
                           return (Maximum(a[0], 0.0) + Log1p(Exp(-Abs(a[0])))) *
                                  a[1];
                         },
                         [](B, V a, Value y, Value dy) {
                           return std::vector<Value>{
                               dy * Sigmoid(a[0]) * a[1],
                               dy * y / a[1]};
                         });
                     return Sq(y);
                   }),
              Case("MatMul", {Rand("a", {2, 3}), Rand("b", {3, 4})},
                   [](B, V x) { return Sq(MatMul(x[0], x[1])); }),
              Case("MatMulVectorMatrix", {Rand("a", {3}), Rand("b", {3, 2})},
                   [](B, V x) { return Sq(MatMul(x[0], x[1])); }),
              Case("MatMulMatrixVector", {Rand("a", {2, 3}), Rand("b", {3})},
                   [](B, V x) { return Sq(MatMul(x[0], x[1])); }),
              Case("MatMulBatchVector", {Rand("a", {3}), Rand("b", {2, 3, 2})},
                   [](B, V x) { return Sq(MatMul(x[0], x[1])); }),
              Case("MatMulBroadcastBatch",
                   {Rand("a", {2, 1, 2, 3}), Rand("b", {3, 3, 2})},
                   [](B, V x) { return Sq(MatMul(x[0], x[1])); }),
              Case("Dot", {Rand("a", {4}), Rand("b", {4})},
                   [](B, V x) { return Sq(Dot(x[0], x[1])); }),
              Case("Linear",
                   {Rand("x", {2, 3}), Param("w", {4, 3}), Param("bias", {4})},
                   [](B, V x) { return Tanh(Linear(x[0], x[1], x[2])); }),
              Case("LinearNoBias", {Rand("x", {3}), Param("w", {2, 3})},
                   [](B, V x) { return Sq(Linear(x[0], x[1])); }),
              // --- Losses
              // ----------------------------------------------------------
              Case("MseLoss", {Rand("pred", {2, 3}), Rand("target", {2, 3})},
                   [](B, V x) { return MseLoss(x[0], x[1]); }),
              Case("CrossEntropy",
                   {Rand("logits", {3, 4}, -3, 3),
                    Vals("labels", {3}, {2, 0, 3}, DType::kI32)},
                   [](B, V x) { return CrossEntropy(x[0], x[1]); }),
              Case("NllLoss",
                   {Rand("x", {3, 4}, -3, 3),
                    Vals("labels", {3}, {1, 3, 1}, DType::kI64)},
                   [](B, V x) {
                     return NllLoss(LogSoftmax(x[0], 1) * Sin(x[0]), x[1]);
                   }),
              // --- Shapes and data movement
              // ----------------------------------------
              Case("Reshape", {Rand("x", {2, 3})},
                   [](B, V x) {
                     return Sq(Reshape(x[0], {3, -1})) * Reshape(x[0], {3, 2});
                   }),
              Case("ExpandDims", {Rand("x", {2, 3})},
                   [](B, V x) {
                     return Sum(Sq(ExpandDims(x[0], -1))) + Sum(Sin(ExpandDims(x[0], 0)));
                   }),
              Case("Squeeze", {Rand("x", {2, 1, 3, 1})},
                   [](B, V x) {
                     return Sq(Squeeze(x[0])) + Sin(Squeeze(x[0], {-1}));
                   }),
              Case("Flatten", {Rand("x", {2, 3, 2})},
                   [](B, V x) {
                     return Sq(Flatten(x[0], 2)) + Sum(Sin(Flatten(x[0])));
                   }),
              Case("Transpose", {Rand("x", {2, 3, 4})},
                   [](B, V x) {
                     return Sq(Transpose(x[0], {2, 0, 1})) *
                            Transpose(x[0], {-1, 0, 1});
                   }),
              Case("TransposeDefault", {Rand("x", {2, 3})},
                   [](B, V x) { return Sq(Transpose(x[0])); }),
              Case("BroadcastTo", {Rand("x", {3, 1}), Rand("s", {})},
                   [](B, V x) {
                     return Sq(BroadcastTo(x[0], {2, 3, 4})) +
                            Sin(BroadcastTo(x[1], {2, 3, 4}));
                   }),
              Case("Concat",
                   {Rand("a", {2, 1}), Rand("b", {2, 3}), Rand("c", {2, 2})},
                   [](B, V x) {
                     return Sq(Concat({x[0], x[1], x[2]}, -1));
                   }),
              Case(
                  "ConcatAxis0Repeated", {Rand("a", {1, 3}), Rand("b", {2, 3})},
                  [](B, V x) {
                    return Sin(Concat({x[0], x[1], x[0]}, 0)) * 2.0;
                  }),
              Case("Slice", {Rand("x", {4, 5})},
                   [](B, V x) {
                     return Sq(Slice(x[0], {1, 0}, {4, 5}, {2, 2})) +
                            Sum(Sin(Slice(x[0], {0, 1}, {2, 3})));
                   }),
              Case("SliceNegativeStride", {Rand("x", {4, 5})},
                   [](B, V x) {
                     return Sq(Slice(x[0], {3, 4}, {-1, 0}, {-2, -3}));
                   }),
              Case("SliceAxis", {Rand("x", {3, 5})},
                   [](B, V x) {
                     return Sq(SliceAxis(x[0], 1, 1, -1)) +
                            Sum(Sin(SliceAxis(x[0], 0, std::nullopt,
                                              std::nullopt, 2)));
                   }),
              Case("SliceAxisNegativeStep", {Rand("x", {3, 5})},
                   [](B, V x) {
                     return Sq(SliceAxis(x[0], -1, 4, 0, -2)) +
                            Sum(Sin(SliceAxis(x[0], 0, -1, std::nullopt, -1))) +
                            Sum(Sq(SliceAxis(x[0], 1, -2, -100, -3)));
                   }),
              Case("Index", {Rand("x", {3, 4})},
                   [](B, V x) {
                     return Sum(Sq(Index(x[0], -1, 1))) + Sum(Sin(Index(x[0], 1)));
                   }),
              Case("Reverse", {Rand("x", {3, 4})},
                   [](B, V x) {
                     return Sq(Reverse(x[0], {0, -1})) * x[0];
                   }),
              Case("Pad", {Rand("x", {2, 3})},
                   [](B, V x) {
                     return Sq(Pad(x[0], {1, 0}, {0, 2}, 0.5, {1, 2})) +
                            Sum(Sin(Pad(x[0], {0, 1}, {1, 1})));
                   }),
              Case("PadNegativeCrop", {Rand("x", {3, 4})},
                   [](B, V x) {
                     return Sq(Pad(x[0], {-1, 1}, {0, -2}, 0.25)) +
                            Sum(Sin(Pad(x[0], {-1, -1}, {-1, -1})));
                   }),
              Case("Gather", {Rand("x", {4, 3})},
                   [](B, V x) {
                     // Negative, out-of-range (clamped) and multi-dim indices.
                     Value idx = I32(*x[0].builder(), {2, 2}, {-1, 0, 5, 2});
                     return Sq(Gather(x[0], idx, 0));
                   }),
              Case("GatherAxis1", {Rand("x", {2, 3})},
                   [](B b, V x) {
                     return Sin(Gather(x[0], I64(b, {4}, {-3, 2, -4, 2}), -1)) *
                            3.0;
                   }),
              Case("ScatterAdd",
                   {Rand("base", {4, 3}), Rand("updates", {2, 2, 3})},
                   [](B b, V x) {
                     // Duplicate (0 twice via -4) and negative indices
                     // accumulate.
                     Value idx = I32(b, {2, 2}, {0, -1, -4, 2});
                     return Sq(ScatterAdd(x[0], idx, x[1], 0));
                   }),
              Case("ScatterAddAxis1",
                   {Rand("base", {2, 3}), Rand("updates", {2, 2})},
                   [](B b, V x) {
                     return Sin(ScatterAdd(x[0], I64(b, {2}, {-1, 1}), x[1],
                                           1)) *
                            x[0];
                   }),
              Case("CumSum", {Rand("x", {2, 4})},
                   [](B, V x) {
                     return Sq(CumSum(x[0], 1)) + Sin(CumSum(x[0], 0));
                   }),
              Case("CumSumExclusive", {Rand("x", {2, 4})},
                   [](B, V x) {
                     return Sq(CumSum(x[0], -1, /*exclusive=*/true));
                   }),
              Case("CumSumReverse", {Rand("x", {2, 4})},
                   [](B, V x) {
                     return Sq(CumSum(x[0], 1, /*exclusive=*/false,
                                      /*reverse=*/true));
                   }),
              Case("CumSumExclusiveReverse", {Rand("x", {3, 2})},
                   [](B, V x) {
                     return Sq(
                         CumSum(x[0], 0, /*exclusive=*/true, /*reverse=*/true));
                   }),
              // --- Convolution (the conv op) and pooling (compositions,
              // graph/nn.cc) ----------------------------------------------
              Case("ConvGeneral3dBothDilationsCroppingPads",
                   {Rand("x", {1, 2, 4, 3, 3}), Param("w", {2, 1, 2, 2, 1})},
                   [](B, V x) {
                     ConvGeometry g;
                     g.strides = {2, 1, 1};
                     g.pads_low = {1, -1, 0};
                     g.pads_high = {0, 1, -1};
                     g.lhs_dilation = {2, 1, 3};
                     g.rhs_dilation = {1, 2, 1};
                     g.groups = 2;
                     return Sin(ConvGeneral(x[0], x[1], g)) * 2.0;
                   }),
              Case("Conv2dStridedDilatedPaddedGroups",
                   {Rand("x", {2, 4, 5, 4}), Param("w", {4, 2, 3, 2}),
                    Param("bias", {4})},
                   [](B, V x) {
                     WindowOptions o;
                     o.strides = {2, 1};
                     o.dilations = {1, 2};
                     o.pads_low = {1, 0};
                     o.pads_high = {1, 1};
                     return Sq(Conv(x[0], x[1], x[2], o, /*groups=*/2));
                   }),
              Case("Conv1dDepthwiseSame", {Rand("x", {1, 3, 7}),
                                          Param("w", {3, 1, 3})},
                   [](B, V x) {
                     WindowOptions o;
                     o.strides = {2};
                     o.same = WindowOptions::Same::kUpper;
                     return Sin(Conv(x[0], x[1], std::nullopt, o, 3));
                   }),
              Case("ConvTranspose2d",
                   {Rand("x", {1, 2, 3, 3}), Param("w", {2, 3, 2, 3})},
                   [](B, V x) {
                     WindowOptions o;
                     o.strides = {2, 1};
                     o.pads_low = {0, 1};
                     o.pads_high = {1, 0};
                     return Sq(ConvTranspose(x[0], x[1], std::nullopt, o, 1,
                                             {1, 0}));
                   }),
              Case("MaxPool2dCeilDilated", {Rand("x", {1, 2, 6, 5})},
                   [](B, V x) {
                     WindowOptions o;
                     o.strides = {2, 2};
                     o.dilations = {1, 2};
                     o.pads_low = {1, 0};
                     o.pads_high = {1, 0};
                     o.ceil_mode = true;
                     return Sq(MaxPool(x[0], {3, 2}, o));
                   }),
              Case("AvgPool2dCountIncludePadCeil", {Rand("x", {2, 1, 5, 5})},
                   [](B, V x) {
                     WindowOptions o;
                     o.strides = {2, 2};
                     o.pads_low = {1, 1};
                     o.pads_high = {1, 1};
                     o.ceil_mode = true;
                     o.count_include_pad = true;
                     return Sq(AvgPool(x[0], {3, 3}, o)) +
                            Sin(GlobalAvgPool(x[0]) * GlobalMaxPool(x[0]));
                   }),
              Case("BatchNormTraining",
                   {Rand("x", {3, 2, 2, 3}), Param("scale", {2}, 0.5, 1.5),
                    Param("bias", {2})},
                   [](B b, V x) {
                     Value mean = Full(b, TensorType{DType::kF64, {2}}, 0.1);
                     Value var = Full(b, TensorType{DType::kF64, {2}}, 0.9);
                     BatchNormOutputs r =
                         BatchNorm(x[0], x[1], x[2], mean, var, true);
                     // (The running statistics are updated outside the
                     // gradient, as PyTorch's: graph:nn_test checks them.)
                     return Sq(r.y) * Sin(x[0]);
                   }),
              Case("LayerNormAndInstanceNorm",
                   {Rand("x", {2, 3, 4}), Param("scale", {3, 4}, 0.5, 1.5),
                    Param("bias", {4}), Param("s", {3}, 0.5, 1.5)},
                   [](B, V x) {
                     return Sq(LayerNorm(x[0], 1, x[1], x[2])) * Cos(x[0]) +
                            Sin(InstanceNorm(x[0], x[3], x[3], 1e-3));
                   }),
              // Dropout (random_uniform, a comparison and mul), the seed an
              // integer input (batching checks batch the float x only).
              Case("DropoutTrainingMode",
                   {Rand("x", {3, 7}), Vals("seed", {}, {11}, DType::kI64)},
                   [](B, V x) {
                     return Sq(Dropout(x[0], 0.4, x[1], /*stream=*/2)) *
                            Sin(x[0]);
                   }),
              // --- Leaves in differentiable expressions
              // ----------------------------
              Case("ArangeIotaConstant", {Rand("x", {2, 3})},
                   [](B b, V x) {
                     Value iota = Iota(b, DType::kF64, {2, 3}, 1);
                     Value arange = Arange(b, 0.5, 2.0, 0.5, DType::kF64);
                     Value down = Arange(b, 3, 0, -1, DType::kI32);
                     Value c = Constant(
                         b, Tensor::FromDoubles(TensorType{DType::kF64, {2, 1}},
                                                {0.5, -2.0}));
                     return Sq(x[0] * iota + arange) * c +
                            Sin(x[0] * Cast(down, DType::kF64));
                   }),
          };
  return cases;
}

// Builds the case's graph (output "y") and the feeds of its inputs.
absl::StatusOr<Graph> BuildCase(const GradCase& c,
                                std::map<std::string, Tensor>* feeds) {
  GraphBuilder b(c.name);
  std::mt19937_64 rng(random::Fnv1a(c.name));
  std::vector<Value> values;
  for (const In& in : c.inputs) {
    TensorType type{in.dtype, in.dims};
    Tensor t(type);
    if (!in.values.empty()) {
      t = Tensor::FromDoubles(type, in.values);
    } else {
      std::uniform_real_distribution<double> dist(in.lo, in.hi);
      for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, dist(rng));
    }
    if (in.parameter) {
      values.push_back(b.Parameter(in.name, t));
    } else {
      values.push_back(b.Input(in.name, in.dtype, in.dims));
      (*feeds)[in.name] = t;
    }
  }
  b.Output("y", c.build(b, values));
  return b.Build();
}

GradCheckOptions OptionsOf(const GradCase& c) {
  GradCheckOptions options;
  options.eps = c.eps;
  options.atol = c.tol;
  options.rtol = c.tol;
  return options;
}

class OpGradientTest : public ::testing::TestWithParam<GradCase> {};

TEST_P(OpGradientTest, FirstDerivative) {
  std::map<std::string, Tensor> feeds;
  absl::StatusOr<Graph> g = BuildCase(GetParam(), &feeds);
  ASSERT_TRUE(g.ok()) << g.status();
  auto out = Interpret(*g, feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  const Tensor& y = out->at("y");
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    ASSERT_TRUE(std::isfinite(y.GetDouble(i))) << y.ToString();
  }
  absl::Status status = GradCheck(*g, "y", feeds, {}, OptionsOf(GetParam()));
  EXPECT_TRUE(status.ok()) << status;
}

TEST_P(OpGradientTest, SecondDerivative) {
  std::map<std::string, Tensor> feeds;
  absl::StatusOr<Graph> g = BuildCase(GetParam(), &feeds);
  ASSERT_TRUE(g.ok()) << g.status();
  absl::Status status =
      GradGradCheck(*g, "y", feeds, {}, OptionsOf(GetParam()));
  EXPECT_TRUE(status.ok()) << status;
}

// The f64 inputs and parameters of a case's graph (what its derivatives are
// taken with respect to).
std::vector<std::string> FloatArguments(const Graph& g) {
  std::vector<std::string> names;
  for (ValueId id = 0; id < g.num_nodes(); ++id) {
    const Node& node = g.node(id);
    if ((node.op == OpKind::kInput || node.op == OpKind::kParameter) &&
        node.type.dtype == DType::kF64) {
      names.push_back(node.name);
    }
  }
  return names;
}

// Forward mode: the JVP against finite differences and against the VJP
// (<JVP(t), s> = <t, VJP(s)>).
TEST_P(OpGradientTest, ForwardMode) {
  std::map<std::string, Tensor> feeds;
  absl::StatusOr<Graph> g = BuildCase(GetParam(), &feeds);
  ASSERT_TRUE(g.ok()) << g.status();
  absl::Status status = JvpCheck(*g, "y", feeds, {}, OptionsOf(GetParam()));
  EXPECT_TRUE(status.ok()) << status;
}

// Forward over reverse (Hessian-vector products): the JVP of each gradient.
TEST_P(OpGradientTest, ForwardOverReverse) {
  std::map<std::string, Tensor> feeds;
  absl::StatusOr<Graph> g = BuildCase(GetParam(), &feeds);
  ASSERT_TRUE(g.ok()) << g.status();
  const std::vector<std::string> wrt = FloatArguments(*g);
  GradOptions grad;
  grad.of = "y";
  grad.wrt = wrt;
  grad.seed = "cotangent";  // A random one (ones may be degenerate: the
                            // gradient of sum(softmax(x)) is 0).
  auto grads = AddGradients(&*g, grad);
  ASSERT_TRUE(grads.ok()) << grads.status();
  feeds["cotangent"] = RandomTensor(g->type(*g->Find("cotangent")), 77);
  for (const std::string& name : *grads) {
    SCOPED_TRACE(name);
    absl::Status status = JvpCheck(*g, name, feeds, wrt, OptionsOf(GetParam()));
    EXPECT_TRUE(status.ok()) << status;
  }
}

// Forward over forward: the JVP of the JVP, along a fixed first tangent.
TEST_P(OpGradientTest, ForwardOverForward) {
  std::map<std::string, Tensor> feeds;
  absl::StatusOr<Graph> g = BuildCase(GetParam(), &feeds);
  ASSERT_TRUE(g.ok()) << g.status();
  const std::vector<std::string> wrt = FloatArguments(*g);
  JvpOptions jvp;
  jvp.of = {"y"};
  jvp.wrt = wrt;
  auto first = AddJvp(&*g, jvp);
  ASSERT_TRUE(first.ok()) << first.status();
  for (size_t k = 0; k < wrt.size(); ++k) {
    feeds[first->tangents[k]] =
        RandomTensor(g->type(*g->Find(first->tangents[k])), 1000 + k);
  }
  absl::Status status =
      JvpCheck(*g, "y.jvp", feeds, wrt, OptionsOf(GetParam()));
  EXPECT_TRUE(status.ok()) << status;
}

// Batching: the vmapped graph computes k instances at once; slice i equals
// the graph run on instance i. Every f64 input batched, then only the first
// (the others shared), with instance 0 the case's own values and the others
// drawn from the same ranges.
void CheckBatching(const GradCase& c, bool only_first) {
  constexpr int64_t k = 3;
  std::map<std::string, Tensor> feeds;
  absl::StatusOr<Graph> g = BuildCase(c, &feeds);
  ASSERT_TRUE(g.ok()) << g.status();
  VmapOptions options;
  options.size = k;
  std::mt19937_64 rng(random::Fnv1a(c.name) + 5);
  std::vector<std::map<std::string, Tensor>> instances(k, feeds);
  std::map<std::string, Tensor> batched_feeds = feeds;
  for (const In& in : c.inputs) {
    if (in.parameter || in.dtype != DType::kF64) continue;
    if (only_first && !options.batched.empty()) break;
    options.batched.push_back(in.name);
    const TensorType type{in.dtype, in.dims};
    Tensor stacked(TensorType{in.dtype, ops::WithBatch(k, in.dims)});
    for (int64_t i = 0; i < k; ++i) {
      if (i > 0) {
        // Explicit values are kinks-free points: scale them a little.
        std::uniform_real_distribution<double> dist(in.lo, in.hi);
        Tensor t(type);
        for (int64_t j = 0; j < t.num_elements(); ++j) {
          t.SetDouble(
              j, in.values.empty() ? dist(rng) : in.values[j] * (1 + 0.1 * i));
        }
        instances[i][in.name] = t;
      }
      const Tensor& t = instances[i].at(in.name);
      for (int64_t j = 0; j < t.num_elements(); ++j) {
        stacked.SetDouble(i * t.num_elements() + j, t.GetDouble(j));
      }
    }
    batched_feeds[in.name] = stacked;
  }
  if (options.batched.empty()) return;  // Only parameters.
  absl::StatusOr<Graph> batched = Vmap(*g, options);
  ASSERT_TRUE(batched.ok()) << batched.status();
  auto out = Interpret(*batched, batched_feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t i = 0; i < k; ++i) {
    auto expected = Interpret(*g, instances[i]);
    ASSERT_TRUE(expected.ok()) << expected.status();
    const Tensor got = pass_test::InstanceOf(out->at("y"), i);
    ASSERT_EQ(got.type(), expected->at("y").type());
    for (int64_t j = 0; j < got.num_elements(); ++j) {
      // The same ops on the same values: equal up to the order of sums.
      const double e = expected->at("y").GetDouble(j);
      EXPECT_NEAR(got.GetDouble(j), e, 1e-12 * (1 + std::abs(e)))
          << "instance " << i << " element " << j;
    }
  }
}

TEST_P(OpGradientTest, BatchingEveryInput) { CheckBatching(GetParam(), false); }
TEST_P(OpGradientTest, BatchingTheFirstInput) {
  CheckBatching(GetParam(), true);
}

INSTANTIATE_TEST_SUITE_P(Ops, OpGradientTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<GradCase>& info) {
                           return info.param.name;
                         });

// Negative controls: the checks must catch wrong derivatives.
// f = sg(sin x) + (x - sg(x)) * sg(cos x) equals sin x in value and first
// derivative, but autodiff sees a zero second derivative.
TEST(GradCheckControlTest, CatchesWrongDerivatives) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("no_grad", StopGradient(Sin(x)));
  b.Output("straight_through",
           StopGradient(Sin(x)) + (x - StopGradient(x)) * StopGradient(Cos(x)));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  const std::map<std::string, Tensor> feeds = {
      {"x", Tensor::FromDoubles(TensorType{DType::kF64, {3}}, {0.3, -1, 2})}};
  EXPECT_FALSE(GradCheck(*g, "no_grad", feeds).ok());
  EXPECT_FALSE(JvpCheck(*g, "no_grad", feeds).ok());
  EXPECT_TRUE(GradCheck(*g, "straight_through", feeds).ok());
  EXPECT_TRUE(JvpCheck(*g, "straight_through", feeds).ok());
  absl::Status second = GradGradCheck(*g, "straight_through", feeds);
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(second.message(), HasSubstr("gradcheck failed"));
}

// ---------------------------------------------------------------------------
// Coverage of the op kinds.
// ---------------------------------------------------------------------------
std::string KindName(int k) { return GetOpDef(static_cast<OpKind>(k)).name; }

TEST(OpGradientCoverageTest, EveryDifferentiableOpKindHasACase) {
  std::map<int, std::vector<std::string>> cases_of_kind;
  for (const GradCase& c : AllCases()) {
    std::map<std::string, Tensor> feeds;
    absl::StatusOr<Graph> g = BuildCase(c, &feeds);
    ASSERT_TRUE(g.ok()) << c.name << ": " << g.status();
    std::set<int> kinds;
    for (const Node& node : g->nodes()) kinds.insert(static_cast<int>(node.op));
    for (int k : kinds) cases_of_kind[k].push_back(c.name);
  }
  for (int k = 0; k < kNumOpKinds; ++k) {
    if (!GetOpDef(static_cast<OpKind>(k)).differentiable) continue;
    // cond and while_loop need functions: their finite-difference,
    // second-order and forward-mode checks are passes/control_flow_test.
    if (FamilyOf(static_cast<OpKind>(k)) == OpFamily::kControl) continue;
    EXPECT_FALSE(cases_of_kind[k].empty())
        << "differentiable op '" << KindName(k)
        << "' is not exercised by any case of the gradient table";
  }
}

// The op kinds without a gradient rule, spelled out: a new op must be
// classified here on purpose.
TEST(OpGradientCoverageTest, NonDifferentiableKindsAreExactlyTheExpected) {
  const std::set<OpKind> expected = {
      OpKind::kConstant,  OpKind::kIota,         OpKind::kSign,
      OpKind::kRound,     OpKind::kStopGradient, OpKind::kLess,
      OpKind::kLessEqual, OpKind::kGreater,      OpKind::kGreaterEqual,
      OpKind::kEqual,     OpKind::kNotEqual,     OpKind::kRandomUniform};
  for (int k = 0; k < kNumOpKinds; ++k) {
    const OpKind kind = static_cast<OpKind>(k);
    const OpDef& def = GetOpDef(kind);
    EXPECT_EQ(def.differentiable, expected.count(kind) == 0) << def.name;
    EXPECT_EQ(def.grad == nullptr,
              !def.differentiable || def.family == OpFamily::kControl)
        << def.name;
  }
}

// Each non-differentiable op with operands, fed only by x: the gradient does
// not reach x (an error with allow_unused = false, zeros otherwise).
TEST(OpGradientCoverageTest, NonDifferentiableOpsPassNoGradient) {
  for (int k = 0; k < kNumOpKinds; ++k) {
    const OpKind kind = static_cast<OpKind>(k);
    const OpDef& def = GetOpDef(kind);
    if (def.differentiable || def.min_inputs == 0) continue;
    SCOPED_TRACE(def.name);
    GraphBuilder b;
    Value x = b.Input("x", DType::kF64, {3});
    std::vector<Value> operands(def.min_inputs, x);
    Attrs attrs;
    if (kind == OpKind::kRandomUniform) {  // Integer operands.
      operands.assign(2, Cast(x, DType::kI64));
      attrs.Set("dtype", DType::kF64);
    }
    Value r = b.AddOp(kind, operands, std::move(attrs));
    b.Output("y", Sum(Cast(r, DType::kF64) * 2.0));
    absl::StatusOr<Graph> g = b.Build();
    ASSERT_TRUE(g.ok()) << g.status();
    Graph strict = *g;
    GradOptions options;
    options.of = "y";
    options.wrt = {"x"};
    options.allow_unused = false;
    auto error = AddGradients(&strict, options);
    ASSERT_FALSE(error.ok());
    EXPECT_THAT(error.status().message(), HasSubstr("'x' does not affect 'y'"));
    options.allow_unused = true;
    ASSERT_TRUE(AddGradients(&*g, options).ok());
    auto out =
        Interpret(*g, {{"x", Tensor::FromDoubles(TensorType{DType::kF64, {3}},
                                                 {-1, 0.5, 2})}});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->at("x.grad"),
              Tensor::Filled(TensorType{DType::kF64, {3}}, 0.0));
    // Nor does a tangent.
    JvpOptions jvp;
    jvp.of = {"y"};
    jvp.wrt = {"x"};
    ASSERT_TRUE(AddJvp(&*g, jvp).ok());
    const Tensor x3 =
        Tensor::FromDoubles(TensorType{DType::kF64, {3}}, {-1, 0.5, 2});
    auto forward = Interpret(*g, {{"x", x3}, {"x.tangent", x3}});
    ASSERT_TRUE(forward.ok()) << forward.status();
    EXPECT_EQ(forward->at("y.jvp"), Tensor::Scalar(0.0, DType::kF64));
  }
}

// ---------------------------------------------------------------------------
// Exact checks.
// ---------------------------------------------------------------------------
Tensor F64(Dims dims, std::vector<double> values) {
  return Tensor::FromDoubles(TensorType{DType::kF64, std::move(dims)},
                             std::move(values));
}

// Builds `f` of an input x of `type`, adds d(sum f)/dx and returns
// {f(x0), grad} (or the value and seeded gradient of a scalar f).
std::pair<Tensor, Tensor> ValueAndGrad(const std::function<Value(Value)>& f,
                                       const Tensor& x0) {
  GraphBuilder b;
  Value x = b.Input("x", x0.dtype(), x0.dims());
  Value y = f(x);
  b.Output("y", y);
  b.Output("s", Sum(y));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return {};
  GradOptions options;
  options.of = "s";
  options.wrt = {"x"};
  auto names = AddGradients(&*g, options);
  EXPECT_TRUE(names.ok()) << names.status();
  auto out = Interpret(*g, {{"x", x0}});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  return {out->at("y"), out->at("x.grad")};
}

void ExpectValues(const Tensor& t, const std::vector<double>& expected,
                  double tol) {
  ASSERT_EQ(t.num_elements(), static_cast<int64_t>(expected.size()))
      << t.ToString();
  for (size_t i = 0; i < expected.size(); ++i) {
    const double got = t.GetDouble(i);
    if (std::isinf(expected[i])) {
      EXPECT_EQ(got, expected[i]) << "element " << i << " of " << t.ToString();
    } else {
      EXPECT_NEAR(got, expected[i], tol * std::max(1.0, std::abs(expected[i])))
          << "element " << i << " of " << t.ToString();
    }
  }
}

TEST(ProdTest, ExactGradientWithZeros) {
  // One zero: only the zero's gradient is non-zero (the product of the
  // others). Two zeros: every gradient is zero.
  auto [y, grad] = ValueAndGrad([](Value x) { return Prod(x, {1}); },
                                F64({3, 4}, {2, 0, 3, 4,  //
                                             0, 5, 0, 2,  //
                                             1, 2, 3, -0.5}));
  ExpectValues(y, {0, 0, -3}, 0);
  ExpectValues(grad,
               {0, 24, 0, 0,  //
                0, 0, 0, 0,   //
                -3, -1.5, -1, 6},
               0);
}

TEST(ProdTest, ExactSecondDerivativeWithZeros) {
  // p = x0 x1 x2 with x1 = 0: d2p/dx0dx2 = x1 = 0, d2p/dx0dx1 = x2.
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("p", Prod(x));
  Graph g = *b.Build();
  GradOptions first;
  first.of = "p";
  ASSERT_TRUE(AddGradients(&g, first).ok());
  GradOptions second;
  second.of = "x.grad";
  second.wrt = {"x"};
  second.seed = "v";  // Hessian-vector product with v = e_0.
  ASSERT_TRUE(AddGradients(&g, second).ok());
  auto out =
      Interpret(g, {{"x", F64({3}, {2, 0, 3})}, {"v", F64({3}, {1, 0, 0})}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectValues(out->at("x.grad"), {0, 6, 0}, 0);
  ExpectValues(out->at("x.grad2"), {0, 3, 0}, 0);
}

// ---------------------------------------------------------------------------
// Numerical stability, in f32 and f64.
// ---------------------------------------------------------------------------
class StabilityTest : public ::testing::TestWithParam<DType> {
 protected:
  Tensor Vec(std::vector<double> v) {
    const int64_t n = v.size();
    return Tensor::FromDoubles(TensorType{GetParam(), {n}}, std::move(v));
  }
  double tol() const { return GetParam() == DType::kF64 ? 1e-12 : 1e-6; }
};

TEST_P(StabilityTest, LogSumExpOfLargeEqualValues) {
  auto [y, grad] =
      ValueAndGrad([](Value x) { return LogSumExp(x); }, Vec({1000, 1000}));
  ExpectValues(y, {1000 + std::log(2.0)}, tol());
  ExpectValues(grad, {0.5, 0.5}, tol());
}

TEST_P(StabilityTest, LogSumExpWithMinusInfinity) {
  auto [y, grad] = ValueAndGrad([](Value x) { return LogSumExp(x); },
                                Vec({-kInf, -kInf, 0}));
  ExpectValues(y, {0}, tol());
  ExpectValues(grad, {0, 0, 1}, tol());
}

TEST_P(StabilityTest, LogSumExpKeepDimsOfLargeValues) {
  auto [y, grad] = ValueAndGrad(
      [](Value x) {
        return LogSumExp(Reshape(x, {2, 2}), {1}, true);
      },
      Vec({1000, 1000, -1000, -1000}));
  ExpectValues(y, {1000 + std::log(2.0), -1000 + std::log(2.0)}, tol());
  ExpectValues(grad, {0.5, 0.5, 0.5, 0.5}, tol());
}

TEST_P(StabilityTest, SoftmaxOfSpreadValues) {
  // d/dx sum(w * softmax(x)) = s * (w - sum(w s)): 0 at saturation.
  auto [y, grad] = ValueAndGrad(
      [](Value x) {
        Value w =
            Constant(*x.builder(), Tensor::FromDoubles(x.type(), {1, 2, 3}));
        return Softmax(x) * w;
      },
      Vec({1000, 0, -1000}));
  ExpectValues(y, {1, 0, 0}, tol());
  ExpectValues(grad, {0, 0, 0}, tol());
}

TEST_P(StabilityTest, LogSoftmaxOfSpreadValues) {
  // d/dx sum(log_softmax(x)) = 1 - n * softmax(x).
  auto [y, grad] = ValueAndGrad([](Value x) { return LogSoftmax(x); },
                                Vec({1000, 0, -1000}));
  ExpectValues(y, {0, -1000, -2000}, tol());
  ExpectValues(grad, {-2, 1, 1}, tol());
}

TEST_P(StabilityTest, SigmoidSaturates) {
  auto [y, grad] =
      ValueAndGrad([](Value x) { return Sigmoid(x); }, Vec({1000, -1000, 0}));
  ExpectValues(y, {1, 0, 0.5}, tol());
  ExpectValues(grad, {0, 0, 0.25}, tol());
}

TEST_P(StabilityTest, SoftplusOfLargeValues) {
  auto [y, grad] =
      ValueAndGrad([](Value x) { return Softplus(x); }, Vec({1000, -1000, 0}));
  ExpectValues(y, {1000, 0, std::log(2.0)}, tol());
  ExpectValues(grad, {1, 0, 0.5}, tol());
}

TEST_P(StabilityTest, SoftplusSecondDerivativeIsFinite) {
  // d2/dx2 softplus(x) = sigmoid(x) (1 - sigmoid(x)).
  GraphBuilder b;
  Value x = b.Input("x", GetParam(), {3});
  b.Output("y", Sum(Softplus(x)));
  Graph g = *b.Build();
  GradOptions first;
  first.of = "y";
  ASSERT_TRUE(AddGradients(&g, first).ok());
  GradOptions second;
  second.of = "x.grad";
  second.wrt = {"x"};
  second.seed = "ones";
  ASSERT_TRUE(AddGradients(&g, second).ok());
  auto out = Interpret(g, {{"x", Vec({1000, -1000, 0})}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectValues(out->at("x.grad2"), {0, 0, 0.25}, tol());
}

TEST_P(StabilityTest, NanSafeWhere) {
  // where(x > 0, log(x), 0) and where(x > 0, sqrt(x), 0) at 0: value 0,
  // gradient 0 (not NaN), second derivative 0.
  GraphBuilder b;
  Value x = b.Input("x", GetParam(), {3});
  b.Output("y", Sum(Where(Gt(x, 0), Log(x), 0.0) +
                    Where(Gt(x, 0), Sqrt(x), ZerosLike(x))));
  Graph g = *b.Build();
  GradOptions first;
  first.of = "y";
  ASSERT_TRUE(AddGradients(&g, first).ok());
  GradOptions second;
  second.of = "x.grad";
  second.wrt = {"x"};
  second.seed = "ones";
  ASSERT_TRUE(AddGradients(&g, second).ok());
  auto out = Interpret(g, {{"x", Vec({0, -1, 4})}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectValues(out->at("x.grad"), {0, 0, 0.25 + 0.25}, tol());
  // d2/dx2 (log x + sqrt x) = -1/x^2 - 1/(4 x^1.5) at 4: -1/16 - 1/32.
  ExpectValues(out->at("x.grad2"), {0, 0, -1.0 / 16 - 1.0 / 32}, tol());
}

INSTANTIATE_TEST_SUITE_P(DTypes, StabilityTest,
                         ::testing::Values(DType::kF32, DType::kF64),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(DTypeName(info.param));
                         });

}  // namespace
}  // namespace adc
