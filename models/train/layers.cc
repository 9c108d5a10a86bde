#include "models/train/layers.h"

#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "models/train/modules.h"

namespace adc::train {

namespace {

// A parameter "<name>" of `dims` (f32) with values drawn from `distribution`
// (of doubles) with `rng`, in row-major order (torch.nn.init's uniform_ and
// normal_).
template <typename Distribution>
Value RandomParameter(GraphBuilder& b, const std::string& name,
                      const Dims& dims, Distribution distribution,
                      std::mt19937& rng) {
  Tensor value({DType::kF32, dims});
  for (int64_t i = 0; i < value.num_elements(); ++i) {
    value.SetDouble(i, distribution(rng));
  }
  return b.Parameter(name, value);
}

// Uniform in +-bound.
Value UniformParameter(GraphBuilder& b, const std::string& name,
                       const Dims& dims, double bound, std::mt19937& rng) {
  return RandomParameter(b, name, dims,
                         std::uniform_real_distribution<double>(-bound, bound),
                         rng);
}

}  // namespace

Value LinearLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, std::mt19937& rng) {
  if (!x.valid()) return Value();
  const int64_t in = x.dims().back();
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  Value w = UniformParameter(b, name + ".weight", {out, in}, bound, rng);
  Value bias = UniformParameter(b, name + ".bias", {out}, bound, rng);
  return Linear(x, w, bias);
}

Value Conv2dLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, int64_t k, std::mt19937& rng,
                  const Conv2dOptions& options) {
  if (!x.valid()) return Value();
  const int64_t in = x.dims()[1];
  const Dims dims = {out, in, k, k};
  const double bound = 1.0 / std::sqrt(static_cast<double>(in * k * k));
  Value w;
  switch (options.init) {
    case ConvInit::kUniformFanIn:
      w = UniformParameter(b, name + ".weight", dims, bound, rng);
      break;
    case ConvInit::kKaimingNormalFanOut:
      w = RandomParameter(
          b, name + ".weight", dims,
          std::normal_distribution<double>(
              0.0, std::sqrt(2.0 / static_cast<double>(out * k * k))),
          rng);
      break;
  }
  std::optional<Value> bias;
  if (options.bias) {
    bias = UniformParameter(b, name + ".bias", {out}, bound, rng);
  }
  WindowOptions o;
  o.strides = {options.stride, options.stride};
  o.pads_low = o.pads_high = {options.pad, options.pad};
  return Conv(x, w, bias, o);
}

