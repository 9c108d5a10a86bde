// Concurrency and determinism of compiled artifacts through the runtime
// (issue 11): several modules side by side, 8 threads x 1000 runs each with
// different inputs, every result bit-identical to the single-threaded run of
// the same input; modules loaded and unloaded while others run; the thread
// pool resized mid-flight; results the same for every pool size.
// ADC_STRESS_RUNS overrides the runs per thread (the ThreadSanitizer build,
// --config=tsan, runs it as it is).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "codegen/compile.h"
#include "graph/builder.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "runtime/module.h"

namespace adc {
namespace {

constexpr int kInputSets = 16;
constexpr int kThreads = 8;

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

int RunsPerThread() {
  const char* env = std::getenv("ADC_STRESS_RUNS");
  return env != nullptr ? std::atoi(env) : 1000;
}

// An artifact under test: its graph's inputs and the outputs compared.
struct Case {
  std::string name;
  Graph graph;
  std::string path;
  std::unique_ptr<rt::Module> module;
  // Per input set: inputs by name, and the single-threaded outputs.
  std::vector<std::map<std::string, rt::Tensor>> inputs;
  std::vector<std::map<std::string, rt::Tensor>> expected;
};

// A small regression step (matmuls, a mean, tanh) and its gradients.
Graph Regression() {
  GraphBuilder g("stress_regression");
  Value x = g.Input("x", DType::kF32, {33, 17});
  Value t = g.Input("t", DType::kF32, {33, 5});
  std::vector<double> w0(5 * 17), b0(5);
  for (size_t i = 0; i < w0.size(); ++i) w0[i] = 0.03 * ((i * 7) % 13 - 6);
  for (size_t i = 0; i < b0.size(); ++i) b0[i] = 0.1 * i;
  Value w = g.Parameter("w", Tensor::FromDoubles({DType::kF32, {5, 17}}, w0));
  Value b = g.Parameter("b", Tensor::FromDoubles({DType::kF32, {5}}, b0));
  g.Output("loss", MseLoss(Tanh(Linear(x, w, b)), t));
  auto graph = g.Build();
  EXPECT_TRUE(graph.ok()) << graph.status();
  EXPECT_TRUE(AddGradients(&*graph, {.of = "loss"}).ok());
  return *std::move(graph);
}

// Large enough for the thread pool: log_softmax over rows of 257 x 1001,
// its row sums and the gradient of a weighted sum of it.
Graph Softmax() {
  GraphBuilder g("stress_softmax");
  Value x = g.Input("x", DType::kF32, {257, 1001});
  Value s = LogSoftmax(Sin(x) * 3.0, 1);
  g.Output("rows", Sum(s, {1}));
  g.Output("loss", Sum(s * x));
  auto graph = g.Build();
  EXPECT_TRUE(graph.ok()) << graph.status();
  EXPECT_TRUE(AddGradients(&*graph, {.of = "loss"}).ok());
  return *std::move(graph);
}

rt::Tensor RandomTensor(const rt::ArgSpec& spec, std::mt19937_64& rng) {
  rt::Tensor t(spec.dtype, spec.dims);
  std::uniform_real_distribution<float> u(-2, 2);
  float* p = t.data_as<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = u(rng);
  return t;
}

bool SameBits(const rt::Tensor& a, const rt::Tensor& b) {
  return a.size_bytes() == b.size_bytes() &&
         std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

bool SameOutputs(const std::map<std::string, rt::Tensor>& a,
                 const std::map<std::string, rt::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || !SameBits(t, it->second)) return false;
  }
  return true;
}

class StressTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cases_ = new std::vector<Case>();
    cases_->push_back({"regression", Regression()});
    cases_->push_back({"softmax", Softmax()});
    uint64_t seed = 1;
    for (Case& c : *cases_) {
      c.path = TempPath(c.name + ".so");
      absl::Status compiled = CompileToSharedLibrary(c.graph, c.path);
      ASSERT_TRUE(compiled.ok()) << compiled;
      auto module = rt::Module::Load(c.path);
      ASSERT_TRUE(module.ok()) << module.status().message();
      c.module = std::move(*module);
      c.module->set_num_threads(1);
      std::mt19937_64 rng(seed++);
      for (int k = 0; k < kInputSets; ++k) {
        std::map<std::string, rt::Tensor> in;
        for (const rt::ArgSpec& spec : c.module->signature().inputs) {
          in[spec.name] = RandomTensor(spec, rng);
        }
        auto out = c.module->Run(in);
        ASSERT_TRUE(out.ok()) << out.status().message();
        c.inputs.push_back(std::move(in));
        c.expected.push_back(std::move(*out));
      }
      c.module->set_num_threads(0);
    }
  }
  static void TearDownTestSuite() { delete cases_; }

  static std::vector<Case>* cases_;
};

