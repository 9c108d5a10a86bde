#include "runtime/module.h"

#include <dlfcn.h>
#include <elf.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/module_internal.h"
#include "runtime/seal.h"
#include "runtime/test_main.h"

namespace adc::rt {
namespace {

using ::adc::rt::testing::TestPath;
using ::testing::HasSubstr;

// A test hook exported by the fake artifacts (not part of the ABI), looked up
// in the copy that `path` refers to (already loaded by a Module).
template <typename Fn>
Fn Hook(const std::string& path, const char* symbol) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) {
    ADD_FAILURE() << path << " is not loaded";
    return nullptr;
  }
  Fn fn = reinterpret_cast<Fn>(dlsym(handle, symbol));
  dlclose(handle);  // The Module keeps its own reference.
  return fn;
}

long RunCount(const std::string& path) {
  auto fn = Hook<long (*)()>(path, "fake_artifact_run_count");
  return fn ? fn() : -1;
}

int NumThreads(const std::string& path) {
  auto fn = Hook<int (*)()>(path, "fake_artifact_num_threads");
  return fn ? fn() : -1;
}

std::unique_ptr<Module> LoadOrDie(const std::string& path) {
  auto module = Module::Load(path);
  if (!module.ok()) {
    ADD_FAILURE() << module.status().message();
    return nullptr;
  }
  return std::move(*module);
}

// fake_affine.c, computed the same way.
struct AffineResult {
  std::vector<float> y = std::vector<float>(6);
  double loss = 0;
  std::vector<float> x_grad = std::vector<float>(6);
  std::vector<float> p_grad = std::vector<float>(3);
};

AffineResult ExpectedAffine(const std::vector<float>& x,
                            const std::vector<float>& p = {1, 2, 3}) {
  AffineResult r;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      const float v = x[i * 3 + j];
      r.y[i * 3 + j] = 2 * v + p[j];
      r.loss += static_cast<double>(v) * v * p[j];
      r.x_grad[i * 3 + j] = 2 * v * p[j];
      r.p_grad[j] += v * v;
    }
  }
  return r;
}

// Output buffers for fake_affine, filled with a sentinel.
struct AffineOutputs {
  static constexpr float kSentinel = -12345.0f;
  std::vector<float> y = std::vector<float>(6, kSentinel);
  std::vector<double> loss = std::vector<double>(1, kSentinel);
  std::vector<float> x_grad = std::vector<float>(6, kSentinel);
  std::vector<float> p_grad = std::vector<float>(3, kSentinel);

  std::map<std::string, Buffer> Buffers() {
    return {{"y", Buffer::Of(y, {2, 3})},
            {"loss", Buffer::Of(loss, {})},
            {"x.grad", Buffer::Of(x_grad, {2, 3})},
            {"p.grad", Buffer::Of(p_grad, {3})}};
  }
  bool Untouched() const {
    auto all = [](const auto& v) {
      for (auto e : v) {
        if (e != kSentinel) return false;
      }
      return true;
    };
    return all(y) && all(loss) && all(x_grad) && all(p_grad);
  }
};

class AffineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = TestPath("affine");
    module_ = LoadOrDie(path_);
    ASSERT_NE(module_, nullptr);
  }

  // Runs with the given inputs into fresh sentinel-filled outputs, expecting
  // an error containing `message`, nothing written and the artifact not
  // called.
  void ExpectRunError(const std::map<std::string, ConstBuffer>& inputs,
                      const std::string& message) {
    AffineOutputs out;
    const long runs = RunCount(path_);
    Status s = module_->Run(inputs, out.Buffers());
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.message(), HasSubstr(message));
    EXPECT_TRUE(out.Untouched());
    EXPECT_EQ(RunCount(path_), runs) << "the artifact ran";
  }

  std::string path_;
  std::unique_ptr<Module> module_;
  std::vector<float> x_ = {1, -2, 3, 0.5, 5, -6};
};

// ---------------------------------------------------------------------------
// Helpers of module.h.

TEST(DTypeTest, NamesAndSizes) {
  EXPECT_STREQ(DTypeName(DType::kF32), "f32");
  EXPECT_STREQ(DTypeName(DType::kF64), "f64");
  EXPECT_STREQ(DTypeName(DType::kI32), "i32");
  EXPECT_STREQ(DTypeName(DType::kI64), "i64");
  EXPECT_STREQ(DTypeName(DType::kBool), "bool");
  EXPECT_STREQ(DTypeName(static_cast<DType>(42)), "invalid");
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kF64), 8u);
  EXPECT_EQ(DTypeSize(DType::kI32), 4u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  EXPECT_EQ(DTypeSize(static_cast<DType>(42)), 0u);
}

TEST(ArgSpecTest, ElementsBytesAndTypeString) {
  ArgSpec scalar{"s", DType::kF64, {}};
  EXPECT_EQ(scalar.num_elements(), 1);
  EXPECT_EQ(scalar.num_bytes(), 8u);
  EXPECT_EQ(scalar.TypeString(), "f64[]");
  ArgSpec matrix{"m", DType::kI32, {2, 3}};
  EXPECT_EQ(matrix.num_elements(), 6);
  EXPECT_EQ(matrix.num_bytes(), 24u);
  EXPECT_EQ(matrix.TypeString(), "i32[2,3]");
  ArgSpec empty{"e", DType::kBool, {4, 0}};
  EXPECT_EQ(empty.num_elements(), 0);
  EXPECT_EQ(empty.TypeString(), "bool[4,0]");
}

