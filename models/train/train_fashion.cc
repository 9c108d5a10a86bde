// Trains the small CNN (conv 3x3 32 -> pool -> conv 3x3 64 -> pool -> fc 128
// -> fc 10) on Fashion-MNIST from Debian's dataset-fashion-mnist, with Adam
// compiled into the training step; prints progress, the time per epoch and
// the test accuracy, and writes the loss curve (gnuplot).
//
//   bazel run //models/train:train_fashion -- [OUT_DIR] [EPOCHS] [STEPS]
//   mpirun -np N bazel-bin/models/train/train_fashion [OUT_DIR] [EPOCHS]
//   [STEPS]
// (STEPS > 0 stops each epoch early, for a quick look; under mpirun:
// data-parallel, the batch of 64 split across N workers.)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "models/train/datasets.h"
#include "models/train/distributed/mpi.h"
#include "models/train/layers.h"
#include "models/train/optimizers.h"
#include "models/train/trainer.h"
#include "tools/plot.h"

namespace adc::train {
namespace {

constexpr int64_t kBatch = 64;

const Optimizer kOptimizer = Optimizer::Adam(1e-3);

// Under mpirun: the same model, optimizer and epochs, data-parallel.
int RunDistributed(int* argc, char*** argv, const std::string& out_dir,
                   int epochs, int64_t max_steps) {
  absl::StatusOr<Dataset> train = LoadFashionMnist("train");
  absl::StatusOr<Dataset> test = LoadFashionMnist("t10k");
  for (const auto* d : {&train, &test}) {
    if (!d->ok()) {
      std::fprintf(stderr, "train_fashion: %s\n",
                   d->status().ToString().c_str());
      return 1;
    }
  }
  std::shared_ptr<rt::Module> eval;
  DistributedProgram p;
  p.label = "fashion";
  p.title = "Small CNN on Fashion-MNIST: training loss (Adam 1e-3)";
  p.model = [](int64_t batch) { return SmallCnn(batch, 1, true); };
  p.opt = kOptimizer;
  p.data = &*train;
  p.global_batch = kBatch;
  p.epochs = epochs;
  p.steps_per_epoch = max_steps;
  p.evaluate = [&](const std::map<std::string, rt::ConstBuffer>& values)
      -> absl::StatusOr<std::string> {
    if (!eval) {
      absl::StatusOr<Graph> g = SmallCnn(500, 1, false);
      if (!g.ok()) return g.status();
      absl::StatusOr<std::unique_ptr<rt::Module>> m =
          CompileAndLoad(*g, out_dir + "/fashion_eval.so");
      if (!m.ok()) return m.status();
      eval = std::move(*m);
    }
    absl::StatusOr<double> accuracy = Accuracy(*eval, values, *test, 500);
    if (!accuracy.ok()) return accuracy.status();
    return absl::StrFormat("test accuracy %.2f%%", 100 * *accuracy);
  };
  return RunDistributedProgram(argc, argv, out_dir, p);
}

int Run(const std::string& out_dir, int epochs, int64_t max_steps) {
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "train_fashion: %s\n", s.ToString().c_str());
    return 1;
  };
  absl::StatusOr<Dataset> train = LoadFashionMnist("train");
  absl::StatusOr<Dataset> test = LoadFashionMnist("t10k");
  if (!train.ok()) return fail(train.status());
  if (!test.ok()) return fail(test.status());
  absl::StatusOr<Graph> step_graph = SmallCnn(kBatch, 1, true);
  absl::StatusOr<Graph> eval_graph = SmallCnn(500, 1, false);
  if (!step_graph.ok()) return fail(step_graph.status());
  if (!eval_graph.ok()) return fail(eval_graph.status());
  absl::StatusOr<TrainStep> step =
      AddTrainStep(&*step_graph, "loss", kOptimizer);
  if (!step.ok()) return fail(step.status());
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*step_graph, *step, out_dir + "/fashion_step.so");
  if (!trainer.ok()) return fail(trainer.status());
  absl::StatusOr<std::unique_ptr<rt::Module>> eval =
      CompileAndLoad(*eval_graph, out_dir + "/fashion_eval.so");
  if (!eval.ok()) return fail(eval.status());
  std::printf(
      "compiled the training step and the evaluation in %.1f s\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count());
  int64_t steps_per_epoch = train->num / kBatch;
  if (max_steps > 0) steps_per_epoch = std::min(steps_per_epoch, max_steps);
  std::mt19937 rng(2);
  PlotData curve =
      LossCurve("Small CNN on Fashion-MNIST: training loss (Adam 1e-3)");
  for (int epoch = 0; epoch < epochs; ++epoch) {
    Progress progress(steps_per_epoch, kBatch);
    const auto start = std::chrono::steady_clock::now();
    absl::Status trained = TrainEpoch(**trainer, *train, kBatch,
                                      steps_per_epoch, rng, progress, curve);
    if (!trained.ok()) return fail(trained);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    absl::StatusOr<double> accuracy =
        Accuracy(**eval, (*trainer)->Values(), *test, 500);
    if (!accuracy.ok()) return fail(accuracy.status());
    std::printf("epoch %d: %.1f s (%lld steps of %lld), test accuracy %.2f%%\n",
                epoch + 1, seconds, static_cast<long long>(steps_per_epoch),
                static_cast<long long>(kBatch), 100 * *accuracy);
  }
  absl::Status saved = SaveRun(**trainer, curve, out_dir, "fashion");
  if (!saved.ok()) return fail(saved);
  return 0;
}

}  // namespace
}  // namespace adc::train

int main(int argc, char** argv) {
  const std::string out = adc::train::OutputDir(argc, argv);
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 1;
  const int64_t steps = argc > 3 ? std::atoll(argv[3]) : 0;
  if (adc::train::MpiCommunicator::Launched()) {
    return adc::train::RunDistributed(&argc, &argv, out, epochs, steps);
  }
  return adc::train::Run(out, epochs, steps);
}
