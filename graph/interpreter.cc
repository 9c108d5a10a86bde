#include "graph/interpreter.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/ops/op_def.h"
#include "graph/verifier.h"

namespace adc {
namespace {

absl::StatusOr<std::vector<Tensor>> InterpretAllIn(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    const Graph& library);

// The outputs of function `f` on `args`.
absl::StatusOr<std::vector<Tensor>> RunFunction(
    const Graph& f, absl::Span<const Tensor* const> args,
    const Graph& library) {
  std::map<std::string, Tensor> feeds;
  const std::vector<ValueId> inputs = f.inputs();
  ADC_CHECK(inputs.size() == args.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    feeds[f.node(inputs[k]).name] = *args[k];
  }
  ADC_ASSIGN_OR_RETURN(std::vector<Tensor> values,
                       InterpretAllIn(f, feeds, library));
  std::vector<Tensor> outputs;
  for (const GraphOutput& out : f.outputs()) {
    outputs.push_back(values[out.value]);
  }
  return outputs;
}

// A call: its forward function run on the arguments.
absl::StatusOr<Tensor> RunCall(const Node& node,
                               absl::Span<const Tensor* const> args,
                               const Graph& library) {
  const Graph* body = library.function(node.attrs.GetString("forward"));
  ADC_CHECK_MSG(body != nullptr, "call of a function not in the library");
  ADC_ASSIGN_OR_RETURN(std::vector<Tensor> outputs,
                       RunFunction(*body, args, library));
  return outputs[0];
}

// Every result of the control-flow construct of `node` (graph/ops/control.cc).
absl::StatusOr<std::vector<Tensor>> RunConstruct(
    const Node& node, absl::Span<const Tensor* const> args,
    const Graph& library) {
  if (node.op == OpKind::kCond) {
    const Graph& branch = args[0]->GetInt(0) != 0
                              ? FirstFunction(node, library)
                              : SecondFunction(node, library);
    return RunFunction(branch, args.subspan(1), library);
  }
  // while_loop: carried values, then captured ones.
  const Graph& cond = FirstFunction(node, library);
  const Graph& body = SecondFunction(node, library);
  const size_t num_carried = body.outputs().size();
  std::vector<Tensor> carried;
  for (size_t k = 0; k < num_carried; ++k) carried.push_back(*args[k]);
  std::vector<const Tensor*> operands(args.begin(), args.end());
  const int64_t max_iterations = node.attrs.GetInt("max_iterations");
  for (int64_t iteration = 0;; ++iteration) {
    for (size_t k = 0; k < num_carried; ++k) operands[k] = &carried[k];
    ADC_ASSIGN_OR_RETURN(std::vector<Tensor> go,
                         RunFunction(cond, operands, library));
    if (!go[0].GetInt(0) != 0) break;
    if (iteration == max_iterations) {
      return absl::OutOfRangeError(absl::StrCat(
          "while_loop '", node.name, "' exceeded max_iterations = ",
          max_iterations, " (its condition still held)"));
    }
    ADC_ASSIGN_OR_RETURN(carried, RunFunction(body, operands, library));
  }
  return carried;
}

}  // namespace

uint64_t MaxInterpretedBytes() {
  if (const char* env = std::getenv("ADC_MAX_TENSOR_BYTES")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0') return v;
  }
  // Asked once (a system call; this runs for every node evaluated).
  static const uint64_t physical = [] {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return std::numeric_limits<uint64_t>::max();
    return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
  }();
  return physical;
}

namespace {

// A value larger than the limit (the machine's memory) cannot be computed:
// it is refused by its declared type before its kernel allocates (a hostile
// or mistaken graph, e.g. broadcast_to [2^20, 2^20] of a scalar).
absl::Status CheckValueSize(const Node& node) {
  const uint64_t bytes = static_cast<uint64_t>(node.type.num_elements()) *
                         static_cast<uint64_t>(DTypeSize(node.type.dtype));
  const uint64_t limit = MaxInterpretedBytes();
  if (bytes <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("its value ", node.type.ToString(), " needs ", bytes,
                   " bytes, more than the interpreter's limit of ", limit,
                   " (the machine's memory; ADC_MAX_TENSOR_BYTES sets it)"));
}

absl::StatusOr<Tensor> RunKernelUnchecked(
    const Node& node, absl::Span<const Tensor* const> args,
    const Graph& library,
    std::map<std::string, std::vector<Tensor>>* constructs);

// `node`'s kernel on its inputs' values (calls resolve in `library`).
// Control flow computes its whole construct once, kept in `constructs` (by
// ConstructKey) for the construct's other nodes.
absl::StatusOr<Tensor> RunKernel(
    const Node& node, absl::Span<const Tensor* const> args,
    const Graph& library,
    std::map<std::string, std::vector<Tensor>>* constructs) {
  if (absl::Status s = CheckValueSize(node); !s.ok()) return s;
  try {
    return RunKernelUnchecked(node, args, library, constructs);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "out of memory computing its value ", node.type.ToString()));
  }
}

absl::StatusOr<Tensor> RunKernelUnchecked(
    const Node& node, absl::Span<const Tensor* const> args,
    const Graph& library,
    std::map<std::string, std::vector<Tensor>>* constructs) {
  absl::StatusOr<Tensor> value;
  const OpFamily family = GetOpDef(node.op).family;
  if (family == OpFamily::kControl) {
    const std::string key = ConstructKey(node);
    auto it = constructs->find(key);
    if (it == constructs->end()) {
      absl::StatusOr<std::vector<Tensor>> results =
          RunConstruct(node, args, library);
      if (!results.ok()) return results.status();
      it = constructs->emplace(key, *std::move(results)).first;
    }
    value = it->second[node.attrs.GetInt("result")];
  } else if (family == OpFamily::kCall) {
    value = RunCall(node, args, library);
  } else {
    value = GetOpDef(node.op).eval(node, args);
  }
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
  std::map<std::string, std::vector<Tensor>> constructs;
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
    absl::StatusOr<Tensor> value = RunKernel(node, args, library, &constructs);
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
      absl::StatusOr<Tensor> value =
          RunKernel(node, args, *graph_, &constructs_);
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
