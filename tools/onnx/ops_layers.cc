// ONNX layers: BatchNormalization (inference and training mode),
// InstanceNormalization, LayerNormalization and Dropout (inference and
// training mode), on the builder's normalizations and dropout (graph/nn.cc).
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "graph/builder.h"
#include "graph/types.h"
#include "tools/onnx/node_ctx.h"

namespace adc::onnx_import {
namespace {

// BatchNormalization: y = (x - mean) / sqrt(var + epsilon) * scale + B per
// channel (axis 1; epsilon default 1e-5). Inference: the given running
// statistics. Training mode (training_mode = 1, opset 14+): the batch's,
// and outputs 1 and 2 are the running statistics updated as
// running * momentum + batch * (1 - momentum) (ONNX's convention; momentum
// default 0.9) with the biased batch variance.
Outs ImportBatchNormalization(NodeCtx& c) {
  Value x = c.In(0), scale = c.In(1), bias = c.In(2), mean = c.In(3),
        var = c.In(4);
  const bool training = c.Int("training_mode", 0) != 0;
  if (training && c.opset() < 14) {
    return c.Fail(absl::UnimplementedError(
        "BatchNormalization in training mode before opset 14"));
  }
  if (x.rank() < 2) {
    return c.Error("needs rank >= 2, got ", x.type().ToString());
  }
  BatchNormOutputs r =
      BatchNorm(x, scale, bias, mean, var, training,
                1 - c.Float("momentum", 0.9), c.Float("epsilon", 1e-5),
                /*unbiased_running_var=*/false);
  if (!training) return {r.y};
  return {r.y, r.running_mean, r.running_var};
}

// InstanceNormalization(x, scale, B): per example and channel over the
// spatial axes (epsilon default 1e-5).
Outs ImportInstanceNormalization(NodeCtx& c) {
  return {InstanceNorm(c.In(0), c.In(1), c.In(2), c.Float("epsilon", 1e-5))};
}

// LayerNormalization(x, scale, B): normalizes over the axes from `axis`
// (default -1) on: y = (x - mean) / sqrt(var + epsilon) * scale + B with the
// biased variance (epsilon default 1e-5); outputs 1 and 2 are mean and
// 1 / sqrt(var + epsilon), with the normalized axes kept as size 1.
Outs ImportLayerNormalization(NodeCtx& c) {
  Value x = c.In(0), scale = c.In(1);
  std::optional<int64_t> axis = NormalizeAxis(c.Int("axis", -1), x.rank());
  if (!axis) return c.Error("axis is out of range for ", x.type().ToString());
  std::vector<int64_t> axes;
  for (int64_t i = *axis; i < x.rank(); ++i) axes.push_back(i);
  const double epsilon = c.Float("epsilon", 1e-5);
  Value mean = Mean(x, axes, /*keepdims=*/true);
  Value centered = x - mean;
  Value inv_std =
      Rsqrt(Mean(centered * centered, axes, /*keepdims=*/true) + epsilon);
  Value y = centered * inv_std * scale;
  if (c.Has(2)) y = y + c.In(2);
  return {y, mean, inv_std};
}

// The seed of a Dropout in training mode: its `seed` attribute, else the
// parameter "dropout_seed" (i64 scalar, stored value 0, one for the whole
// model, added by the first such Dropout): a training loop feeds it a new
// value per step (`adc run --in dropout_seed=...`).
Value NodeDropoutSeed(NodeCtx& c) {
  GraphBuilder& b = c.b();
  if (c.HasAttr("seed")) {
    return Constant(
        b, Tensor::FromInts(TensorType{DType::kI64, {}}, {c.Int("seed", 0)}));
  }
  return DropoutSeed(b, 0);
}

// Dropout. Inference (training_mode false, the default; before opset 7,
// is_test = 1 or opset 7-11, which have no training mode): output = input
// and an all-true mask. Training: the builder's Dropout (each element kept
// with probability 1 - ratio, scaled by 1 / (1 - ratio)) and its mask, from
// NodeDropoutSeed.
Outs ImportDropout(NodeCtx& c) {
  Value x = c.In(0);
  bool training = c.opset() < 7 && c.Int("is_test", 0) == 0;
  double ratio = c.Float("ratio", 0.5);
  if (c.opset() >= 12) {
    training = c.Has(2) && c.StaticScalar(2) != 0;
    ratio = c.Has(1) ? c.StaticScalar(1) : 0.5;
  }
  if (!c.ok()) return {};
  if (!training) {
    if (!c.Wants(1)) return {x};
    return {x, Full(c.b(), TensorType{DType::kBool, x.dims()}, 1)};
  }
  if (!(ratio >= 0 && ratio < 1)) {
    return c.Error("ratio must be in [0, 1) in training mode, got ", ratio);
  }
  Value seed = NodeDropoutSeed(c);
  if (!c.ok() || !seed.valid()) return {};
  Value mask;
  // The node's own stream (by its first output's name): two Dropouts of one
  // model draw independent masks.
  Value y = Dropout(x, ratio, seed, RandomStream(c.node().output(0)), &mask);
  if (!c.Wants(1)) return {y};
  return {y, mask};
}

}  // namespace

std::vector<OnnxOpEntry> LayerOnnxOps() {
  return {
      {"BatchNormalization", {ImportBatchNormalization, 5}},
      {"InstanceNormalization", {ImportInstanceNormalization, 3}},
      {"LayerNormalization", {ImportLayerNormalization, 2}},
      {"Dropout", {ImportDropout, 1, {1, 2}}},
  };
}

}  // namespace adc::onnx_import
