// Training: optimizer steps against the update rules by hand, the datasets
// Debian ships, and a short compiled training run on the digits.
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "models/train/datasets.h"
#include "models/train/layers.h"
#include "models/train/modules.h"
#include "models/train/optimizers.h"
#include "models/train/trainer.h"

namespace adc::train {
namespace {

// loss = sum(w^2 x), so dloss/dw = 2 w x.
Graph Quadratic() {
  GraphBuilder b("quadratic");
  Value w = b.Parameter(
      "w", Tensor::FromDoubles({DType::kF64, {3}}, {0.5, -1.0, 2.0}));
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("loss", Sum(w * w * x));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok());
  return *g;
}

// Runs `steps` steps of the compiled-in rule by the interpreter, feeding
// each step's outputs back; returns w after each step.
std::vector<std::vector<double>> RunSteps(const Optimizer& opt, int steps) {
  Graph g = Quadratic();
  absl::StatusOr<TrainStep> step = AddTrainStep(&g, "loss", opt);
  EXPECT_TRUE(step.ok()) << step.status();
  std::map<std::string, Tensor> feeds = {
      {"x", Tensor::FromDoubles({DType::kF64, {3}}, {1.0, 2.0, -0.5})}};
  std::vector<std::vector<double>> ws;
  for (int s = 0; s < steps; ++s) {
    absl::StatusOr<std::map<std::string, Tensor>> out = Interpret(g, feeds);
    EXPECT_TRUE(out.ok()) << out.status();
    for (const auto& [param, output] : step->updates) {
      feeds[param] = out->at(output);
    }
    ws.push_back(out->at("w.next").doubles());
  }
  return ws;
}

TEST(OptimizerTest, StepsFollowTheUpdateRulesByHand) {
  const std::vector<double> x = {1.0, 2.0, -0.5};
  auto grad = [&](const std::vector<double>& w, int i) {
    return 2 * w[i] * x[i];
  };
  for (bool nesterov : {false, true}) {
    // SGD, momentum 0.9, weight decay 0.01, lr 0.1 (torch.optim.SGD).
    const Optimizer opt = Optimizer::Sgd(0.1, 0.9, nesterov, 0.01);
    std::vector<double> w = {0.5, -1.0, 2.0}, buf(3, 0.0);
    const std::vector<std::vector<double>> got = RunSteps(opt, 3);
    for (int s = 0; s < 3; ++s) {
      for (int i = 0; i < 3; ++i) {
        const double g = grad(w, i) + 0.01 * w[i];
        buf[i] = s == 0 ? g : 0.9 * buf[i] + g;
        w[i] -= 0.1 * (nesterov ? g + 0.9 * buf[i] : buf[i]);
      }
      for (int i = 0; i < 3; ++i) {
        EXPECT_NEAR(got[s][i], w[i], 1e-15) << "step " << s;
      }
    }
  }
  for (bool decoupled : {false, true}) {
    // Adam / AdamW, lr 0.01, weight decay 0.1 (torch.optim.Adam, AdamW).
    const Optimizer opt =
        decoupled ? Optimizer::AdamW(0.01, 0.1) : Optimizer::Adam(0.01, 0.1);
    std::vector<double> w = {0.5, -1.0, 2.0}, m(3, 0.0), v(3, 0.0);
    const std::vector<std::vector<double>> got = RunSteps(opt, 3);
    for (int s = 0; s < 3; ++s) {
      const int t = s + 1;
      for (int i = 0; i < 3; ++i) {
        double g = grad(w, i);
        if (decoupled) {
          w[i] *= 1 - 0.01 * 0.1;
        } else {
          g += 0.1 * w[i];
        }
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        const double mhat = m[i] / (1 - std::pow(0.9, t));
        const double vhat = v[i] / (1 - std::pow(0.999, t));
        w[i] -= 0.01 * mhat / (std::sqrt(vhat) + 1e-8);
      }
      for (int i = 0; i < 3; ++i) {
        EXPECT_NEAR(got[s][i], w[i], 1e-14) << "step " << s;
      }
    }
  }
}

// The parameter names of a graph, in order.
std::vector<std::string> ParameterNames(const Graph& g) {
  std::vector<std::string> names;
  for (ValueId id : g.parameters()) names.push_back(g.node(id).name);
  return names;
}

TEST(ModulesTest, SequentialNamesParametersAsPyTorch) {
  using namespace nn;  // NOLINT
  ModulePtr model = Sequential(
      {Linear(4, 3), ReLU(),
       Sequential({{"inner", Linear(3, 3)}, {"norm", LayerNorm({3})}}),
       Residual(Sequential({Linear(3, 3), Tanh()})), GELU(), Dropout(0.5),
       Linear(3, 2)});
  absl::StatusOr<Graph> eval = BuildClassifier(*model, "m", {5, 4}, 1, false);
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_THAT(ParameterNames(*eval),
              ::testing::ElementsAre("0.weight", "0.bias", "2.inner.weight",
                                     "2.inner.bias", "2.norm.weight",
                                     "2.norm.bias", "3.body.0.weight",
                                     "3.body.0.bias", "6.weight", "6.bias"));
  // Linear's init: uniform in +-1/sqrt(in).
  const Tensor& w =
      eval->node(*eval->Find("0.weight")).attrs.GetTensor("value");
  for (int64_t i = 0; i < w.num_elements(); ++i) {
    EXPECT_LE(std::abs(w.GetDouble(i)), 0.5);
  }
  // Training adds the dropout seed, kept as state by AddTrainStep.
  absl::StatusOr<Graph> g = BuildClassifier(*model, "m", {5, 4}, 1, true);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->Find("dropout_seed").has_value());
  absl::StatusOr<TrainStep> step =
      AddTrainStep(&*g, "loss", Optimizer::Sgd(0.1));
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_THAT(step->updates,
              ::testing::Contains(std::pair<std::string, std::string>(
                  "dropout_seed", "dropout_seed.next")));
}

