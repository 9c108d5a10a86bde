// Rematerialization in compiled code: a 64-layer chain whose blocks of 8
// layers are checkpointed keeps only the blocks' inputs for the gradient, so
// the artifact's peak of intermediate memory drops, with the same gradients.
#include "passes/checkpoint.h"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>

#include "codegen/compile.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "runtime/module.h"

namespace adc {
namespace {

constexpr int kLayers = 64, kBlock = 8, kBatch = 32, kWidth = 64;

Tensor Random(TensorType type, uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  Tensor t(type);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, u(rng));
  return t;
}

// h = tanh(h @ w_i) for 64 layers; loss = sum(h^2); d loss / d x.
Graph Chain(bool checkpointed) {
  GraphBuilder b(checkpointed ? "chain_checkpointed" : "chain");
  Value h = b.Input("x", DType::kF32, {kBatch, kWidth});
  std::vector<Value> w;
  for (int i = 0; i < kLayers; ++i) {
    w.push_back(b.Parameter("w" + std::to_string(i),
                            Random(TensorType{DType::kF32, {kWidth, kWidth}},
                                   100 + i, 1.5 / std::sqrt(kWidth))));
  }
  for (int start = 0; start < kLayers; start += kBlock) {
    auto block = [&w, start](GraphBuilder&, const std::vector<Value>& a) {
      Value v = a[0];
      for (int i = 0; i < kBlock; ++i) v = Tanh(MatMul(v, a[1 + i]));
      return v;
    };
    std::vector<Value> args = {h};
    for (int i = 0; i < kBlock; ++i) args.push_back(w[start + i]);
    h = checkpointed ? Checkpoint(b, "block" + std::to_string(start / kBlock),
                                  args, block)
                     : block(b, args);
  }
  b.Output("loss", Sum(h * h));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  GradOptions grad;
  grad.of = "loss";
  grad.wrt = {"x"};
  EXPECT_TRUE(AddGradients(&*g, grad).ok());
  return *std::move(g);
}

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(CheckpointTest, SameGradientsLessPeakMemory) {
  const Tensor x = Random(TensorType{DType::kF32, {kBatch, kWidth}}, 1, 1.0);
  int64_t peak[2];
  std::vector<float> grads[2];
  for (bool checkpointed : {false, true}) {
    const Graph g = Chain(checkpointed);
    // The interpreter: the same gradient.
    auto want = Interpret(g, {{"x", x}});
    ASSERT_TRUE(want.ok()) << want.status();
    const std::string path = TempPath(g.name() + ".so");
    absl::Status compiled = CompileToSharedLibrary(g, path);
    ASSERT_TRUE(compiled.ok()) << compiled;
    auto m = rt::Module::Load(path);
    ASSERT_TRUE(m.ok()) << m.status().message();
    rt::Tensor in(rt::DType::kF32, {kBatch, kWidth});
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      in.data_as<float>()[i] = static_cast<float>(x.GetDouble(i));
    }
    (*m)->PeakIntermediateBytes(/*reset=*/true);
    auto out = (*m)->Run({{"x", in}});
    ASSERT_TRUE(out.ok()) << out.status().message();
    peak[checkpointed] = (*m)->PeakIntermediateBytes();
    const rt::Tensor& gx = out->at("x.grad");
    for (int64_t i = 0; i < gx.num_elements(); ++i) {
      const double w = want->at("x.grad").GetDouble(i);
      ASSERT_NEAR(gx.data_as<float>()[i], w, 1e-4 * (1 + std::abs(w))) << i;
      grads[checkpointed].push_back(gx.data_as<float>()[i]);
    }
  }
  for (size_t i = 0; i < grads[0].size(); ++i) {
    ASSERT_NEAR(grads[1][i], grads[0][i], 1e-4 * (1 + std::abs(grads[0][i])));
  }
  std::cout << "peak intermediate memory: " << peak[0] << " bytes plain, "
            << peak[1] << " bytes with checkpointed blocks of " << kBlock
            << "\n";
  ASSERT_GT(peak[0], 0);
  EXPECT_LT(peak[1], peak[0] * 6 / 10);
}

}  // namespace
}  // namespace adc
