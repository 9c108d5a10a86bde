#include "passes/pipeline.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "passes/algebraic_simplifier.h"
#include "passes/constant_folding.h"
#include "passes/cse.h"
#include "passes/dce.h"

namespace adc {
namespace {

// Which rounds changed the graph, shared by the passes of one pipeline.
struct RoundState {
  std::vector<bool> changed;
};

// Runs `pass` as part of round `round` (1-based): round 1 always runs; a
// later round runs only if the previous one changed the graph.
class RoundPass : public Pass {
 public:
  RoundPass(std::unique_ptr<Pass> pass, int round, bool first_of_round,
            std::shared_ptr<RoundState> state)
      : pass_(std::move(pass)),
        round_(round),
        first_of_round_(first_of_round),
        state_(std::move(state)),
        name_(absl::StrCat(pass_->name(), "/", round)) {}

  absl::string_view name() const override { return name_; }

  absl::StatusOr<bool> Run(Graph* graph) override {
    if (round_ == 1 && first_of_round_)
      state_->changed.assign(round_ + 1, false);
    if (static_cast<int>(state_->changed.size()) <= round_) {
      state_->changed.resize(round_ + 1, false);
    }
    if (round_ > 1 && !state_->changed[round_ - 1]) return false;
    absl::StatusOr<bool> changed = pass_->Run(graph);
    if (changed.ok() && *changed) state_->changed[round_] = true;
    return changed;
  }

 private:
  std::unique_ptr<Pass> pass_;
  int round_;
  bool first_of_round_;
  std::shared_ptr<RoundState> state_;
  std::string name_;
};

}  // namespace

std::unique_ptr<PassPipeline> OptimizationPipeline(
    const OptimizationOptions& options) {
  auto pipeline = std::make_unique<PassPipeline>(
      "optimize", options.verify_after_each_pass);
  auto state = std::make_shared<RoundState>();
  for (int round = 1; round <= std::max(options.max_rounds, 1); ++round) {
    std::vector<std::unique_ptr<Pass>> passes;
    passes.push_back(std::make_unique<AlgebraicSimplifier>(
        AlgebraicSimplifierOptions{options.keep_stop_gradient}));
    ConstantFoldingOptions fold;
    fold.max_elements = options.max_fold_elements;
    passes.push_back(std::make_unique<ConstantFolding>(fold));
    passes.push_back(std::make_unique<CommonSubexpressionElimination>());
    passes.push_back(std::make_unique<DeadCodeElimination>());
    for (size_t k = 0; k < passes.size(); ++k) {
      pipeline->AddPass(std::make_unique<RoundPass>(std::move(passes[k]), round,
                                                    k == 0, state));
    }
  }
  return pipeline;
}

}  // namespace adc
