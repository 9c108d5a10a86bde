// Leaves: graph inputs, parameters, constants and iota. None has inputs, so
// none has a gradient rule to speak of: inputs and parameters are where
// gradients arrive, constants and iota carry none.
#include "graph/ops/op_util.h"

namespace adc {
namespace {

using ops::Error;

// input: attrs dtype, shape.
absl::StatusOr<TensorType> InferInput(const Node& node,
                                      absl::Span<const TensorType>) {
  const Dims& dims = node.attrs.GetInts("shape");
  ADC_RETURN_IF_ERROR(ops::CheckDims(dims, "shape"));
  return TensorType{node.attrs.GetDType("dtype"), dims};
}

absl::StatusOr<Tensor> EvalInput(const Node& node,
                                 absl::Span<const Tensor* const>) {
  return absl::InvalidArgumentError(
      absl::StrCat("input '", node.name, "' was not fed"));
}

// parameter and constant: attr value.
absl::StatusOr<TensorType> InferValue(const Node& node,
                                      absl::Span<const TensorType>) {
  const Tensor& value = node.attrs.GetTensor("value");
  ADC_RETURN_IF_ERROR(ops::CheckDims(value.dims(), "value shape"));
  return value.type();
}

absl::StatusOr<Tensor> EvalValue(const Node& node,
                                 absl::Span<const Tensor* const>) {
  return node.attrs.GetTensor("value");
}

// A leaf's gradient: nothing to propagate (it has no inputs).
std::vector<Value> LeafGrad(const GradContext&) { return {}; }

// iota: out[i_0, ..., i_n] = i_axis.
absl::StatusOr<TensorType> InferIota(const Node& node,
                                     absl::Span<const TensorType>) {
  const Dims& dims = node.attrs.GetInts("shape");
  ADC_RETURN_IF_ERROR(ops::CheckDims(dims, "shape"));
  const DType dtype = node.attrs.GetDType("dtype");
  if (dtype == DType::kBool) return Error("iota cannot produce bool");
  ADC_RETURN_IF_ERROR(ops::CheckAxis(node.attrs.GetInt("axis"),
                                     static_cast<int>(dims.size()), "axis"));
  return TensorType{dtype, dims};
}

absl::StatusOr<Tensor> EvalIota(const Node& node,
                                absl::Span<const Tensor* const>) {
  Tensor out(node.type);
  const int64_t axis = node.attrs.GetInt("axis");
  ops::ForEachIndex(node.type.dims,
                    [&](const std::vector<int64_t>& index, int64_t flat) {
                      out.SetInt(flat, index[axis]);
                    });
  return out;
}

}  // namespace

std::vector<OpDef> LeafOpDefs() {
  auto leaf = [](OpKind kind, std::string name) {
    return OpDef(kind, std::move(name), OpFamily::kLeaf).Inputs(0);
  };
  std::vector<OpDef> defs;
  defs.push_back(leaf(OpKind::kInput, "input")
                     .Attr("dtype", AttrKind::kDType)
                     .Attr("shape", AttrKind::kInts)
                     .Infer(InferInput)
                     .Grad(LeafGrad)
                     .Eval(EvalInput));
  defs.push_back(leaf(OpKind::kParameter, "parameter")
                     .Attr("value", AttrKind::kTensor)
                     .Infer(InferValue)
                     .Grad(LeafGrad)
                     .Eval(EvalValue));
  // Whether a constant may be -0 depends on its value.
  defs.push_back(leaf(OpKind::kConstant, "constant")
                     .Attr("value", AttrKind::kTensor)
                     .Infer(InferValue)
                     .NoGrad()
                     .Eval(EvalValue)
                     .NegZero(NegativeZero::kByRule));
  // iota counts from +0.
  defs.push_back(leaf(OpKind::kIota, "iota")
                     .Attr("dtype", AttrKind::kDType)
                     .Attr("shape", AttrKind::kInts)
                     .Attr("axis", AttrKind::kInt, AttrValue(int64_t{0}))
                     .Infer(InferIota)
                     .NoGrad()
                     .Eval(EvalIota)
                     .NegZero(NegativeZero::kNever));
  return defs;
}

}  // namespace adc
