// Common subexpression elimination.
//
// Two nodes are the same computation when they have the same op, the same
// inputs (after earlier merges, so whole duplicated subgraphs collapse in one
// run) and identical attributes; CommonSubexpressionElimination merges each
// such node into the first one in topological order, which keeps its name
// and grad_level, and redirects every use (node inputs and graph outputs) to
// it. Constants merge when their values are identical, iota nodes when their
// attributes are.
//
// - "Identical" is bit for bit (passes/pass_util.h): a constant -0 never
//   merges with a constant +0, nor pad values -0 and +0, though both compare
//   equal as numbers. NaNs count as equal to each other.
// - add, mul, equal and not_equal are commutative in IEEE arithmetic (up to
//   which NaN is returned), so add(a, b) and add(b, a) merge. maximum and
//   minimum are not (maximum(+0, -0) returns its first operand), nor is
//   mul_no_nan.
// - Graph inputs and parameters never merge: each is part of the signature,
//   even when two have the same type and stored value.
// - Merged-away nodes are removed; nothing else is. Run returns false when
//   no two nodes were the same.
#ifndef ADC_PASSES_CSE_H_
#define ADC_PASSES_CSE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/graph.h"
#include "passes/pass.h"

namespace adc {

class CommonSubexpressionElimination : public Pass {
 public:
  absl::string_view name() const override { return "cse"; }
  absl::StatusOr<bool> Run(Graph* graph) override;
};

}  // namespace adc

#endif  // ADC_PASSES_CSE_H_
