// Calls of library functions (graph/graph.h). custom_vjp(args...) is the
// value of its `forward` function on args, with the gradient its `vjp`
// function gives: vjp(args..., y, dy) returns one cotangent per
// floating-point arg (builder.h CustomVjp). The verifier checks both
// functions' signatures; the interpreter calls `forward`; code generation
// inlines it (passes/inline_calls.h); autodiff inlines `vjp`; forward mode
// and vmap transform the functions (passes/forward_mode.cc, vmap.cc).
#include "graph/ops/op_util.h"

namespace adc {
namespace {

absl::StatusOr<TensorType> InferCustomVjp(const Node& node,
                                          absl::Span<const TensorType>) {
  TensorType type{node.attrs.GetDType("dtype"), node.attrs.GetInts("shape")};
  ADC_RETURN_IF_ERROR(ops::CheckDims(type.dims, "attribute shape"));
  return type;
}

absl::StatusOr<Tensor> EvalCustomVjp(const Node& node,
                                     absl::Span<const Tensor* const>) {
  return absl::FailedPreconditionError(absl::StrCat(
      "a call of '", node.attrs.GetString("forward"),
      "': evaluated by running that function (the interpreter does)"));
}

// The user's rule: dx... = vjp(x..., y, dy), inlined.
std::vector<Value> GradCustomVjp(const GradContext& c) {
  const Graph* vjp = c.b->graph()->function(c.node.attrs.GetString("vjp"));
  ADC_CHECK_MSG(vjp != nullptr, "custom_vjp: vjp function not in the library");
  std::vector<Value> args = c.x;
  args.push_back(c.y);
  args.push_back(c.dy);
  const std::vector<Value> cotangents = Inline(*c.b, *vjp, args);
  std::vector<Value> grads;
  size_t next = 0;
  for (const Value& x : c.x) {
    grads.push_back(IsFloat(x.dtype()) && next < cotangents.size()
                        ? cotangents[next++]
                        : Value());
  }
  return grads;
}

}  // namespace

std::vector<OpDef> CallOpDefs() {
  return {
      OpDef(OpKind::kCustomVjp, "custom_vjp", OpFamily::kCall)
          .Inputs(0, -1)
          .Attr("forward", AttrKind::kString)
          .Attr("vjp", AttrKind::kString)
          .Attr("dtype", AttrKind::kDType)
          .Attr("shape", AttrKind::kInts)
          .Infer(InferCustomVjp)
          .Eval(EvalCustomVjp)
          .Grad(GradCustomVjp),
  };
}

}  // namespace adc
