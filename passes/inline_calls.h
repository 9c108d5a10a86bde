// Replaces every call (custom_vjp) by the body of its forward function,
// recursively, and empties the function library unless control flow (whose
// branches and bodies are library functions, compiled apart) still calls
// it: the graph backends compile.
// Values and outputs are unchanged; the custom gradients are gone (the
// result is not meant to be differentiated again).
#ifndef ADC_PASSES_INLINE_CALLS_H_
#define ADC_PASSES_INLINE_CALLS_H_

#include "absl/status/status.h"
#include "graph/graph.h"

namespace adc {

absl::Status InlineCalls(Graph* graph);

}  // namespace adc

#endif  // ADC_PASSES_INLINE_CALLS_H_