TEST(TensorTest, ZeroFilledAndBuffers) {
  Tensor t(DType::kF64, {2, 2});
  EXPECT_EQ(t.num_elements(), 4);
  EXPECT_EQ(t.size_bytes(), 32u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t.data_as<double>()[i], 0.0);
  Buffer b = t.buffer();
  EXPECT_EQ(b.data, t.data());
  EXPECT_EQ(b.size_bytes, 32u);
  EXPECT_EQ(b.dtype, DType::kF64);
  EXPECT_EQ(b.dims, (std::vector<int64_t>{2, 2}));
  const Tensor& ct = t;
  ConstBuffer cb = ct.buffer();
  EXPECT_EQ(cb.data, t.data());
  EXPECT_EQ(cb.size_bytes, 32u);

  Tensor scalar(DType::kBool, {});
  EXPECT_EQ(scalar.num_elements(), 1);
  EXPECT_EQ(scalar.size_bytes(), 1u);
  Tensor negative(DType::kF32, {3, -1});
  EXPECT_EQ(negative.num_elements(), 0);
  EXPECT_EQ(negative.size_bytes(), 0u);
}

TEST(BufferTest, Of) {
  std::vector<int64_t> v(6);
  Buffer b = Buffer::Of(v, {2, 3});
  EXPECT_EQ(b.data, v.data());
  EXPECT_EQ(b.size_bytes, 48u);
  EXPECT_EQ(b.dtype, DType::kI64);
  std::vector<uint8_t> flags(3);
  ConstBuffer c = ConstBuffer::Of(flags, {3});
  EXPECT_EQ(c.dtype, DType::kBool);
  EXPECT_EQ(c.size_bytes, 3u);
}

// ---------------------------------------------------------------------------
// Load.

TEST(LoadTest, Signature) {
  auto module = LoadOrDie(TestPath("affine"));
  ASSERT_NE(module, nullptr);
  EXPECT_EQ(module->path(), TestPath("affine"));
  const Signature& sig = module->signature();
  EXPECT_EQ(sig.graph_name, "fake_affine");
  EXPECT_EQ(sig.target, "x86-64-linux");
  EXPECT_EQ(sig.adc_version, "fake-adc-0");
  ASSERT_EQ(sig.inputs.size(), 1u);
  EXPECT_EQ(sig.inputs[0].name, "x");
  EXPECT_EQ(sig.inputs[0].TypeString(), "f32[2,3]");
  EXPECT_EQ(sig.inputs[0].default_data, nullptr);
  ASSERT_EQ(sig.parameters.size(), 1u);
  EXPECT_EQ(sig.parameters[0].name, "p");
  EXPECT_EQ(sig.parameters[0].TypeString(), "f32[3]");
  ASSERT_NE(sig.parameters[0].default_data, nullptr);
  const float* p = static_cast<const float*>(sig.parameters[0].default_data);
  EXPECT_EQ(p[0], 1.0f);
  EXPECT_EQ(p[2], 3.0f);
  ASSERT_EQ(sig.outputs.size(), 4u);
  EXPECT_EQ(sig.outputs[0].name, "y");
  EXPECT_FALSE(sig.outputs[0].is_gradient);
  EXPECT_EQ(sig.outputs[1].name, "loss");
  EXPECT_EQ(sig.outputs[1].TypeString(), "f64[]");
  EXPECT_EQ(sig.outputs[2].name, "x.grad");
  EXPECT_TRUE(sig.outputs[2].is_gradient);
  EXPECT_EQ(sig.outputs[3].name, "p.grad");
  EXPECT_TRUE(sig.outputs[3].is_gradient);

  auto other = LoadOrDie(TestPath("other"));
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->signature().target, "");  // NULL in the artifact.
  EXPECT_EQ(other->signature().inputs[1].TypeString(), "i64[]");
}

TEST(LoadTest, MissingFile) {
  auto module = Module::Load("runtime/testdata/no_such_artifact.so");
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(),
              HasSubstr("'runtime/testdata/no_such_artifact.so'"));
  EXPECT_THAT(module.status().message(), HasSubstr("no such file"));

  EXPECT_FALSE(Module::Load("").ok());
}

TEST(LoadTest, BareNameIsAPathNotALibrarySearch) {
  // dlopen("libc.so.6") would find the system's libc; Load looks only at
  // ./libc.so.6.
  auto module = Module::Load("libc.so.6");
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(), HasSubstr("no such file"));
}

TEST(LoadTest, DirectoryOrDevice) {
  auto module = Module::Load("runtime");
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(), HasSubstr("is a directory"));
  module = Module::Load("/dev/null");
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(), HasSubstr("not a regular file"));
}

std::string TempFile(const std::string& name, const std::string& contents) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

// A copy of `bytes` in a file, sealed as adc compile seals artifacts.
std::string SealedFile(const std::string& name, const std::string& bytes) {
  const std::string path = TempFile(name, bytes);
  const Status s = SealArtifact(path);
  EXPECT_TRUE(s.ok()) << s.message();
  return path;
}

