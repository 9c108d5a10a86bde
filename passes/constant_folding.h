// Constant folding.
//
// ConstantFolding evaluates nodes whose inputs are all constants, with the
// op's reference kernel (GetOpDef(op).eval, the interpreter's kernel, so the
// folded value is bit for bit what the interpreter computes), and replaces
// the node by the result. The node keeps its name, type and grad_level.
//
// What counts as a constant input: a `constant` node, a splat (a broadcast_to
// of a one-element constant, passes/pass_util.h) and an `iota`. What the
// result becomes:
// - An element-wise op whose inputs are all splats is evaluated once on the
//   scalars and becomes a splat of the result, whatever its size:
//   `broadcast_to(2) * broadcast_to(3) => broadcast_to(6)`.
// - Any other result whose elements are all identical becomes a splat
//   (a new rank-0 constant broadcast to the node's shape).
// - Otherwise the node becomes a `constant` when the result is small (at
//   most `max_elements` elements) or no larger than its largest constant
//   input, so folding never materializes big broadcasts or iotas.
//
// Never folded: the leaves themselves (constant, iota, inputs, parameters);
// a broadcast_to of a one-element constant, which is already a splat; nodes
// whose evaluation would be expensive (more than `max_work` element
// operations, or a splat/iota input of more than `max_work` elements that
// would have to be materialized); nodes whose kernel reports an error (left
// for run time). stop_gradient of a constant folds to the constant: a
// constant carries no gradient either way.
//
// Nodes that only fed folded nodes are left for DCE. Run returns false when
// nothing folded.
#ifndef ADC_PASSES_CONSTANT_FOLDING_H_
#define ADC_PASSES_CONSTANT_FOLDING_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/graph.h"
#include "passes/pass.h"

namespace adc {

struct ConstantFoldingOptions {
  // Results up to this many elements are always materialized.
  int64_t max_elements = 1024;
  // Bound on the compile-time work of one fold (element operations).
  int64_t max_work = int64_t{1} << 24;
};

class ConstantFolding : public Pass {
 public:
  explicit ConstantFolding(ConstantFoldingOptions options = {})
      : options_(options) {}
  absl::string_view name() const override { return "constant_folding"; }
  absl::StatusOr<bool> Run(Graph* graph) override;

 private:
  ConstantFoldingOptions options_;
};

}  // namespace adc

#endif  // ADC_PASSES_CONSTANT_FOLDING_H_
