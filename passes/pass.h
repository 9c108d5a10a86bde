// The pass interface and pipeline (after XLA's HloPassInterface and
// HloPassPipeline). A pass rewrites a verified graph in place and returns
// whether it changed anything; user errors come back as absl::Status.
#ifndef ADC_PASSES_PASS_H_
#define ADC_PASSES_PASS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/graph.h"

namespace adc {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual absl::string_view name() const = 0;
  // Rewrites `graph`; true if it changed. On error the graph may be partly
  // rewritten and should be discarded.
  virtual absl::StatusOr<bool> Run(Graph* graph) = 0;
};

// What one pass did in a pipeline run.
struct PassStats {
  std::string name;
  bool changed = false;
  int nodes_before = 0;
  int nodes_after = 0;
  double milliseconds = 0;
};

// Runs passes in order. With verify_after_each_pass (on in tests), the
// verifier runs after every pass and a failure names the pass. With
// RunToFixedPoint(n) (as XLA's HloPassFix), the passes run in rounds until a
// round changes nothing or n rounds have run; stats then name each pass
// "<pass>/<round>".
class PassPipeline : public Pass {
 public:
  explicit PassPipeline(std::string name, bool verify_after_each_pass = false)
      : name_(std::move(name)), verify_(verify_after_each_pass) {}

  template <typename T, typename... Args>
  T& Add(Args&&... args) {
    auto pass = std::make_unique<T>(std::forward<Args>(args)...);
    T& ref = *pass;
    passes_.push_back(std::move(pass));
    return ref;
  }
  void AddPass(std::unique_ptr<Pass> pass) {
    passes_.push_back(std::move(pass));
  }
  void RunToFixedPoint(int max_rounds) { max_rounds_ = max_rounds; }

  absl::string_view name() const override { return name_; }
  absl::StatusOr<bool> Run(Graph* graph) override;
  // Per-pass statistics of the last Run.
  const std::vector<PassStats>& stats() const { return stats_; }

 private:
  std::string name_;
  bool verify_;
  int max_rounds_ = 0;  // 0: one pass over the passes, no round names.
  std::vector<std::unique_ptr<Pass>> passes_;
  std::vector<PassStats> stats_;
};

}  // namespace adc

#endif  // ADC_PASSES_PASS_H_
