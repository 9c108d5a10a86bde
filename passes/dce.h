// Dead code elimination (after XLA's hlo_dce.h).
//
// A node is dead if no graph output depends on it: it is not reachable from
// the outputs by following node inputs. DeadCodeElimination removes every
// dead node, except graph inputs and parameters, which are the graph's
// signature and stay even when nothing uses them. The remaining nodes keep
// their names, attributes and relative order; outputs keep pointing at the
// same values.
//
// Edge cases: a graph without outputs loses every node but its inputs and
// parameters; an output that names an input or parameter keeps it (it always
// stays anyway). Run returns false when nothing was dead.
#ifndef ADC_PASSES_DCE_H_
#define ADC_PASSES_DCE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/graph.h"
#include "passes/pass.h"

namespace adc {

class DeadCodeElimination : public Pass {
 public:
  absl::string_view name() const override { return "dce"; }
  absl::StatusOr<bool> Run(Graph* graph) override;
};

}  // namespace adc

#endif  // ADC_PASSES_DCE_H_
