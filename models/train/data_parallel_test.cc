// Gradient accumulation and the split training step of data_parallel.h in
// one process (the multi-process runs are models/train/distributed): the
// parameters after a few steps against the fused training step on the
// whole batch, bucketing, and checkpoints across trainers of different
// shapes.
#include "models/train/data_parallel.h"

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/train/datasets.h"
#include "models/train/layers.h"
#include "models/train/optimizers.h"
#include "models/train/trainer.h"

namespace adc::train {
namespace {

constexpr int64_t kGlobal = 48;  // The global batch.

const Dataset& Digits() {
  static const Dataset* d = [] {
    absl::StatusOr<Dataset> digits = LoadDigits();
    EXPECT_TRUE(digits.ok()) << digits.status();
    return new Dataset(*std::move(digits));
  }();
  return *d;
}

Graph Model(int64_t batch) {
  absl::StatusOr<Graph> g =
      Mlp("digits_mlp", 64, {32}, 10, batch, /*seed=*/3, /*with_loss=*/true);
  EXPECT_TRUE(g.ok()) << g.status();
  return *g;
}

// Step s's global batch (rows s*kGlobal.. of the digits) cut into `parts`
// micro-batches; x and y keep the data the buffers point to.
struct Batches {
  std::vector<std::vector<float>> x;
  std::vector<std::vector<int64_t>> y;
  std::vector<std::map<std::string, rt::ConstBuffer>> feeds;
};
Batches Cut(int64_t step, int64_t parts) {
  const Dataset& d = Digits();
  const int64_t n = kGlobal / parts;
  std::vector<int64_t> order(d.num);
  for (int64_t i = 0; i < d.num; ++i) order[i] = i;
  Batches b;
  b.x.resize(parts);
  b.y.resize(parts);
  for (int64_t p = 0; p < parts; ++p) {
    Gather(d, order, step * kGlobal + p * n, n, &b.x[p], &b.y[p]);
  }
  for (int64_t p = 0; p < parts; ++p) {
    b.feeds.push_back({{"x", rt::ConstBuffer::Of(b.x[p], {n, 64})},
                       {"y", rt::ConstBuffer::Of(b.y[p], {n})}});
  }
  return b;
}

std::vector<float> Floats(const rt::ConstBuffer& b) {
  const float* f = static_cast<const float*>(b.data);
  return std::vector<float>(f, f + b.size_bytes / sizeof(float));
}

std::unique_ptr<DataParallelTrainer> MakeSplit(const Optimizer& opt,
                                               int64_t micro_batches,
                                               const std::string& dir,
                                               int64_t bucket_bytes = 4 << 20) {
  DataParallelOptions options;
  options.micro_batches = micro_batches;
  options.bucket_bytes = bucket_bytes;
  absl::StatusOr<std::unique_ptr<DataParallelTrainer>> t =
      DataParallelTrainer::Create(Model(kGlobal / micro_batches), "loss", opt,
                                  nullptr, ::testing::TempDir() + "/" + dir,
                                  options);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

std::map<std::string, std::vector<float>> Snapshot(
    const std::map<std::string, rt::ConstBuffer>& values) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, b] : values) {
    if (b.dtype == rt::DType::kF32) out[name] = Floats(b);
  }
  return out;
}