TEST(ModulesTest, LayersComputeWhatTheirNamesSay) {
  // GELU, Residual, Flatten, pooling and LayerNorm against their formulas.
  using namespace nn;  // NOLINT
  GraphBuilder b("layers");
  std::mt19937 rng(1);
  ModuleContext ctx{b, rng, false};
  Value x = b.Input("x", DType::kF64, {1, 1, 4, 4});
  b.Output("gelu", GELU()->Build(ctx, "g", x));
  b.Output("res", Residual(Sigmoid())->Build(ctx, "r", x));
  b.Output("pool",
           Flatten()->Build(ctx, "f",
                            MaxPool2d(2)->Build(ctx, "p", x) +
                                AvgPool2d(3, 2, 1)->Build(ctx, "a", x)));
  b.Output("norm", LayerNorm({4, 4})->Build(ctx, "n", x));
  b.Output("flat2", Flatten(2)->Build(ctx, "f2", x));  // torch: [1, 1, 16].
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  Tensor xv({DType::kF64, {1, 1, 4, 4}});
  for (int i = 0; i < 16; ++i) xv.SetDouble(i, (i % 5) - 2.0);
  auto out = Interpret(*g, {{"x", xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  double mean = 0, var = 0;
  for (int i = 0; i < 16; ++i) mean += xv.GetDouble(i) / 16;
  for (int i = 0; i < 16; ++i) var += std::pow(xv.GetDouble(i) - mean, 2) / 16;
  for (int i = 0; i < 16; ++i) {
    const double v = xv.GetDouble(i);
    EXPECT_NEAR(out->at("gelu").GetDouble(i),
                v * 0.5 * (1 + std::erf(v / std::sqrt(2.0))), 1e-15);
    EXPECT_NEAR(out->at("res").GetDouble(i), v + 1 / (1 + std::exp(-v)), 1e-15);
    EXPECT_NEAR(out->at("norm").GetDouble(i),
                (v - mean) / std::sqrt(var + 1e-5), 1e-12);
  }
  // Window (0, 0): max of {-2, -1, 2, -2} is 2; the 3x3 average with
  // count_include_pad over rows 0-1, cols 0-1: (-2 - 1 + 2 - 2) / 9.
  EXPECT_EQ(out->at("pool").dims(), (Dims{1, 4}));
  EXPECT_EQ(out->at("flat2").dims(), (Dims{1, 1, 16}));
  EXPECT_NEAR(out->at("pool").GetDouble(0), 2 + (-2 - 1 + 2 - 2) / 9.0, 1e-15);
}

TEST(ModulesTest, ShapeErrorsNameTheModule) {
  using namespace nn;  // NOLINT
  absl::StatusOr<Graph> g = BuildClassifier(
      *Sequential({Linear(8, 4), ReLU(), Linear(3, 2)}), "m", {2, 8}, 1, false);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              ::testing::HasSubstr("Linear '2': input f32[2,4]"));
  g = BuildClassifier(*Sequential({{"features", Conv2d(3, 8, 3)}}), "m",
                      {2, 1, 8, 8}, 1, false);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), ::testing::HasSubstr("Conv2d 'features'"));
}