TEST(LoadTest, TruncatedArtifact) {
  const std::string bytes = ReadBytes(TestPath("affine"));
  ASSERT_GT(bytes.size(), 4096u);
  // Cut inside the ELF header, the program headers, the first segment, and
  // half-way: the seal is gone, so the cut is seen before dlopen.
  for (size_t size : {size_t{10}, size_t{64}, size_t{200}, size_t{1000},
                      bytes.size() / 2, bytes.size() - 1}) {
    SCOPED_TRACE(size);
    const std::string path = TempFile(
        "truncated_" + std::to_string(size) + ".so", bytes.substr(0, size));
    auto module = Module::Load(path);
    ASSERT_FALSE(module.ok());
    EXPECT_THAT(module.status().message(), HasSubstr(path));
    EXPECT_THAT(module.status().message(), HasSubstr("no adc seal"));
  }
  // Cut and then sealed again: the ELF checks still refuse it (a cut in a
  // later segment would crash dlopen with SIGBUS were it not caught first).
  const std::string unsealed = bytes.substr(0, bytes.size() - kSealSize);
  for (size_t size :
       {size_t{10}, size_t{64}, size_t{200}, size_t{1000}, bytes.size() / 2}) {
    SCOPED_TRACE(size);
    auto module = Module::Load(SealedFile("cut_" + std::to_string(size) + ".so",
                                          unsealed.substr(0, size)));
    ASSERT_FALSE(module.ok());
    const std::string& m = module.status().message();
    EXPECT_TRUE(m.find("truncated") != std::string::npos ||
                m.find("not a loadable shared library") != std::string::npos)
        << m;
  }
  auto half = Module::Load(
      SealedFile("half.so", unsealed.substr(0, unsealed.size() / 2)));
  ASSERT_FALSE(half.ok());
  EXPECT_THAT(half.status().message(), HasSubstr("truncated file"));
  auto tiny = Module::Load(SealedFile("tiny.so", unsealed.substr(0, 10)));
  ASSERT_FALSE(tiny.ok());
  EXPECT_THAT(tiny.status().message(), HasSubstr("file too short"));  // dlerror
}

TEST(LoadTest, TextFileNamedSo) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "this is not a shared library\n";
  auto module = Module::Load(TempFile("text.so", text));
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(), HasSubstr("no adc seal"));
  module = Module::Load(SealedFile("sealed_text.so", text));
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(),
              HasSubstr("not a loadable shared library"));
  EXPECT_THAT(module.status().message(), HasSubstr("invalid ELF header"));
}

TEST(LoadTest, EmptyFile) {
  auto module = Module::Load(TempFile("empty.so", ""));
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(), HasSubstr("no adc seal"));
  module = Module::Load(SealedFile("sealed_empty.so", ""));
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(),
              HasSubstr("not a loadable shared library"));
}

TEST(SealTest, UnsealedArtifactIsRefused) {
  auto module = Module::Load(TestPath("affine_unsealed"));
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(), HasSubstr("no adc seal"));
  EXPECT_THAT(module.status().message(), HasSubstr("adc_seal"));
  // Sealing it (adc_seal) makes it loadable; sealing twice changes nothing.
  const std::string path =
      SealedFile("resealed.so", ReadBytes(TestPath("affine_unsealed")));
  const std::string once = ReadBytes(path);
  ASSERT_TRUE(SealArtifact(path).ok());
  EXPECT_EQ(ReadBytes(path), once);
  EXPECT_EQ(once, ReadBytes(TestPath("affine")));
  auto sealed = Module::Load(path);
  EXPECT_TRUE(sealed.ok()) << sealed.status().message();
}

TEST(SealTest, EveryFlippedBitIsRefusedBeforeDlopen) {
  const std::string bytes = ReadBytes(TestPath("affine"));
  ASSERT_GT(bytes.size(), kSealSize);
  // Bits spread over the whole file (ELF headers, code, the signature's
  // data, the parameter values, section tables) and every byte of the seal.
  std::vector<size_t> positions;
  for (size_t i = 0; i < bytes.size() - kSealSize; i += 61)
    positions.push_back(i);
  for (size_t i = bytes.size() - kSealSize; i < bytes.size(); ++i) {
    positions.push_back(i);
  }
  const std::string path = TempFile("flipped.so", "");
  for (size_t i : positions) {
    SCOPED_TRACE(i);
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ (1 << (i % 8)));
    std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
    auto module = Module::Load(path);
    ASSERT_FALSE(module.ok());
    const std::string& m = module.status().message();
    EXPECT_TRUE(m.find("checksum mismatch") != std::string::npos ||
                m.find("no adc seal") != std::string::npos ||
                m.find("seal version") != std::string::npos ||
                m.find("the seal covers") != std::string::npos)
        << m;
  }
  auto appended = Module::Load(TempFile("appended.so", bytes + "x"));
  ASSERT_FALSE(appended.ok());
  EXPECT_THAT(appended.status().message(), HasSubstr("no adc seal"));
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 1;
  auto corrupted = Module::Load(TempFile("corrupted.so", flipped));
  ASSERT_FALSE(corrupted.ok());
  EXPECT_THAT(corrupted.status().message(),
              HasSubstr("checksum mismatch: the contents have CRC-32 0x"));
  EXPECT_THAT(corrupted.status().message(), HasSubstr("recompile it"));
}

TEST(SealTest, AnotherArchitectureIsRefused) {
  std::string bytes = ReadBytes(TestPath("affine"));
  bytes.resize(bytes.size() - kSealSize);
  // e_machine (bytes 18-19): AArch64, as if it had been compiled there.
  bytes[18] = static_cast<char>(EM_AARCH64 & 0xff);
  bytes[19] = static_cast<char>(EM_AARCH64 >> 8);
  auto module = Module::Load(SealedFile("aarch64.so", bytes));
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(),
              HasSubstr("an ELF file for another architecture (AArch64), "
                        "this is x86-64"));
}

