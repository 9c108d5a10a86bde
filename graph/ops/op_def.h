// Op definitions: for each OpKind, its name, arity, attributes, shape/dtype
// rule, gradient rule, reference kernel and the properties passes and
// backends use (family, inline cost, commutativity, -0), kept side by side
// in graph/ops/*.cc (one file per family). Halide lowerings live in codegen/,
// keyed by the same OpKind. graph/ops/README.md lists every place a new op
// touches.
//
// Gradient rules are written with builder ops only (graph/builder.h), so the
// gradient graph is itself differentiable: grad of grad works by construction.
// Every rule states its math in a comment: `// y = exp(x); dx = dy * y`.
#ifndef ADC_GRAPH_OPS_OP_DEF_H_
#define ADC_GRAPH_OPS_OP_DEF_H_

#include <optional>
#include <string>
#include <utility>
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

// What a gradient rule sees: the node (in the graph, which grows while the
// rule runs: node references stay valid), `x` its inputs, `y` its output
// and `dy` the cotangent of y (same type as y).
struct GradContext {
  GraphBuilder* b;
  const Node& node;
  std::vector<Value> x;
  Value y;
  Value dy;
};

// Returns one cotangent per input, each with the type of that input; an
// invalid Value() means the input receives no gradient (e.g. integer inputs).
using GradFn = std::vector<Value> (*)(const GradContext& ctx);

// What a forward-mode (JVP) rule sees: the node, `x` its inputs, `y` its
// output and `dx` the tangents of the inputs, each with its input's type; an
// invalid Value is a zero tangent (an input that does not depend on the
// perturbed values, or is not floating-point).
struct JvpContext {
  GraphBuilder* b;
  const Node& node;
  std::vector<Value> x;
  Value y;
  std::vector<Value> dx;
};

// Returns the tangent of y (same type as y), or an invalid Value for zero.
using JvpFn = Value (*)(const JvpContext& ctx);

// How a differentiable op's JVP is found (passes/forward_mode.cc). One
// derivative rule is written per op; the JVP follows from it or from the op
// itself wherever it can:
enum class JvpKind {
  kNone,  // Not differentiable (or a leaf: tangents enter at wrt values).
  // Element-wise ops: the Jacobian with respect to each operand is diagonal,
  // hence its own transpose, so the JVP is the gradient rule applied to the
  // tangents: sum over operands k of grad(dy := dx_k)[k]. The default of
  // element-wise ops with a gradient rule.
  kFromGradient,
  // Linear in its floating-point operands jointly (data movement, sums,
  // cumsum, cast): the JVP is the op itself applied to the tangents (same
  // attributes; zeros for missing tangents; integer and bool operands such
  // as indices as they are). Its gradient rule is its transpose.
  kLinear,
  // Linear in each floating-point operand separately (matmul): the JVP is
  // the sum over operands k of the op with x_k replaced by dx_k.
  kMultilinear,
  kRule,  // A rule of its own (OpDef::jvp).
  // Calls: the JVP of the called forward function (passes/forward_mode.cc).
  kCall,
  // Control flow: transformed construct by construct (passes/control_flow.h).
  kControl,
};

// What a batching rule sees (passes/vmap.h): the node, `x` its inputs in the
// batched graph and which of them carry a leading batch dimension of `size`
// (at least one does).
struct BatchContext {
  GraphBuilder* b;
  const Node& node;
  std::vector<Value> x;
  std::vector<bool> batched;
  int64_t size;
};

// Returns the node's value for every batch element at once: its type with a
// leading dimension of `size`.
using BatchFn = Value (*)(const BatchContext& ctx);

// Evaluates the node on concrete inputs (the reference interpreter's kernel).
// The output must have exactly node.type. Errors are for data-dependent
// failures only (shapes and dtypes were verified).
using EvalFn = absl::StatusOr<Tensor> (*)(
    const Node& node, absl::Span<const Tensor* const> inputs);

// How passes and backends treat an op as a whole (as TVM's TOpPattern):
// fusion, scheduling and the rewrites that hold for a whole family.
enum class OpFamily {
  kLeaf,         // input, parameter, constant, iota
  kElementwise,  // out[i] = f(x0[i], x1[i], ...), operands of equal shape
  kReduction,    // over attr axes, with attr keepdims
  kMatMul,       // batched matrix product
  kMovement,     // each output element is one input element or a fill value
  kScan,         // running sums along an axis
  kScatter,      // accumulation into a copy of its first operand
  kCall,         // a call of library functions (inlined before lowering)
  // cond and while_loop: a construct whose branches or body are library
  // functions; one node per result (graph/control_flow.h). Transformed by
  // passes/control_flow.h, compiled to a decision or loop in the artifact.
  kControl,
};

// Whether an op's elements are computed where they are used (element-wise
// ops and data movement fuse into their consumers), rather than read from a
// buffer of its own (arguments, and the ops with update definitions).
inline bool FusesIntoConsumers(OpFamily family) {
  return family == OpFamily::kElementwise || family == OpFamily::kMovement;
}

