#include "models/train/optimizers.h"

#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "passes/autodiff.h"

namespace adc::train {

Optimizer Optimizer::Sgd(double lr, double momentum, bool nesterov,
                         double weight_decay) {
  Optimizer o;
  o.kind = kSgd;
  o.lr = lr;
  o.momentum = momentum;
  o.nesterov = nesterov;
  o.weight_decay = weight_decay;
  return o;
}

Optimizer Optimizer::Adam(double lr, double weight_decay) {
  Optimizer o;
  o.kind = kAdam;
  o.lr = lr;
  o.weight_decay = weight_decay;
  return o;
}

Optimizer Optimizer::AdamW(double lr, double weight_decay) {
  Optimizer o = Adam(lr, weight_decay);
  o.decoupled_weight_decay = true;
  return o;
}

std::vector<std::string> StateNames(const Optimizer& opt) {
  if (opt.kind == Optimizer::kAdam) return {"exp_avg", "exp_avg_sq"};
  if (opt.momentum != 0) return {"momentum_buffer"};
  return {};
}

std::vector<Value> UpdateRule(const Optimizer& opt, Value p, Value g,
                              const std::vector<Value>& states, Value t) {
  if (opt.kind == Optimizer::kSgd) {
    if (opt.weight_decay != 0) g = g + opt.weight_decay * p;
    if (opt.momentum == 0) return {p - opt.lr * g};
    // PyTorch starts the buffer at g; from a zero buffer with dampening 0
    // the general formula gives the same.
    Value buf = opt.momentum * states[0] + (1 - opt.dampening) * g;
    Value step = opt.nesterov ? g + opt.momentum * buf : buf;
    return {p - opt.lr * step, buf};
  }
  if (opt.weight_decay != 0) {
    if (opt.decoupled_weight_decay) {
      p = p * (1 - opt.lr * opt.weight_decay);
    } else {
      g = g + opt.weight_decay * p;
    }
  }
  Value m = opt.beta1 * states[0] + (1 - opt.beta1) * g;
  Value v = opt.beta2 * states[1] + (1 - opt.beta2) * g * g;
  Value c1 = 1.0 - Pow(opt.beta1, t);
  Value c2 = 1.0 - Pow(opt.beta2, t);
  Value denom = Sqrt(v / c2) + opt.eps;
  return {p - opt.lr * (m / c1) / denom, m, v};
}

absl::StatusOr<TrainStep> AddTrainStep(Graph* graph, const std::string& loss,
                                       const Optimizer& opt) {
  std::vector<std::string> params, buffers;
  for (ValueId id : graph->parameters()) {
    const std::string& name = graph->node(id).name;
    if (graph->FindOutput(name + ".next")) {
      buffers.push_back(name);
    } else if (IsFloat(graph->type(id).dtype)) {
      params.push_back(name);
    }
  }
  if (params.empty()) {
    return absl::InvalidArgumentError("the graph has no parameters to train");
  }
  GradOptions grad;
  grad.of = loss;
  grad.wrt = params;
  ADC_ASSIGN_OR_RETURN(std::vector<std::string> grads,
                       AddGradients(graph, grad));
  GraphBuilder b(graph);
  TrainStep step;
  step.loss = loss;
  for (const std::string& name : buffers) {
    step.updates.push_back({name, name + ".next"});
  }
  Value t;
  if (opt.kind == Optimizer::kAdam) {
    Value count = b.Parameter("adam.step", Tensor::Scalar(0, DType::kF32));
    t = count + 1.0;
    b.Output("adam.step.next", t);
    step.updates.push_back({"adam.step", "adam.step.next"});
  }
  // The step's nodes belong to the gradient's level (adc dot marks them).
  for (size_t k = 0; k < params.size(); ++k) {
    Value p = b.Find(params[k]);
    Value g = b.Find(grads[k]);
    std::vector<Value> states;
    for (const std::string& s : StateNames(opt)) {
      states.push_back(
          b.Parameter(absl::StrCat(params[k], ".", s), Tensor(p.type())));
    }
    Value tk = t.valid() && t.dtype() != p.dtype() ? Cast(t, p.dtype()) : t;
    std::vector<Value> next = UpdateRule(opt, p, g, states, tk);
    if (!b.ok()) return b.status();
    b.Output(params[k] + ".next", next[0]);
    step.updates.push_back({params[k], params[k] + ".next"});
    for (size_t s = 0; s < states.size(); ++s) {
      const std::string name = states[s].name();
      b.Output(name + ".next", next[1 + s]);
      step.updates.push_back({name, name + ".next"});
    }
  }
  // The gradients were only for the update.
  std::vector<GraphOutput>& outputs = graph->mutable_outputs();
  for (const std::string& name : grads) {
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (outputs[k].name == name) {
        outputs.erase(outputs.begin() + k);
        break;
      }
    }
  }
  if (!b.ok()) return b.status();
  return step;
}

}  // namespace adc::train
