// Running compiled training steps: a Trainer owns the compiled step (a graph
// with AddTrainStep applied) and the current values of the parameters and
// optimizer states. Each Step feeds them with a batch and keeps the values
// the step computed: two buffers per value, swapped after each step (the
// update never writes what the step reads; nothing is copied).
#ifndef ADC_MODELS_TRAIN_TRAINER_H_
#define ADC_MODELS_TRAIN_TRAINER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "models/train/datasets.h"
#include "models/train/optimizers.h"
#include "runtime/module.h"
#include "tools/plot.h"

namespace adc::train {

// `graph` compiled (codegen/compile.h) into `artifact_path` and loaded.
absl::StatusOr<std::unique_ptr<rt::Module>> CompileAndLoad(
    const Graph& graph, const std::string& artifact_path);

class Trainer {
 public:
  // Compiles `step_graph` into `artifact_path` and starts from its stored
  // parameter values.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const Graph& step_graph, const TrainStep& step,
      const std::string& artifact_path);

  // One step on a batch (the graph's inputs by name); returns the loss.
  absl::StatusOr<double> Step(
      const std::map<std::string, rt::ConstBuffer>& batch);

  // The current values of the parameters and states, to feed to other
  // compiled graphs of the same model (e.g. an evaluation graph).
  std::map<std::string, rt::ConstBuffer> Values() const;

  // A checkpoint: the step graph with the current values as its stored
  // parameter values (parameters, optimizer states, Adam's step count), in
  // the graph format (.pb, or .pbtxt for text; `adc inspect` reads it).
  absl::Status Save(const std::string& path) const;
  // Continues from a checkpoint Save wrote: every parameter and state takes
  // its value there (by name; types must match).
  absl::Status Restore(const std::string& path);

 private:
  Trainer() = default;
  Graph graph_;
  std::unique_ptr<rt::Module> module_;
  TrainStep step_;
  std::vector<rt::Tensor> current_, next_;  // By step_.updates.
};

// The fraction of `data`'s labels equal to the arg-max of each row of the
// `logits` output of `model` (inputs: "x" [batch, example shape...] and
// `values`), in batches of `batch` (the last one zero-padded).
absl::StatusOr<double> Accuracy(
    const rt::Module& model,
    const std::map<std::string, rt::ConstBuffer>& values, const Dataset& data,
    int64_t batch);

class Progress;

// One epoch: the examples of `data` in a new random order (from `rng`), the
// first `steps` batches of `batch` as inputs "x" [batch, shape...] and "y"
// [batch]; each loss goes to `progress` and is appended to `loss_curve`
// (x: the step number, counted on from the curve's last).
absl::Status TrainEpoch(Trainer& trainer, const Dataset& data, int64_t batch,
                        int64_t steps, std::mt19937& rng, Progress& progress,
                        PlotData& loss_curve);

// An empty loss curve ("loss" over "step").
PlotData LossCurve(const std::string& title);

// The end of a training program: writes OUT_DIR/<label>_checkpoint.pb
// (Trainer::Save) and the loss curve OUT_DIR/<label>_loss.svg (gnuplot),
// printing both paths.
absl::Status SaveRun(const Trainer& trainer, const PlotData& loss_curve,
                     const std::string& out_dir, const std::string& label);

// A training program's output directory: argv[1] (relative to where `bazel
// run` was started), else "."; created if missing.
std::string OutputDir(int argc, char** argv);

// A progress line for training: on a terminal one line redrawn in place
// (bar, step, loss, examples/s, time left); otherwise a plain line about
// every tenth of the run.
class Progress {
 public:
  Progress(int64_t total_steps, int64_t examples_per_step);
  void Update(int64_t step, double loss);  // step in [1, total]
  void Finish();

 private:
  int64_t total_, per_step_;
  bool terminal_;
  int64_t last_plain_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace adc::train

#endif  // ADC_MODELS_TRAIN_TRAINER_H_
