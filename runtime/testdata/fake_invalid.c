/* Broken artifacts, one per DEFECT (set with -DDEFECT=<name>): each must be
 * rejected by Module::Load with a clear error. Otherwise like fake_affine.c
 * (x f32[2,3], parameter p f32[3], output y f32[2,3]). */
#include <stddef.h>

#include "runtime/artifact_abi.h"

#define EXPORT __attribute__((visibility("default")))

#define ABI_VERSION_99 1
#define DUPLICATE_NAME 2
#define BAD_DTYPE 3
#define BAD_RANK 4
#define NULL_NAME 5
#define NULL_SIGNATURE 6
#define MISSING_RUN 7
#define PARAMETER_WITHOUT_DEFAULT 8
#define WRONG_ORDER 9
#define BAD_KIND 10
#define NULL_DIMS 11
#define NEGATIVE_DIM 12
#define NULL_ARGS 13
#define TARGET_ARM 14
#define TARGET_KNL 15

static const int64_t kXDims[] = {2, 3};
static const int64_t kPDims[] = {3};
#if DEFECT == NEGATIVE_DIM
static const int64_t kNegativeDims[] = {2, -3};
#endif
__attribute__((unused)) static const float kPDefault[] = {1.0f, 2.0f, 3.0f};

static const adc_arg_desc kArgs[] = {
#if DEFECT == WRONG_ORDER
    {"y", ADC_ARG_OUTPUT, ADC_F32, 2, 0, kXDims, NULL},
#endif
    {
#if DEFECT == NULL_NAME
        NULL,
#else
        "x",
#endif
#if DEFECT == BAD_KIND
        5,
#else
        ADC_ARG_INPUT,
#endif
#if DEFECT == BAD_DTYPE
        7,
#else
        ADC_F32,
#endif
#if DEFECT == BAD_RANK
        -1,
#else
        2,
#endif
        0,
#if DEFECT == NULL_DIMS
        NULL,
#elif DEFECT == NEGATIVE_DIM
        kNegativeDims,
#else
        kXDims,
#endif
        NULL},
    {"p", ADC_ARG_PARAMETER, ADC_F32, 1, 0, kPDims,
#if DEFECT == PARAMETER_WITHOUT_DEFAULT
     NULL
#else
     kPDefault
#endif
    },
#if DEFECT == DUPLICATE_NAME
    {"x", ADC_ARG_OUTPUT, ADC_F32, 2, 0, kXDims, NULL},
#elif DEFECT != WRONG_ORDER
    {"y", ADC_ARG_OUTPUT, ADC_F32, 2, 0, kXDims, NULL},
#endif
};

__attribute__((unused)) static const adc_signature kSignature = {
#if DEFECT == ABI_VERSION_99
    99,
#else
    ADC_ABI_VERSION,
#endif
    sizeof(kArgs) / sizeof(kArgs[0]),
#if DEFECT == NULL_ARGS
    NULL,
#else
    kArgs,
#endif
    "fake_invalid",
#if DEFECT == TARGET_ARM
    "arm-64-linux",
#elif DEFECT == TARGET_KNL
    /* Knights Landing's avx512pf and avx512er: no current CPU has them. */
    "x86-64-linux-avx-avx2-avx512-avx512_knl-f16c-fma-sse41",
#else
    NULL,
#endif
    NULL,
};

EXPORT const adc_signature* adc_artifact_signature(void) {
#if DEFECT == NULL_SIGNATURE
  return NULL;
#else
  return &kSignature;
#endif
}

#if DEFECT != MISSING_RUN
EXPORT int adc_artifact_run(void* const* buffers) {
  (void)buffers;
  return 1;
}
#endif

EXPORT const char* adc_artifact_last_error(void) { return "invalid artifact"; }

EXPORT int adc_artifact_set_num_threads(int n) {
  (void)n;
  return 0;
}
