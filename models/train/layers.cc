#include "models/train/layers.h"

#include <cmath>
#include <utility>

namespace adc::train {

namespace {

// PyTorch's default init of a layer with `fan_in` inputs per output: weight
// (of `weight_dims`) and bias [weight_dims[0]], in that order from `rng`,
// uniform in +-1/sqrt(fan_in). Returns the parameters "<name>.weight",
// "<name>.bias".
std::pair<Value, Value> InitWeightAndBias(GraphBuilder& b,
                                          const std::string& name,
                                          const Dims& weight_dims,
                                          int64_t fan_in, std::mt19937& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  std::uniform_real_distribution<double> uniform(-bound, bound);
  Tensor w({DType::kF32, weight_dims}), bias({DType::kF32, {weight_dims[0]}});
  for (int64_t i = 0; i < w.num_elements(); ++i) w.SetDouble(i, uniform(rng));
  for (int64_t i = 0; i < bias.num_elements(); ++i) {
    bias.SetDouble(i, uniform(rng));
  }
  return {b.Parameter(name + ".weight", w), b.Parameter(name + ".bias", bias)};
}

}  // namespace

Value LinearLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, std::mt19937& rng) {
  const int64_t in = x.dims().back();
  auto [w, bias] = InitWeightAndBias(b, name, {out, in}, in, rng);
  return Linear(x, w, bias);
}

Value Conv2dLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, int64_t k, int64_t pad, std::mt19937& rng) {
  const int64_t in = x.dims()[1];
  auto [w, bias] = InitWeightAndBias(b, name, {out, in, k, k}, in * k * k, rng);
  WindowOptions o;
  o.pads_low = o.pads_high = {pad, pad};
  return Conv(x, w, bias, o);
}

Value BatchNorm2dLayer(GraphBuilder& b, const std::string& name, Value x,
                       bool training) {
  const TensorType channel{DType::kF32, {x.dims()[1]}};
  Value weight = b.Parameter(name + ".weight", Tensor::Filled(channel, 1));
  Value bias = b.Parameter(name + ".bias", Tensor(channel));
  Value mean = b.Parameter(name + ".running_mean", Tensor(channel));
  Value var = b.Parameter(name + ".running_var", Tensor::Filled(channel, 1));
  BatchNormOutputs r = BatchNorm(x, weight, bias, mean, var, training);
  if (training && b.ok()) {
    b.Output(name + ".running_mean.next", r.running_mean);
    b.Output(name + ".running_var.next", r.running_var);
  }
  return r.y;
}

absl::StatusOr<Graph> SmallCnn(int64_t batch, uint32_t seed, bool with_loss,
                               bool batch_norm) {
  GraphBuilder b("small_cnn");
  std::mt19937 rng(seed);
  Value x = b.Input("x", DType::kF32, {batch, 1, 28, 28});
  WindowOptions pool;
  pool.strides = {2, 2};
  auto norm = [&](const std::string& name, Value v) {
    return batch_norm ? BatchNorm2dLayer(b, name, v, with_loss) : v;
  };
  Value h =
      MaxPool(Relu(norm("bn1", Conv2dLayer(b, "conv1", x, 32, 3, 0, rng))),
              {2, 2}, pool);
  h = MaxPool(Relu(norm("bn2", Conv2dLayer(b, "conv2", h, 64, 3, 0, rng))),
              {2, 2}, pool);
  h = Relu(LinearLayer(b, "fc1", Flatten(h, 1), 128, rng));
  Value logits = LinearLayer(b, "fc2", h, 10, rng);
  if (with_loss) {
    b.Output("loss", CrossEntropy(logits, b.Input("y", DType::kI64, {batch})));
  } else {
    b.Output("logits", logits);
  }
  return b.Build();
}

absl::StatusOr<Graph> Mlp(const std::string& name, int64_t features,
                          const std::vector<int64_t>& hidden, int64_t classes,
                          int64_t batch, uint32_t seed, bool with_loss) {
  GraphBuilder b(name);
  std::mt19937 rng(seed);
  Value h = b.Input("x", DType::kF32, {batch, features});
  int layer = 1;
  for (int64_t size : hidden) {
    h = Relu(LinearLayer(b, "fc" + std::to_string(layer++), h, size, rng));
  }
  Value logits = LinearLayer(b, "fc" + std::to_string(layer), h, classes, rng);
  if (with_loss) {
    b.Output("loss", CrossEntropy(logits, b.Input("y", DType::kI64, {batch})));
  } else {
    b.Output("logits", logits);
  }
  return b.Build();
}

}  // namespace adc::train
