#include "passes/pipeline.h"

#include <algorithm>
#include <memory>

#include "passes/algebraic_simplifier.h"
#include "passes/constant_folding.h"
#include "passes/cse.h"
#include "passes/dce.h"

namespace adc {

std::unique_ptr<PassPipeline> OptimizationPipeline(
    const OptimizationOptions& options) {
  auto pipeline = std::make_unique<PassPipeline>(
      "optimize", options.verify_after_each_pass);
  pipeline->RunToFixedPoint(std::max(options.max_rounds, 1));
  pipeline->Add<AlgebraicSimplifier>(
      AlgebraicSimplifierOptions{options.keep_stop_gradient});
  ConstantFoldingOptions fold;
  fold.max_elements = options.max_fold_elements;
  pipeline->Add<ConstantFolding>(fold);
  pipeline->Add<CommonSubexpressionElimination>();
  pipeline->Add<DeadCodeElimination>();
  return pipeline;
}

}  // namespace adc
