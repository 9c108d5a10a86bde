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
  std::vector<OpDef> defs;
  defs.push_back({OpKind::kInput,
                  "input",
                  0,
                  0,
                  {{"dtype", AttrKind::kDType, std::nullopt},
                   {"shape", AttrKind::kInts, std::nullopt}},
                  InferInput,
                  true,
                  LeafGrad,
                  EvalInput});
  defs.push_back({OpKind::kParameter,
                  "parameter",
                  0,
                  0,
                  {{"value", AttrKind::kTensor, std::nullopt}},
                  InferValue,
                  true,
                  LeafGrad,
                  EvalValue});
  defs.push_back({OpKind::kConstant,
                  "constant",
                  0,
                  0,
                  {{"value", AttrKind::kTensor, std::nullopt}},
                  InferValue,
                  false,
                  nullptr,
                  EvalValue});
  defs.push_back({OpKind::kIota,
                  "iota",
                  0,
                  0,
                  {{"dtype", AttrKind::kDType, std::nullopt},
                   {"shape", AttrKind::kInts, std::nullopt},
                   {"axis", AttrKind::kInt, AttrValue(int64_t{0})}},
                  InferIota,
                  false,
                  nullptr,
                  EvalIota});
  return defs;
}

}  // namespace adc
