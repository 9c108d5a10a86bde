// Lowers a verified graph to Halide: one Func per needed value (the
// algorithm), then a default schedule.
//
// Which values are materialized (computed into buffers) and which are
// inlined into their consumers (fused), and the partition into stages, is
// the fusion plan (fusion_plan.h). Materialized values are computed into
// buffers, parallel over their outer dimensions and vectorized at the
// natural width of the target. Each stage is one Halide pipeline; it reads
// graph arguments, caller-provided output buffers and temporaries written by
// earlier stages, and writes graph outputs and temporaries for later stages.
// lowering.h lists the files of each op family's algorithm and schedule.
//
// A control-flow construct (cond, while_loop) is a stage of its own that is
// not a pipeline: LowerGraph gives it the buffers of its operands and
// results, and the caller compiles its functions and emits the C code that
// runs it (codegen/stages.h ControlCall).
//
// Tensors are row-major; Halide's first dimension is the innermost, so tensor
// dimension d of a rank-r value is Halide dimension r - 1 - d. All shapes are
// static: every ImageParam and output buffer is constrained to its exact
// extents and dense strides. bool values are UInt(8) 0/1.
#ifndef ADC_CODEGEN_LOWER_H_
#define ADC_CODEGEN_LOWER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "Halide.h"
#include "absl/status/statusor.h"
#include "codegen/fusion_plan.h"
#include "codegen/limits.h"
#include "codegen/stages.h"
#include "graph/graph.h"
#include "graph/ops/op_kind.h"

namespace adc::codegen {

struct LoweredStage {
  Halide::Pipeline pipeline;
  // The pipeline's inputs, and where each one's memory comes from.
  std::vector<Halide::Argument> args;
  std::vector<StageBuffer> inputs;
  std::vector<TensorType> input_types;
  // Where each pipeline output is written.
  std::vector<StageBuffer> outputs;
  std::vector<TensorType> output_types;
  // What the pipeline computes up to names: for each value it reads or
  // computes, in id order, whether it is an argument, its type, and else
  // its op, operands (by position in that order), whether it is
  // materialized here and whether it is cheap (Cheap), then the outputs;
  // with the attributes of the computed values (compared by value). The
  // lowering and schedule depend on nothing else, so stages with equal
  // shapes compile to the same code, with arguments in the same order:
  // compiled once and called for each (SameShape).
  std::string shape;
  std::vector<const Attrs*> shape_attrs;
  // The nodes this stage computes, as "name (op)", for error messages.
  std::vector<std::string> nodes;
  // A control-flow stage (no pipeline): the first needed node of its
  // construct, and its buffers (ControlCall::first and second unset).
  ValueId control_node = -1;
  std::optional<ControlCall> control;
};

// Whether two pipeline stages compute the same function of their arguments.
bool SameShape(const LoweredStage& a, const LoweredStage& b);

struct LoweredGraph {
  std::vector<LoweredStage> stages;
  // Buffers passed from one stage to a later one.
  std::vector<TensorType> temporaries;
  // Values computed into their own buffers, with the reason (for
  // ADC_VERBOSE and tests).
  std::vector<std::pair<ValueId, std::string>> materialized;
};

// Builds the Halide algorithm and default schedule for `graph` on `target`
// (with `unscheduled`, the algorithm alone, every input and output carrying
// its exact extents as Halide estimates, for an autoscheduler to schedule).
// Signature argument order: graph inputs, parameters (both in id order),
// then outputs in graph output order. Errors name the node. The functions
// of control-flow nodes are looked up in `graph`'s library (a function
// body being compiled shares its graph's: Graph::ShareFunctions).
absl::StatusOr<LoweredGraph> LowerGraph(const Graph& graph,
                                        const Halide::Target& target,
                                        const LowerLimits& limits = {},
                                        bool unscheduled = false);

// Whether codegen lowers `op` (every op kind must: the checklist in
// graph/ops/README.md; OpsE2eCoverageTest checks). Calls are inlined first;
// control flow is a stage of C code around its compiled functions.
bool HasLowering(OpKind op);

// The Halide type of a dtype (bool: UInt(8)).
Halide::Type HalideType(DType dtype);

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_LOWER_H_