// When a floating-point result may be -0: the simplifier removes x + 0 only
// where x is never -0 (-0 + 0 = +0). "May" is the safe answer.
enum class NegativeZero {
  kMay,          // whatever the operands are (x * y, x / y, ...)
  kNever,        // never (exp, abs, sums that start from +0, ...)
  kIfFirstMay,   // only from a -0 first operand (odd functions, x - y,
                 // data movement, max/min of a tensor)
  kIfAllMay,     // only if every operand may be -0 (x + y)
  kIfAnyMay,     // if any operand may be (maximum, minimum, concat)
  kIfBranchMay,  // if either branch may be (select)
  kByRule,       // depends on attributes or dtypes: the simplifier's rule
};

// An op's definition. Built with named setters, e.g.
//   OpDef(OpKind::kExp, "exp", OpFamily::kElementwise)
//       .Inputs(1).Infer(InferUnaryFloat).Grad(GradExp).Eval(EvalExp)
//       .Cost(20).NegZero(NegativeZero::kNever)
struct OpDef {
  OpDef(OpKind kind, std::string name, OpFamily family)
      : kind(kind), name(std::move(name)), family(family) {}

  // Between `min` and `max` operands (max -1: unbounded).
  OpDef& Inputs(int min, int max) {
    min_inputs = min;
    max_inputs = max;
    return *this;
  }
  OpDef& Inputs(int n) { return Inputs(n, n); }
  // An attribute; without a default it is required.
  OpDef& Attr(std::string attr, AttrKind attr_kind,
              std::optional<AttrValue> default_value = std::nullopt) {
    attrs.push_back({std::move(attr), attr_kind, std::move(default_value)});
    return *this;
  }
  OpDef& Infer(InferFn fn) {
    infer = fn;
    return *this;
  }
  OpDef& Eval(EvalFn fn) {
    eval = fn;
    return *this;
  }
  // The gradient rule of a differentiable op. Element-wise ops derive their
  // JVP from it (JvpKind::kFromGradient).
  OpDef& Grad(GradFn fn) {
    grad = fn;
    differentiable = true;
    if (family == OpFamily::kElementwise) jvp_kind = JvpKind::kFromGradient;
    if (family == OpFamily::kCall) jvp_kind = JvpKind::kCall;
    return *this;
  }
  // The batching rule (element-wise ops and reductions have their family's).
  OpDef& Batch(BatchFn fn) {
    batch = fn;
    return *this;
  }
  // The JVP is the op applied to the tangents (JvpKind::kLinear).
  OpDef& Linear() {
    jvp_kind = JvpKind::kLinear;
    return *this;
  }
  // The JVP is the product rule over the operands (JvpKind::kMultilinear).
  OpDef& Multilinear() {
    jvp_kind = JvpKind::kMultilinear;
    return *this;
  }
  // A JVP rule of the op's own.
  OpDef& Jvp(JvpFn fn) {
    jvp = fn;
    jvp_kind = JvpKind::kRule;
    return *this;
  }
  // Control flow: differentiable, with derivatives that transform the
  // construct's functions as a whole (passes/control_flow.h) rather than a
  // rule per node.
  OpDef& ControlFlow() {
    differentiable = true;
    jvp_kind = JvpKind::kControl;
    return *this;
  }
  // An op whose inputs get no gradient (comparisons, iota, sign, ...).
  OpDef& NoGrad() {
    declared_no_grad = true;
    differentiable = false;
    return *this;
  }
  OpDef& Cost(int cost) {
    inline_cost = cost;
    return *this;
  }
  OpDef& Commutative() {
    commutative = true;
    return *this;
  }
  OpDef& NegZero(NegativeZero rule) {
    negative_zero = rule;
    return *this;
  }
  // Recomputing the op per use costs no more than its first operand does
  // (index remapping, negation, casts): used values of it are not stored.
  OpDef& CheapAsOperand() {
    cheap_as_operand = true;
    return *this;
  }

  OpKind kind;
  std::string name;  // As written in GraphDef.Node.op.
  OpFamily family;
  int min_inputs = 0;
  int max_inputs = 0;  // -1: unbounded.
  std::vector<AttrSpec> attrs;
  InferFn infer = nullptr;
  // False marks an op with no gradient (comparisons, iota, ...): its inputs
  // get none. A differentiable op has a gradient rule; every op says which
  // it is (Grad or NoGrad; the registry checks).
  bool differentiable = false;
  bool declared_no_grad = false;
  GradFn grad = nullptr;
  JvpKind jvp_kind = JvpKind::kNone;
  JvpFn jvp = nullptr;      // With JvpKind::kRule.
  BatchFn batch = nullptr;  // Every op but the leaves.
  EvalFn eval = nullptr;
  // Rough cost of computing one element inline, in simple operations (0:
  // index remapping only; 20: a transcendental function). Ops that compute
  // into buffers of their own cost 1 (a load) to their consumers.
  int inline_cost = 1;
  bool commutative = false;  // Operands may be swapped (CSE).
  NegativeZero negative_zero = NegativeZero::kMay;
  bool cheap_as_operand = false;
};

// The definition of every OpKind (CHECKs that the tables are complete).
const OpDef& GetOpDef(OpKind kind);
inline OpFamily FamilyOf(OpKind kind) { return GetOpDef(kind).family; }
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
std::vector<OpDef> CallOpDefs();         // ops/call.cc
std::vector<OpDef> ControlOpDefs();      // ops/control.cc

}  // namespace adc

#endif  // ADC_GRAPH_OPS_OP_DEF_H_
