// Rematerialization (jax.checkpoint, torch.utils.checkpoint) as a builder
// function: Checkpoint(b, name, args, fn) is fn(args), but the values fn
// computes inside are not kept for the gradient. The gradient recomputes
// them from `args` once the cotangent of the result is known, and
// differentiates the recomputation: memory for speed.
//
// It is a custom_vjp (graph/ops/call.cc) whose vjp function is fn's own
// gradient taken from barrier(args, dy): the barrier (graph/ops/shape.cc)
// keeps the optimizer from merging the recomputation with the forward
// computation, and orders it after dy, so that in compiled code the
// recomputed values live only while the region's gradient is computed.
// Gradients are unchanged; higher orders work through it (the vjp function
// is ordinary ops). The peak of intermediate memory of an artifact is what
// `adc inspect OUT.so` reports (runtime Module::PeakIntermediateBytes).
#ifndef ADC_PASSES_CHECKPOINT_H_
#define ADC_PASSES_CHECKPOINT_H_

#include <string>
#include <vector>

#include "graph/builder.h"

namespace adc {

Value Checkpoint(GraphBuilder& b, const std::string& name,
                 const std::vector<Value>& args, const CustomForwardFn& fn);

}  // namespace adc

#endif  // ADC_PASSES_CHECKPOINT_H_
