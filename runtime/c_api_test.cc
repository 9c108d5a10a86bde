#include "runtime/c_api.h"

#include <dlfcn.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/test_main.h"

extern "C" int adc_c_api_smoke(const char* path, char* message,
                               size_t message_size);

namespace {

using ::adc::rt::testing::TestPath;
using ::testing::HasSubstr;

constexpr float kSentinel = -777.0f;

// Takes ownership of a C API error and returns it ("" for none).
std::string TakeError(char* error) {
  std::string s = error ? error : "";
  adc_error_free(error);
  return s;
}

int HookNumThreads(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return -1;
  auto fn =
      reinterpret_cast<int (*)()>(dlsym(handle, "fake_artifact_num_threads"));
  const int n = fn ? fn() : -1;
  dlclose(handle);
  return n;
}

class CApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char* error = nullptr;
    module_ = adc_module_load(TestPath("affine").c_str(), &error);
    ASSERT_NE(module_, nullptr) << TakeError(error);
    EXPECT_EQ(error, nullptr);
  }
  void TearDown() override { adc_module_free(module_); }

  // Runs with x (and p if given) into y, x.grad; returns the status.
  int Run(const std::vector<const char*>& in_names,
          const std::vector<const void*>& in_data,
          const std::vector<size_t>& in_sizes, uint32_t flags,
          std::string* error_message) {
    const char* out_names[] = {"y", "x.grad"};
    void* out_data[] = {y_.data(), x_grad_.data()};
    const size_t out_sizes[] = {y_.size() * 4, x_grad_.size() * 4};
    char* error = nullptr;
    const int status =
        adc_module_run(module_, static_cast<int32_t>(in_names.size()),
                       in_names.data(), in_data.data(), in_sizes.data(), 2,
                       out_names, out_data, out_sizes, flags, &error);
    *error_message = TakeError(error);
    return status;
  }

  bool OutputsUntouched() const {
    for (float v : y_) {
      if (v != kSentinel) return false;
    }
    for (float v : x_grad_) {
      if (v != kSentinel) return false;
    }
    return true;
  }

  adc_module* module_ = nullptr;
  std::vector<float> x_ = {1, 2, 3, 4, 5, 6};
  std::vector<float> y_ = std::vector<float>(6, kSentinel);
  std::vector<float> x_grad_ = std::vector<float>(6, kSentinel);
};

TEST(CApiLoadTest, Errors) {
  char* error = nullptr;
  EXPECT_EQ(adc_module_load(nullptr, &error), nullptr);
  EXPECT_THAT(TakeError(error), HasSubstr("null path"));

  error = nullptr;
  EXPECT_EQ(adc_module_load("runtime/testdata/missing.so", &error), nullptr);
  EXPECT_THAT(TakeError(error), HasSubstr("no such file"));

  error = nullptr;
  EXPECT_EQ(adc_module_load(TestPath("foreign").c_str(), &error), nullptr);
  EXPECT_THAT(TakeError(error), HasSubstr("not an adc artifact"));

  error = nullptr;
  EXPECT_EQ(adc_module_load(TestPath("invalid_abi_version_99").c_str(), &error),
            nullptr);
  EXPECT_THAT(TakeError(error), HasSubstr("ABI version 99"));

  // A NULL error pointer is allowed.
  EXPECT_EQ(adc_module_load(nullptr, nullptr), nullptr);
  EXPECT_EQ(adc_module_load(TestPath("foreign").c_str(), nullptr), nullptr);

  // Freeing NULL is a no-op.
  adc_module_free(nullptr);
  adc_error_free(nullptr);
}

