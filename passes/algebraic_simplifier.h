// Algebraic simplification: local rewrites that make a graph smaller or
// cheaper while preserving every value bit for bit.
//
// Exactness is the contract. A rewrite is done only if, for every possible
// input, the rewritten graph gives the same bits as the original under the
// reference interpreter's semantics (graph/interpreter.h: IEEE double
// arithmetic, f32 results rounded once per op), with one latitude: which NaN
// comes out of an operation is not significant (IEEE leaves it open). In
// particular the sign of zero is significant, so:
// - `x + 0 => x` only when x cannot be -0 (-0 + +0 = +0); `x + (-0) => x`
//   and `x - 0 => x` always. A small analysis proves "cannot be -0" (e.g.
//   exp, abs, reduce_sum and sums with such an operand never give -0).
// - `x * 0` is never rewritten for floating-point x (inf * 0 = NaN,
//   -1 * 0 = -0); for integers `x * 0 => 0`.
// - `mul_no_nan(x, y)` is 0 wherever y == 0, so `mul_no_nan(x, c) => x * c`
//   needs a constant c without zeros, `mul_no_nan(x, 0) => 0` is exact, and
//   `mul_no_nan(c, y) => c * y` needs c finite and > 0 and y never -0.
// - `pow(x, 2) => x * x` only in f32: glibc's pow is not correctly rounded in
//   f64 (about 1 in 1000 squares differ in the last bit), but the f32
//   interpreter computes pow in double, where x^2 is exact.
// - `reduce_sum(broadcast_to(s)) => broadcast_to(s * n)` only for integers
//   (wrapping) and f32 with n <= 2^24 (the sum of n copies is then exact in
//   double, like s * n) and s never -0; in f64 the n - 1 roundings of the sum
//   differ from the one rounding of the product.
// Every rewrite in algebraic_simplifier.cc states its algebra in a comment.
//
// "Constant" below means a `constant` node or a splat (passes/pass_util.h).
// Rewrites cover identities of add/sub/mul/div/pow/mul_no_nan/neg,
// select with a constant condition or equal branches, maximum/minimum of a
// value with itself, cast chains, stop_gradient chains, reshape/transpose/
// broadcast_to chains and identities, slice/pad/concat identities,
// reductions over size-1 axes, and splat propagation (data movement or
// element-wise ops on broadcast one-element values become a broadcast of the
// one-element result).
//
// Graph signature and outputs: inputs and parameters are never rewritten or
// renamed; graph outputs keep their names and point at the replacement
// values (possibly an input or a parameter). A replaced node is removed,
// with the operands that were used only by it (as XLA's
// RemoveInstructionAndUnusedOperands; nodes dead before the run are left to
// DCE), and a new node that replaces it takes over its name, so names stay
// stable. Run returns false when no rewrite applied, and then leaves the
// graph untouched.
//
// stop_gradient: `stop_gradient(x) => x` only when no gradient could flow
// through x anyway (x is constant, integer, or itself stopped), so the graph
// differentiates the same w.r.t. its inputs and parameters. With
// keep_stop_gradient = false every stop_gradient is removed: only for code
// generation, when the graph will not be differentiated again.
#ifndef ADC_PASSES_ALGEBRAIC_SIMPLIFIER_H_
#define ADC_PASSES_ALGEBRAIC_SIMPLIFIER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/graph.h"
#include "passes/pass.h"

namespace adc {

struct AlgebraicSimplifierOptions {
  // False: remove stop_gradient nodes (the result must not be
  // differentiated again).
  bool keep_stop_gradient = true;
};

class AlgebraicSimplifier : public Pass {
 public:
  explicit AlgebraicSimplifier(AlgebraicSimplifierOptions options = {})
      : options_(options) {}
  absl::string_view name() const override { return "simplify"; }
  absl::StatusOr<bool> Run(Graph* graph) override;

 private:
  AlgebraicSimplifierOptions options_;
};

}  // namespace adc

#endif  // ADC_PASSES_ALGEBRAIC_SIMPLIFIER_H_
