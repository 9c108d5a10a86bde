/* The ABI between a compiled adc artifact (a shared library made by
 * `adc compile`) and the runtime that loads it. Plain C, no dependencies: the
 * code generator writes the artifact side, runtime/ reads it.
 *
 * An artifact exports exactly these symbols (everything else, including its
 * embedded Halide runtime, is hidden, so artifacts load side by side):
 *
 *   const adc_signature* adc_artifact_signature(void);
 *   int adc_artifact_run(void* const* buffers);
 *   const char* adc_artifact_last_error(void);
 *   int adc_artifact_set_num_threads(int n);
 *
 * adc_artifact_run takes one dense, row-major data pointer per signature
 * argument, in signature order (inputs, parameters, outputs), each holding
 * exactly the argument's shape and dtype; the caller has checked them. It
 * returns 0 on success; otherwise adc_artifact_last_error() (thread-local)
 * says what failed. It is reentrant: many threads may run at once.
 * adc_artifact_set_num_threads sets the size of the artifact's thread pool
 * (0: one per core) and returns the previous setting; it stops the pool,
 * which restarts at the new size, so it must not run concurrently with
 * adc_artifact_run.
 *
 * The file ends with a seal (runtime/seal.h: the CRC-32 of everything before
 * it), which the runtime checks before dlopen; the signature's `target` must
 * be one this machine's CPU can run (or empty, for hand-built artifacts).
 */
#ifndef ADC_RUNTIME_ARTIFACT_ABI_H_
#define ADC_RUNTIME_ARTIFACT_ABI_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the structures below. */
#define ADC_ABI_VERSION 1

/* Numbering as in graph/graph.proto's DType. */
typedef enum adc_dtype {
  ADC_F32 = 1,
  ADC_F64 = 2,
  ADC_I32 = 3,
  ADC_I64 = 4,
  ADC_BOOL = 5, /* one byte per element, 0 or 1 */
} adc_dtype;

typedef enum adc_arg_kind {
  ADC_ARG_INPUT = 0,
  ADC_ARG_PARAMETER = 1, /* an input with a stored default value */
  ADC_ARG_OUTPUT = 2,
} adc_arg_kind;

typedef struct adc_arg_desc {
  const char* name;
  int32_t kind;        /* adc_arg_kind */
  int32_t dtype;       /* adc_dtype */
  int32_t rank;        /* 0 for a scalar */
  int32_t is_gradient; /* outputs: 1 for a gradient added by autodiff */
  const int64_t* dims; /* rank sizes */
  /* Parameters: the stored value, dense row-major (product(dims) elements of
   * the dtype). NULL for inputs and outputs. */
  const void* default_data;
} adc_arg_desc;

typedef struct adc_signature {
  int32_t abi_version; /* ADC_ABI_VERSION of the artifact */
  int32_t num_args;
  const adc_arg_desc* args; /* inputs, then parameters, then outputs */
  const char* graph_name;
  const char* target;      /* the Halide target it was compiled for */
  const char* adc_version; /* the compiler that made it */
} adc_signature;

typedef const adc_signature* (*adc_artifact_signature_fn)(void);
typedef int (*adc_artifact_run_fn)(void* const* buffers);
typedef const char* (*adc_artifact_last_error_fn)(void);
typedef int (*adc_artifact_set_num_threads_fn)(int n);
/* Optional (artifacts made before it lack it; not part of the ABI version):
 * the most bytes of intermediates (Halide's internal buffers and the
 * temporaries between stages) in use at once since the artifact was loaded
 * or last reset (reset != 0 starts a new measurement), or -1 when not
 * measured (memory-checked artifacts). */
typedef int64_t (*adc_artifact_peak_bytes_fn)(int reset);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ADC_RUNTIME_ARTIFACT_ABI_H_ */