TEST_F(CApiTest, Signature) {
  EXPECT_STREQ(adc_module_graph_name(module_), "fake_affine");
  EXPECT_STREQ(adc_module_target(module_), "x86-64-linux");
  EXPECT_STREQ(adc_module_adc_version(module_), "fake-adc-0");
  ASSERT_EQ(adc_module_num_args(module_), 6);
  const char* names[] = {"x", "p", "y", "loss", "x.grad", "p.grad"};
  const int32_t kinds[] = {ADC_ARG_INPUT,  ADC_ARG_PARAMETER, ADC_ARG_OUTPUT,
                           ADC_ARG_OUTPUT, ADC_ARG_OUTPUT,    ADC_ARG_OUTPUT};
  const int32_t dtypes[] = {ADC_F32, ADC_F32, ADC_F32,
                            ADC_F64, ADC_F32, ADC_F32};
  const int32_t ranks[] = {2, 1, 2, 0, 2, 1};
  const int32_t grads[] = {0, 0, 0, 0, 1, 1};
  const int64_t sizes[] = {24, 12, 24, 8, 24, 12};
  for (int32_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(names[i]);
    EXPECT_STREQ(adc_module_arg_name(module_, i), names[i]);
    EXPECT_EQ(adc_module_find_arg(module_, names[i]), i);
    EXPECT_EQ(adc_module_arg_kind(module_, i), kinds[i]);
    EXPECT_EQ(adc_module_arg_dtype(module_, i), dtypes[i]);
    EXPECT_EQ(adc_module_arg_rank(module_, i), ranks[i]);
    EXPECT_EQ(adc_module_arg_is_gradient(module_, i), grads[i]);
    EXPECT_EQ(adc_module_arg_size_bytes(module_, i), sizes[i]);
    EXPECT_EQ(adc_module_arg_default_data(module_, i) != nullptr, i == 1);
  }
  const int64_t* dims = adc_module_arg_dims(module_, 0);
  ASSERT_NE(dims, nullptr);
  EXPECT_EQ(dims[0], 2);
  EXPECT_EQ(dims[1], 3);
  EXPECT_EQ(adc_module_arg_dims(module_, 3), nullptr);  // Scalar.
  const float* p =
      static_cast<const float*>(adc_module_arg_default_data(module_, 1));
  EXPECT_EQ(p[1], 2.0f);
}

TEST_F(CApiTest, InvalidAccessorArguments) {
  for (int32_t i : {-1, 6, 1000}) {
    EXPECT_EQ(adc_module_arg_name(module_, i), nullptr);
    EXPECT_EQ(adc_module_arg_kind(module_, i), -1);
    EXPECT_EQ(adc_module_arg_dtype(module_, i), -1);
    EXPECT_EQ(adc_module_arg_rank(module_, i), -1);
    EXPECT_EQ(adc_module_arg_dims(module_, i), nullptr);
    EXPECT_EQ(adc_module_arg_is_gradient(module_, i), -1);
    EXPECT_EQ(adc_module_arg_size_bytes(module_, i), -1);
    EXPECT_EQ(adc_module_arg_default_data(module_, i), nullptr);
  }
  EXPECT_EQ(adc_module_find_arg(module_, "nope"), -1);
  EXPECT_EQ(adc_module_find_arg(module_, nullptr), -1);
  EXPECT_EQ(adc_module_num_args(nullptr), -1);
  EXPECT_EQ(adc_module_find_arg(nullptr, "x"), -1);
  EXPECT_EQ(adc_module_arg_name(nullptr, 0), nullptr);
  EXPECT_EQ(adc_module_arg_kind(nullptr, 0), -1);
  EXPECT_EQ(adc_module_arg_dtype(nullptr, 0), -1);
  EXPECT_EQ(adc_module_arg_rank(nullptr, 0), -1);
  EXPECT_EQ(adc_module_arg_dims(nullptr, 0), nullptr);
  EXPECT_EQ(adc_module_arg_is_gradient(nullptr, 0), -1);
  EXPECT_EQ(adc_module_arg_size_bytes(nullptr, 0), -1);
  EXPECT_EQ(adc_module_arg_default_data(nullptr, 0), nullptr);
  EXPECT_EQ(adc_module_graph_name(nullptr), nullptr);
  EXPECT_EQ(adc_module_target(nullptr), nullptr);
  EXPECT_EQ(adc_module_adc_version(nullptr), nullptr);
}

