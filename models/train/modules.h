// torch.nn-style modules on the builder: layers are values composed with
// Sequential (and Residual), then built into a graph in training or
// evaluation mode. Building a module adds its parameters (initialized as
// PyTorch initializes them, drawn from the context's generator in build
// order) and ops; parameter names follow PyTorch's state_dict: a child of a
// Sequential is named by its index ("0.weight", "2.bias") or by the name
// given to it ("fc1.weight"), nested with dots.
//
//   using namespace adc::train::nn;
//   ModulePtr model = Sequential({Linear(64, 128), ReLU(), Dropout(0.2),
//                                 Linear(128, 10)});
//   absl::StatusOr<Graph> step = BuildClassifier(*model, "mlp", {32, 64},
//                                                /*seed=*/1,
//                                                /*training=*/true);
#ifndef ADC_MODELS_TRAIN_MODULES_H_
#define ADC_MODELS_TRAIN_MODULES_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/builder.h"
#include "models/train/layers.h"

namespace adc::train {

// What a module builds with.
struct ModuleContext {
  GraphBuilder& b;
  std::mt19937& rng;         // Parameter initialization, in build order.
  bool training;             // Batch norm's batch statistics; dropout on.
  int64_t dropout_seed = 0;  // The first step's (DropoutLayer).
};

class Module {
 public:
  virtual ~Module() = default;
  // Adds the module applied to x, its parameters named "<name>.<own name>"
  // ("<own name>" when name is empty). Errors go to the builder (naming the
  // module) and give an invalid Value.
  virtual Value Build(ModuleContext& ctx, const std::string& name,
                      Value x) const = 0;
};
using ModulePtr = std::shared_ptr<const Module>;

namespace nn {

// torch.nn.Linear(in, out): "weight" [out, in], "bias" [out].
ModulePtr Linear(int64_t in, int64_t out);
// torch.nn.Conv2d(in, out, k, stride, padding, bias): "weight" [out, in, k,
// k], "bias" [out] (Conv2dLayer).
ModulePtr Conv2d(int64_t in, int64_t out, int64_t k,
                 const Conv2dOptions& options = {});
// torch.nn.MaxPool2d / AvgPool2d(k, stride (default k), padding);
// AvgPool2d counts padding in its divisor (count_include_pad, PyTorch's
// default).
ModulePtr MaxPool2d(int64_t k, int64_t stride = 0, int64_t pad = 0);
ModulePtr AvgPool2d(int64_t k, int64_t stride = 0, int64_t pad = 0);
// torch.nn.BatchNorm2d(channels) (BatchNorm2dLayer: batch statistics and
// running-statistic updates in training, running statistics in evaluation).
ModulePtr BatchNorm2d(int64_t channels);
// torch.nn.LayerNorm(normalized_shape): over the trailing axes of that
// shape, "weight" (ones) and "bias" (zeros), eps 1e-5.
ModulePtr LayerNorm(Dims normalized_shape);
// torch.nn.Dropout(p) (DropoutLayer): on in training, the identity in
// evaluation.
ModulePtr Dropout(double p = 0.5);
ModulePtr ReLU();
// torch.nn.GELU() (exact: x Phi(x), with erf).
ModulePtr GELU();
ModulePtr Tanh();
ModulePtr Sigmoid();
// torch.nn.Flatten(start_dim = 1): the axes from start_dim on as one.
ModulePtr Flatten(int64_t start_dim = 1);
// torch.nn.Sequential: children applied in order, named "0", "1", ...
ModulePtr Sequential(std::vector<ModulePtr> children);
// Sequential(OrderedDict(...)): children with names.
ModulePtr Sequential(std::vector<std::pair<std::string, ModulePtr>> children);
// A residual connection: body(x) + x, or body(x) + shortcut(x) (children
// "body" and "shortcut"; torchvision's BasicBlock is BasicBlock in
// layers.h).
ModulePtr Residual(ModulePtr body, ModulePtr shortcut = nullptr);

}  // namespace nn

// A classifier graph of `model` on input "x" of `x_dims` ([batch,
// example...], f32), parameters drawn from `seed` (also dropout's first
// seed). Training: input "y"
// [batch] i64 and output "loss" (mean cross entropy); evaluation: output
// "logits". The model's output must be [batch, classes].
absl::StatusOr<Graph> BuildClassifier(const Module& model,
                                      const std::string& graph_name,
                                      const Dims& x_dims, uint32_t seed,
                                      bool training);

}  // namespace adc::train

#endif  // ADC_MODELS_TRAIN_MODULES_H_
