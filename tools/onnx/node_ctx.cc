// NodeCtx's static operands and the helpers the op imports share.
#include "tools/onnx/node_ctx.h"

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/onnx/onnx_tensor.h"

namespace adc::onnx_import {

Tensor NodeCtx::Static(int i) {
  if (!Has(i)) {
    Error("input ", i, " is missing");
    return Tensor();
  }
  absl::StatusOr<Tensor> t = static_value_(node_.input(i));
  if (!t.ok()) {
    Fail(Annotate(t.status(), absl::StrCat("input ", i, " ('", node_.input(i),
                                           "') must be known at import time")));
    return Tensor();
  }
  return *std::move(t);
}

std::vector<int64_t> NodeCtx::StaticInts(int i) {
  Tensor t = Static(i);
  if (!ok()) return {};
  if (!IsInteger(t.dtype()) || t.type().rank() > 1) {
    Error("input ", i, " ('", node_.input(i),
          "') must be a 1-D integer tensor, got ", t.type().ToString());
    return {};
  }
  return t.ints();
}

double NodeCtx::StaticScalar(int i) {
  Tensor t = Static(i);
  if (!ok()) return 0;
  if (t.num_elements() != 1) {
    Error("input ", i, " ('", node_.input(i), "') must have one element, got ",
          t.type().ToString());
    return 0;
  }
  return t.GetDouble(0);
}

std::optional<int64_t> NormalizeAxis(int64_t a, int64_t r) {
  if (a < -r || a >= r) return std::nullopt;
  return a < 0 ? a + r : a;
}

Value CastIfNeeded(Value v, DType dtype) {
  return v.dtype() == dtype ? v : Cast(v, dtype);
}

std::vector<int64_t> AllAxes(int rank) {
  std::vector<int64_t> axes(rank);
  for (int i = 0; i < rank; ++i) axes[i] = i;
  return axes;
}

}  // namespace adc::onnx_import
