// Reverse-mode automatic differentiation as a graph-to-graph pass.
//
// AddGradients appends to the graph the gradient of one value `of` with
// respect to values `wrt` (inputs, parameters or intermediates), as new graph
// outputs. The result is an ordinary graph, so the pass applies again for
// higher orders: gradient rules are written with builder ops
// (graph/ops/*.cc), so a gradient graph is differentiable by construction.
//
// - `of` names an output or any value. A scalar `of` (one element) is seeded
//   with 1; any other needs a seed: "ones", or the name of a new graph input
//   (created with of's type; an existing input of that type is reused).
//   Otherwise the error names the value and its shape, like PyTorch's "grad
//   can be implicitly created only for scalar outputs".
// - `wrt` defaults to every floating-point input and parameter. A wrt that is
//   an intermediate gets the total derivative of `of` with respect to it (the
//   cotangent that reaches it, as PyTorch's retain_grad).
// - Gradient outputs are named "<wrt>.grad"; when that output name is taken
//   (a second application), "<wrt>.grad2", then ".grad3", ... They are marked
//   is_gradient. Contributions of a value used many times are summed.
// - stop_gradient blocks the flow. A wrt that `of` does not depend on gets
//   zeros, or an error with allow_unused = false (PyTorch's allow_unused).
// - Only floating-point values carry gradients; integer and bool values
//   (indices, masks) are constants to autodiff.
// - New nodes get grad_level = 1 + the graph's highest level and names under
//   "grad/" ("grad2/", ... for later levels). Gradient nodes that end up unused
//   are removed again; nothing else in the graph changes.
#ifndef ADC_PASSES_AUTODIFF_H_
#define ADC_PASSES_AUTODIFF_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "passes/pass.h"

namespace adc {

struct GradOptions {
  std::string of;
  std::vector<std::string> wrt;  // Empty: every float input and parameter.
  std::string seed;              // "", "ones" or an input name.
  bool allow_unused = true;
};

// Returns the names of the gradient outputs, in wrt order.
absl::StatusOr<std::vector<std::string>> AddGradients(
    Graph* graph, const GradOptions& options);

// AddGradients as a Pass (always changes the graph when it succeeds).
class AutodiffPass : public Pass {
 public:
  explicit AutodiffPass(GradOptions options) : options_(std::move(options)) {}
  absl::string_view name() const override { return "autodiff"; }
  absl::StatusOr<bool> Run(Graph* graph) override;

 private:
  GradOptions options_;
};

}  // namespace adc

#endif  // ADC_PASSES_AUTODIFF_H_