TEST_F(CApiTest, Runs) {
  std::string error;
  ASSERT_EQ(Run({"x"}, {x_.data()}, {24}, 0, &error), 0) << error;
  EXPECT_EQ(y_, (std::vector<float>{3, 6, 9, 9, 12, 15}));        // 2x + p.
  EXPECT_EQ(x_grad_, (std::vector<float>{2, 8, 18, 8, 20, 36}));  // 2xp.

  // Parameter override.
  const std::vector<float> p = {0, 0, 0};
  ASSERT_EQ(Run({"x", "p"}, {x_.data(), p.data()}, {24, 12}, 0, &error), 0)
      << error;
  EXPECT_EQ(y_, (std::vector<float>{2, 4, 6, 8, 10, 12}));
}

TEST_F(CApiTest, RunErrorsWriteNothing) {
  std::string error;
  EXPECT_EQ(Run({}, {}, {}, 0, &error), -1);
  EXPECT_THAT(error, HasSubstr("missing input 'x' (f32[2,3])"));
  EXPECT_EQ(Run({"z"}, {x_.data()}, {24}, 0, &error), -1);
  EXPECT_THAT(error, HasSubstr("unknown input 'z'"));
  EXPECT_EQ(Run({"x"}, {x_.data()}, {23}, 0, &error), -1);
  EXPECT_EQ(error, "input 'x': buffer holds 23 bytes, f32[2,3] needs 24");
  EXPECT_EQ(Run({"x"}, {nullptr}, {24}, 0, &error), -1);
  EXPECT_EQ(error, "input 'x': data is null");
  EXPECT_EQ(Run({"x", "x"}, {x_.data(), x_.data()}, {24, 24}, 0, &error), -1);
  EXPECT_EQ(error, "input 'x' is given more than once");
  EXPECT_EQ(Run({nullptr}, {x_.data()}, {24}, 0, &error), -1);
  EXPECT_EQ(error, "input 0: null name");
  EXPECT_EQ(Run({"x"}, {x_.data()}, {24}, 8, &error), -1);
  EXPECT_THAT(error, HasSubstr("unknown flags 8"));
  EXPECT_EQ(Run({"y"}, {x_.data()}, {24}, 0, &error), -1);
  EXPECT_THAT(error, HasSubstr("'y' is an output"));
  EXPECT_TRUE(OutputsUntouched());

  // Null arrays with a nonzero count, a negative count, a null module.
  char* e = nullptr;
  EXPECT_EQ(adc_module_run(module_, 1, nullptr, nullptr, nullptr, 0, nullptr,
                           nullptr, nullptr, 0, &e),
            -1);
  EXPECT_THAT(TakeError(e), HasSubstr("null names, data or sizes array"));
  const char* names[] = {"x"};
  const void* data[] = {x_.data()};
  const size_t sizes[] = {24};
  e = nullptr;
  EXPECT_EQ(adc_module_run(module_, 1, names, data, sizes, 1, names, nullptr,
                           nullptr, 0, &e),
            -1);
  EXPECT_THAT(TakeError(e), HasSubstr("1 outputs but a null"));
  e = nullptr;
  EXPECT_EQ(adc_module_run(module_, -1, names, data, sizes, 0, nullptr, nullptr,
                           nullptr, 0, &e),
            -1);
  EXPECT_THAT(TakeError(e), HasSubstr("negative number of inputs"));
  e = nullptr;
  EXPECT_EQ(adc_module_run(nullptr, 1, names, data, sizes, 0, nullptr, nullptr,
                           nullptr, 0, &e),
            -1);
  EXPECT_THAT(TakeError(e), HasSubstr("null module"));
  // A NULL error pointer is allowed.
  EXPECT_EQ(adc_module_run(nullptr, 0, nullptr, nullptr, nullptr, 0, nullptr,
                           nullptr, nullptr, 0, nullptr),
            -1);
  EXPECT_EQ(adc_module_run(module_, 0, nullptr, nullptr, nullptr, 0, nullptr,
                           nullptr, nullptr, 0, nullptr),
            -1);
  // Output checks: too small, unknown.
  const char* out_names[] = {"y"};
  void* out_data[] = {y_.data()};
  const size_t small[] = {20};
  e = nullptr;
  EXPECT_EQ(adc_module_run(module_, 1, names, data, sizes, 1, out_names,
                           out_data, small, 0, &e),
            -1);
  EXPECT_EQ(TakeError(e),
            "output 'y': buffer holds 20 bytes, f32[2,3] needs 24");
  const char* unknown[] = {"q"};
  e = nullptr;
  EXPECT_EQ(adc_module_run(module_, 1, names, data, sizes, 1, unknown, out_data,
                           sizes, 0, &e),
            -1);
  EXPECT_THAT(TakeError(e), HasSubstr("unknown output 'q'"));
  EXPECT_TRUE(OutputsUntouched());
}

