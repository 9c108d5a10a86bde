// Real artifacts through the runtime: signature, parameters, two artifacts
// side by side, many threads, misaligned caller buffers, gradient
// accumulation and argument checking.
#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "codegen/compile.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "runtime/module.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

// loss = mean((tanh(x @ w^T + b) - t)^2) with parameters w [4, 8], b [4];
// gradients w.r.t. w, b and x.
Graph RegressionGraph() {
  GraphBuilder g("regression");
  Value x = g.Input("x", DType::kF32, {16, 8});
  Value t = g.Input("t", DType::kF32, {16, 4});
  std::vector<double> w0(32), b0(4);
  for (int i = 0; i < 32; ++i) w0[i] = 0.05 * ((i * 7) % 11 - 5);
  for (int i = 0; i < 4; ++i) b0[i] = 0.1 * i;
  Value w = g.Parameter("w", Tensor::FromDoubles({DType::kF32, {4, 8}}, w0));
  Value b = g.Parameter("b", Tensor::FromDoubles({DType::kF32, {4}}, b0));
  g.Output("loss", MseLoss(Tanh(Linear(x, w, b)), t));
  auto graph = g.Build();
  EXPECT_TRUE(graph.ok()) << graph.status();
  EXPECT_TRUE(AddGradients(&*graph, {.of = "loss"}).ok());
  return *std::move(graph);
}

std::vector<float> Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

class ArtifactTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    graph_ = new Graph(RegressionGraph());
    ASSERT_TRUE(
        CompileToSharedLibrary(*graph_, TempPath("regression.so")).ok());
  }
  static void TearDownTestSuite() { delete graph_; }

  std::unique_ptr<rt::Module> Load() {
    auto m = rt::Module::Load(TempPath("regression.so"));
    EXPECT_TRUE(m.ok()) << m.status().message();
    return std::move(*m);
  }

  static Graph* graph_;
  std::vector<float> x_ = Random(16 * 8, 1), t_ = Random(16 * 4, 2);
};

Graph* ArtifactTest::graph_ = nullptr;

TEST_F(ArtifactTest, SignatureDescribesTheGraph) {
  auto m = Load();
  const rt::Signature& s = m->signature();
  EXPECT_EQ(s.graph_name, "regression");
  ASSERT_EQ(s.inputs.size(), 2u);
  EXPECT_EQ(s.inputs[0].name, "x");
  EXPECT_EQ(s.inputs[0].TypeString(), "f32[16,8]");
  ASSERT_EQ(s.parameters.size(), 2u);
  EXPECT_EQ(s.parameters[0].name, "w");
  EXPECT_EQ(reinterpret_cast<const float*>(s.parameters[0].default_data)[1],
            0.05f * 2);
  ASSERT_EQ(s.outputs.size(), 5u);
  EXPECT_EQ(s.outputs[0].name, "loss");
  EXPECT_FALSE(s.outputs[0].is_gradient);
  for (int i = 1; i < 5; ++i) EXPECT_TRUE(s.outputs[i].is_gradient);
  EXPECT_EQ(s.outputs[1].name, "x.grad");
  EXPECT_EQ(s.outputs[3].name, "w.grad");
  EXPECT_FALSE(s.target.empty());
}