// After kSteps steps, accumulating 3 micro-batches of 16 gives the
// parameters (and optimizer states) of the fused step on batches of 48, up
// to f32 rounding (the sums over the batch are cut differently).
TEST(DataParallelTest, AccumulatedMicroBatchesTrainAsTheWholeBatch) {
  constexpr int kSteps = 6;
  for (const Optimizer& opt :
       {Optimizer::Sgd(0.1, 0.9), Optimizer::Adam(0.01)}) {
    SCOPED_TRACE(opt.kind == Optimizer::kAdam ? "adam" : "sgd");
    Graph fused = Model(kGlobal);
    absl::StatusOr<TrainStep> step = AddTrainStep(&fused, "loss", opt);
    ASSERT_TRUE(step.ok()) << step.status();
    absl::StatusOr<std::unique_ptr<Trainer>> whole =
        Trainer::Create(fused, *step, ::testing::TempDir() + "/dp_fused.so");
    ASSERT_TRUE(whole.ok()) << whole.status();
    std::unique_ptr<DataParallelTrainer> split = MakeSplit(opt, 3, "dp3");
    ASSERT_NE(split, nullptr);
    for (int s = 0; s < kSteps; ++s) {
      Batches one = Cut(s, 1), three = Cut(s, 3);
      absl::StatusOr<double> a = (*whole)->Step(one.feeds[0]);
      absl::StatusOr<double> b = split->Step(three.feeds);
      ASSERT_TRUE(a.ok()) << a.status();
      ASSERT_TRUE(b.ok()) << b.status();
      EXPECT_NEAR(*a, *b, 1e-5 * std::abs(*a)) << "loss of step " << s;
    }
    EXPECT_EQ(split->steps(), kSteps);
    auto want = Snapshot((*whole)->Values());
    want.erase("adam.step");  // DataParallelTrainer keeps it apart.
    const auto got = Snapshot(split->Values());
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [name, w] : want) {
      ASSERT_EQ(got.count(name), 1u) << name;
      const std::vector<float>& g = got.at(name);
      float scale = 0;
      for (float v : w) scale = std::max(scale, std::abs(v));
      for (size_t i = 0; i < w.size(); ++i) {
        ASSERT_NEAR(g[i], w[i], 2e-5 * scale) << name << "[" << i << "]";
      }
    }
  }
}

// Buckets change when sums travel and updates run, not the arithmetic:
// one parameter per bucket gives the bits of one bucket for everything.
TEST(DataParallelTest, BucketsDoNotChangeTheResult) {
  const Optimizer opt = Optimizer::Adam(0.01);
  std::unique_ptr<DataParallelTrainer> one = MakeSplit(opt, 2, "dp_b1");
  std::unique_ptr<DataParallelTrainer> many =
      MakeSplit(opt, 2, "dp_bn", /*bucket_bytes=*/1);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(many, nullptr);
  EXPECT_EQ(one->num_buckets(), 1);
  EXPECT_EQ(many->num_buckets(), 4);  // fc1 and fc2, weight and bias.
  for (int s = 0; s < 3; ++s) {
    Batches b = Cut(s, 2);
    ASSERT_TRUE(one->Step(b.feeds).ok());
    ASSERT_TRUE(many->Step(b.feeds).ok());
  }
  EXPECT_EQ(Snapshot(one->Values()), Snapshot(many->Values()));
}

// A checkpoint holds the parameters, optimizer states, Adam's count and the
// step number, whatever shape of trainer wrote it: resuming gives the bits
// of the uninterrupted run, and a trainer accumulating differently (another
// number of workers) or the fused Trainer starts from the same values.
TEST(DataParallelTest, CheckpointsResumeAcrossTrainerShapes) {
  const Optimizer opt = Optimizer::Adam(0.01);
  const std::string path = ::testing::TempDir() + "/dp_checkpoint.pb";
  std::unique_ptr<DataParallelTrainer> straight = MakeSplit(opt, 2, "dp_s");
  std::unique_ptr<DataParallelTrainer> first = MakeSplit(opt, 2, "dp_f");
  ASSERT_NE(straight, nullptr);
  ASSERT_NE(first, nullptr);
  for (int s = 0; s < 4; ++s) {
    Batches b = Cut(s, 2);
    ASSERT_TRUE(straight->Step(b.feeds).ok());
    if (s < 2) ASSERT_TRUE(first->Step(b.feeds).ok());
  }
  ASSERT_TRUE(first->Save(path).ok());
  first.reset();

  std::unique_ptr<DataParallelTrainer> resumed = MakeSplit(opt, 2, "dp_f");
  ASSERT_NE(resumed, nullptr);
  ASSERT_TRUE(resumed->Restore(path).ok());
  EXPECT_EQ(resumed->steps(), 2);
  for (int64_t s = resumed->steps(); s < 4; ++s) {
    Batches b = Cut(s, 2);
    ASSERT_TRUE(resumed->Step(b.feeds).ok());
  }
  EXPECT_EQ(Snapshot(resumed->Values()), Snapshot(straight->Values()));

  // Another shape reads the same values.
  std::unique_ptr<DataParallelTrainer> three = MakeSplit(opt, 3, "dp3");
  ASSERT_NE(three, nullptr);
  ASSERT_TRUE(three->Restore(path).ok());
  EXPECT_EQ(three->steps(), 2);
  Graph fused = Model(kGlobal);
  absl::StatusOr<TrainStep> step = AddTrainStep(&fused, "loss", opt);
  ASSERT_TRUE(step.ok());
  absl::StatusOr<std::unique_ptr<Trainer>> whole =
      Trainer::Create(fused, *step, ::testing::TempDir() + "/dp_fused_a.so");
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE((*whole)->Restore(path).ok());
  const auto a = Snapshot(three->Values());
  auto b = Snapshot((*whole)->Values());
  b.erase("adam.step");
  EXPECT_EQ(a, b);
  const float adam_step =
      *static_cast<const float*>((*whole)->Values().at("adam.step").data);
  EXPECT_EQ(adam_step, 2.0f);
}

