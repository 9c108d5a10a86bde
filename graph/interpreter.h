// The reference interpreter: a simple, obviously correct evaluator for any
// verified graph, in f32 and f64 (and the integer dtypes). It is the oracle
// for code generation tests and `adc run --interpret`; clarity over speed.
//
// Each op's kernel lives beside its shape and gradient rules (OpDef::eval in
// graph/ops/*.cc). Floating-point kernels compute in double and round each
// result to the value's dtype, so f32 results are correctly rounded per op.
#ifndef ADC_GRAPH_INTERPRETER_H_
#define ADC_GRAPH_INTERPRETER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace adc {

// The largest value (bytes) the interpreter computes: the machine's memory,
// or ADC_MAX_TENSOR_BYTES. A node whose declared type is larger fails with
// ResourceExhausted naming it, before anything is allocated for it.
uint64_t MaxInterpretedBytes();

// Evaluates the graph's outputs. `feeds` must give every input (by name, with
// its exact type); it may also override parameters, which otherwise take
// their stored values. Returns the outputs by output name.
absl::StatusOr<std::map<std::string, Tensor>> Interpret(
    const Graph& graph, const std::map<std::string, Tensor>& feeds);

// Evaluates every value the graph's outputs depend on; values[i] is node i's
// value (empty Tensor for nodes no output needs).
absl::StatusOr<std::vector<Tensor>> InterpretAll(
    const Graph& graph, const std::map<std::string, Tensor>& feeds);

// Evaluates values of a graph on demand, one at a time, and remembers every
// value (and every failure) it computes: for folding while a graph is still
// being built (the ONNX importer computes static operands, such as shapes and
// axes, from the nodes built so far). Nodes may be added to the graph between
// calls; existing nodes must not change.
//
// A value is its node's kernel applied to its inputs' values, found depth
// first with the inputs in order. It fails with `block`'s error for its node
// (asked before the inputs are evaluated: e.g. a graph input, which has no
// value here, or a value too large to compute), else with the error of its
// first input that fails, else with its kernel's error (a data-dependent
// failure; an input's kernel says it was not fed) mapped by `kernel_error`
// (to an error), by default NodeError (graph/verifier.h) as in Interpret.
class ValueEvaluator {
 public:
  using BlockFn = std::function<absl::Status(const Node& node)>;
  using KernelErrorFn =
      std::function<absl::Status(const Node& node, const absl::Status& error)>;

  // `graph` is not owned and must outlive the evaluator.
  explicit ValueEvaluator(const Graph* graph, BlockFn block = nullptr,
                          KernelErrorFn kernel_error = nullptr);

  absl::StatusOr<Tensor> Evaluate(ValueId id);

 private:
  const Graph* graph_;
  BlockFn block_;
  KernelErrorFn kernel_error_;
  // By ValueId; nullopt: not evaluated yet.
  std::vector<std::optional<absl::StatusOr<Tensor>>> results_;
  // The results of control-flow constructs, by ConstructKey.
  std::map<std::string, std::vector<Tensor>> constructs_;
};

}  // namespace adc

#endif  // ADC_GRAPH_INTERPRETER_H_