// The compiled result equals the interpreter, with stored and overridden
// parameters.
TEST_F(ArtifactTest, MatchesInterpreterWithDefaultAndOverriddenParameters) {
  auto m = Load();
  for (bool override_w : {false, true}) {
    std::vector<float> w = Random(32, 3);
    std::map<std::string, rt::ConstBuffer> in = {
        {"x", rt::ConstBuffer::Of(x_, {16, 8})},
        {"t", rt::ConstBuffer::Of(t_, {16, 4})}};
    std::map<std::string, Tensor> feeds = {
        {"x", Tensor::FromDoubles({DType::kF32, {16, 8}},
                                  std::vector<double>(x_.begin(), x_.end()))},
        {"t", Tensor::FromDoubles({DType::kF32, {16, 4}},
                                  std::vector<double>(t_.begin(), t_.end()))}};
    if (override_w) {
      in["w"] = rt::ConstBuffer::Of(w, {4, 8});
      feeds["w"] = Tensor::FromDoubles({DType::kF32, {4, 8}},
                                       std::vector<double>(w.begin(), w.end()));
    }
    std::vector<float> loss(1), wg(32);
    rt::Status s = m->Run(in, {{"loss", rt::Buffer::Of(loss, {})},
                               {"w.grad", rt::Buffer::Of(wg, {4, 8})}});
    ASSERT_TRUE(s.ok()) << s.message();
    auto expected = Interpret(*graph_, feeds);
    ASSERT_TRUE(expected.ok()) << expected.status();
    EXPECT_NEAR(loss[0], (*expected)["loss"].GetDouble(0), 1e-5);
    for (int i = 0; i < 32; ++i) {
      EXPECT_NEAR(wg[i], (*expected)["w.grad"].GetDouble(i), 1e-5) << i;
    }
  }
}