// Each micro-batch draws its own dropout masks (the seed is fed as seed x
// shards + shard): two micro-batches of the same examples give the mean of
// two different losses, where shared masks would give the one-shard loss
// exactly. The stored seed advances by one per step, as in Trainer.
TEST(DataParallelTest, MicroBatchesDrawTheirOwnDropoutMasks) {
  auto make = [](int64_t micro, const std::string& dir) {
    absl::StatusOr<Graph> g = Mlp("mlp_dropout", 64, {32}, 10, 16,
                                  /*seed=*/0, true, /*dropout=*/0.5);
    EXPECT_TRUE(g.ok()) << g.status();
    DataParallelOptions options;
    options.micro_batches = micro;
    return DataParallelTrainer::Create(*g, "loss", Optimizer::Sgd(0.1), nullptr,
                                       ::testing::TempDir() + "/" + dir,
                                       options);
  };
  auto one = make(1, "dp_d1");
  auto two = make(2, "dp_d2");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(two.ok()) << two.status();
  Batches b = Cut(0, 3);  // Micro-batches of 16.
  absl::StatusOr<double> l1 = (*one)->Step({b.feeds[0]});
  absl::StatusOr<double> l2 = (*two)->Step({b.feeds[0], b.feeds[0]});
  ASSERT_TRUE(l1.ok()) << l1.status();
  ASSERT_TRUE(l2.ok()) << l2.status();
  EXPECT_NE(*l1, *l2);  // (L(seed 0) + L(seed 1)) / 2 against L(seed 0).
  ASSERT_TRUE((*two)->Step({b.feeds[1], b.feeds[2]}).ok());
  const rt::ConstBuffer seed = (*two)->Values().at("dropout_seed");
  EXPECT_EQ(*static_cast<const int64_t*>(seed.data), 2);
}

TEST(DataParallelTest, ErrorsNameWhatIsWrong) {
  const Optimizer opt = Optimizer::Sgd(0.1);
  std::unique_ptr<DataParallelTrainer> t = MakeSplit(opt, 2, "dp_e");
  ASSERT_NE(t, nullptr);
  Batches b = Cut(0, 1);
  EXPECT_THAT(t->Step(b.feeds).status().message(),
              ::testing::HasSubstr("got 1 micro-batches; the trainer was "
                                   "made for 2"));
  Batches wrong = Cut(0, 2);
  wrong.feeds[1].erase("y");
  EXPECT_THAT(t->Step(wrong.feeds).status().message(),
              ::testing::AllOf(::testing::HasSubstr("micro-batch 1"),
                               ::testing::HasSubstr("missing input 'y'")));
  EXPECT_THAT(t->Restore("/nonexistent/ckpt.pb").message(),
              ::testing::HasSubstr("/nonexistent/ckpt.pb"));
  DataParallelOptions zero;
  zero.micro_batches = 0;
  EXPECT_THAT(DataParallelTrainer::Create(Model(16), "loss", opt, nullptr,
                                          ::testing::TempDir() + "/dp_z", zero)
                  .status()
                  .message(),
              ::testing::HasSubstr("micro_batches is 0"));
  EXPECT_THAT(DataParallelTrainer::Create(Model(16), "logits", opt, nullptr,
                                          ::testing::TempDir() + "/dp_z")
                  .status()
                  .message(),
              ::testing::HasSubstr("logits"));
}

}  // namespace
}  // namespace adc::train
