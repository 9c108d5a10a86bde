#include "graph/interpreter.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/verifier.h"

namespace adc {
namespace {

absl::StatusOr<std::vector<Tensor>> InterpretAllIn(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    const Graph& library);

// A call: its forward function run on the arguments.
absl::StatusOr<Tensor> RunCall(const Node& node,
                               absl::Span<const Tensor* const> args,
                               const Graph& library) {
  const Graph* body = library.function(node.attrs.GetString("forward"));
  ADC_CHECK_MSG(body != nullptr, "call of a function not in the library");
  std::map<std::string, Tensor> feeds;
  const std::vector<ValueId> inputs = body->inputs();
  for (size_t k = 0; k < inputs.size(); ++k) {
    feeds[body->node(inputs[k]).name] = *args[k];
  }
  ADC_ASSIGN_OR_RETURN(std::vector<Tensor> values,
                       InterpretAllIn(*body, feeds, library));
  return values[body->outputs()[0].value];
}

// `node`'s kernel on its inputs' values (calls resolve in `library`).
absl::StatusOr<Tensor> RunKernel(const Node& node,
                                 absl::Span<const Tensor* const> args,
                                 const Graph& library) {
  absl::StatusOr<Tensor> value = GetOpDef(node.op).family == OpFamily::kCall
                                     ? RunCall(node, args, library)
                                     : GetOpDef(node.op).eval(node, args);
  if (value.ok()) {
    ADC_CHECK_MSG(value->type() == node.type,
                  absl::StrCat("kernel of ", node.name, " returned ",
                               value->type().ToString(), ", expected ",
                               node.type.ToString()));
  }
  return value;
}

absl::StatusOr<std::vector<Tensor>> InterpretAllIn(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    const Graph& library) {
  for (const auto& [name, tensor] : feeds) {
    std::optional<ValueId> id = graph.Find(name);
    if (!id || (graph.node(*id).op != OpKind::kInput &&
                graph.node(*id).op != OpKind::kParameter)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feed '", name, "' is not an input or parameter of the graph"));
    }
    if (tensor.type() != graph.type(*id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("feed '", name, "' is ", tensor.type().ToString(),
                       " but the graph "
                       "expects ",
                       graph.type(*id).ToString()));
    }
  }
  // Only evaluate what the outputs need.
  const int n = graph.num_nodes();
  std::vector<bool> needed(n, false);
  for (const GraphOutput& out : graph.outputs()) needed[out.value] = true;
  for (ValueId i = n - 1; i >= 0; --i) {
    if (!needed[i]) continue;
    for (ValueId in : graph.node(i).inputs) needed[in] = true;
  }
  std::vector<Tensor> values(n);
  std::vector<const Tensor*> args;
  for (ValueId i = 0; i < n; ++i) {
    if (!needed[i]) continue;
    const Node& node = graph.node(i);
    if (node.op == OpKind::kInput || node.op == OpKind::kParameter) {
      auto it = feeds.find(node.name);
      if (it != feeds.end()) {
        values[i] = it->second;
        continue;
      }
      if (node.op == OpKind::kInput) {
        return absl::InvalidArgumentError(
            absl::StrCat("input '", node.name, "' (", node.type.ToString(),
                         ") was not fed"));
      }
    }
    args.clear();
    for (ValueId in : node.inputs) args.push_back(&values[in]);
    absl::StatusOr<Tensor> value = RunKernel(node, args, library);
    if (!value.ok()) return NodeError(node, value.status());
    values[i] = *std::move(value);
  }
  return values;
}

}  // namespace

absl::StatusOr<std::vector<Tensor>> InterpretAll(
    const Graph& graph, const std::map<std::string, Tensor>& feeds) {
  return InterpretAllIn(graph, feeds, graph);
}

absl::StatusOr<std::map<std::string, Tensor>> Interpret(
    const Graph& graph, const std::map<std::string, Tensor>& feeds) {
  absl::StatusOr<std::vector<Tensor>> values = InterpretAll(graph, feeds);
  if (!values.ok()) return values.status();
  std::map<std::string, Tensor> outputs;
  for (const GraphOutput& out : graph.outputs()) {
    outputs[out.name] = (*values)[out.value];
  }
  return outputs;
}

ValueEvaluator::ValueEvaluator(const Graph* graph, BlockFn block,
                               KernelErrorFn kernel_error)
    : graph_(graph),
      block_(std::move(block)),
      kernel_error_(std::move(kernel_error)) {}

absl::StatusOr<Tensor> ValueEvaluator::Evaluate(ValueId id) {
  results_.resize(graph_->num_nodes());
  // Depth first with an explicit stack (chains of nodes can be long). A frame
  // is a node whose inputs before `next` are evaluated.
  struct Frame {
    ValueId id;
    size_t next;
  };
  std::vector<Frame> stack;
  auto visit = [&](ValueId v) {
    if (results_[v]) return;
    absl::Status blocked = block_ ? block_(graph_->node(v)) : absl::OkStatus();
    if (blocked.ok()) {
      stack.push_back({v, 0});
    } else {
      results_[v] = std::move(blocked);
    }
  };
  visit(id);
  std::vector<const Tensor*> args;
  while (!stack.empty()) {
    const Frame f = stack.back();
    const Node& node = graph_->node(f.id);
    if (f.next > 0 && !results_[node.inputs[f.next - 1]]->ok()) {
      results_[f.id] = results_[node.inputs[f.next - 1]]->status();
      stack.pop_back();
    } else if (f.next < node.inputs.size()) {
      ++stack.back().next;
      visit(node.inputs[f.next]);
    } else {
      args.clear();
      for (ValueId in : node.inputs) args.push_back(&**results_[in]);
      absl::StatusOr<Tensor> value = RunKernel(node, args, *graph_);
      if (!value.ok()) {
        value = kernel_error_ ? kernel_error_(node, value.status())
                              : NodeError(node, value.status());
      }
      results_[f.id] = std::move(value);
      stack.pop_back();
    }
  }
  return *results_[id];
}

}  // namespace adc
