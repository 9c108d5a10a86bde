#include "models/train/layers.h"

#include <cmath>

namespace adc::train {

Value LinearLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, std::mt19937& rng) {
  const int64_t in = x.dims().back();
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  std::uniform_real_distribution<double> uniform(-bound, bound);
  Tensor w({DType::kF32, {out, in}}), bias({DType::kF32, {out}});
  for (int64_t i = 0; i < w.num_elements(); ++i) w.SetDouble(i, uniform(rng));
  for (int64_t i = 0; i < out; ++i) bias.SetDouble(i, uniform(rng));
  return Linear(x, b.Parameter(name + ".weight", w),
                b.Parameter(name + ".bias", bias));
}

Value Conv2dLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, int64_t k, int64_t pad, std::mt19937& rng) {
  const int64_t in = x.dims()[1];
  const double bound = 1.0 / std::sqrt(static_cast<double>(in * k * k));
  std::uniform_real_distribution<double> uniform(-bound, bound);
  Tensor w({DType::kF32, {out, in, k, k}}), bias({DType::kF32, {out}});
  for (int64_t i = 0; i < w.num_elements(); ++i) w.SetDouble(i, uniform(rng));
  for (int64_t i = 0; i < out; ++i) bias.SetDouble(i, uniform(rng));
  WindowOptions o;
  o.pads_low = o.pads_high = {pad, pad};
  return Conv(x, b.Parameter(name + ".weight", w),
              b.Parameter(name + ".bias", bias), o);
}

absl::StatusOr<Graph> SmallCnn(int64_t batch, uint32_t seed, bool with_loss) {
  GraphBuilder b("small_cnn");
  std::mt19937 rng(seed);
  Value x = b.Input("x", DType::kF32, {batch, 1, 28, 28});
  WindowOptions pool;
  pool.strides = {2, 2};
  Value h =
      MaxPool(Relu(Conv2dLayer(b, "conv1", x, 32, 3, 0, rng)), {2, 2}, pool);
  h = MaxPool(Relu(Conv2dLayer(b, "conv2", h, 64, 3, 0, rng)), {2, 2}, pool);
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
