// The reference interpreter: a simple, obviously correct evaluator for any
// verified graph, in f32 and f64 (and the integer dtypes). It is the oracle
// for code generation tests and `adc run --interpret`; clarity over speed.
//
// Each op's kernel lives beside its shape and gradient rules (OpDef::eval in
// graph/ops/*.cc). Floating-point kernels compute in double and round each
// result to the value's dtype, so f32 results are correctly rounded per op.
#ifndef ADC_GRAPH_INTERPRETER_H_
#define ADC_GRAPH_INTERPRETER_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace adc {

// Evaluates the graph's outputs. `feeds` must give every input (by name, with
// its exact type); it may also override parameters, which otherwise take
// their stored values. Returns the outputs by output name.
absl::StatusOr<std::map<std::string, Tensor>> Interpret(
    const Graph& graph, const std::map<std::string, Tensor>& feeds);

// Evaluates every value the graph's outputs depend on; values[i] is node i's
// value (empty Tensor for nodes no output needs).
absl::StatusOr<std::vector<Tensor>> InterpretAll(
    const Graph& graph, const std::map<std::string, Tensor>& feeds);

}  // namespace adc

#endif  // ADC_GRAPH_INTERPRETER_H_
