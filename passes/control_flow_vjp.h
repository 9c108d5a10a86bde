// Reverse mode through control flow (graph/ops/control.cc), a construct at a
// time; AddGradients (passes/autodiff.h) calls it once per construct with the
// summed cotangents of all of its nodes.
//
// - cond: the cotangents come from a cond on the same predicate whose
//   branches are the VJPs of the original branches: only the branch taken
//   is differentiated.
// - while_loop: a recording loop reruns the forward iterations and keeps
//   every carried value of each iteration in a tape of max_iterations rows
//   (so the run-time error for too many iterations stands, and nothing is
//   truncated); a backward loop then runs the iterations in reverse, from the
//   recorded count down to 0, applying the body's VJP to each recorded state
//   and summing the cotangents of the captured values.
//
// Both are ordinary constructs of builder ops and library functions, so the
// result is differentiable again (any order) and compiles like any graph.
#ifndef ADC_PASSES_CONTROL_FLOW_VJP_H_
#define ADC_PASSES_CONTROL_FLOW_VJP_H_

#include <vector>

#include "absl/status/statusor.h"
#include "graph/builder.h"
#include "graph/graph.h"

namespace adc::passes {

// The VJP of function `f` (with `root`'s library): a function of f's inputs
// followed by one cotangent per floating-point output of f, returning one
// cotangent per floating-point input of f (zeros where the outputs do not
// depend on it). Its own new functions are in its library (shared with
// root's).
absl::StatusOr<Graph> FunctionVjp(const Graph& f, const Graph& root);

// The cotangents of the operands of `node`'s construct, given the cotangent
// of each of its results (`dys`, by result index; invalid: zero). Returns
// one per operand, invalid for those that get none (non-float ones). Errors
// are recorded in b.
std::vector<Value> ConstructVjp(GraphBuilder& b, const Node& node,
                                const std::vector<Value>& dys);

}  // namespace adc::passes

#endif  // ADC_PASSES_CONTROL_FLOW_VJP_H_
