// Optimizers compiled into the training graph: a training step is one graph
// (forward, backward, and the update of every parameter and optimizer
// state), so one compiled call trains one batch. The update rules are
// PyTorch's (torch.optim.SGD, Adam, AdamW), written with builder ops.
#ifndef ADC_MODELS_TRAIN_OPTIMIZERS_H_
#define ADC_MODELS_TRAIN_OPTIMIZERS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/builder.h"
#include "graph/graph.h"

namespace adc::train {

struct Optimizer {
  enum Kind { kSgd, kAdam };
  Kind kind = kSgd;
  double lr = 0.01;
  double weight_decay = 0;
  // SGD.
  double momentum = 0;
  double dampening = 0;
  bool nesterov = false;
  // Adam; AdamW with decoupled_weight_decay.
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  bool decoupled_weight_decay = false;

  static Optimizer Sgd(double lr, double momentum = 0, bool nesterov = false,
                       double weight_decay = 0);
  static Optimizer Adam(double lr, double weight_decay = 0);
  static Optimizer AdamW(double lr, double weight_decay = 0.01);
};

// One parameter's update: the new parameter and new optimizer states, from
// the parameter p, its gradient g, its states (in state_names order) and,
// for Adam, the step count t after this step (f32 scalar, 1 on the first).
//   SGD:  g += wd p; buf = momentum buf + (1 - dampening) g (buf = g on the
//         first step, as PyTorch); g = nesterov ? g + momentum buf : buf;
//         p -= lr g.
//   Adam: g += wd p (AdamW: p *= 1 - lr wd); m = b1 m + (1 - b1) g;
//         v = b2 v + (1 - b2) g^2; p -= lr (m / (1 - b1^t)) /
//         (sqrt(v / (1 - b2^t)) + eps).
std::vector<std::string> StateNames(const Optimizer& opt);
std::vector<Value> UpdateRule(const Optimizer& opt, Value p, Value g,
                              const std::vector<Value>& states, Value t);

// What AddTrainStep added: for every float parameter (and every optimizer
// state, and Adam's step counter, all new parameters with zero initial
// values) the output holding its value after the step.
struct TrainStep {
  std::string loss;
  std::vector<std::pair<std::string, std::string>> updates;  // (param, output)
};

// Appends one optimizer step to `graph`: the gradient of the scalar `loss`
// with respect to every float parameter, the update rule, and outputs
// "<name>.next" for each parameter and state (named "<param>.<state>", and
// "adam.step"). Running the graph with every parameter fed its current value
// gives the values after the step; the caller feeds those to the next run.
// A parameter P for which the graph already has an output "P.next" is state
// the model updates itself (batch norm's running statistics, BatchNorm2d):
// it is not trained, and its update is kept as it is.
absl::StatusOr<TrainStep> AddTrainStep(Graph* graph, const std::string& loss,
                                       const Optimizer& opt);

// The training step split in two, for gradient accumulation and data
// parallelism (data_parallel.h): a gradient graph, whose gradients are
// outputs, and update graphs that apply the optimizer to summed gradients.
//
// What AddGradientStep added to a model graph: the gradient outputs of the
// trained parameters (the float parameters that are not buffers), and the
// buffers: parameters P with an output "P.next" the model computes itself
// (batch norm's running statistics, the dropout seed), as AddTrainStep.
struct GradientStep {
  std::string loss;
  std::vector<std::string> params;   // Graph order.
  std::vector<std::string> grads;    // Their gradient outputs, same order.
  std::vector<std::string> buffers;  // Each has the output "<name>.next".
};
absl::StatusOr<GradientStep> AddGradientStep(Graph* graph,
                                             const std::string& loss);

// A graph that applies one step of `opt` to `params` (name, type): inputs
// "<p>.grad_sum", a sum of `grad_divisor` gradients whose mean is the step's
// gradient, and for Adam the f32 scalar "adam.step" (steps taken before
// this one); parameters p and the optimizer states ("<p>.<state>", zero);
// outputs "<p>.next" and "<p>.<state>.next". The rule is AddTrainStep's with
// g = grad_sum / grad_divisor.
absl::StatusOr<Graph> BuildUpdateGraph(
    const std::string& name,
    const std::vector<std::pair<std::string, TensorType>>& params,
    const Optimizer& opt, int64_t grad_divisor);

}  // namespace adc::train

#endif  // ADC_MODELS_TRAIN_OPTIMIZERS_H_