TEST(DatasetTest, DigitsAndFashionMnist) {
  absl::StatusOr<Dataset> digits = LoadDigits();
  ASSERT_TRUE(digits.ok()) << digits.status();
  EXPECT_EQ(digits->num, 1797);
  EXPECT_EQ(digits->features(), 64);
  std::vector<int> count(10, 0);
  for (int64_t y : digits->y) {
    ASSERT_TRUE(y >= 0 && y < 10);
    ++count[y];
  }
  for (int c : count) EXPECT_GT(c, 170);
  for (float v : digits->x) ASSERT_TRUE(v >= 0 && v <= 1);
  Dataset train, test;
  SplitTrainTest(*digits, 0.2, 0, &train, &test);
  EXPECT_EQ(test.num, 359);
  EXPECT_EQ(train.num + test.num, 1797);

  absl::StatusOr<Dataset> fashion = LoadFashionMnist("t10k");
  ASSERT_TRUE(fashion.ok()) << fashion.status();
  EXPECT_EQ(fashion->num, 10000);
  EXPECT_EQ(fashion->shape, (std::vector<int64_t>{1, 28, 28}));
  std::vector<int> classes(10, 0);
  for (int64_t y : fashion->y) ++classes[y];
  for (int c : classes) EXPECT_EQ(c, 1000);  // The test set is balanced.
  EXPECT_THAT(LoadFashionMnist("nope").status().message(),
              ::testing::HasSubstr("'train' or 't10k'"));
  EXPECT_THAT(LoadDigits("/nonexistent.csv.gz").status().message(),
              ::testing::HasSubstr("python3-sklearn"));
}

TEST(TrainingTest, ShortDigitsRunLearns) {
  absl::StatusOr<Dataset> digits = LoadDigits();
  ASSERT_TRUE(digits.ok()) << digits.status();
  Dataset train, test;
  SplitTrainTest(*digits, 0.2, 0, &train, &test);
  constexpr int64_t kBatch = 32;
  absl::StatusOr<Graph> g = Mlp("mlp", 64, {64}, 10, kBatch, 1, true);
  absl::StatusOr<Graph> eval = Mlp("mlp_eval", 64, {64}, 10, 128, 1, false);
  ASSERT_TRUE(g.ok() && eval.ok());
  absl::StatusOr<TrainStep> step =
      AddTrainStep(&*g, "loss", Optimizer::Adam(0.005));
  ASSERT_TRUE(step.ok()) << step.status();
  const std::string dir = ::testing::TempDir();
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*g, *step, dir + "/step.so");
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  absl::StatusOr<std::unique_ptr<rt::Module>> model =
      CompileAndLoad(*eval, dir + "/eval.so");
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<int64_t> order(train.num);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(3);
  std::vector<float> x;
  std::vector<int64_t> y;
  std::vector<double> losses;
  for (int s = 0; s < 300; ++s) {
    const int64_t first = (s * kBatch) % (train.num - kBatch);
    if (first < kBatch) std::shuffle(order.begin(), order.end(), rng);
    Gather(train, order, first, kBatch, &x, &y);
    absl::StatusOr<double> loss =
        (*trainer)->Step({{"x", rt::ConstBuffer::Of(x, {kBatch, 64})},
                          {"y", rt::ConstBuffer::Of(y, {kBatch})}});
    ASSERT_TRUE(loss.ok()) << loss.status();
    losses.push_back(*loss);
  }
  const double first50 =
      std::accumulate(losses.begin(), losses.begin() + 50, 0.0) / 50;
  const double last50 =
      std::accumulate(losses.end() - 50, losses.end(), 0.0) / 50;
  EXPECT_LT(last50, 0.25 * first50) << first50 << " -> " << last50;
  absl::StatusOr<double> accuracy =
      Accuracy(**model, (*trainer)->Values(), test, 128);
  ASSERT_TRUE(accuracy.ok()) << accuracy.status();
  EXPECT_GT(*accuracy, 0.9);
}