TEST(SealTest, TargetsThisCpuCannotRun) {
  using internal::CheckTargetRunsHere;
  EXPECT_TRUE(CheckTargetRunsHere("", "").ok());
  EXPECT_TRUE(CheckTargetRunsHere("x86-64-linux", "").ok());
  EXPECT_TRUE(
      CheckTargetRunsHere("x86-64-linux-no_asserts-no_runtime", "").ok());
  EXPECT_FALSE(CheckTargetRunsHere("x86-32-linux", "").ok());
  EXPECT_FALSE(CheckTargetRunsHere("arm-64-linux", "").ok());
  EXPECT_FALSE(CheckTargetRunsHere("x86", "").ok());
  // Each feature level the host has is accepted; a missing one is named.
  const struct {
    const char* feature;
    bool host_has;
  } levels[] = {
      {"sse41", __builtin_cpu_supports("sse4.1") != 0},
      {"avx2", __builtin_cpu_supports("avx2") != 0},
      {"fma", __builtin_cpu_supports("fma") != 0},
      {"avx512_skylake", __builtin_cpu_supports("avx512f") &&
                             __builtin_cpu_supports("avx512cd") &&
                             __builtin_cpu_supports("avx512vl") &&
                             __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512dq")},
      {"avx512_knl", false},  // avx512pf and avx512er: Xeon Phi only.
  };
  for (const auto& level : levels) {
    SCOPED_TRACE(level.feature);
    const Status s = CheckTargetRunsHere(
        std::string("x86-64-linux-") + level.feature, "at: ");
    EXPECT_EQ(s.ok(), level.host_has) << s.message();
    if (!s.ok()) {
      EXPECT_THAT(s.message(), HasSubstr("at: compiled for target "));
      EXPECT_THAT(s.message(), HasSubstr("this CPU lacks"));
    }
  }
}

TEST(LoadTest, ForeignSharedLibrary) {
  auto module = Module::Load(TestPath("foreign"));
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(), HasSubstr("not an adc artifact"));
  EXPECT_THAT(module.status().message(), HasSubstr(TestPath("foreign")));
}

struct InvalidCase {
  const char* defect;
  const char* message;
};

class InvalidArtifactTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidArtifactTest, IsRejected) {
  const std::string path =
      TestPath(std::string("invalid_") + GetParam().defect);
  auto module = Module::Load(path);
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.status().message(), HasSubstr(GetParam().message));
  EXPECT_THAT(module.status().message(), HasSubstr(path));
}

INSTANTIATE_TEST_SUITE_P(
    Defects, InvalidArtifactTest,
    ::testing::Values(
        InvalidCase{"abi_version_99",
                    "artifact ABI version 99, this runtime supports version 1"},
        InvalidCase{"duplicate_name", "duplicate name 'x'"},
        InvalidCase{"bad_dtype", "argument 0 ('x'): invalid dtype 7"},
        InvalidCase{"bad_rank", "argument 0 ('x'): invalid rank -1"},
        InvalidCase{"null_name", "argument 0 has no name"},
        InvalidCase{"null_signature", "null signature"},
        InvalidCase{"missing_run", "no adc_artifact_run symbol"},
        InvalidCase{"parameter_without_default",
                    "('p'): parameter without a stored value"},
        InvalidCase{"wrong_order", "('x'): out of order"},
        InvalidCase{"bad_kind", "('x'): invalid kind 5"},
        InvalidCase{"null_dims", "('x'): dims is null"},
        InvalidCase{"negative_dim", "negative dimension in f32[2,-3]"},
        InvalidCase{"null_args", "args is null"},
        InvalidCase{"target_arm",
                    "compiled for target 'arm-64-linux', not for this "
                    "machine (x86-64)"},
        InvalidCase{"target_knl",
                    "which needs CPU features this CPU lacks (avx512pf, "
                    "avx512er)"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) {
      return std::string(info.param.defect);
    });

// ---------------------------------------------------------------------------
// Run.

TEST_F(AffineTest, RunsAllOutputs) {
  AffineOutputs out;
  Status s = module_->Run({{"x", ConstBuffer::Of(x_, {2, 3})}}, out.Buffers());
  ASSERT_TRUE(s.ok()) << s.message();
  const AffineResult want = ExpectedAffine(x_);
  for (int i = 0; i < 6; ++i) {
    EXPECT_FLOAT_EQ(out.y[i], want.y[i]);
    EXPECT_FLOAT_EQ(out.x_grad[i], want.x_grad[i]);
  }
  for (int j = 0; j < 3; ++j) EXPECT_FLOAT_EQ(out.p_grad[j], want.p_grad[j]);
  EXPECT_DOUBLE_EQ(out.loss[0], want.loss);
}

TEST_F(AffineTest, ParameterDefaultAndOverride) {
  std::vector<float> y(6);
  ASSERT_TRUE(module_
                  ->Run({{"x", ConstBuffer::Of(x_, {2, 3})}},
                        {{"y", Buffer::Of(y, {2, 3})}})
                  .ok());
  EXPECT_EQ(y, ExpectedAffine(x_, {1, 2, 3}).y);

  const std::vector<float> p = {10, 20, 30};
  ASSERT_TRUE(module_
                  ->Run({{"x", ConstBuffer::Of(x_, {2, 3})},
                         {"p", ConstBuffer::Of(p, {3})}},
                        {{"y", Buffer::Of(y, {2, 3})}})
                  .ok());
  EXPECT_EQ(y, ExpectedAffine(x_, p).y);

  // The stored value is unchanged by an override.
  ASSERT_TRUE(module_
                  ->Run({{"x", ConstBuffer::Of(x_, {2, 3})}},
                        {{"y", Buffer::Of(y, {2, 3})}})
                  .ok());
  EXPECT_EQ(y, ExpectedAffine(x_, {1, 2, 3}).y);
}

TEST_F(AffineTest, OmittedOutputs) {
  std::vector<float> p_grad(3);
  const long runs = RunCount(path_);
  ASSERT_TRUE(module_
                  ->Run({{"x", ConstBuffer::Of(x_, {2, 3})}},
                        {{"p.grad", Buffer::Of(p_grad, {3})}})
                  .ok());
  EXPECT_EQ(p_grad, ExpectedAffine(x_).p_grad);
  // No outputs at all still runs (e.g. for timing).
  ASSERT_TRUE(module_->Run({{"x", ConstBuffer::Of(x_, {2, 3})}}, {}).ok());
  EXPECT_EQ(RunCount(path_), runs + 2);
}

TEST_F(AffineTest, LargerBuffersAreFine) {
  std::vector<float> x = x_;
  x.resize(100, 7.0f);
  std::vector<float> y(100, AffineOutputs::kSentinel);
  Buffer yb = Buffer::Of(y, {2, 3});
  ConstBuffer xb = ConstBuffer::Of(x, {2, 3});
  ASSERT_TRUE(module_->Run({{"x", xb}}, {{"y", yb}}).ok());
  const AffineResult want = ExpectedAffine(x_);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y[i], want.y[i]);
  for (int i = 6; i < 100; ++i) EXPECT_EQ(y[i], AffineOutputs::kSentinel);
}

