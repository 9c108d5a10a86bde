// Lowers a verified graph to Halide: one Func per needed value (the
// algorithm), then a default schedule.
//
// Values are inlined into their consumers (fused) unless materialized:
// outputs, ops with update definitions (reductions, matmul, cumsum,
// scatter_add), values used more than once whose recomputation is not cheap,
// and operands of matmul and of broadcasts. Materialized values are computed
// into buffers, parallel over their outer dimensions and vectorized at the
// natural width of the target.
//
// The graph is compiled as a sequence of stages, each one Halide pipeline
// holding at most kMaxFuncsPerStage materialized values (Halide's lowering
// time grows faster than linearly with the number of Funcs in a pipeline).
// A stage reads graph arguments, caller-provided output buffers and
// temporaries written by earlier stages, and writes graph outputs and
// temporaries for later stages.
//
// Tensors are row-major; Halide's first dimension is the innermost, so tensor
// dimension d of a rank-r value is Halide dimension r - 1 - d. All shapes are
// static: every ImageParam and output buffer is constrained to its exact
// extents and dense strides. bool values are UInt(8) 0/1.
#ifndef ADC_CODEGEN_LOWER_H_
#define ADC_CODEGEN_LOWER_H_

#include <string>
#include <utility>
#include <vector>

#include "Halide.h"
#include "absl/status/statusor.h"
#include "codegen/stages.h"
#include "graph/graph.h"

namespace adc::codegen {

inline constexpr int kMaxFuncsPerStage = 24;

struct LoweredStage {
  Halide::Pipeline pipeline;
  // The pipeline's inputs, and where each one's memory comes from.
  std::vector<Halide::Argument> args;
  std::vector<StageBuffer> inputs;
  std::vector<TensorType> input_types;
  // Where each pipeline output is written.
  std::vector<StageBuffer> outputs;
  std::vector<TensorType> output_types;
  // The nodes this stage computes, as "name (op)", for error messages.
  std::vector<std::string> nodes;
};

struct LoweredGraph {
  std::vector<LoweredStage> stages;
  // Buffers passed from one stage to a later one.
  std::vector<TensorType> temporaries;
  // Values computed into their own buffers, with the reason (for
  // ADC_VERBOSE and tests).
  std::vector<std::pair<ValueId, std::string>> materialized;
};

// Builds the Halide algorithm and default schedule for `graph` on `target`.
// Signature argument order: graph inputs, parameters (both in id order),
// then outputs in graph output order. Errors name the node.
absl::StatusOr<LoweredGraph> LowerGraph(const Graph& graph,
                                        const Halide::Target& target);

// The Halide type of a dtype (bool: UInt(8)).
Halide::Type HalideType(DType dtype);

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_LOWER_H_
