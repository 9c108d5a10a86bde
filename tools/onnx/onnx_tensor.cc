// ONNX dtypes and tensors as adc's: the dtype mapping and its errors, and
// TensorFromOnnx (declared in importer.h) with the reading of external data.
#include "tools/onnx/onnx_tensor.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "graph/check.h"
#include "graph/ops/op_util.h"
#include "onnx/onnx_pb.h"
#include "tools/onnx/importer.h"

namespace adc {
namespace onnx_import {

std::optional<DType> DTypeFromOnnx(int elem_type) {
  switch (elem_type) {
    case onnx::TensorProto::FLOAT:
      return DType::kF32;
    case onnx::TensorProto::DOUBLE:
      return DType::kF64;
    case onnx::TensorProto::INT32:
      return DType::kI32;
    case onnx::TensorProto::INT64:
      return DType::kI64;
    case onnx::TensorProto::BOOL:
      return DType::kBool;
    default:
      return std::nullopt;
  }
}

// "float16", "uint8", ... (ONNX's names, lower case).
std::string OnnxDTypeName(int elem_type) {
  if (elem_type != 0 && onnx::TensorProto_DataType_IsValid(elem_type)) {
    return absl::AsciiStrToLower(onnx::TensorProto_DataType_Name(
        static_cast<onnx::TensorProto_DataType>(elem_type)));
  }
  return absl::StrCat("<undefined dtype ", elem_type, ">");
}

absl::Status UnsupportedDType(int elem_type, absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat(
      what, " has dtype ", OnnxDTypeName(elem_type),
      ", which adc does not support (supported: float, double, int32, int64, "
      "bool)"));
}

absl::StatusOr<DType> RequireDType(int elem_type, absl::string_view what) {
  std::optional<DType> dtype = DTypeFromOnnx(elem_type);
  if (!dtype) return UnsupportedDType(elem_type, what);
  return *dtype;
}

absl::Status Annotate(const absl::Status& status, absl::string_view where) {
  return absl::Status(status.code(),
                      absl::StrCat(where, ": ", status.message()));
}

}  // namespace onnx_import

namespace {

// The bytes of a tensor stored outside the model (ONNX external data): the
// file `location` relative to the model's directory, from `offset`, `length`
// bytes (default: to the end).
absl::StatusOr<std::string> ReadExternalData(const onnx::TensorProto& t,
                                             const std::string& model_dir,
                                             absl::string_view what) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const onnx::StringStringEntryProto& kv : t.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if ((kv.key() == "offset" &&
                !absl::SimpleAtoi(kv.value(), &offset)) ||
               (kv.key() == "length" &&
                !absl::SimpleAtoi(kv.value(), &length))) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": external data ",
                                                     kv.key(), " '", kv.value(),
                                                     "' is not an integer"));
    }
  }
  if (location.empty() || location[0] == '/' ||
      location.find("..") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": external data location '", location,
                     "' must be a relative path inside the model's directory"));
  }
  if (model_dir.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has external data ('", location,
        "'): import the model from its file so that it can be found"));
  }
  const std::string path = absl::StrCat(model_dir, "/", location);
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(
        absl::StrCat(what, ": cannot open external data file '", path, "'"));
  }
  std::string data((std::istreambuf_iterator<char>(file)),
                   std::istreambuf_iterator<char>());
  if (offset < 0 || offset > static_cast<int64_t>(data.size()) ||
      (length >= 0 && length > static_cast<int64_t>(data.size()) - offset)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": external data range (offset ", offset, ", length ", length,
        ") is outside '", path, "' (", data.size(), " bytes)"));
  }
  return data.substr(offset, length < 0 ? std::string::npos : length);
}

// Checks a typed-data field's element count.
absl::Status CheckCount(int count, int64_t n, absl::string_view what,
                        const TensorType& type) {
  if (count == n) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has ", count, " values for type ", type.ToString(),
                   " (", n, " elements)"));
}

}  // namespace

absl::StatusOr<Tensor> TensorFromOnnx(const onnx::TensorProto& t,
                                      const std::string& model_dir) {
  const std::string what =
      t.name().empty() ? "tensor" : absl::StrCat("tensor '", t.name(), "'");
  ADC_ASSIGN_OR_RETURN(DType dtype,
                       onnx_import::RequireDType(t.data_type(), what));
  TensorType type{dtype, Dims(t.dims().begin(), t.dims().end())};
  absl::Status dims_ok = ops::CheckDims(type.dims, "shape");
  if (!dims_ok.ok()) return onnx_import::Annotate(dims_ok, what);
  if (t.has_segment()) {
    return absl::UnimplementedError(
        absl::StrCat(what, ": segmented tensors are not supported"));
  }
  const int64_t n = type.num_elements();
  std::string external;
  const std::string* raw = nullptr;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    ADC_ASSIGN_OR_RETURN(external, ReadExternalData(t, model_dir, what));
    raw = &external;
  } else if (t.has_raw_data()) {
    raw = &t.raw_data();
  }
  if (raw != nullptr) {
    absl::StatusOr<Tensor> tensor = Tensor::FromBytes(
        type, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(raw->data()),
                                  raw->size()));
    if (!tensor.ok()) return onnx_import::Annotate(tensor.status(), what);
    return tensor;
  }
  switch (dtype) {
    case DType::kF32:
      ADC_RETURN_IF_ERROR(CheckCount(t.float_data_size(), n, what, type));
      return Tensor::FromDoubles(
          type,
          std::vector<double>(t.float_data().begin(), t.float_data().end()));
    case DType::kF64:
      ADC_RETURN_IF_ERROR(CheckCount(t.double_data_size(), n, what, type));
      return Tensor::FromDoubles(
          type,
          std::vector<double>(t.double_data().begin(), t.double_data().end()));
    case DType::kI32:
    case DType::kBool:
      ADC_RETURN_IF_ERROR(CheckCount(t.int32_data_size(), n, what, type));
      return Tensor::FromInts(type, std::vector<int64_t>(t.int32_data().begin(),
                                                         t.int32_data().end()));
    case DType::kI64:
      ADC_RETURN_IF_ERROR(CheckCount(t.int64_data_size(), n, what, type));
      return Tensor::FromInts(type, std::vector<int64_t>(t.int64_data().begin(),
                                                         t.int64_data().end()));
  }
  ADC_CHECK(false);
}

}  // namespace adc