TEST_F(AffineTest, ConvenienceRunAllocatesOutputs) {
  Tensor x(DType::kF32, {2, 3});
  std::copy(x_.begin(), x_.end(), x.data_as<float>());
  auto result = module_->Run({{"x", x}});
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->size(), 4u);
  const AffineResult want = ExpectedAffine(x_);
  const Tensor& y = result->at("y");
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y.data_as<float>()[i], want.y[i]);
  EXPECT_EQ(result->at("loss").dims(), std::vector<int64_t>{});
  EXPECT_DOUBLE_EQ(*result->at("loss").data_as<double>(), want.loss);
  EXPECT_EQ(result->at("p.grad").data_as<float>()[1], want.p_grad[1]);

  // Errors come through.
  auto missing = module_->Run(std::map<std::string, Tensor>{});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("missing input 'x'"));
  auto wrong = module_->Run({{"x", Tensor(DType::kF32, {6})}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "input 'x': expected f32[2,3], got f32[6]");
}

TEST_F(AffineTest, MissingInput) {
  ExpectRunError({}, "missing input 'x' (f32[2,3])");
  const std::vector<float> p = {1, 2, 3};
  ExpectRunError({{"p", ConstBuffer::Of(p, {3})}}, "missing input 'x'");
}

TEST_F(AffineTest, UnknownInput) {
  ExpectRunError(
      {{"x", ConstBuffer::Of(x_, {2, 3})}, {"z", ConstBuffer::Of(x_, {2, 3})}},
      "unknown input 'z' (inputs: x; parameters: p)");
}

TEST_F(AffineTest, OutputGivenAsInput) {
  ExpectRunError(
      {{"x", ConstBuffer::Of(x_, {2, 3})}, {"y", ConstBuffer::Of(x_, {2, 3})}},
      "'y' is an output");
}

TEST_F(AffineTest, WrongDType) {
  const std::vector<double> x(6);
  ExpectRunError({{"x", ConstBuffer::Of(x, {2, 3})}},
                 "input 'x': expected f32[2,3], got f64[2,3]");
}

TEST_F(AffineTest, WrongShape) {
  ExpectRunError({{"x", ConstBuffer::Of(x_, {3, 2})}},
                 "input 'x': expected f32[2,3], got f32[3,2]");
  ExpectRunError({{"x", ConstBuffer::Of(x_, {2, 3, 1})}},
                 "input 'x': expected f32[2,3], got f32[2,3,1]");
  const std::vector<float> p(4);
  ExpectRunError(
      {{"x", ConstBuffer::Of(x_, {2, 3})}, {"p", ConstBuffer::Of(p, {4})}},
      "parameter 'p': expected f32[3], got f32[4]");
}

TEST_F(AffineTest, TooSmallBuffer) {
  ConstBuffer x = ConstBuffer::Of(x_, {2, 3});
  x.size_bytes = 20;
  ExpectRunError({{"x", x}},
                 "input 'x': buffer holds 20 bytes, f32[2,3] needs 24");
}

TEST_F(AffineTest, NullData) {
  ConstBuffer x = ConstBuffer::Of(x_, {2, 3});
  x.data = nullptr;
  ExpectRunError({{"x", x}}, "input 'x': data is null");
}

