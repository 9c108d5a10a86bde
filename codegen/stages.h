// How a compiled graph's stages exchange buffers: plain data shared by the
// lowering (codegen/lower.h) and the artifact writer, which emits the code
// that allocates temporaries and calls the stages in order.
#ifndef ADC_CODEGEN_STAGES_H_
#define ADC_CODEGEN_STAGES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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

// A control-flow construct (graph/ops/control.cc) run by the artifact's C
// code. Its functions (branches, loop condition and body) are compiled
// graphs of their own, called with their inputs then their outputs, and
// identified by their index in the artifact's list of functions
// (FunctionBody in codegen/artifact_writer.h).
//   cond: operands[0] is the predicate (one byte); the taken branch reads
//     operands[1...] and writes `results`.
//   while_loop: the first num_carried operands are the initial carried
//     values, the rest are captured. The loop runs on state buffers of its
//     own (the body never writes what it reads), calls `second` at most
//     max_iterations times (one more would fail the run with an error
//     naming the loop, as the interpreter's does) and copies the final
//     carried values to `results`.
// Every result is written (a buffer of its own if no node needs it), and
// `copies` then copies result `first` into buffer `second` (a result that
// two nodes or graph outputs name).
struct ControlCall {
  bool is_loop = false;  // while_loop; else cond.
  std::string name;      // The construct's first node, for errors.
  int first = -1;        // cond: then branch; while_loop: its condition.
  int second = -1;       // cond: else branch; while_loop: its body.
  int64_t max_iterations = 0;
  int num_carried = 0;
  std::vector<StageBuffer> operands;
  std::vector<TensorType> operand_types;
  std::vector<StageBuffer> results;
  std::vector<TensorType> result_types;
  std::vector<std::pair<int, StageBuffer>> copies;
};

// One step of a compiled graph. A Halide stage: `<function>_argv(args)`
// with its buffers in order (the pipeline's inputs, then its outputs). A
// control step (`control` set): every buffer it reads or writes is in
// `buffers` too (operands, results, copies), for temporaries' lifetimes.
struct StageCall {
  std::string function;
  std::vector<StageBuffer> buffers;
  std::vector<TensorType> types;
  std::optional<ControlCall> control;
};

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_STAGES_H_
