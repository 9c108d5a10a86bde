// Forward-mode automatic differentiation (Jacobian-vector products) as a
// graph-to-graph pass, the counterpart of autodiff.h.
//
// AddJvp perturbs values `wrt` along tangent directions, new graph inputs
// "<wrt>.tangent" of the same types, and appends the directional derivative
// of each value `of` as a new output "<of>.jvp":
//   <of>.jvp = sum_k d(of)/d(wrt_k) . <wrt_k>.tangent
// (JAX's jvp, torch.func.jvp). Rules are written with builder ops (each op's
// JVP follows from its gradient rule or from its linearity, graph/ops/
// op_def.h JvpKind), so the result is an ordinary graph: JVP of JVP, JVP of
// a gradient (forward-over-reverse: Hessian-vector products) and gradients
// of JVPs all work.
//
// - `of`: output or value names (at least one), floating-point.
// - `wrt` defaults to every floating-point input and parameter. A wrt that is
//   an intermediate value is perturbed where it is computed (what it depends
//   on is not).
// - `tangents` names the tangent inputs, one per wrt. An empty name (or an
//   empty list) means "<wrt>.tangent", or "<wrt>.tangent2", ... when a value
//   of the graph already has that name. A given name that already names an
//   input of the wrt's type reuses it (two JVPs along the same direction);
//   naming any other existing value is an error.
// - Outputs are named "<of>.jvp" (".jvp2", ... when taken) and marked
//   is_gradient. An `of` that no wrt affects gets zeros.
// - stop_gradient, comparisons and other non-differentiable ops pass a zero
//   tangent (as jax.lax.stop_gradient); integer and bool values carry none.
// - New nodes get grad_level = 1 + the graph's highest level, names under
//   "jvp/" ("jvp2/", ...); unused ones are removed again.
#ifndef ADC_PASSES_FORWARD_MODE_H_
#define ADC_PASSES_FORWARD_MODE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "passes/pass.h"

namespace adc {

struct JvpOptions {
  std::vector<std::string> of;
  std::vector<std::string> wrt;       // Empty: every float input/parameter.
  std::vector<std::string> tangents;  // Empty, or one per wrt.
};

struct JvpResult {
  std::vector<std::string> tangents;  // The tangent inputs, in wrt order.
  std::vector<std::string> outputs;   // "<of>.jvp", in `of` order.
};

absl::StatusOr<JvpResult> AddJvp(Graph* graph, const JvpOptions& options);

// AddJvp as a Pass.
class ForwardModePass : public Pass {
 public:
  explicit ForwardModePass(JvpOptions options) : options_(std::move(options)) {}
  absl::string_view name() const override { return "forward_mode"; }
  absl::StatusOr<bool> Run(Graph* graph) override;

 private:
  JvpOptions options_;
};

}  // namespace adc

#endif  // ADC_PASSES_FORWARD_MODE_H_