TEST(TrainingTest, FewFashionMnistBatchesOfTheSmallCnn) {
  absl::StatusOr<Dataset> train = LoadFashionMnist("t10k");
  ASSERT_TRUE(train.ok()) << train.status();
  constexpr int64_t kBatch = 32;
  // With batch norm: its running statistics are state the step updates,
  // not trained parameters.
  absl::StatusOr<Graph> g = SmallCnn(kBatch, 1, true, /*batch_norm=*/true);
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<TrainStep> step =
      AddTrainStep(&*g, "loss", Optimizer::Adam(2e-3));
  ASSERT_TRUE(step.ok()) << step.status();
  using Update = std::pair<std::string, std::string>;
  EXPECT_THAT(step->updates, ::testing::Contains(Update(
                                 "bn1.running_mean", "bn1.running_mean.next")));
  for (const Update& u : step->updates) {
    EXPECT_EQ(u.first.find("running_mean."), std::string::npos)
        << "optimizer state for a running statistic: " << u.first;
  }
  ASSERT_TRUE(step.ok()) << step.status();
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*g, *step, ::testing::TempDir() + "/cnn_step.so");
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  std::vector<int64_t> order(train->num);
  std::iota(order.begin(), order.end(), 0);
  std::vector<float> x;
  std::vector<int64_t> y;
  std::vector<double> losses;
  for (int s = 0; s < 40; ++s) {
    Gather(*train, order, s * kBatch, kBatch, &x, &y);
    absl::StatusOr<double> loss =
        (*trainer)->Step({{"x", rt::ConstBuffer::Of(x, {kBatch, 1, 28, 28})},
                          {"y", rt::ConstBuffer::Of(y, {kBatch})}});
    ASSERT_TRUE(loss.ok()) << loss.status();
    losses.push_back(*loss);
  }
  // From about ln 10 = 2.3 (chance) to well below it.
  const double first =
      std::accumulate(losses.begin(), losses.begin() + 5, 0.0) / 5;
  const double last = std::accumulate(losses.end() - 5, losses.end(), 0.0) / 5;
  EXPECT_GT(first, 1.8);
  EXPECT_LT(last, 0.7 * first) << first << " -> " << last;
  // 40 updates with momentum 0.1 moved the running statistics.
  const std::map<std::string, rt::ConstBuffer> values = (*trainer)->Values();
  EXPECT_NE(static_cast<const float*>(values.at("bn1.running_mean").data)[0],
            0.0f);
  EXPECT_NE(static_cast<const float*>(values.at("bn2.running_var").data)[0],
            1.0f);
}

TEST(TrainingTest, CheckpointsResumeWithTheSameResults) {
  absl::StatusOr<Dataset> digits = LoadDigits();
  ASSERT_TRUE(digits.ok()) << digits.status();
  constexpr int64_t kBatch = 16;
  // With dropout: the masks' seed is state the checkpoint carries.
  absl::StatusOr<Graph> g =
      Mlp("mlp", 64, {32}, 10, kBatch, 5, true, /*dropout=*/0.2);
  ASSERT_TRUE(g.ok()) << g.status();
  const int64_t seed0 =
      g->node(*g->Find("dropout_seed")).attrs.GetTensor("value").GetInt(0);
  absl::StatusOr<TrainStep> step =
      AddTrainStep(&*g, "loss", Optimizer::Adam(0.01));
  ASSERT_TRUE(step.ok()) << step.status();
  const std::string dir = ::testing::TempDir();
  absl::StatusOr<std::unique_ptr<Trainer>> a =
      Trainer::Create(*g, *step, dir + "/ckpt_step.so");
  ASSERT_TRUE(a.ok()) << a.status();
  std::vector<int64_t> order(digits->num);
  std::iota(order.begin(), order.end(), 0);
  auto run = [&](Trainer& t, int first, int n) {
    std::vector<double> losses;
    std::vector<float> x;
    std::vector<int64_t> y;
    for (int s = first; s < first + n; ++s) {
      Gather(*digits, order, s * kBatch, kBatch, &x, &y);
      absl::StatusOr<double> loss =
          t.Step({{"x", rt::ConstBuffer::Of(x, {kBatch, 64})},
                  {"y", rt::ConstBuffer::Of(y, {kBatch})}});
      EXPECT_TRUE(loss.ok()) << loss.status();
      losses.push_back(loss.ok() ? *loss : -1);
    }
    return losses;
  };
  run(**a, 0, 10);
  ASSERT_TRUE((*a)->Save(dir + "/ckpt.pb").ok());
  const std::vector<double> continued = run(**a, 10, 10);
  // A new trainer from the checkpoint takes the same 10 steps.
  absl::StatusOr<std::unique_ptr<Trainer>> b =
      Trainer::Create(*g, *step, dir + "/ckpt_step2.so");
  ASSERT_TRUE(b.ok()) << b.status();
  absl::Status restored = (*b)->Restore(dir + "/ckpt.pb");
  ASSERT_TRUE(restored.ok()) << restored;
  EXPECT_EQ(run(**b, 10, 10), continued);
  // The checkpoint is an ordinary graph file holding the state.
  absl::StatusOr<Graph> saved = LoadGraph(dir + "/ckpt.pb");
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->node(*saved->Find("adam.step")).attrs.GetTensor("value"),
            Tensor::Scalar(10, DType::kF32));
  EXPECT_EQ(saved->node(*saved->Find("dropout_seed"))
                .attrs.GetTensor("value")
                .GetInt(0),
            seed0 + 10);
  EXPECT_THAT((*b)->Restore(dir + "/nope.pb").message(),
              ::testing::HasSubstr("nope.pb"));
}

}  // namespace
}  // namespace adc::train