TEST_F(AffineTest, BadOutputsWriteNothing) {
  const long runs = RunCount(path_);
  const std::map<std::string, ConstBuffer> inputs = {
      {"x", ConstBuffer::Of(x_, {2, 3})}};
  struct Case {
    std::string name;
    std::function<void(std::map<std::string, Buffer>*)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"shape", [](auto* b) { b->at("x.grad").dims = {6}; },
       "output 'x.grad': expected f32[2,3], got f32[6]"},
      {"dtype", [](auto* b) { b->at("loss").dtype = DType::kF32; },
       "output 'loss': expected f64[], got f32[]"},
      {"size", [](auto* b) { b->at("p.grad").size_bytes = 11; },
       "output 'p.grad': buffer holds 11 bytes, f32[3] needs 12"},
      {"null", [](auto* b) { b->at("y").data = nullptr; },
       "output 'y': data is null"},
      {"unknown", [](auto* b) { (*b)["q"] = b->at("y"); },
       "unknown output 'q' (outputs: y, loss, x.grad, p.grad)"},
      {"input", [](auto* b) { (*b)["x"] = b->at("y"); },
       "'x' is an input; pass it among the inputs"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AffineOutputs out;
    std::map<std::string, Buffer> buffers = out.Buffers();
    c.spoil(&buffers);
    Status s = module_->Run(inputs, buffers);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.message(), c.message);
    EXPECT_TRUE(out.Untouched());
  }
  EXPECT_EQ(RunCount(path_), runs);
}

TEST_F(AffineTest, OutputsMayNotOverlapOtherBuffers) {
  std::vector<float> x = x_;
  AffineOutputs out;
  // y written in place over x.
  std::map<std::string, Buffer> buffers = out.Buffers();
  buffers["y"] = Buffer::Of(x, {2, 3});
  Status s = module_->Run({{"x", ConstBuffer::Of(x, {2, 3})}}, buffers);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("output 'y' overlaps input 'x'"));
  EXPECT_EQ(x, x_);
  EXPECT_TRUE(out.Untouched());

  // Two outputs sharing memory (partially).
  std::vector<float> shared(8, AffineOutputs::kSentinel);
  buffers = out.Buffers();
  buffers["y"] = Buffer{shared.data(), 24, DType::kF32, {2, 3}};
  buffers["x.grad"] = Buffer{shared.data() + 2, 24, DType::kF32, {2, 3}};
  s = module_->Run({{"x", ConstBuffer::Of(x_, {2, 3})}}, buffers);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("overlaps"));
  EXPECT_THAT(s.message(), HasSubstr("output 'y'"));
  EXPECT_THAT(s.message(), HasSubstr("output 'x.grad'"));
  for (float v : shared) EXPECT_EQ(v, AffineOutputs::kSentinel);

  // An output overlapping a parameter override; it starts inside p's range.
  std::vector<float> pv(9, 1.0f);
  buffers = out.Buffers();
  buffers["p.grad"] = Buffer{pv.data() + 2, 12, DType::kF32, {3}};
  s = module_->Run(
      {{"x", ConstBuffer::Of(x_, {2, 3})},
       {"p", ConstBuffer{Buffer{pv.data(), 12, DType::kF32, {3}}}}},
      buffers);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("output 'p.grad' overlaps input 'p'"));

  // Inputs may share memory with each other; adjacent outputs are fine.
  std::vector<float> all(6 + 6 + 3);
  buffers.clear();
  buffers["y"] = Buffer{all.data(), 24, DType::kF32, {2, 3}};
  buffers["x.grad"] = Buffer{all.data() + 6, 24, DType::kF32, {2, 3}};
  buffers["p.grad"] = Buffer{all.data() + 12, 12, DType::kF32, {3}};
  s = module_->Run(
      {{"x", ConstBuffer::Of(x_, {2, 3})},
       {"p", ConstBuffer{Buffer{
                 const_cast<float*>(x_.data()), 12, DType::kF32, {3}}}}},
      buffers);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(std::vector<float>(all.begin(), all.begin() + 6),
            ExpectedAffine(x_, {x_[0], x_[1], x_[2]}).y);
}

