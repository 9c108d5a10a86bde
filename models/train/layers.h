// Layers on the builder with parameters initialized as PyTorch initializes
// them, from a seed (torch.nn.Linear: weight and bias uniform in
// [-1/sqrt(in), 1/sqrt(in)], which is kaiming_uniform_ with a = sqrt(5)).
// Parameter names follow PyTorch's state_dict ("fc1.weight", "fc1.bias").
#ifndef ADC_MODELS_TRAIN_LAYERS_H_
#define ADC_MODELS_TRAIN_LAYERS_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/builder.h"

namespace adc::train {

// x @ weight^T + bias, with parameters "<name>.weight" [out, in] and
// "<name>.bias" [out] (f32).
Value LinearLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, std::mt19937& rng);

// PyTorch's Conv2d (weight [out, in, k, k], bias [out], both uniform in
// +-1/sqrt(in k k)), stride 1, padding `pad`: "<name>.weight", "<name>.bias".
Value Conv2dLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, int64_t k, int64_t pad, std::mt19937& rng);

// PyTorch's BatchNorm2d (momentum 0.1, eps 1e-5): parameters
// "<name>.weight" (ones) and "<name>.bias" (zeros), and the running
// statistics "<name>.running_mean" (zeros) and "<name>.running_var" (ones),
// also parameters. In training, the graph gets outputs
// "<name>.running_mean.next" and "<name>.running_var.next", which
// AddTrainStep keeps as the statistics' updates (they are not trained); in
// evaluation the running statistics normalize.
Value BatchNorm2dLayer(GraphBuilder& b, const std::string& name, Value x,
                       bool training);

// The small CNN for 28x28 images: conv 3x3 32, ReLU, max pool 2, conv 3x3
// 64, ReLU, max pool 2, fc 128, ReLU, fc 10 ("conv1", "conv2", "fc1",
// "fc2"); input "x" [batch, 1, 28, 28]; outputs as Mlp's.
// With `batch_norm`, a BatchNorm2d after each convolution ("bn1", "bn2"),
// in training mode when with_loss.
absl::StatusOr<Graph> SmallCnn(int64_t batch, uint32_t seed, bool with_loss,
                               bool batch_norm = false);

// An MLP classifier: input "x" [batch, features] f32, Linear + ReLU layers
// "fc1", "fc2", ... of the `hidden` sizes, a last Linear to `classes`. With
// `with_loss`: input "y" [batch] i64 and output "loss" (mean cross entropy);
// else output "logits" [batch, classes]. Parameters from `seed`.
absl::StatusOr<Graph> Mlp(const std::string& name, int64_t features,
                          const std::vector<int64_t>& hidden, int64_t classes,
                          int64_t batch, uint32_t seed, bool with_loss);

}  // namespace adc::train

#endif  // ADC_MODELS_TRAIN_LAYERS_H_
