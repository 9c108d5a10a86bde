// Limits of code generation: defaults for real use; tests lower them to
// reach rare paths with small graphs.
#ifndef ADC_CODEGEN_LIMITS_H_
#define ADC_CODEGEN_LIMITS_H_

#include <cstdint>

namespace adc {

struct LowerLimits {
  // A convolution whose packed windows (columns x window elements) would
  // pass this runs as one product per chunk of columns (lower_conv.cc:
  // Halide 14's simplifier bounds a packed panel's index in 32-bit bytes).
  int64_t max_conv_window_elements = int64_t{1} << 27;
};

}  // namespace adc

#endif  // ADC_CODEGEN_LIMITS_H_
