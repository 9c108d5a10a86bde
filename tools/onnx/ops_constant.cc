// ONNX ops that make constants: Constant, and ConstantOfShape and Range of
// static operands.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/ops/op_util.h"
#include "graph/types.h"
#include "onnx/onnx_pb.h"
#include "tools/onnx/importer.h"
#include "tools/onnx/node_ctx.h"

namespace adc::onnx_import {
namespace {

// Constant: the tensor of exactly one attribute among value, value_float(s)
// and value_int(s) (sparse and string values are unsupported).
Outs ImportConstant(NodeCtx& c) {
  std::optional<Tensor> value;
  for (const onnx::AttributeProto& a : c.node().attribute()) {
    const std::string& n = a.name();
    if (n == "value") {
      absl::StatusOr<Tensor> t = TensorFromOnnx(a.t());
      if (!t.ok()) return c.Fail(t.status());
      value = *std::move(t);
    } else if (n == "value_float") {
      value = Tensor::Scalar(a.f(), DType::kF32);
    } else if (n == "value_floats") {
      value = Tensor::FromDoubles(
          TensorType{DType::kF32, {a.floats_size()}},
          std::vector<double>(a.floats().begin(), a.floats().end()));
    } else if (n == "value_int") {
      value = Tensor::FromInts(TensorType{DType::kI64, {}}, {a.i()});
    } else if (n == "value_ints") {
      value = Tensor::FromInts(
          TensorType{DType::kI64, {a.ints_size()}},
          std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    } else {
      return c.Fail(absl::UnimplementedError(
          absl::StrCat("Constant attribute '", n, "' is not supported")));
    }
  }
  if (!value) return c.Error("has no value attribute");
  return {Constant(c.b(), *std::move(value))};
}

// ConstantOfShape(shape): a tensor of dims `shape` filled with the one
// element of attribute `value` (default float 0).
Outs ImportConstantOfShape(NodeCtx& c) {
  const std::vector<int64_t> dims = c.StaticInts(0);
  Tensor value = Tensor::Scalar(0, DType::kF32);
  if (const onnx::AttributeProto* a = c.Attr("value")) {
    absl::StatusOr<Tensor> t = TensorFromOnnx(a->t());
    if (!t.ok()) return c.Fail(t.status());
    value = *std::move(t);
  }
  if (!c.ok()) return {};
  if (value.num_elements() != 1) return c.Error("value must have one element");
  Tensor scalar(TensorType{value.dtype(), {}});
  ops::CopyElement(value, 0, &scalar, 0);
  for (int64_t d : dims) {
    if (d < 0) return c.Error("shape ", DimsToString(dims), " is negative");
  }
  return {BroadcastTo(Constant(c.b(), scalar), dims)};
}

// Range(start, limit, delta), all known at import time: start, start +
// delta, ... while before limit (ceil((limit - start) / delta) elements).
Outs ImportRange(NodeCtx& c) {
  const Tensor start = c.Static(0), limit = c.Static(1), delta = c.Static(2);
  if (!c.ok()) return {};
  for (const Tensor* t : {&start, &limit, &delta}) {
    if (t->num_elements() != 1) return c.Error("inputs must be scalars");
  }
  const DType dtype = start.dtype();
  if (IsFloat(dtype)) {
    const double s = start.GetDouble(0), l = limit.GetDouble(0),
                 d = delta.GetDouble(0);
    const double count = std::ceil((l - s) / d);
    if (d == 0 || !std::isfinite(count) || count > (1 << 24)) {
      return c.Error("cannot make a range from ", s, " to ", l, " by ", d);
    }
    const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(count));
    Tensor t(TensorType{dtype, {n}});
    for (int64_t i = 0; i < n; ++i) t.SetDouble(i, s + i * d);
    return {Constant(c.b(), t)};
  }
  const int64_t s = start.GetInt(0), l = limit.GetInt(0), d = delta.GetInt(0);
  if (d == 0 || std::abs(l - s) / std::abs(d) > (1 << 24)) {
    return c.Error("cannot make a range from ", s, " to ", l, " by ", d);
  }
  const int64_t n =
      std::max<int64_t>(0, d > 0 ? (l - s + d - 1) / d : (s - l - d - 1) / -d);
  Tensor t(TensorType{dtype, {n}});
  for (int64_t i = 0; i < n; ++i) t.SetInt(i, s + i * d);
  return {Constant(c.b(), t)};
}

}  // namespace

std::vector<OnnxOpEntry> ConstantOnnxOps() {
  return {
      {"Constant", {ImportConstant, 0}},
      {"ConstantOfShape", {ImportConstantOfShape, 1, {0}}},
      {"Range", {ImportRange, 3, {0, 1, 2}}},
  };
}

}  // namespace adc::onnx_import
