// Trains an MLP (64 -> 128 -> 10, ReLU) on the handwritten digits Debian's
// python3-sklearn ships, with SGD (momentum 0.9) compiled into the training
// step; prints progress and test accuracy on a fixed 20% split, and writes
// the loss curve (gnuplot).
//
//   bazel run //models/train:train_digits -- [OUT_DIR] [EPOCHS]
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "models/train/datasets.h"
#include "models/train/layers.h"
#include "models/train/optimizers.h"
#include "models/train/trainer.h"
#include "tools/plot.h"

namespace adc::train {
namespace {

constexpr int64_t kBatch = 32;

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
  absl::StatusOr<Graph> step_graph =
      Mlp("digits_mlp", 64, {128}, 10, kBatch, /*seed=*/1, true);
  absl::StatusOr<Graph> eval_graph =
      Mlp("digits_mlp_eval", 64, {128}, 10, 256, /*seed=*/1, false);
  if (!step_graph.ok()) return fail(step_graph.status());
  if (!eval_graph.ok()) return fail(eval_graph.status());
  absl::StatusOr<TrainStep> step =
      AddTrainStep(&*step_graph, "loss", Optimizer::Sgd(0.05, 0.9));
  if (!step.ok()) return fail(step.status());
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*step_graph, *step, out_dir + "/digits_step.so");
  if (!trainer.ok()) return fail(trainer.status());
  absl::StatusOr<std::unique_ptr<rt::Module>> eval =
      CompileAndLoad(*eval_graph, out_dir + "/digits_eval.so");
  if (!eval.ok()) return fail(eval.status());

  const int64_t steps_per_epoch = train.num / kBatch;
  Progress progress(epochs * steps_per_epoch, kBatch);
  std::vector<int64_t> order(train.num);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(2);
  std::vector<float> x;
  std::vector<int64_t> y;
  PlotData curve;
  curve.title = "MLP on the digits: training loss (SGD, momentum 0.9)";
  curve.x_label = "step";
  curve.names = {"loss"};
  curve.curves.resize(1);
  int64_t n = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      Gather(train, order, s * kBatch, kBatch, &x, &y);
      absl::StatusOr<double> loss =
          (*trainer)->Step({{"x", rt::ConstBuffer::Of(x, {kBatch, 64})},
                            {"y", rt::ConstBuffer::Of(y, {kBatch})}});
      if (!loss.ok()) return fail(loss.status());
      progress.Update(++n, *loss);
      curve.x.push_back(static_cast<double>(n));
      curve.curves[0].push_back(*loss);
    }
  }
  progress.Finish();
  absl::StatusOr<double> accuracy =
      Accuracy(**eval, (*trainer)->Values(), test.x, test.y, {64}, 256);
  if (!accuracy.ok()) return fail(accuracy.status());
  std::printf("test accuracy: %.2f%% (%lld images)\n", 100 * *accuracy,
              static_cast<long long>(test.num));
  const std::string checkpoint = out_dir + "/digits_checkpoint.pb";
  absl::Status saved = (*trainer)->Save(checkpoint);
  if (!saved.ok()) return fail(saved);
  std::printf("checkpoint (parameters and optimizer state): %s\n",
              checkpoint.c_str());
  const std::string plot = out_dir + "/digits_loss.svg";
  absl::Status drawn = DrawPlot(curve, plot);
  if (!drawn.ok()) return fail(drawn);
  std::printf("loss curve: %s\n", plot.c_str());
  return 0;
}

}  // namespace
}  // namespace adc::train

int main(int argc, char** argv) {
  std::string out = argc > 1 ? argv[1] : ".";
  if (const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
      wd != nullptr && argc > 1 && argv[1][0] != '/') {
    out = std::string(wd) + "/" + out;
  }
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 20;
  return adc::train::Run(out, epochs);
}
