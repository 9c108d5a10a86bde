// Trains an MLP (64 -> 128 -> 10, ReLU) on the handwritten digits Debian's
// python3-sklearn ships, with SGD (momentum 0.9) compiled into the training
// step; prints progress and test accuracy on a fixed 20% split, and writes
// the loss curve (gnuplot).
//
//   bazel run //models/train:train_digits -- [OUT_DIR] [EPOCHS]
//   mpirun -np N bazel-bin/models/train/train_digits [OUT_DIR] [EPOCHS]
// (under mpirun: data-parallel, the batch of 32 split across N workers).
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "models/train/datasets.h"
#include "models/train/distributed/mpi.h"
#include "models/train/layers.h"
#include "models/train/optimizers.h"
#include "models/train/trainer.h"
#include "tools/plot.h"

namespace adc::train {
namespace {

constexpr int64_t kBatch = 32;

absl::StatusOr<Graph> TrainingModel(int64_t batch) {
  return Mlp("digits_mlp", 64, {128}, 10, batch, /*seed=*/1, true);
}

const Optimizer kOptimizer = Optimizer::Sgd(0.05, 0.9);

// Under mpirun: the same model, optimizer and epochs, data-parallel.
int RunDistributed(int* argc, char*** argv, const std::string& out_dir,
                   int epochs) {
  absl::StatusOr<Dataset> all = LoadDigits();
  if (!all.ok()) {
    std::fprintf(stderr, "train_digits: %s\n", all.status().ToString().c_str());
    return 1;
  }
  Dataset train, test;
  SplitTrainTest(*all, 0.2, /*seed=*/0, &train, &test);
  std::shared_ptr<rt::Module> eval;
  DistributedProgram p;
  p.label = "digits";
  p.title = "MLP on the digits: training loss (SGD, momentum 0.9)";
  p.model = TrainingModel;
  p.opt = kOptimizer;
  p.data = &train;
  p.global_batch = kBatch;
  p.epochs = epochs;
  p.evaluate = [&](const std::map<std::string, rt::ConstBuffer>& values)
      -> absl::StatusOr<std::string> {
    if (!eval) {
      absl::StatusOr<Graph> g =
          Mlp("digits_mlp_eval", 64, {128}, 10, 256, /*seed=*/1, false);
      if (!g.ok()) return g.status();
      absl::StatusOr<std::unique_ptr<rt::Module>> m =
          CompileAndLoad(*g, out_dir + "/digits_eval.so");
      if (!m.ok()) return m.status();
      eval = std::move(*m);
    }
    absl::StatusOr<double> accuracy = Accuracy(*eval, values, test, 256);
    if (!accuracy.ok()) return accuracy.status();
    return absl::StrFormat("test accuracy %.2f%%", 100 * *accuracy);
  };
  return RunDistributedProgram(argc, argv, out_dir, p);
}

int Run(const std::string& out_dir, int epochs) {
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "train_digits: %s\n", s.ToString().c_str());
    return 1;
  };
  absl::StatusOr<Dataset> all = LoadDigits();
  if (!all.ok()) return fail(all.status());
  Dataset train, test;
  SplitTrainTest(*all, 0.2, /*seed=*/0, &train, &test);
  std::printf("digits: %lld training and %lld test images of 8x8\n",
              static_cast<long long>(train.num),
              static_cast<long long>(test.num));
  absl::StatusOr<Graph> step_graph = TrainingModel(kBatch);
  absl::StatusOr<Graph> eval_graph =
      Mlp("digits_mlp_eval", 64, {128}, 10, 256, /*seed=*/1, false);
  if (!step_graph.ok()) return fail(step_graph.status());
  if (!eval_graph.ok()) return fail(eval_graph.status());
  absl::StatusOr<TrainStep> step =
      AddTrainStep(&*step_graph, "loss", kOptimizer);
  if (!step.ok()) return fail(step.status());
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*step_graph, *step, out_dir + "/digits_step.so");
  if (!trainer.ok()) return fail(trainer.status());
  absl::StatusOr<std::unique_ptr<rt::Module>> eval =
      CompileAndLoad(*eval_graph, out_dir + "/digits_eval.so");
  if (!eval.ok()) return fail(eval.status());

  const int64_t steps_per_epoch = train.num / kBatch;
  std::mt19937 rng(2);
  PlotData curve =
      LossCurve("MLP on the digits: training loss (SGD, momentum 0.9)");
  for (int epoch = 0; epoch < epochs; ++epoch) {
    Progress progress(steps_per_epoch, kBatch);
    absl::Status trained = TrainEpoch(**trainer, train, kBatch, steps_per_epoch,
                                      rng, progress, curve);
    if (!trained.ok()) return fail(trained);
  }
  absl::StatusOr<double> accuracy =
      Accuracy(**eval, (*trainer)->Values(), test, 256);
  if (!accuracy.ok()) return fail(accuracy.status());
  std::printf("test accuracy: %.2f%% (%lld images)\n", 100 * *accuracy,
              static_cast<long long>(test.num));
  absl::Status saved = SaveRun(**trainer, curve, out_dir, "digits");
  if (!saved.ok()) return fail(saved);
  return 0;
}

}  // namespace
}  // namespace adc::train

int main(int argc, char** argv) {
  const std::string out = adc::train::OutputDir(argc, argv);
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 20;
  if (adc::train::MpiCommunicator::Launched()) {
    return adc::train::RunDistributed(&argc, &argv, out, epochs);
  }
  return adc::train::Run(out, epochs);
}
