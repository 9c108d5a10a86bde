// Linear-algebra ONNX ops: Gemm and MatMul.
#include <vector>

#include "graph/builder.h"
#include "tools/onnx/node_ctx.h"

namespace adc::onnx_import {
namespace {

// Gemm(A, B, C) = alpha * A' @ B' + beta * C, with A' = transpose(A) if
// transA (likewise B'), A and B 2-D and C (optional) broadcast to the result.
Outs ImportGemm(NodeCtx& c) {
  Value a = c.In(0), b = c.In(1);
  if (a.rank() != 2 || b.rank() != 2) {
    return c.Error("A and B must be 2-D, got ", a.type().ToString(), " and ",
                   b.type().ToString());
  }
  if (c.Int("transA", 0) != 0) a = Transpose(a);
  if (c.Int("transB", 0) != 0) b = Transpose(b);
  const double alpha = c.Float("alpha", 1.0);
  const double beta = c.Float("beta", 1.0);
  Value y = MatMul(a, b);
  if (alpha != 1.0) y = y * alpha;
  if (c.Has(2)) {
    Value bias = c.In(2);
    if (beta != 1.0) bias = bias * beta;
    y = y + bias;
  }
  return {y};
}

}  // namespace

std::vector<OnnxOpEntry> LinalgOnnxOps() {
  return {
      {"Gemm", {ImportGemm, 2}},
      // MatMul: numpy.matmul (1-D operands promoted, batch dims broadcast).
      {"MatMul",
       {[](NodeCtx& c) -> Outs { return {MatMul(c.In(0), c.In(1))}; }, 2}},
  };
}

}  // namespace adc::onnx_import