TEST_F(AffineTest, ArtifactErrorIsReported) {
  std::vector<float> x = x_;
  x[4] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> y(6);
  Status s = module_->Run({{"x", ConstBuffer::Of(x, {2, 3})}},
                          {{"y", Buffer::Of(y, {2, 3})}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("x contains NaN"));
  EXPECT_THAT(s.message(), HasSubstr(path_));
  // And the module still works.
  EXPECT_TRUE(module_
                  ->Run({{"x", ConstBuffer::Of(x_, {2, 3})}},
                        {{"y", Buffer::Of(y, {2, 3})}})
                  .ok());
}

TEST_F(AffineTest, AccumulateGradients) {
  const AffineResult want = ExpectedAffine(x_);
  AffineOutputs out;
  ASSERT_TRUE(module_->ZeroGradients(out.Buffers()).ok());
  EXPECT_EQ(out.x_grad, std::vector<float>(6, 0.0f));
  EXPECT_EQ(out.p_grad, std::vector<float>(3, 0.0f));
  EXPECT_EQ(out.y, std::vector<float>(6, AffineOutputs::kSentinel));  // Kept.

  RunOptions accumulate;
  accumulate.accumulate_gradients = true;
  constexpr int kRuns = 3;
  for (int k = 1; k <= kRuns; ++k) {
    ASSERT_TRUE(module_
                    ->Run({{"x", ConstBuffer::Of(x_, {2, 3})}}, out.Buffers(),
                          accumulate)
                    .ok());
    for (int i = 0; i < 6; ++i) {
      EXPECT_FLOAT_EQ(out.x_grad[i], k * want.x_grad[i]);
      EXPECT_EQ(out.y[i], want.y[i]);  // Not a gradient: overwritten.
    }
    for (int j = 0; j < 3; ++j) {
      EXPECT_FLOAT_EQ(out.p_grad[j], k * want.p_grad[j]);
    }
    EXPECT_DOUBLE_EQ(out.loss[0], want.loss);
  }

  // Without the option, gradients are overwritten.
  ASSERT_TRUE(
      module_->Run({{"x", ConstBuffer::Of(x_, {2, 3})}}, out.Buffers()).ok());
  EXPECT_EQ(out.x_grad, want.x_grad);

  ASSERT_TRUE(module_->ZeroGradients(out.Buffers()).ok());
  EXPECT_EQ(out.x_grad, std::vector<float>(6, 0.0f));
  EXPECT_EQ(out.p_grad, std::vector<float>(3, 0.0f));
  EXPECT_EQ(out.y, want.y);
  ASSERT_TRUE(
      module_
          ->Run({{"x", ConstBuffer::Of(x_, {2, 3})}}, out.Buffers(), accumulate)
          .ok());
  EXPECT_EQ(out.x_grad, want.x_grad);
}

TEST_F(AffineTest, AccumulateIsNotAppliedOnError) {
  std::vector<float> x_grad(6, 1.0f);
  RunOptions accumulate;
  accumulate.accumulate_gradients = true;
  std::vector<float> x = x_;
  x[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(module_
                   ->Run({{"x", ConstBuffer::Of(x, {2, 3})}},
                         {{"x.grad", Buffer::Of(x_grad, {2, 3})}}, accumulate)
                   .ok());
  EXPECT_EQ(x_grad, std::vector<float>(6, 1.0f));
}

TEST_F(AffineTest, ZeroGradientsChecksFirst) {
  AffineOutputs out;
  std::map<std::string, Buffer> buffers = out.Buffers();
  buffers["p.grad"].dims = {4};
  Status s = module_->ZeroGradients(buffers);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "output 'p.grad': expected f32[3], got f32[4]");
  EXPECT_TRUE(out.Untouched());

  buffers = out.Buffers();
  std::vector<float> x(6);
  buffers["x"] = Buffer::Of(x, {2, 3});
  s = module_->ZeroGradients(buffers);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("unknown output 'x'"));
  EXPECT_TRUE(out.Untouched());

  EXPECT_TRUE(module_->ZeroGradients({}).ok());
}

TEST_F(AffineTest, RepeatedRuns) {
  const AffineResult want = ExpectedAffine(x_);
  AffineOutputs out;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(
        module_->Run({{"x", ConstBuffer::Of(x_, {2, 3})}}, out.Buffers()).ok());
    ASSERT_EQ(out.y, want.y);
    ASSERT_EQ(out.x_grad, want.x_grad);
  }
}

std::vector<float> ThreadInput(int thread, int iteration) {
  std::vector<float> x(6);
  for (int i = 0; i < 6; ++i) {
    x[i] = 0.25f * thread - 0.5f * i + 0.001f * iteration;
  }
  return x;
}

TEST_F(AffineTest, ManyThreadsMatchOneThread) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 300;
  // Single-threaded reference, through the same module.
  std::vector<std::vector<AffineOutputs>> want(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kIterations; ++i) {
      const std::vector<float> x = ThreadInput(t, i);
      want[t].emplace_back();
      ASSERT_TRUE(module_
                      ->Run({{"x", ConstBuffer::Of(x, {2, 3})}},
                            want[t].back().Buffers())
                      .ok());
    }
  }
  std::vector<int> mismatches(kThreads, 0), failures(kThreads, 0);
  std::vector<std::vector<float>> accumulated(kThreads,
                                              std::vector<float>(3, 0.0f));
  const Module& module = *module_;  // Run is const.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RunOptions accumulate;
      accumulate.accumulate_gradients = true;
      for (int i = 0; i < kIterations; ++i) {
        const std::vector<float> x = ThreadInput(t, i);
        AffineOutputs out;
        // Half the runs omit some outputs (scratch), the other half pass all.
        std::map<std::string, Buffer> buffers = out.Buffers();
        if (i % 2 == 1) buffers.erase("loss");
        if (!module.Run({{"x", ConstBuffer::Of(x, {2, 3})}}, buffers).ok()) {
          ++failures[t];
          continue;
        }
        const AffineOutputs& w = want[t][i];
        if (out.y != w.y || out.x_grad != w.x_grad || out.p_grad != w.p_grad ||
            (i % 2 == 0 && out.loss != w.loss)) {
          ++mismatches[t];
        }
        // Each thread accumulates into its own buffer.
        std::map<std::string, Buffer> grad = {
            {"p.grad", Buffer::Of(accumulated[t], {3})}};
        if (!module.Run({{"x", ConstBuffer::Of(x, {2, 3})}}, grad, accumulate)
                 .ok()) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << "thread " << t;
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
    std::vector<float> sum(3, 0.0f);
    for (int i = 0; i < kIterations; ++i) {
      for (int j = 0; j < 3; ++j) sum[j] += want[t][i].p_grad[j];
    }
    EXPECT_EQ(accumulated[t], sum) << "thread " << t;
  }
}

// ---------------------------------------------------------------------------
// Several modules.

