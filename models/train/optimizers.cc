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

namespace {

// Outputs "<p>.next" and "<p>.<state>.next" for each parameter p with
// gradient g, its states new parameters "<p>.<state>" of zeros; Adam's
// step number is t. Records each (state or parameter, output) in `updates`.
void AppendUpdates(GraphBuilder& b, const std::vector<Value>& params,
                   const std::vector<Value>& grads, const Optimizer& opt,
                   Value t,
                   std::vector<std::pair<std::string, std::string>>* updates) {
  for (size_t k = 0; k < params.size(); ++k) {
    Value p = params[k];
    const std::string name = p.name();
    std::vector<Value> states;
    for (const std::string& s : StateNames(opt)) {
      states.push_back(
          b.Parameter(absl::StrCat(name, ".", s), Tensor(p.type())));
    }
    Value tk = t.valid() && t.dtype() != p.dtype() ? Cast(t, p.dtype()) : t;
    std::vector<Value> next = UpdateRule(opt, p, grads[k], states, tk);
    if (!b.ok()) return;
    b.Output(name + ".next", next[0]);
    updates->push_back({name, name + ".next"});
    for (size_t s = 0; s < states.size(); ++s) {
      const std::string state = states[s].name();
      b.Output(state + ".next", next[1 + s]);
      updates->push_back({state, state + ".next"});
    }
  }
}

}  // namespace

absl::StatusOr<GradientStep> AddGradientStep(Graph* graph,
                                             const std::string& loss) {
  GradientStep step;
  step.loss = loss;
  for (ValueId id : graph->parameters()) {
    const std::string& name = graph->node(id).name;
    if (graph->FindOutput(name + ".next")) {
      step.buffers.push_back(name);
    } else if (IsFloat(graph->type(id).dtype)) {
      step.params.push_back(name);
    }
  }
  if (step.params.empty()) {
    return absl::InvalidArgumentError("the graph has no parameters to train");
  }
  GradOptions grad;
  grad.of = loss;
  grad.wrt = step.params;
  ADC_ASSIGN_OR_RETURN(step.grads, AddGradients(graph, grad));
  return step;
}

absl::StatusOr<TrainStep> AddTrainStep(Graph* graph, const std::string& loss,
                                       const Optimizer& opt) {
  ADC_ASSIGN_OR_RETURN(GradientStep grad, AddGradientStep(graph, loss));
  GraphBuilder b(graph);
  TrainStep step;
  step.loss = loss;
  for (const std::string& name : grad.buffers) {
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
  std::vector<Value> params, grads;
  for (size_t k = 0; k < grad.params.size(); ++k) {
    params.push_back(b.Find(grad.params[k]));
    grads.push_back(b.Find(grad.grads[k]));
  }
  AppendUpdates(b, params, grads, opt, t, &step.updates);
  // The gradients were only for the update.
  std::vector<GraphOutput>& outputs = graph->mutable_outputs();
  for (const std::string& name : grad.grads) {
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

absl::StatusOr<Graph> BuildUpdateGraph(
    const std::string& name,
    const std::vector<std::pair<std::string, TensorType>>& params,
    const Optimizer& opt, int64_t grad_divisor) {
  if (params.empty()) {
    return absl::InvalidArgumentError("an update graph needs parameters");
  }
  if (grad_divisor < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the gradient divisor is ", grad_divisor,
                     "; it counts the gradients summed (at least 1)"));
  }
  GraphBuilder b(name);
  Value t;
  if (opt.kind == Optimizer::kAdam) {
    t = b.Input("adam.step", DType::kF32, {}) + 1.0;
  }
  std::vector<Value> ps, grads;
  for (const auto& [param, type] : params) {
    if (!IsFloat(type.dtype)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter '", param, "' is ", type.ToString(), ", not float"));
    }
    ps.push_back(b.Parameter(param, Tensor(type)));
    Value sum = b.Input(param + ".grad_sum", type.dtype, type.dims);
    grads.push_back(
        grad_divisor == 1 ? sum : sum / static_cast<double>(grad_divisor));
  }
  std::vector<std::pair<std::string, std::string>> updates;
  AppendUpdates(b, ps, grads, opt, t, &updates);
  return b.Build();
}

}  // namespace adc::train
