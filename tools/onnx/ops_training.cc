// ONNX's training-domain optimizers (ai.onnx.preview.training): Adagrad,
// Momentum and Adam, each updating n tensors at once: inputs (R, T, X_1..n,
// G_1..n, states...), outputs (X_new_1..n, states_new...), R the learning
// rate and T the update count (i64 scalar). The formulas are ONNX's (they
// differ from PyTorch's, e.g. Adam's epsilon outside the bias correction).
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "graph/builder.h"
#include "tools/onnx/node_ctx.h"

namespace adc::onnx_import {
namespace {

// The number n of tensors of an optimizer node with `per_tensor` inputs per
// tensor after R and T; 0 after recording an error.
int NumTensors(NodeCtx& c, int per_tensor) {
  const int inputs = c.node().input_size() - 2;
  if (inputs <= 0 || inputs % per_tensor != 0) {
    c.Error(c.node().op_type(), " takes R, T and ", per_tensor,
            " inputs per tensor; got ", c.node().input_size(), " inputs");
    return 0;
  }
  return inputs / per_tensor;
}

// R and T as scalars of x's dtype.
Value Rate(NodeCtx& c, Value x) { return Cast(c.In(0), x.dtype()); }
Value Count(NodeCtx& c, Value x) { return Cast(c.In(1), x.dtype()); }

// Adagrad: r = R / (1 + T decay_factor); G' = norm_coefficient X + G;
// H_new = H + G'^2; X_new = X - r G' / (sqrt(H_new) + epsilon).
Outs ImportAdagrad(NodeCtx& c) {
  const int n = NumTensors(c, 3);
  if (n == 0) return {};
  const double decay = c.Float("decay_factor", 0), eps = c.Float("epsilon", 0),
               norm = c.Float("norm_coefficient", 0);
  Outs x_new, h_new;
  for (int k = 0; k < n; ++k) {
    Value x = c.In(2 + k), g = c.In(2 + n + k), h = c.In(2 + 2 * n + k);
    Value r = Rate(c, x) / (1.0 + Count(c, x) * decay);
    Value gr = norm * x + g;
    Value hn = h + gr * gr;
    x_new.push_back(x - r * gr / (Sqrt(hn) + eps));
    h_new.push_back(hn);
  }
  x_new.insert(x_new.end(), h_new.begin(), h_new.end());
  return x_new;
}

// Momentum: G' = norm_coefficient X + G; beta' = T > 0 ? beta : 1;
// V_new = alpha V + beta' G'; X_new = X - R V_new ("standard") or
// X - R (G' + alpha V_new) ("nesterov").
Outs ImportMomentum(NodeCtx& c) {
  const int n = NumTensors(c, 3);
  if (n == 0) return {};
  const double alpha = c.Float("alpha", 0), beta = c.Float("beta", 0),
               norm = c.Float("norm_coefficient", 0);
  const std::string mode = c.Str("mode", "standard");
  if (mode != "standard" && mode != "nesterov") {
    return c.Error("mode '", mode, "' is not 'standard' or 'nesterov'");
  }
  Outs x_new, v_new;
  for (int k = 0; k < n; ++k) {
    Value x = c.In(2 + k), g = c.In(2 + n + k), v = c.In(2 + 2 * n + k);
    Value gr = norm * x + g;
    Value beta_t = Select(Gt(c.In(1), Scalar(c.b(), 0, c.In(1).dtype())),
                          FullLike(x, beta), FullLike(x, 1.0));
    Value vn = alpha * v + beta_t * gr;
    x_new.push_back(mode == "standard" ? x - Rate(c, x) * vn
                                       : x - Rate(c, x) * (gr + alpha * vn));
    v_new.push_back(vn);
  }
  x_new.insert(x_new.end(), v_new.begin(), v_new.end());
  return x_new;
}

// Adam: G' = norm_coefficient X + G; V_new = alpha V + (1 - alpha) G';
// H_new = beta H + (1 - beta) G'^2; R' = T > 0 ? R sqrt(1 - beta^T) /
// (1 - alpha^T) : R; X_new = (1 - norm_coefficient_post) (X - R' V_new /
// (sqrt(H_new) + epsilon)).
Outs ImportAdam(NodeCtx& c) {
  const int n = NumTensors(c, 4);
  if (n == 0) return {};
  const double alpha = c.Float("alpha", 0.9), beta = c.Float("beta", 0.999),
               eps = c.Float("epsilon", 1e-6),
               norm = c.Float("norm_coefficient", 0),
               post = c.Float("norm_coefficient_post", 0);
  Outs x_new, v_new, h_new;
  for (int k = 0; k < n; ++k) {
    Value x = c.In(2 + k), g = c.In(2 + n + k), v = c.In(2 + 2 * n + k),
          h = c.In(2 + 3 * n + k);
    Value gr = norm * x + g;
    Value vn = alpha * v + (1 - alpha) * gr;
    Value hn = beta * h + (1 - beta) * gr * gr;
    Value t = Count(c, x), r = Rate(c, x);
    Value corrected = r * Sqrt(1.0 - Pow(beta, t)) / (1.0 - Pow(alpha, t));
    Value rate =
        Select(Gt(c.In(1), Scalar(c.b(), 0, c.In(1).dtype())), corrected, r);
    x_new.push_back((1 - post) * (x - rate * vn / (Sqrt(hn) + eps)));
    v_new.push_back(vn);
    h_new.push_back(hn);
  }
  x_new.insert(x_new.end(), v_new.begin(), v_new.end());
  x_new.insert(x_new.end(), h_new.begin(), h_new.end());
  return x_new;
}

}  // namespace

std::vector<OnnxOpEntry> TrainingOnnxOps() {
  return {
      {"ai.onnx.preview.training.Adagrad", {ImportAdagrad, 5}},
      {"ai.onnx.preview.training.Momentum", {ImportMomentum, 5}},
      {"ai.onnx.preview.training.Adam", {ImportAdam, 6}},
  };
}

}  // namespace adc::onnx_import
