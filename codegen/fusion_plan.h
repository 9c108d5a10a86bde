// The fusion plan: a pure graph analysis that decides which values of a
// graph are materialized (computed into buffers of their own, and why) and
// which are inlined into their consumers (fused), and partitions the
// materialized values into stages. Lowering (codegen/lower.cc) follows it;
// `adc inspect --plan` prints it.
//
// Materialized: outputs, ops with update definitions (reductions, matmul,
// cumsum, scatter_add), values used more than once whose recomputation per
// use costs more than kRecomputeBudget simple operations (OpDef
// inline_cost) unless all their uses lead, through inlined element-wise
// ops, to graph outputs of their shape that nothing else reads (the
// lowering computes those outputs in one loop nest, where the shared value
// is computed once per element), values whose inline expression would
// cost more than kMaxInlineCost, the operands of matmul (what a transposed
// operand transposes: the product reads it in place) and of broadcasts that
// grow (which would otherwise be recomputed per element of the result). Values
// as cheap to recompute as to load (Cheap) never are.
//
// Control flow (cond, while_loop; graph/control_flow.h) is a boundary: each
// construct is a step of its own, run by the artifact's C code (its branches
// and bodies are compiled apart, as functions). Its operands are
// materialized (cheap or not: the step reads them from buffers), and its
// results are buffers that later stages read like graph arguments. The
// nodes of one construct share its step.
//
// The graph is compiled as a sequence of stages, each one Halide pipeline
// holding at most kMaxFuncsPerStage materialized values (Halide's lowering
// time grows faster than linearly with the number of Funcs in a pipeline),
// or one control-flow construct. Stages follow node order, and the last
// stage is always a pipeline (it writes the outputs that are graph
// arguments, and values fused after the last construct).
#ifndef ADC_CODEGEN_FUSION_PLAN_H_
#define ADC_CODEGEN_FUSION_PLAN_H_

#include <string>
#include <vector>

#include "graph/graph.h"

namespace adc::codegen {

// Compile time of a 1000-op element-wise chain and its gradient (402
// materialized values): 66 s in stages of 24 values, 55 s in stages of 8.
inline constexpr int kMaxFuncsPerStage = 8;
// Measured on the composite gradient (2^22 elements): budget 6 -> 12.9 ms,
// 24 -> 11.5 ms, 48 -> 9.8 ms (outputs and one shared value materialized).
inline constexpr int kRecomputeBudget = 48;
// A value whose inline expression (its operands' inlined ones included)
// would cost more than this is materialized: one long chain of element-wise
// ops is cut into loops of about this much work per element. Halide's
// compile time grows faster than linearly with an expression's depth (a
// chain of 1000 element-wise ops inlined into one loop took more than ten
// minutes), while one more round trip through memory costs about as much
// as a few simple ops.
inline constexpr int kMaxInlineCost = 256;
// The inline work of each interior-padded axis of a pad, beyond its
// OpDef's cost: a parity test, a division, clamps and a select.
inline constexpr int kDilatingPadAxisCost = 6;

struct Plan {
  std::vector<bool> needed;      // Computed for some output.
  std::vector<std::string> why;  // Non-empty: materialized, for this reason.
  std::vector<int> stage;        // Of materialized values; -1 otherwise.
  int num_stages = 1;
  // Per stage: -1 for a Halide pipeline, else the first needed node of the
  // control-flow construct the stage runs.
  std::vector<ValueId> control = {-1};
};

Plan MakePlan(const Graph& g);

// A slice with stride 1 on every axis: its element i is its operand's
// element i + start, so a dilating pad's phases pass through it.
bool IsCrop(const Node& node);

// Whether v is as cheap to recompute as to load: leaves, values computed
// into buffers by their own schedule (their Func is a load), and ops that
// cost no more than their operand (OpDef::cheap_as_operand) of cheap values.
bool Cheap(const Graph& g, ValueId v);

// The plan as text, one line per materialized value in id order:
// "stage 0: 'name' (op): reason" (control flow: "stage 2: 'while.0'
// (while_loop): control flow").
std::string PlanToString(const Graph& g, const Plan& plan);

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_FUSION_PLAN_H_
