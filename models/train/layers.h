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

// How a Conv2dLayer's weight is initialized.
enum class ConvInit {
  // torch.nn.Conv2d's default: uniform in +-1/sqrt(in k k) (as its bias).
  kUniformFanIn,
  // torchvision's ResNet: kaiming_normal_(mode="fan_out",
  // nonlinearity="relu"), normal with standard deviation sqrt(2 / (out k k)).
  kKaimingNormalFanOut,
};

// torch.nn.Conv2d's stride, padding (both sides, both axes) and bias.
struct Conv2dOptions {
  int64_t stride = 1;
  int64_t pad = 0;
  bool bias = true;
  ConvInit init = ConvInit::kUniformFanIn;
};

// PyTorch's Conv2d with a k x k kernel: "<name>.weight" [out, in, k, k] and,
// with options.bias, "<name>.bias" [out] (uniform in +-1/sqrt(in k k)),
// drawn from `rng` in that order.
Value Conv2dLayer(GraphBuilder& b, const std::string& name, Value x,
                  int64_t out, int64_t k, std::mt19937& rng,
                  const Conv2dOptions& options = {});

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

// torch.nn.Dropout(p) named `name`: in training, Dropout (graph/builder.h)
// on the stream of its name (RandomStream) with the model's seed, the i64
// scalar parameter "dropout_seed" (added by the first dropout layer with
// the value `initial_seed`, and the output "dropout_seed.next" = seed + 1,
// so AddTrainStep keeps it as state: each step draws new masks, and
// checkpoints resume them); in evaluation the identity. (Nothing is drawn
// from the parameters' generator: with or without dropout, in training or
// evaluation, a model's parameters start the same.)
Value DropoutLayer(GraphBuilder& b, const std::string& name, Value x, double p,
                   bool training, int64_t initial_seed);

// A classifier graph's outputs for its `logits` [batch, classes]: in
// training, input "y" [batch] i64 and output "loss" (mean cross entropy);
// else output "logits".
void ClassifierOutputs(GraphBuilder& b, Value logits, bool training);

// torchvision's BasicBlock (ResNet-18 and -34) with `planes` output
// channels: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut), where conv1 is
// 3x3 with `stride`, conv2 3x3, both without bias ("<name>.conv1",
// "<name>.bn1", "<name>.conv2", "<name>.bn2"), and the shortcut is x, or,
// when the stride is not 1 or the channels change, a 1x1 convolution with
// `stride` and no bias and a batch norm ("<name>.downsample.0",
// "<name>.downsample.1"). Batch norm in training mode when `training`
// (BatchNorm2dLayer). Weights drawn from `rng` in torchvision's module order
// (the shortcut's last) with torchvision's init (ConvInit).
Value BasicBlock(GraphBuilder& b, const std::string& name, Value x,
                 int64_t planes, int64_t stride, bool training,
                 std::mt19937& rng);

// torchvision.models.resnet18(num_classes=num_classes) for input "x" [batch,
// 3, image_size, image_size] f32 (32x32 images reach layer4 at 1x1): conv1
// (7x7, stride 2, padding 3, no bias), bn1, ReLU, max pool (3x3, stride 2,
// padding 1), layer1..layer4 of two BasicBlocks each (64, 128, 256, 512
// channels; stride 2 and a downsample shortcut in the first block of
// layer2..4), global average pool, flatten, fc. Parameter names, shapes and
// order are torchvision's state_dict's (without num_batches_tracked): 62
// trained parameters and the 40 running statistics of the 20 batch norms.
// Initialized as torchvision does (Kaiming-normal convolutions, batch norm
// weight 1 and bias 0, PyTorch's Linear init for fc), from `seed`. Evaluation
// (training = false): output "logits" [batch, num_classes], batch norm with the
// running statistics. Training: input "y" [batch] i64, output "loss" (mean
// cross entropy), batch norm with the batch's statistics and the outputs
// "<bn>.running_mean.next" and "<bn>.running_var.next" (which AddTrainStep
// keeps as the statistics' updates).
absl::StatusOr<Graph> ResNet18(int64_t batch, int64_t image_size,
                               int64_t num_classes, uint32_t seed,
                               bool training);

// An MLP classifier: input "x" [batch, features] f32, Linear + ReLU layers
// "fc1", "fc2", ... of the `hidden` sizes (each followed by a
// DropoutLayer "dropout<k>" when dropout > 0, on in training), a last Linear
// to `classes`. With `with_loss` (training): input "y" [batch] i64 and
// output "loss" (mean cross entropy); else output "logits" [batch, classes].
// Parameters from `seed`. (A nn::Sequential; modules.h.)
absl::StatusOr<Graph> Mlp(const std::string& name, int64_t features,
                          const std::vector<int64_t>& hidden, int64_t classes,
                          int64_t batch, uint32_t seed, bool with_loss,
                          double dropout = 0);

}  // namespace adc::train

#endif  // ADC_MODELS_TRAIN_LAYERS_H_