TEST_F(CApiTest, AccumulateAndZeroGradients) {
  std::string error;
  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(Run({"x"}, {x_.data()}, {24}, 0, &error), 0) << error;
  }
  EXPECT_EQ(x_grad_, (std::vector<float>{2, 8, 18, 8, 20, 36}));

  const char* names[] = {"y", "x.grad"};
  void* data[] = {y_.data(), x_grad_.data()};
  const size_t sizes[] = {24, 24};
  char* e = nullptr;
  ASSERT_EQ(adc_module_zero_gradients(module_, 2, names, data, sizes, &e), 0)
      << TakeError(e);
  EXPECT_EQ(x_grad_, std::vector<float>(6, 0.0f));
  EXPECT_EQ(y_, (std::vector<float>{3, 6, 9, 9, 12, 15}));  // Not a gradient.

  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(
        Run({"x"}, {x_.data()}, {24}, ADC_RUN_ACCUMULATE_GRADIENTS, &error), 0)
        << error;
  }
  EXPECT_EQ(x_grad_, (std::vector<float>{6, 24, 54, 24, 60, 108}));
  EXPECT_EQ(y_, (std::vector<float>{3, 6, 9, 9, 12, 15}));

  const size_t small[] = {24, 4};
  e = nullptr;
  EXPECT_EQ(adc_module_zero_gradients(module_, 2, names, data, small, &e), -1);
  EXPECT_THAT(TakeError(e), HasSubstr("output 'x.grad': buffer holds 4 bytes"));
  EXPECT_EQ(x_grad_[0], 6.0f);
  e = nullptr;
  EXPECT_EQ(adc_module_zero_gradients(nullptr, 2, names, data, sizes, &e), -1);
  EXPECT_THAT(TakeError(e), HasSubstr("null module"));
  e = nullptr;
  EXPECT_EQ(adc_module_zero_gradients(module_, 2, nullptr, data, sizes, &e),
            -1);
  EXPECT_THAT(TakeError(e), HasSubstr("null names"));
}

TEST_F(CApiTest, SetNumThreads) {
  EXPECT_EQ(adc_module_set_num_threads(nullptr, 2), -1);
  EXPECT_EQ(adc_module_set_num_threads(module_, -1), -1);
  EXPECT_EQ(adc_module_set_num_threads(module_, 6), 0);
  EXPECT_EQ(HookNumThreads(TestPath("affine")), 6);
  EXPECT_EQ(adc_module_set_num_threads(module_, 0), 0);
  EXPECT_EQ(HookNumThreads(TestPath("affine")), 0);
}

TEST_F(CApiTest, ManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> bad(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t, &bad] {
      for (int i = 0; i < 200; ++i) {
        float x[6], y[6];
        for (int j = 0; j < 6; ++j) x[j] = static_cast<float>(t * 10 + j + i);
        const char* in_names[] = {"x"};
        const void* in_data[] = {x};
        const size_t in_sizes[] = {sizeof(x)};
        const char* out_names[] = {"y"};
        void* out_data[] = {y};
        const size_t out_sizes[] = {sizeof(y)};
        if (adc_module_run(module_, 1, in_names, in_data, in_sizes, 1,
                           out_names, out_data, out_sizes, 0, nullptr) != 0) {
          ++bad[t];
          continue;
        }
        const float p[3] = {1, 2, 3};
        for (int j = 0; j < 6; ++j) {
          if (y[j] != 2 * x[j] + p[j % 3]) ++bad[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

TEST(CApiSmokeTest, FromC) {
  char message[256] = "";
  EXPECT_EQ(
      adc_c_api_smoke(TestPath("affine").c_str(), message, sizeof(message)), 0)
      << message;
}

}  // namespace
