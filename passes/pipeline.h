// The standard optimization pipeline.
//
// OptimizationPipeline runs rounds of
//   simplify -> constant_folding -> cse -> dce
// until a round changes nothing (a fixed point) or `max_rounds` rounds have
// run (PassPipeline::RunToFixedPoint). Each pass appears in
// PassPipeline::stats() once per round that ran, named "<pass>/<round>"
// ("simplify/1", "cse/2", ...); the last round is the one that changed
// nothing (unless `max_rounds` ran out).
//
// Every pass preserves values bit for bit (see the pass headers), so the
// optimized graph computes exactly what the original computes, outputs keep
// their names, and inputs and parameters (the signature) are untouched. With
// keep_stop_gradient (the default) an optimized graph can be differentiated
// again with the same result w.r.t. its inputs and parameters.
#ifndef ADC_PASSES_PIPELINE_H_
#define ADC_PASSES_PIPELINE_H_

#include <cstdint>
#include <memory>

#include "passes/pass.h"

namespace adc {

struct OptimizationOptions {
  // Run the verifier after every pass (tests turn it on).
  bool verify_after_each_pass = false;
  // False removes stop_gradient nodes: allowed only for code generation,
  // since the result must not be differentiated again.
  bool keep_stop_gradient = true;
  // Upper bound on the rounds of the fixed-point loop (real gradient graphs
  // settle in 2 or 3; each round is listed in the stats).
  int max_rounds = 4;
  // ConstantFoldingOptions::max_elements.
  int64_t max_fold_elements = 1024;
};

std::unique_ptr<PassPipeline> OptimizationPipeline(
    const OptimizationOptions& options = {});

}  // namespace adc

#endif  // ADC_PASSES_PIPELINE_H_
