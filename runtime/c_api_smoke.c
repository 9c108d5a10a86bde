/* Uses the C API from C (compiled as C, so c_api.h must be valid C): loads
 * fake_affine (see testdata/fake_affine.c), lists its signature and runs it.
 * Returns 0 on success; otherwise writes what failed into `message`. */
#include <stdio.h>
#include <string.h>

#include "runtime/c_api.h"

int adc_c_api_smoke(const char* path, char* message, size_t message_size) {
  char* error = NULL;
  adc_module* m = adc_module_load(path, &error);
  if (m == NULL) {
    snprintf(message, message_size, "load: %s", error ? error : "?");
    adc_error_free(error);
    return 1;
  }
  int status = 0;
  const int32_t n = adc_module_num_args(m);
  if (n != 6) {
    snprintf(message, message_size, "%d args", (int)n);
    status = 1;
  }
  for (int32_t i = 0; i < n && status == 0; ++i) {
    const char* name = adc_module_arg_name(m, i);
    if (name == NULL || adc_module_arg_dtype(m, i) < ADC_F32 ||
        adc_module_arg_kind(m, i) < ADC_ARG_INPUT) {
      snprintf(message, message_size, "bad arg %d", (int)i);
      status = 1;
    }
  }
  const float x[6] = {1, 2, 3, 4, 5, 6};
  float y[6] = {0};
  const char* in_names[] = {"x"};
  const void* in_data[] = {x};
  const size_t in_sizes[] = {sizeof(x)};
  const char* out_names[] = {"y"};
  void* out_data[] = {y};
  const size_t out_sizes[] = {sizeof(y)};
  if (status == 0 &&
      adc_module_run(m, 1, in_names, in_data, in_sizes, 1, out_names, out_data,
                     out_sizes, 0, &error) != 0) {
    snprintf(message, message_size, "run: %s", error ? error : "?");
    adc_error_free(error);
    status = 1;
  }
  /* y = 2 * x + p, p = {1, 2, 3}. */
  if (status == 0 && (y[0] != 3 || y[1] != 6 || y[5] != 15)) {
    snprintf(message, message_size, "y = %g %g ... %g", y[0], y[1], y[5]);
    status = 1;
  }
  adc_module_free(m);
  return status;
}
