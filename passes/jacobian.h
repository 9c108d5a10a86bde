// Jacobians, Hessians and Hessian-vector products, built from the other
// transforms (torch.autograd.functional, jax.jacrev / jacfwd / hessian):
//
// - AddJacobian appends "<X>.jacobian" of shape shape(of) + shape(X) for
//   each wrt X. Reverse mode vmaps the VJP over the one-hot seeds (one row
//   of the Jacobian per seed, all in one batched graph); forward mode vmaps
//   the JVP over the one-hot tangents (one column per tangent). kAuto takes
//   reverse mode when `of` has no more elements than the wrt values
//   together, and always when `of` depends on a custom gradient (custom_vjp:
//   forward mode differentiates its forward function, not the user's rule).
// - AddHessian (scalar `of`) appends "<X>.hessian" of shape shape(X) +
//   shape(X): forward mode over reverse (the Jacobian of the gradient by
//   batched JVPs).
// - AddHvp (scalar `of`) adds the input "<X>.tangent" and the output
//   "<X>.hvp" = H v without forming H: the JVP of the gradient.
//
// The one-hot seeds and tangents are constants of the graph. Outputs are
// marked is_gradient; intermediate gradient outputs are not kept.
#ifndef ADC_PASSES_JACOBIAN_H_
#define ADC_PASSES_JACOBIAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace adc {

enum class JacobianMode { kReverse, kForward, kAuto };

struct JacobianOptions {
  std::string of;
  std::vector<std::string> wrt;  // Empty: every float input and parameter.
  JacobianMode mode = JacobianMode::kAuto;
};

// kReverse or kForward for `of` of `of_elements` elements and wrt values of
// `wrt_elements` elements together.
JacobianMode ChooseJacobianMode(int64_t of_elements, int64_t wrt_elements);

// Returns the names of the Jacobian outputs, in wrt order.
absl::StatusOr<std::vector<std::string>> AddJacobian(
    Graph* graph, const JacobianOptions& options);

// Returns the name of the Hessian output.
absl::StatusOr<std::string> AddHessian(Graph* graph, const std::string& of,
                                       const std::string& wrt);

struct HvpResult {
  std::string tangent;  // The input v.
  std::string output;   // H v.
};
absl::StatusOr<HvpResult> AddHvp(Graph* graph, const std::string& of,
                                 const std::string& wrt);

}  // namespace adc

#endif  // ADC_PASSES_JACOBIAN_H_
