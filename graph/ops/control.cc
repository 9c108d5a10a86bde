// Control flow: cond and while_loop, whose branches and body are functions of
// the graph's library (graph/graph.h). A construct with several results is
// several nodes, one per result, equal but for the attribute `result`
// (graph/control_flow.h); each node alone means "result k of the construct",
// and backends compute a construct once for all of its nodes.
//
//   cond(pred, operands...): then_branch(operands...) if pred (a bool
//     scalar) else else_branch(operands...); both branches return values of
//     the same types, and the node is output `result` of the taken one
//     (attrs dtype and shape give its type; the verifier checks the
//     branches' signatures).
//   while_loop(init..., captured...): the carried values start as init
//     (as many as body has outputs); while cond(carried..., captured...)
//     holds, carried = body(carried..., captured...). The node is carried
//     value `result` at the end. More than max_iterations iterations is a
//     run-time error naming the loop: never a silently truncated result.
//
// Derivatives transform a construct as a whole (passes/control_flow.h):
// reverse mode differentiates the taken branch, and runs a loop's iterations
// backwards over the values its forward loop recorded; forward mode carries
// tangents through the branches and the loop.
#include "graph/ops/op_util.h"

namespace adc {
namespace {

absl::StatusOr<TensorType> InferCond(const Node& node,
                                     absl::Span<const TensorType> inputs) {
  if (inputs.empty() || inputs[0] != TensorType{DType::kBool, {}}) {
    return ops::Error("the predicate (operand 0) must be a bool scalar",
                      inputs.empty() ? "" : ", not " + inputs[0].ToString());
  }
  if (node.attrs.GetInt("result") < 0) {
    return ops::Error("result ", node.attrs.GetInt("result"), " < 0");
  }
  TensorType type{node.attrs.GetDType("dtype"), node.attrs.GetInts("shape")};
  ADC_RETURN_IF_ERROR(ops::CheckDims(type.dims, "attribute shape"));
  return type;
}

absl::StatusOr<TensorType> InferWhileLoop(const Node& node,
                                          absl::Span<const TensorType> inputs) {
  const int64_t result = node.attrs.GetInt("result");
  if (result < 0 || result >= static_cast<int64_t>(inputs.size())) {
    return ops::Error("result ", result, " is not a carried value (",
                      inputs.size(), " operand(s))");
  }
  if (node.attrs.GetInt("max_iterations") < 0) {
    return ops::Error("max_iterations ", node.attrs.GetInt("max_iterations"),
                      " < 0");
  }
  return inputs[result];
}

absl::StatusOr<Tensor> EvalControl(const Node& node,
                                   absl::Span<const Tensor* const>) {
  return absl::FailedPreconditionError(
      absl::StrCat(GetOpDef(node.op).name,
                   ": evaluated by running its functions (the interpreter "
                   "does)"));
}

}  // namespace

std::vector<OpDef> ControlOpDefs() {
  return {
      OpDef(OpKind::kCond, "cond", OpFamily::kControl)
          .Inputs(1, -1)
          .Attr("then_branch", AttrKind::kString)
          .Attr("else_branch", AttrKind::kString)
          .Attr("result", AttrKind::kInt, int64_t{0})
          .Attr("dtype", AttrKind::kDType)
          .Attr("shape", AttrKind::kInts)
          .Infer(InferCond)
          .Eval(EvalControl)
          .ControlFlow(),
      OpDef(OpKind::kWhileLoop, "while_loop", OpFamily::kControl)
          .Inputs(1, -1)
          .Attr("cond", AttrKind::kString)
          .Attr("body", AttrKind::kString)
          .Attr("max_iterations", AttrKind::kInt)
          .Attr("result", AttrKind::kInt, int64_t{0})
          .Infer(InferWhileLoop)
          .Eval(EvalControl)
          .ControlFlow(),
  };
}

}  // namespace adc
