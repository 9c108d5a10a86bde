// Reducing ONNX ops: the Reduce* family (axes as an attribute or an input),
// ArgMax/ArgMin, and Softmax/LogSoftmax (whose axis semantics depend on the
// opset).
#include <cstdint>
#include <optional>
#include <vector>

#include "graph/builder.h"
#include "graph/types.h"
#include "tools/onnx/node_ctx.h"

namespace adc::onnx_import {
namespace {

enum class Reduction {
  kSum,
  kMean,
  kMax,
  kMin,
  kProd,
  kLogSumExp,
  kSumSquare,
  kL1,
  kL2,
  kLogSum,
};

// Reduce*(data, axes): reduces over `axes` (an attribute, or the second
// input as ReduceSum has since opset 13); no axes means all of them, unless
// noop_with_empty_axes = 1 (then the result is the input). keepdims
// (default 1) keeps the reduced axes with size 1. ReduceSumSquare = sum(x^2),
// ReduceL1 = sum(|x|), ReduceL2 = sqrt(sum(x^2)), ReduceLogSum = log(sum(x)),
// ReduceLogSumExp = log(sum(exp(x))) computed stably.
template <Reduction kKind>
Outs ImportReduce(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<std::vector<int64_t>> axes = c.IntsInputOrAttr(1, "axes");
  const bool keepdims = c.Int("keepdims", 1) != 0;
  const bool noop = c.Int("noop_with_empty_axes", 0) != 0;
  if (!c.ok()) return {};
  if (!axes || axes->empty()) {
    if (noop) return {x};
    axes = AllAxes(x.rank());
  }
  switch (kKind) {
    case Reduction::kSum:
      return {Sum(x, *axes, keepdims)};
    case Reduction::kMean: {
      if (IsFloat(x.dtype())) return {Mean(x, *axes, keepdims)};
      // Integer mean: the sum divided by the count, truncating.
      int64_t count = 1;
      for (int64_t a : *axes) {
        std::optional<int64_t> n = NormalizeAxis(a, x.rank());
        if (!n) return c.Error("axis ", a, " is out of range");
        count *= x.dims()[*n];
      }
      return {Sum(x, *axes, keepdims) / static_cast<double>(count)};
    }
    case Reduction::kMax:
      return {Max(x, *axes, keepdims)};
    case Reduction::kMin:
      return {Min(x, *axes, keepdims)};
    case Reduction::kProd:
      return {Prod(x, *axes, keepdims)};
    case Reduction::kLogSumExp:
      return {LogSumExp(x, *axes, keepdims)};
    case Reduction::kSumSquare:
      return {Sum(x * x, *axes, keepdims)};
    case Reduction::kL1:
      return {Sum(Abs(x), *axes, keepdims)};
    case Reduction::kL2:
      return {Sqrt(Sum(x * x, *axes, keepdims))};
    case Reduction::kLogSum:
      return {Log(Sum(x, *axes, keepdims))};
  }
  return {};
}

// ArgMax / ArgMin(x, axis): the index (int64) of the first (or, with
// select_last_index = 1, the last) extremum along `axis` (default 0);
// keepdims (default 1) keeps the axis with size 1.
template <bool kMax>
Outs ImportArgExtremum(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<int64_t> axis = NormalizeAxis(c.Int("axis", 0), x.rank());
  const bool keepdims = c.Int("keepdims", 1) != 0;
  const bool last = c.Int("select_last_index", 0) != 0;
  if (!c.ok()) return {};
  if (!axis) return c.Error("axis is out of range for ", x.type().ToString());
  Value extremum = kMax ? Max(x, {*axis}, true) : Min(x, {*axis}, true);
  Value index = Iota(c.b(), DType::kI64, x.dims(), *axis);
  Value hit = Eq(x, extremum);
  Value result =
      last ? Max(Select(hit, index, -1.0), {*axis}, keepdims)
           : Min(Select(hit, index, static_cast<double>(x.dims()[*axis])),
                 {*axis}, keepdims);
  return {result};
}

// Softmax / LogSoftmax. Opset 13+: along `axis` (default -1). Before 13: the
// input is coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])] (axis
// default 1) and normalized along the second dimension.
template <bool kLog>
Outs ImportSoftmax(NodeCtx& c) {
  Value x = c.In(0);
  Value (*f)(Value, int64_t) = kLog ? LogSoftmax : Softmax;
  if (c.opset() >= 13) return {f(x, c.Int("axis", -1))};
  int64_t axis = c.Int("axis", 1);
  const int64_t r = x.rank();
  if (axis < -r || axis > r) {
    return c.Error("axis ", axis, " is out of range for ", x.type().ToString());
  }
  if (axis < 0) axis += r;
  return {Reshape(f(Flatten(x, axis), 1), x.dims())};
}

}  // namespace

std::vector<OnnxOpEntry> ReductionOnnxOps() {
  return {
      {"ReduceSum", {ImportReduce<Reduction::kSum>, 1, {1}}},
      {"ReduceMean", {ImportReduce<Reduction::kMean>, 1, {1}}},
      {"ReduceMax", {ImportReduce<Reduction::kMax>, 1, {1}}},
      {"ReduceMin", {ImportReduce<Reduction::kMin>, 1, {1}}},
      {"ReduceProd", {ImportReduce<Reduction::kProd>, 1, {1}}},
      {"ReduceLogSumExp", {ImportReduce<Reduction::kLogSumExp>, 1, {1}}},
      {"ReduceSumSquare", {ImportReduce<Reduction::kSumSquare>, 1, {1}}},
      {"ReduceL1", {ImportReduce<Reduction::kL1>, 1, {1}}},
      {"ReduceL2", {ImportReduce<Reduction::kL2>, 1, {1}}},
      {"ReduceLogSum", {ImportReduce<Reduction::kLogSum>, 1, {1}}},
      {"ArgMax", {ImportArgExtremum<true>, 1}},
      {"ArgMin", {ImportArgExtremum<false>, 1}},
      {"Softmax", {ImportSoftmax<false>, 1}},
      {"LogSoftmax", {ImportSoftmax<true>, 1}},
  };
}

}  // namespace adc::onnx_import