std::vector<Case>* StressTest::cases_ = nullptr;

// Every pool size gives the single-threaded bits: the schedules never split
// a reduction across threads (each output element is reduced by one thread,
// in one order), so no bound is needed.
TEST_F(StressTest, EveryThreadCountGivesTheSameBits) {
  for (Case& c : *cases_) {
    for (int threads : {1, 2, 3, 4, 8, 0}) {
      c.module->set_num_threads(threads);
      for (int k = 0; k < kInputSets; k += 5) {
        auto out = c.module->Run(c.inputs[k]);
        ASSERT_TRUE(out.ok()) << out.status().message();
        EXPECT_TRUE(SameOutputs(*out, c.expected[k]))
            << c.name << " with " << threads << " threads, input " << k;
      }
    }
    c.module->set_num_threads(0);
  }
}

// 8 threads x RunsPerThread() runs over both modules and all input sets,
// while a ninth thread loads, runs and unloads modules of both files (the
// same artifacts, shared with the running modules, and freshly loaded
// copies) and a tenth resizes the softmax module's pool.
TEST_F(StressTest, ManyThreadsLoadsAndResizesGiveTheSameBits) {
  const int runs = RunsPerThread();
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, mismatches{0}, loads{0}, resizes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < runs; ++i) {
        const Case& c = (*cases_)[(t + i) % cases_->size()];
        const int k = (t * 7 + i) % kInputSets;
        auto out = c.module->Run(c.inputs[k]);
        if (!out.ok()) {
          ++failures;
        } else if (!SameOutputs(*out, c.expected[k])) {
          ++mismatches;
        }
      }
    });
  }
  std::thread loader([&] {
    while (!done) {
      for (const Case& c : *cases_) {
        auto module = rt::Module::Load(c.path);
        if (!module.ok()) {
          ++failures;
          continue;
        }
        auto out = (*module)->Run(c.inputs[loads % kInputSets]);
        if (!out.ok() || !SameOutputs(*out, c.expected[loads % kInputSets])) {
          ++mismatches;
        }
        ++loads;
      }  // Unloaded here.
    }
  });
  std::thread resizer([&] {
    while (!done) {
      (*cases_)[1].module->set_num_threads(1 + resizes % 4);
      ++resizes;
      std::this_thread::yield();
    }
  });
  for (int t = 0; t < kThreads; ++t) threads[t].join();
  // Resizes get their turn while runs keep starting (the pool lock prefers
  // them: a reader-preferring lock let one resize wait for all 8000 runs).
  const int resizes_while_running = resizes;
  done = true;
  loader.join();
  resizer.join();
  (*cases_)[1].module->set_num_threads(0);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(loads, 0);
  EXPECT_GE(resizes_while_running, std::min(10, runs / 10));
  std::printf("%d threads x %d runs, %d loads, %d pool resizes\n", kThreads,
              runs, loads.load(), resizes_while_running);
}

}  // namespace
}  // namespace adc
