/* A hand-written stand-in for a compiled adc artifact (runtime/artifact_abi.h),
 * for the runtime's tests while the real compiler is not in the loop.
 *
 *   inputs:     x f32[2,3]
 *   parameters: p f32[3] = {1, 2, 3}
 *   outputs:    y      f32[2,3] = 2 * x + p            (p broadcast on rows)
 *               loss   f64[]    = sum_ij x_ij^2 * p_j
 *               x.grad f32[2,3] = d loss / d x = 2 * x * p   (gradient)
 *               p.grad f32[3]   = d loss / d p = sum_i x_ij^2 (gradient)
 *
 * A NaN in x makes the run fail ("x contains NaN"), to test error reporting.
 * Test hooks (not part of the ABI): fake_artifact_num_threads() and
 * fake_artifact_run_count(). The fake in fake_other.c exports the same hook
 * names: with RTLD_LOCAL each must bind to its own. */
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>

#include "runtime/artifact_abi.h"

#define EXPORT __attribute__((visibility("default")))

static const int64_t kXDims[] = {2, 3};
static const int64_t kPDims[] = {3};
static const float kPDefault[] = {1.0f, 2.0f, 3.0f};

static const adc_arg_desc kArgs[] = {
    {"x", ADC_ARG_INPUT, ADC_F32, 2, 0, kXDims, NULL},
    {"p", ADC_ARG_PARAMETER, ADC_F32, 1, 0, kPDims, kPDefault},
    {"y", ADC_ARG_OUTPUT, ADC_F32, 2, 0, kXDims, NULL},
    {"loss", ADC_ARG_OUTPUT, ADC_F64, 0, 0, NULL, NULL},
    {"x.grad", ADC_ARG_OUTPUT, ADC_F32, 2, 1, kXDims, NULL},
    {"p.grad", ADC_ARG_OUTPUT, ADC_F32, 1, 1, kPDims, NULL},
};

static const adc_signature kSignature = {
    ADC_ABI_VERSION, sizeof(kArgs) / sizeof(kArgs[0]),
    kArgs,           "fake_affine",
    "x86-64-linux",  "fake-adc-0",
};

static _Thread_local const char* last_error = "";
static atomic_int num_threads = 0;
static atomic_long run_count = 0;

EXPORT const adc_signature* adc_artifact_signature(void) { return &kSignature; }

EXPORT int adc_artifact_run(void* const* buffers) {
  atomic_fetch_add(&run_count, 1);
  for (int i = 0; i < 6; ++i) {
    if (buffers[i] == NULL) {
      last_error = "null buffer";
      return 1;
    }
  }
  const float* x = buffers[0];
  const float* p = buffers[1];
  float* y = buffers[2];
  double* loss = buffers[3];
  float* x_grad = buffers[4];
  float* p_grad = buffers[5];
  for (int i = 0; i < 6; ++i) {
    if (isnan(x[i])) {
      last_error = "x contains NaN";
      return 1;
    }
  }
  double sum = 0;
  for (int j = 0; j < 3; ++j) p_grad[j] = 0;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      const float v = x[i * 3 + j];
      y[i * 3 + j] = 2 * v + p[j];
      sum += (double)v * v * p[j];
      x_grad[i * 3 + j] = 2 * v * p[j];
      p_grad[j] += v * v;
    }
  }
  *loss = sum;
  last_error = "";
  return 0;
}

EXPORT const char* adc_artifact_last_error(void) { return last_error; }

EXPORT int adc_artifact_set_num_threads(int n) {
  return atomic_exchange(&num_threads, n);
}

EXPORT int fake_artifact_num_threads(void) { return atomic_load(&num_threads); }
EXPORT long fake_artifact_run_count(void) { return atomic_load(&run_count); }
