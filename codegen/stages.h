// How a compiled graph's stages exchange buffers: plain data shared by the
// lowering (codegen/lower.h) and the artifact writer, which emits the code
// that allocates temporaries and calls the stages in order.
#ifndef ADC_CODEGEN_STAGES_H_
#define ADC_CODEGEN_STAGES_H_

#include <string>
#include <vector>

#include "graph/types.h"

namespace adc::codegen {

// Where a stage's buffer lives.
struct StageBuffer {
  enum Kind {
    kArgument,   // Signature argument `index`: inputs, parameters, outputs.
    kTemporary,  // Temporary `index`, written by an earlier stage.
  };
  Kind kind = kArgument;
  int index = 0;
};

// One call of a stage's Halide pipeline: `<function>_argv(args)` with its
// buffers in order (the pipeline's inputs, then its outputs).
struct StageCall {
  std::string function;
  std::vector<StageBuffer> buffers;
  std::vector<TensorType> types;
};

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_STAGES_H_
