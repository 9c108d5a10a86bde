// Promotion of a graph to f64 (for finite differences: torch.autograd.gradcheck
// wants double inputs, and so does `adc gradcheck`).
//
// PromoteToF64 replaces every f32 in the graph by f64: every dtype attribute
// (an input's dtype, cast's and iota's target dtype) and every tensor
// attribute (parameter and constant values, converted exactly: every f32 is
// an f64). Then it infers each node's type again, in order. Nothing else
// changes: names, inputs, outputs, grad levels and every other attribute stay.
// The rule is by attribute kind, not by op, so a new op with a dtype or
// tensor attribute is promoted without a change here.
//
// Edge cases: a cast to f32 becomes a cast to f64 (an f64 graph that rounds to
// f32 on the way loses that rounding), and a cast from f32 to f64 becomes an
// identity cast. Integer and bool values stay as they are. Run returns false
// when the graph had no f32 anywhere (an f64 graph is unchanged). A node whose
// type cannot be inferred after promotion is an error naming it (no op in adc
// requires f32, so this would be a bug in an op's rule).
#ifndef ADC_PASSES_PROMOTE_F64_H_
#define ADC_PASSES_PROMOTE_F64_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/graph.h"
#include "passes/pass.h"

namespace adc {

class PromoteToF64 : public Pass {
 public:
  absl::string_view name() const override { return "promote-f64"; }
  absl::StatusOr<bool> Run(Graph* graph) override;
};

}  // namespace adc

#endif  // ADC_PASSES_PROMOTE_F64_H_