Value BatchNorm2dLayer(GraphBuilder& b, const std::string& name, Value x,
                       bool training) {
  if (!x.valid()) return Value();
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

Value DropoutLayer(GraphBuilder& b, const std::string& name, Value x, double p,
                   bool training, int64_t initial_seed) {
  if (!x.valid() || !training) return x;
  bool added = false;
  Value seed = DropoutSeed(b, initial_seed, &added);
  if (added) {
    b.Output(seed.name() + ".next", seed + Scalar(b, 1, DType::kI64));
  }
  return Dropout(x, p, seed, RandomStream(name));
}

void ClassifierOutputs(GraphBuilder& b, Value logits, bool training) {
  if (!logits.valid()) return;
  if (training) {
    b.Output("loss", CrossEntropy(logits, b.Input("y", DType::kI64,
                                                  {logits.dims()[0]})));
  } else {
    b.Output("logits", logits);
  }
}

Value BasicBlock(GraphBuilder& b, const std::string& name, Value x,
                 int64_t planes, int64_t stride, bool training,
                 std::mt19937& rng) {
  if (!x.valid()) return Value();
  Conv2dOptions conv3x3{.stride = stride,
                        .pad = 1,
                        .bias = false,
                        .init = ConvInit::kKaimingNormalFanOut};
  Value h = Conv2dLayer(b, name + ".conv1", x, planes, 3, rng, conv3x3);
  h = Relu(BatchNorm2dLayer(b, name + ".bn1", h, training));
  conv3x3.stride = 1;
  h = Conv2dLayer(b, name + ".conv2", h, planes, 3, rng, conv3x3);
  h = BatchNorm2dLayer(b, name + ".bn2", h, training);
  Value shortcut = x;
  if (stride != 1 || x.dims()[1] != planes) {
    const Conv2dOptions conv1x1{.stride = stride,
                                .bias = false,
                                .init = ConvInit::kKaimingNormalFanOut};
    shortcut = BatchNorm2dLayer(
        b, name + ".downsample.1",
        Conv2dLayer(b, name + ".downsample.0", x, planes, 1, rng, conv1x1),
        training);
  }
  return Relu(h + shortcut);
}

absl::StatusOr<Graph> ResNet18(int64_t batch, int64_t image_size,
                               int64_t num_classes, uint32_t seed,
                               bool training) {
  if (batch < 1 || image_size < 1 || num_classes < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ResNet18: batch (", batch, "), image_size (", image_size,
        ") and num_classes (", num_classes, ") must be at least 1"));
  }
  GraphBuilder b("resnet18");
  std::mt19937 rng(seed);
  Value x = b.Input("x", DType::kF32, {batch, 3, image_size, image_size});
  const Conv2dOptions stem{.stride = 2,
                           .pad = 3,
                           .bias = false,
                           .init = ConvInit::kKaimingNormalFanOut};
  Value h = Relu(BatchNorm2dLayer(
      b, "bn1", Conv2dLayer(b, "conv1", x, 64, 7, rng, stem), training));
  WindowOptions pool;
  pool.strides = {2, 2};
  pool.pads_low = pool.pads_high = {1, 1};
  h = MaxPool(h, {3, 3}, pool);
  const int64_t planes[] = {64, 128, 256, 512};
  for (int layer = 0; layer < 4; ++layer) {
    const std::string name = "layer" + std::to_string(layer + 1);
    h = BasicBlock(b, name + ".0", h, planes[layer], layer == 0 ? 1 : 2,
                   training, rng);
    h = BasicBlock(b, name + ".1", h, planes[layer], 1, training, rng);
  }
  ClassifierOutputs(
      b, LinearLayer(b, "fc", Flatten(GlobalAvgPool(h), 1), num_classes, rng),
      training);
  return b.Build();
}

absl::StatusOr<Graph> SmallCnn(int64_t batch, uint32_t seed, bool with_loss,
                               bool batch_norm) {
  using namespace nn;  // NOLINT: the torch.nn names.
  std::vector<std::pair<std::string, ModulePtr>> layers;
  auto conv_block = [&](int k, int64_t in, int64_t out) {
    layers.push_back({absl::StrCat("conv", k), Conv2d(in, out, 3)});
    if (batch_norm) layers.push_back({absl::StrCat("bn", k), BatchNorm2d(out)});
    layers.push_back({absl::StrCat("relu", k), ReLU()});
    layers.push_back({absl::StrCat("pool", k), MaxPool2d(2)});
  };
  conv_block(1, 1, 32);
  conv_block(2, 32, 64);
  layers.push_back({"flatten", Flatten()});
  layers.push_back({"fc1", Linear(64 * 5 * 5, 128)});
  layers.push_back({"relu3", ReLU()});
  layers.push_back({"fc2", Linear(128, 10)});
  return BuildClassifier(*Sequential(std::move(layers)), "small_cnn",
                         {batch, 1, 28, 28}, seed, with_loss);
}

absl::StatusOr<Graph> Mlp(const std::string& name, int64_t features,
                          const std::vector<int64_t>& hidden, int64_t classes,
                          int64_t batch, uint32_t seed, bool with_loss,
                          double dropout) {
  using namespace nn;  // NOLINT: the torch.nn names.
  std::vector<std::pair<std::string, ModulePtr>> layers;
  int64_t in = features;
  for (size_t k = 0; k < hidden.size(); ++k) {
    const std::string n = std::to_string(k + 1);
    layers.push_back({"fc" + n, Linear(in, hidden[k])});
    layers.push_back({"relu" + n, ReLU()});
    if (dropout > 0) layers.push_back({"dropout" + n, Dropout(dropout)});
    in = hidden[k];
  }
  layers.push_back(
      {"fc" + std::to_string(hidden.size() + 1), Linear(in, classes)});
  return BuildClassifier(*Sequential(std::move(layers)), name,
                         {batch, features}, seed, with_loss);
}

}  // namespace adc::train
