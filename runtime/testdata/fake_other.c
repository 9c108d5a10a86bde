/* A second hand-written artifact (see fake_affine.c), with a different
 * signature covering every dtype and a scalar input:
 *
 *   inputs:     a i32[4], s i64[]
 *   parameters: w f64[4] = {0.5, 1, 1.5, 2}
 *   outputs:    c         i64[4]  = a * s
 *               pos       bool[4] = a > 0
 *               w.grad    f64[4]  = a * w          (gradient)
 *               steps.grad i64[]  = 1              (gradient)
 *               hits.grad i32[4]  = a > 0 ? 1 : 0  (gradient)
 *               seen.grad bool[4] = a != 0         (gradient)
 *
 * Exports the same test hooks as fake_affine.c. */
#include <stdatomic.h>
#include <stddef.h>

#include "runtime/artifact_abi.h"

#define EXPORT __attribute__((visibility("default")))

static const int64_t kDims[] = {4};
static const double kWDefault[] = {0.5, 1.0, 1.5, 2.0};

static const adc_arg_desc kArgs[] = {
    {"a", ADC_ARG_INPUT, ADC_I32, 1, 0, kDims, NULL},
    {"s", ADC_ARG_INPUT, ADC_I64, 0, 0, NULL, NULL},
    {"w", ADC_ARG_PARAMETER, ADC_F64, 1, 0, kDims, kWDefault},
    {"c", ADC_ARG_OUTPUT, ADC_I64, 1, 0, kDims, NULL},
    {"pos", ADC_ARG_OUTPUT, ADC_BOOL, 1, 0, kDims, NULL},
    {"w.grad", ADC_ARG_OUTPUT, ADC_F64, 1, 1, kDims, NULL},
    {"steps.grad", ADC_ARG_OUTPUT, ADC_I64, 0, 1, NULL, NULL},
    {"hits.grad", ADC_ARG_OUTPUT, ADC_I32, 1, 1, kDims, NULL},
    {"seen.grad", ADC_ARG_OUTPUT, ADC_BOOL, 1, 1, kDims, NULL},
};

static const adc_signature kSignature = {
    ADC_ABI_VERSION,
    sizeof(kArgs) / sizeof(kArgs[0]),
    kArgs,
    "fake_other",
    NULL,
    NULL,
};

static _Thread_local const char* last_error = "";
static atomic_int num_threads = 0;
static atomic_long run_count = 0;

EXPORT const adc_signature* adc_artifact_signature(void) { return &kSignature; }

EXPORT int adc_artifact_run(void* const* buffers) {
  atomic_fetch_add(&run_count, 1);
  const int32_t* a = buffers[0];
  const int64_t* s = buffers[1];
  const double* w = buffers[2];
  int64_t* c = buffers[3];
  uint8_t* pos = buffers[4];
  double* w_grad = buffers[5];
  int64_t* steps_grad = buffers[6];
  int32_t* hits_grad = buffers[7];
  uint8_t* seen_grad = buffers[8];
  for (int i = 0; i < 4; ++i) {
    c[i] = (int64_t)a[i] * *s;
    pos[i] = a[i] > 0;
    w_grad[i] = a[i] * w[i];
    hits_grad[i] = a[i] > 0 ? 1 : 0;
    seen_grad[i] = a[i] != 0;
  }
  *steps_grad = 1;
  last_error = "";
  return 0;
}

EXPORT const char* adc_artifact_last_error(void) { return last_error; }

EXPORT int adc_artifact_set_num_threads(int n) {
  return atomic_exchange(&num_threads, n);
}

EXPORT int fake_artifact_num_threads(void) { return atomic_load(&num_threads); }
EXPORT long fake_artifact_run_count(void) { return atomic_load(&run_count); }
