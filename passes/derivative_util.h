// What the derivative transforms (autodiff.h, forward_mode.h) share: naming
// of what they add, grad levels, resolving `of`/`wrt`, and the clean-up of
// derivative nodes nothing uses.
#ifndef ADC_PASSES_DERIVATIVE_UTIL_H_
#define ADC_PASSES_DERIVATIVE_UTIL_H_

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/builder.h"
#include "graph/graph.h"

namespace adc::passes {

// 1 + the graph's highest grad_level: the level of the nodes a transform adds.
int NextGradLevel(const Graph& graph);

// The name scope of a level's nodes: "grad" (level 1), "grad2", ...; `prefix`
// is "grad" or "jvp".
std::string LevelScope(absl::string_view prefix, int level);

// "<base>", or "<base>2", "<base>3", ... : the first that no output (and,
// with `values_too`, no value) of the graph has.
std::string FreshName(const Graph& graph, const std::string& base,
                      bool values_too = false);

// The value named `name` (an output name or a value name) to differentiate
// (`role` "of") or to differentiate with respect to ("wrt"): it must exist
// and be floating-point.
absl::StatusOr<ValueId> ResolveFloatValue(const Graph& graph,
                                          const std::string& name,
                                          absl::string_view role);

// The `wrt` values and their names: `names` resolved, or every
// floating-point input and parameter when empty. Names listed twice are an
// error.
absl::StatusOr<std::vector<ValueId>> ResolveWrt(
    const Graph& graph, std::vector<std::string>* names);

// The graph input `name` of `type`, for a seed or tangent: an existing
// input of that type is reused, a free name becomes a new input, and any
// other value of that name is an error naming `role` ("seed", "tangent")
// and `type_of` (the value whose type it must have).
absl::StatusOr<Value> NamedInput(GraphBuilder& b, const std::string& name,
                                 const TensorType& type, absl::string_view role,
                                 const std::string& type_of);

// Removes nodes from id `first` on that no output needs, of grad_level
// `level` (any level: -1), except inputs (seeds and tangents a transform
// added stay).
void RemoveUnusedNodes(Graph* graph, ValueId first, int level = -1);

// Removes the output named `name` (nodes it alone used stay until
// RemoveUnusedNodes).
void RemoveOutput(Graph* graph, const std::string& name);

// Applies `transform` (a derivative of a function, with b's library) to
// each function `node`'s construct calls (graph/control_flow.h:
// FunctionNames) and adds the results to b's library as "<name><suffix>"
// (made unique); returns their names, or nullopt after recording the error
// in b.
using FunctionTransform =
    std::function<absl::StatusOr<Graph>(const Graph& f, const Graph& root)>;
std::optional<std::array<std::string, 2>> TransformFunctions(
    GraphBuilder& b, const Node& node, const FunctionTransform& transform,
    const std::string& suffix);

}  // namespace adc::passes

#endif  // ADC_PASSES_DERIVATIVE_UTIL_H_
