/* The adc runtime's plain C API, for other languages (Python ctypes, Rust,
 * Go, ...). A thin layer over the C++ adc::rt::Module (runtime/module.h),
 * with the same checks and guarantees:
 *
 *   char* error = NULL;
 *   adc_module* m = adc_module_load("model.so", &error);
 *   if (m == NULL) { fprintf(stderr, "%s\n", error); adc_error_free(error); }
 *   const char* in_names[] = {"x"};
 *   const void* in_data[] = {x};
 *   size_t in_sizes[] = {sizeof(x)};
 *   const char* out_names[] = {"y"};
 *   void* out_data[] = {y};
 *   size_t out_sizes[] = {sizeof(y)};
 *   if (adc_module_run(m, 1, in_names, in_data, in_sizes, 1, out_names,
 *                      out_data, out_sizes, 0, &error) != 0) { ... }
 *   adc_module_free(m);
 *
 * Arguments are numbered in signature order: inputs, then parameters, then
 * outputs (as in runtime/artifact_abi.h). Buffers are dense and row-major;
 * their dtype and shape are the signature's, and their sizes in bytes are
 * checked. Nothing is written when a check fails.
 *
 * Errors: functions taking `char** error` store a malloc'd, NUL-terminated
 * message there on failure (free it with adc_error_free) and leave it
 * untouched on success; `error` itself may be NULL. No function crashes on
 * NULL or out-of-range arguments: accessors return NULL / -1 instead.
 *
 * Thread safety: adc_module_run may be called on one module from many threads
 * at once. adc_module_free must not race with any other use of the module.
 */
#ifndef ADC_RUNTIME_C_API_H_
#define ADC_RUNTIME_C_API_H_

#include <stddef.h>
#include <stdint.h>

#include "runtime/artifact_abi.h" /* adc_dtype, adc_arg_kind */

#ifdef __cplusplus
extern "C" {
#endif

/* adc_module_run flags. */
/* Add gradient outputs (is_gradient) into the given buffers instead of
 * overwriting them; other outputs are overwritten. */
#define ADC_RUN_ACCUMULATE_GRADIENTS 1u

typedef struct adc_module adc_module;

/* Loads an artifact; NULL on error (missing file, not a shared library, not
 * an adc artifact, ABI version mismatch, invalid signature). */
adc_module* adc_module_load(const char* path, char** error);

/* Unloads a module. NULL is a no-op. */
void adc_module_free(adc_module* module);

/* Frees an error message. NULL is a no-op. */
void adc_error_free(char* error);

/* --- The signature. -------------------------------------------------------
 * Strings and arrays returned are owned by the module and valid until
 * adc_module_free. For a NULL module or an argument index out of range:
 * NULL for pointers, -1 for numbers. */
const char* adc_module_graph_name(const adc_module* module);
const char* adc_module_target(const adc_module* module);
const char* adc_module_adc_version(const adc_module* module);

/* Number of arguments (inputs + parameters + outputs); -1 for NULL. */
int32_t adc_module_num_args(const adc_module* module);
/* Index of the argument called `name`, or -1. */
int32_t adc_module_find_arg(const adc_module* module, const char* name);
const char* adc_module_arg_name(const adc_module* module, int32_t i);
int32_t adc_module_arg_kind(const adc_module* module,
                            int32_t i); /* adc_arg_kind */
int32_t adc_module_arg_dtype(const adc_module* module,
                             int32_t i); /* adc_dtype */
int32_t adc_module_arg_rank(const adc_module* module, int32_t i);
/* `rank` sizes; NULL for a scalar (rank 0) as well as on error. */
const int64_t* adc_module_arg_dims(const adc_module* module, int32_t i);
/* 1 for a gradient output, 0 otherwise. */
int32_t adc_module_arg_is_gradient(const adc_module* module, int32_t i);
/* Bytes of a dense buffer for the argument (elements * dtype size). */
int64_t adc_module_arg_size_bytes(const adc_module* module, int32_t i);
/* Parameters: the stored value (adc_module_arg_size_bytes bytes); NULL for
 * other arguments. */
const void* adc_module_arg_default_data(const adc_module* module, int32_t i);

/* --- Running. -------------------------------------------------------------
 * Runs the module. Inputs: `n_in` names (inputs and optionally parameters;
 * omitted parameters use their stored values) with their data and sizes in
 * bytes. Outputs: `n_out` names with caller buffers; omitted outputs are
 * computed and discarded. A name may appear only once. `flags`: 0 or
 * ADC_RUN_ACCUMULATE_GRADIENTS. Returns 0 on success, -1 on error. The arrays
 * may be NULL only when their count is 0. */
int adc_module_run(const adc_module* module, int32_t n_in,
                   const char* const* in_names, const void* const* in_data,
                   const size_t* in_sizes, int32_t n_out,
                   const char* const* out_names, void* const* out_data,
                   const size_t* out_sizes, uint32_t flags, char** error);

/* Zeroes the gradient outputs among the given buffers (PyTorch's zero_grad);
 * non-gradient outputs are left alone. Returns 0 on success, -1 on error. */
int adc_module_zero_gradients(const adc_module* module, int32_t n_out,
                              const char* const* out_names,
                              void* const* out_data, const size_t* out_sizes,
                              char** error);

/* Sets the size of the module's thread pool (0: one per core). Returns 0, or
 * -1 for a NULL module or a negative n. Safe while other threads run the
 * module: it waits for the runs in progress. */
int adc_module_set_num_threads(adc_module* module, int n);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ADC_RUNTIME_C_API_H_ */