TEST(ModulesTest, TwoArtifactsInOneProcess) {
  auto affine = LoadOrDie(TestPath("affine"));
  auto other = LoadOrDie(TestPath("other"));
  ASSERT_NE(affine, nullptr);
  ASSERT_NE(other, nullptr);

  // Each binds to its own copy of the same-named hook symbols (RTLD_LOCAL).
  affine->set_num_threads(3);
  other->set_num_threads(5);
  EXPECT_EQ(NumThreads(TestPath("affine")), 3);
  EXPECT_EQ(NumThreads(TestPath("other")), 5);
  other->set_num_threads(-4);  // Counts as 0.
  EXPECT_EQ(NumThreads(TestPath("other")), 0);
  EXPECT_EQ(NumThreads(TestPath("affine")), 3);
  affine->set_num_threads(0);

  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<int32_t> a = {3, -1, 0, 7};
  const std::vector<int64_t> s = {-2};
  for (int round = 0; round < 10; ++round) {
    std::vector<float> y(6);
    ASSERT_TRUE(affine
                    ->Run({{"x", ConstBuffer::Of(x, {2, 3})}},
                          {{"y", Buffer::Of(y, {2, 3})}})
                    .ok());
    EXPECT_EQ(y, ExpectedAffine(x).y);
    std::vector<int64_t> c(4);
    std::vector<uint8_t> pos(4, 9);
    std::vector<double> w_grad(4);
    ASSERT_TRUE(other
                    ->Run({{"a", ConstBuffer::Of(a, {4})},
                           {"s", ConstBuffer::Of(s, {})}},
                          {{"c", Buffer::Of(c, {4})},
                           {"pos", Buffer::Of(pos, {4})},
                           {"w.grad", Buffer::Of(w_grad, {4})}})
                    .ok());
    EXPECT_EQ(c, (std::vector<int64_t>{-6, 2, 0, -14}));
    EXPECT_EQ(pos, (std::vector<uint8_t>{1, 0, 0, 1}));
    EXPECT_EQ(w_grad, (std::vector<double>{1.5, -1, 0, 14}));
  }
}

TEST(ModulesTest, AccumulateEveryDType) {
  auto other = LoadOrDie(TestPath("other"));
  ASSERT_NE(other, nullptr);
  const std::vector<int32_t> a = {3, -1, 0, 7};
  const std::vector<int64_t> s = {2};
  std::vector<int64_t> c(4, 100);
  std::vector<uint8_t> pos(4, 1);
  std::vector<double> w_grad(4, 0.25);
  std::vector<int64_t> steps(1, 10);
  std::vector<int32_t> hits(4, 0);
  std::vector<uint8_t> seen(4, 0);
  seen[2] = 1;  // Stays set: bool accumulates as "or".
  const std::map<std::string, Buffer> outputs = {
      {"c", Buffer::Of(c, {4})},
      {"pos", Buffer::Of(pos, {4})},
      {"w.grad", Buffer::Of(w_grad, {4})},
      {"steps.grad", Buffer::Of(steps, {})},
      {"hits.grad", Buffer::Of(hits, {4})},
      {"seen.grad", Buffer::Of(seen, {4})}};
  RunOptions accumulate;
  accumulate.accumulate_gradients = true;
  for (int k = 0; k < 4; ++k) {
    ASSERT_TRUE(other
                    ->Run({{"a", ConstBuffer::Of(a, {4})},
                           {"s", ConstBuffer::Of(s, {})}},
                          outputs, accumulate)
                    .ok());
  }
  EXPECT_EQ(c, (std::vector<int64_t>{6, -2, 0, 14}));  // Overwritten.
  EXPECT_EQ(pos, (std::vector<uint8_t>{1, 0, 0, 1}));  // Overwritten.
  EXPECT_EQ(w_grad, (std::vector<double>{6.25, -3.75, 0.25, 56.25}));
  EXPECT_EQ(steps, std::vector<int64_t>{14});
  EXPECT_EQ(hits, (std::vector<int32_t>{4, 0, 0, 4}));
  EXPECT_EQ(seen, (std::vector<uint8_t>{1, 1, 1, 1}));

  ASSERT_TRUE(other->ZeroGradients(outputs).ok());
  EXPECT_EQ(w_grad, std::vector<double>(4, 0.0));
  EXPECT_EQ(steps, std::vector<int64_t>{0});
  EXPECT_EQ(hits, std::vector<int32_t>(4, 0));
  EXPECT_EQ(seen, std::vector<uint8_t>(4, 0));
  EXPECT_EQ(c, (std::vector<int64_t>{6, -2, 0, 14}));  // Not a gradient.
}

TEST(ModulesTest, SameFileTwiceAndReload) {
  auto first = LoadOrDie(TestPath("affine"));
  auto second = LoadOrDie(TestPath("affine"));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<float> y(6);
  first.reset();  // The second keeps the library loaded.
  ASSERT_TRUE(second
                  ->Run({{"x", ConstBuffer::Of(x, {2, 3})}},
                        {{"y", Buffer::Of(y, {2, 3})}})
                  .ok());
  EXPECT_EQ(y, ExpectedAffine(x).y);
  second.reset();
  for (int i = 0; i < 20; ++i) {
    auto again = LoadOrDie(TestPath("affine"));
    ASSERT_NE(again, nullptr);
    ASSERT_TRUE(again
                    ->Run({{"x", ConstBuffer::Of(x, {2, 3})}},
                          {{"y", Buffer::Of(y, {2, 3})}})
                    .ok());
  }
}

TEST(ModulesTest, LoadFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&ok, t] {
      for (int i = 0; i < 20; ++i) {
        auto m = Module::Load(TestPath(t % 2 ? "affine" : "other"));
        auto bad = Module::Load(TestPath("foreign"));
        if (m.ok() && !bad.ok()) ++ok[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(ok[t], 20) << "thread " << t;
}

}  // namespace
}  // namespace adc::rt
