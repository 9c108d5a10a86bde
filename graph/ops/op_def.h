// Op definitions: for each OpKind, its name, arity, attributes, shape/dtype
// rule, gradient rule and reference kernel, kept side by side in
// graph/ops/*.cc (one file per family). Halide lowerings live in codegen/,
// keyed by the same OpKind.
//
// Gradient rules are written with builder ops only (graph/builder.h), so the
// gradient graph is itself differentiable: grad of grad works by construction.
// Every rule states its math in a comment: `// y = exp(x); dx = dy * y`.
#ifndef ADC_GRAPH_OPS_OP_DEF_H_
#define ADC_GRAPH_OPS_OP_DEF_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "graph/builder.h"
#include "graph/graph.h"
#include "graph/ops/op_kind.h"
#include "graph/types.h"

namespace adc {

struct AttrSpec {
  std::string name;
  AttrKind kind;
  // Filled in when the attribute is absent; nullopt: the attribute is required.
  std::optional<AttrValue> default_value;
};

// Computes the output type of `node` from its attributes and input types.
// Attributes are present with the right kinds (checked before the call);
// anything else about them is this rule's to check. Errors say what is wrong;
// the caller adds the node's name and op.
using InferFn = absl::StatusOr<TensorType> (*)(
    const Node& node, absl::Span<const TensorType> inputs);

// What a gradient rule sees. `node` is a copy (the graph grows while the rule
// runs); `x` are the node's inputs, `y` its output and `dy` the cotangent of y
// (same type as y).
struct GradContext {
  GraphBuilder* b;
  Node node;
  std::vector<Value> x;
  Value y;
  Value dy;
};

// Returns one cotangent per input, each with the type of that input; an
// invalid Value() means the input receives no gradient (e.g. integer inputs).
using GradFn = std::vector<Value> (*)(const GradContext& ctx);

// Evaluates the node on concrete inputs (the reference interpreter's kernel).
// The output must have exactly node.type. Errors are for data-dependent
// failures only (shapes and dtypes were verified).
using EvalFn = absl::StatusOr<Tensor> (*)(
    const Node& node, absl::Span<const Tensor* const> inputs);

struct OpDef {
  OpKind kind;
  std::string name;  // As written in GraphDef.Node.op.
  int min_inputs = 0;
  int max_inputs = 0;  // -1: unbounded.
  std::vector<AttrSpec> attrs;
  InferFn infer = nullptr;
  // False marks an op with no gradient (comparisons, iota, ...): its inputs
  // get none. A differentiable op has a gradient rule.
  bool differentiable = true;
  GradFn grad = nullptr;
  EvalFn eval = nullptr;
};

// The definition of every OpKind (CHECKs that the tables are complete).
const OpDef& GetOpDef(OpKind kind);
// By GraphDef op name; nullopt for unknown names and for "input"/"parameter",
// which are not ops a node may use.
std::optional<OpKind> FindNodeOpKind(absl::string_view name);
// All node op names, sorted (for error messages and `adc inspect`).
std::vector<std::string> NodeOpNames();

// Per-family tables, defined in graph/ops/*.cc and merged by the registry.
std::vector<OpDef> LeafOpDefs();         // ops/leaf.cc
std::vector<OpDef> ElementwiseOpDefs();  // ops/elementwise.cc
std::vector<OpDef> ReductionOpDefs();    // ops/reduction.cc
std::vector<OpDef> LinalgOpDefs();       // ops/linalg.cc
std::vector<OpDef> ShapeOpDefs();        // ops/shape.cc

}  // namespace adc

#endif  // ADC_GRAPH_OPS_OP_DEF_H_