TEST_F(ArtifactTest, EightThreadsGiveTheSingleThreadedResult) {
  auto m = Load();
  auto run = [&](std::vector<float>* wg) {
    return m->Run({{"x", rt::ConstBuffer::Of(x_, {16, 8})},
                   {"t", rt::ConstBuffer::Of(t_, {16, 4})}},
                  {{"w.grad", rt::Buffer::Of(*wg, {4, 8})}});
  };
  std::vector<float> reference(32);
  ASSERT_TRUE(run(&reference).ok());
  std::vector<std::vector<float>> results(8, std::vector<float>(32));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      for (int rep = 0; rep < 20; ++rep) {
        if (!run(&results[k]).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  for (const auto& r : results) EXPECT_EQ(r, reference);
}

// set_num_threads stops and restarts the thread pool; called while other
// threads run the module (on work large enough to use the pool), it waits
// for them and the results stay exact. Runs `runner` on 4 threads while
// resizing the pool through `resizer` (the same Module, or another loaded
// from the same file, which shares the artifact and its pool).
void ResizePoolWhileRunning(const std::string& path, bool two_modules) {
  constexpr int64_t kN = 1 << 18;
  GraphBuilder b("pool");
  Value x = b.Input("x", DType::kF32, {kN});
  b.Output("y", Sin(x) * Exp(-Square(x)) + Sqrt(Abs(x)));
  auto g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(CompileToSharedLibrary(*g, path).ok());
  auto m = rt::Module::Load(path);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto m2 = rt::Module::Load(path);
  ASSERT_TRUE(m2.ok()) << m2.status().message();
  rt::Module& module = **m;
  rt::Module& resizer = two_modules ? **m2 : module;
  std::vector<float> in(kN);
  for (int64_t i = 0; i < kN; ++i)
    in[i] = 0.001f * static_cast<float>(i % 7919);
  auto run = [&](std::vector<float>* out) {
    return module.Run({{"x", rt::ConstBuffer::Of(in, {kN})}},
                      {{"y", rt::Buffer::Of(*out, {kN})}});
  };
  std::vector<float> reference(kN);
  ASSERT_TRUE(run(&reference).ok());
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, mismatches{0}, runs{0};
  std::vector<std::thread> runners;
  for (int k = 0; k < 4; ++k) {
    runners.emplace_back([&] {
      std::vector<float> out(kN);
      while (!done) {
        if (!run(&out).ok()) ++failures;
        if (out != reference) ++mismatches;
        ++runs;
      }
    });
  }
  for (int i = 0; i < 200; ++i) resizer.set_num_threads(1 + i % 3);
  while (runs < 20) std::this_thread::yield();
  done = true;
  for (std::thread& t : runners) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(mismatches, 0);
  module.set_num_threads(0);
}

TEST(ThreadPoolTest, SetNumThreadsWhileOtherThreadsRun) {
  ResizePoolWhileRunning(TempPath("pool.so"), /*two_modules=*/false);
}

// Two Modules loaded from one file share the artifact's thread pool, and so
// its lock: resizing through one waits for the runs of the other.
TEST(ThreadPoolTest, SetNumThreadsOnAnotherModuleOfTheSameFile) {
  ResizePoolWhileRunning(TempPath("pool2.so"), /*two_modules=*/true);
}

TEST_F(ArtifactTest, TwoDifferentArtifactsInOneProcess) {
  GraphBuilder b("other");
  Value x = b.Input("x", DType::kF32, {1000});
  b.Output("y", Sum(Exp(x)));
  auto other = b.Build();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(CompileToSharedLibrary(*other, TempPath("other.so")).ok());
  auto m1 = Load();
  auto m2 = rt::Module::Load(TempPath("other.so"));
  ASSERT_TRUE(m2.ok()) << m2.status().message();
  (*m2)->set_num_threads(1);
  std::vector<float> ones(1000, 1.0f), y(1), loss(1);
  for (int rep = 0; rep < 3; ++rep) {
    ASSERT_TRUE((*m2)
                    ->Run({{"x", rt::ConstBuffer::Of(ones, {1000})}},
                          {{"y", rt::Buffer::Of(y, {})}})
                    .ok());
    EXPECT_NEAR(y[0], 1000 * std::exp(1.0), 1e-2);
    ASSERT_TRUE(m1->Run({{"x", rt::ConstBuffer::Of(x_, {16, 8})},
                         {"t", rt::ConstBuffer::Of(t_, {16, 4})}},
                        {{"loss", rt::Buffer::Of(loss, {})}})
                    .ok());
    EXPECT_GT(loss[0], 0);
  }
}

// Callers' buffers need not be aligned beyond their element size.
TEST_F(ArtifactTest, MisalignedBuffers) {
  auto m = Load();
  std::vector<float> aligned(32);
  ASSERT_TRUE(m->Run({{"x", rt::ConstBuffer::Of(x_, {16, 8})},
                      {"t", rt::ConstBuffer::Of(t_, {16, 4})}},
                     {{"w.grad", rt::Buffer::Of(aligned, {4, 8})}})
                  .ok());
  std::vector<float> xs(16 * 8 + 1), ts(16 * 4 + 3), out(32 + 5);
  std::memcpy(xs.data() + 1, x_.data(), x_.size() * 4);
  std::memcpy(ts.data() + 3, t_.data(), t_.size() * 4);
  rt::Buffer xb{xs.data() + 1, x_.size() * 4, rt::DType::kF32, {16, 8}};
  rt::Buffer tb{ts.data() + 3, t_.size() * 4, rt::DType::kF32, {16, 4}};
  rt::Buffer ob{out.data() + 5, 32 * 4, rt::DType::kF32, {4, 8}};
  ASSERT_TRUE(m->Run({{"x", xb}, {"t", tb}}, {{"w.grad", ob}}).ok());
  EXPECT_EQ(std::vector<float>(out.begin() + 5, out.end()), aligned);
}

TEST_F(ArtifactTest, AccumulatesGradientsLikePyTorch) {
  auto m = Load();
  std::vector<float> once(32), acc(32), loss(1);
  std::map<std::string, rt::ConstBuffer> in = {
      {"x", rt::ConstBuffer::Of(x_, {16, 8})},
      {"t", rt::ConstBuffer::Of(t_, {16, 4})}};
  ASSERT_TRUE(m->Run(in, {{"w.grad", rt::Buffer::Of(once, {4, 8})}}).ok());
  std::map<std::string, rt::Buffer> out = {
      {"w.grad", rt::Buffer::Of(acc, {4, 8})},
      {"loss", rt::Buffer::Of(loss, {})}};
  ASSERT_TRUE(m->ZeroGradients(out).ok());
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(m->Run(in, out, {.accumulate_gradients = true}).ok());
  }
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(acc[i], 3 * once[i], 1e-6) << i;
  ASSERT_TRUE(m->ZeroGradients(out).ok());
  EXPECT_EQ(acc, std::vector<float>(32, 0.0f));
}

TEST_F(ArtifactTest, WrongBuffersAreRejectedBeforeRunning) {
  auto m = Load();
  std::vector<float> out(32, 7.0f);
  std::vector<double> x64(16 * 8);
  rt::Status s = m->Run({{"x", rt::ConstBuffer::Of(x64, {16, 8})},
                         {"t", rt::ConstBuffer::Of(t_, {16, 4})}},
                        {{"w.grad", rt::Buffer::Of(out, {4, 8})}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("'x'"));
  s = m->Run({{"x", rt::ConstBuffer::Of(x_, {8, 16})},
              {"t", rt::ConstBuffer::Of(t_, {16, 4})}},
             {{"w.grad", rt::Buffer::Of(out, {4, 8})}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("f32[16,8]"));
  s = m->Run({{"x", rt::ConstBuffer::Of(x_, {16, 8})}},
             {{"w.grad", rt::Buffer::Of(out, {4, 8})}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("'t'"));
  EXPECT_EQ(out, std::vector<float>(32, 7.0f));
}

TEST(CompileErrorsTest, ClearErrors) {
  GraphBuilder b("g");
  Value x = b.Input("x", DType::kF32, {3});
  b.Output("x", x * 2.0);
  auto g = b.Build();
  ASSERT_TRUE(g.ok());
  absl::Status s = CompileToSharedLibrary(*g, TempPath("dup.so"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("output 'x'"));
  GraphBuilder b2("g2");
  b2.Output("y", b2.Input("y_in", DType::kF32, {3}) * 2.0);
  auto g2 = b2.Build();
  ASSERT_TRUE(g2.ok());
  s = CompileToSharedLibrary(*g2, TempPath("bad_target.so"),
                             {.target = "x86-64-nonsense"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("invalid Halide target"));
  EXPECT_LT(s.message().size(), 400u);
  s = CompileToSharedLibrary(*g2, TempPath("arm.so"),
                             {.target = "arm-64-linux"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("cross-compilation is not supported"));
  s = CompileToStaticLibrary(*g2, TempPath("cuda"), "f",
                             {.target = "host-cuda"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("GPU"));
  s = CompileToSharedLibrary(*g2, "/nonexistent-dir/out.so");
  ASSERT_FALSE(s.ok());
}

// adc compile seals what it writes, and the runtime checks the seal, the
// ELF machine and the CPU features of the target before running anything.
TEST_F(ArtifactTest, CorruptedOrForeignArtifactsAreRefusedAtLoad) {
  const std::string path = TempPath("regression.so");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
  }
  ASSERT_GT(bytes.size(), 1000u);
  // The stored parameter values sit in the file; flip one bit of w's.
  const std::string corrupted = TempPath("corrupted.so");
  std::string flipped = bytes;
  std::vector<float> w(32);  // RegressionGraph's w, as stored (f32).
  for (int i = 0; i < 32; ++i)
    w[i] = static_cast<float>(0.05 * ((i * 7) % 11 - 5));
  const std::string w_bytes(reinterpret_cast<const char*>(w.data()),
                            w.size() * sizeof(float));
  const size_t at = flipped.find(w_bytes);
  ASSERT_NE(at, std::string::npos);
  flipped[at + 5] ^= 4;
  std::ofstream(corrupted, std::ios::binary) << flipped;
  auto m = rt::Module::Load(corrupted);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("checksum mismatch"));

  // Compiled for a CPU feature this one lacks (Knights Landing's AVX-512
  // extensions): refused with the missing features named, not run into an
  // illegal instruction.
  CompileOptions knl;
  knl.target = "x86-64-linux-avx-avx2-avx512-avx512_knl-f16c-fma-sse41";
  const std::string knl_path = TempPath("knl.so");
  ASSERT_TRUE(CompileToSharedLibrary(*graph_, knl_path, knl).ok());
  auto k = rt::Module::Load(knl_path);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(),
              HasSubstr("needs CPU features this CPU lacks (avx512pf, "
                        "avx512er)"));
}

}  // namespace
}  // namespace adc
