// ONNX dtypes as adc's, for the importer's files: the mapping, and the error
// for the dtypes adc lacks, in ONNX's names. TensorFromOnnx, which converts
// tensors with it, is public (importer.h) and defined in onnx_tensor.cc.
// Annotate is how the import's errors say where they happened.
#ifndef ADC_TOOLS_ONNX_ONNX_TENSOR_H_
#define ADC_TOOLS_ONNX_ONNX_TENSOR_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/types.h"

namespace adc::onnx_import {

// float, double, int32, int64 and bool; nullopt for the others.
std::optional<DType> DTypeFromOnnx(int elem_type);

// "float16", "uint8", ... (ONNX's names, lower case).
std::string OnnxDTypeName(int elem_type);

// Unimplemented: `what` has a dtype adc does not support.
absl::Status UnsupportedDType(int elem_type, absl::string_view what);

// The dtype, or UnsupportedDType.
absl::StatusOr<DType> RequireDType(int elem_type, absl::string_view what);

// `status` with "<where>: " in front of its message (the import's errors say
// which tensor, node or graph value they are about).
absl::Status Annotate(const absl::Status& status, absl::string_view where);

}  // namespace adc::onnx_import

#endif  // ADC_TOOLS_ONNX_ONNX_TENSOR_H_
