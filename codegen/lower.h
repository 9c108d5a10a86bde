// Lowers a verified graph to Halide: one Func per needed value (the
// algorithm), then a default schedule (codegen/schedule.h).
//
// Tensors are row-major; Halide's first dimension is the innermost, so tensor
// dimension d of a rank-r value is Halide dimension r - 1 - d. All shapes are
// static: every ImageParam and output buffer is constrained to its exact
// extents and dense strides. bool values are UInt(8) 0/1.
#ifndef ADC_CODEGEN_LOWER_H_
#define ADC_CODEGEN_LOWER_H_

#include <string>
#include <vector>

#include "Halide.h"
#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace adc::codegen {

// The lowered pipeline and how its arguments map to the graph.
struct LoweredGraph {
  // Graph inputs then parameters, in graph id order (the signature order).
  std::vector<ValueId> arg_values;
  std::vector<Halide::ImageParam> args;
  // One Func per graph output, in graph output order.
  std::vector<Halide::Func> outputs;
  // Every Func made for a value, for scheduling: value id -> Func (an
  // undefined Func for values not lowered, e.g. dead ones).
  std::vector<Halide::Func> funcs;
  // Values computed into their own buffers (compute_root) by the default
  // schedule, with the reason (for `adc compile --verbose` and tests).
  std::vector<std::pair<ValueId, std::string>> materialized;
};

// Builds the Halide algorithm and default schedule for `graph` on `target`.
// Errors name the node.
absl::StatusOr<LoweredGraph> LowerGraph(const Graph& graph,
                                        const Halide::Target& target);

// The Halide type of a dtype (bool: UInt(8)).
Halide::Type HalideType(DType dtype);

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_LOWER_H_
