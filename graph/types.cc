#include "graph/types.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/check.h"

namespace adc {

absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kF64:
      return "f64";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
    case DType::kBool:
      return "bool";
  }
  ADC_CHECK(false);
}

absl::StatusOr<DType> ParseDType(absl::string_view name) {
  for (DType d : kAllDTypes) {
    if (DTypeName(d) == name) return d;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dtype '", name, "' (expected f32, f64, i32, i64 or bool)"));
}

bool IsFloat(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF64;
}

bool IsInteger(DType dtype) {
  return dtype == DType::kI32 || dtype == DType::kI64;
}

int DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kF64:
    case DType::kI64:
      return 8;
    case DType::kBool:
      return 1;
  }
  ADC_CHECK(false);
}

std::string DimsToString(absl::Span<const int64_t> dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

int64_t NumElements(absl::Span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> RowMajorStrides(absl::Span<const int64_t> dims) {
  std::vector<int64_t> strides(dims.size());
  int64_t s = 1;
  for (int i = static_cast<int>(dims.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= dims[i];
  }
  return strides;
}

std::string TensorType::ToString() const {
  return absl::StrCat(DTypeName(dtype), DimsToString(dims));
}

double RoundToDType(double v, DType dtype) {
  return dtype == DType::kF32 ? static_cast<double>(static_cast<float>(v)) : v;
}

int64_t WrapToIntDType(int64_t v, DType dtype) {
  switch (dtype) {
    case DType::kI32:
      return static_cast<int32_t>(static_cast<uint32_t>(v));
    case DType::kBool:
      return v != 0;
    case DType::kI64:
    case DType::kF32:
    case DType::kF64:
      return v;
  }
  ADC_CHECK(false);
}

int64_t DoubleToIntDType(double v, DType dtype) {
  if (dtype == DType::kBool) return v != 0;
  if (std::isnan(v)) return 0;
  const double lo =
      dtype == DType::kI32 ? -2147483648.0 : -9223372036854775808.0;
  const double hi = dtype == DType::kI32 ? 2147483648.0 : 9223372036854775808.0;
  if (v < lo || v >= hi) return 0;
  return static_cast<int64_t>(v);
}

Tensor::Tensor(TensorType type) : type_(std::move(type)) {
  if (IsFloat(type_.dtype)) {
    f_.assign(type_.num_elements(), 0.0);
  } else {
    i_.assign(type_.num_elements(), 0);
  }
}

Tensor Tensor::Scalar(double value, DType dtype) {
  return Filled(TensorType{dtype, {}}, value);
}

Tensor Tensor::Filled(TensorType type, double value) {
  Tensor t(std::move(type));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, value);
  return t;
}

Tensor Tensor::FromDoubles(TensorType type, std::vector<double> values) {
  ADC_CHECK(static_cast<int64_t>(values.size()) == type.num_elements());
  Tensor t(std::move(type));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, values[i]);
  return t;
}

Tensor Tensor::FromInts(TensorType type, std::vector<int64_t> values) {
  ADC_CHECK(static_cast<int64_t>(values.size()) == type.num_elements());
  Tensor t(std::move(type));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetInt(i, values[i]);
  return t;
}

double Tensor::GetDouble(int64_t i) const {
  return IsFloat(type_.dtype) ? f_[i] : static_cast<double>(i_[i]);
}

int64_t Tensor::GetInt(int64_t i) const {
  return IsFloat(type_.dtype) ? DoubleToIntDType(f_[i], DType::kI64) : i_[i];
}

void Tensor::SetDouble(int64_t i, double v) {
  if (IsFloat(type_.dtype)) {
    f_[i] = RoundToDType(v, type_.dtype);
  } else {
    i_[i] = DoubleToIntDType(v, type_.dtype);
  }
}

void Tensor::SetInt(int64_t i, int64_t v) {
  if (IsFloat(type_.dtype)) {
    f_[i] = RoundToDType(static_cast<double>(v), type_.dtype);
  } else {
    i_[i] = WrapToIntDType(v, type_.dtype);
  }
}

Tensor Tensor::CastTo(DType dtype) const {
  Tensor out(TensorType{dtype, type_.dims});
  for (int64_t i = 0; i < num_elements(); ++i) {
    if (IsFloat(type_.dtype)) {
      out.SetDouble(i, f_[i]);
    } else {
      out.SetInt(i, i_[i]);
    }
  }
  return out;
}

std::vector<uint8_t> Tensor::ToBytes() const {
  const int64_t n = num_elements();
  std::vector<uint8_t> bytes(n * DTypeSize(type_.dtype));
  uint8_t* p = bytes.data();
  for (int64_t i = 0; i < n; ++i) {
    switch (type_.dtype) {
      case DType::kF32: {
        float v = static_cast<float>(f_[i]);
        std::memcpy(p + 4 * i, &v, 4);
        break;
      }
      case DType::kF64:
        std::memcpy(p + 8 * i, &f_[i], 8);
        break;
      case DType::kI32: {
        int32_t v = static_cast<int32_t>(i_[i]);
        std::memcpy(p + 4 * i, &v, 4);
        break;
      }
      case DType::kI64:
        std::memcpy(p + 8 * i, &i_[i], 8);
        break;
      case DType::kBool:
        p[i] = i_[i] != 0;
        break;
    }
  }
  return bytes;
}

absl::StatusOr<Tensor> Tensor::FromBytes(TensorType type,
                                         absl::Span<const uint8_t> bytes) {
  const int64_t n = type.num_elements();
  if (static_cast<int64_t>(bytes.size()) != n * DTypeSize(type.dtype)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s needs %d bytes of data, got %d", type.ToString(),
                        n * DTypeSize(type.dtype), bytes.size()));
  }
  Tensor t(type);
  const uint8_t* p = bytes.data();
  for (int64_t i = 0; i < n; ++i) {
    switch (type.dtype) {
      case DType::kF32: {
        float v;
        std::memcpy(&v, p + 4 * i, 4);
        t.f_[i] = v;
        break;
      }
      case DType::kF64:
        std::memcpy(&t.f_[i], p + 8 * i, 8);
        break;
      case DType::kI32: {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        t.i_[i] = v;
        break;
      }
      case DType::kI64:
        std::memcpy(&t.i_[i], p + 8 * i, 8);
        break;
      case DType::kBool:
        t.i_[i] = p[i] != 0;
        break;
    }
  }
  return t;
}

bool Tensor::operator==(const Tensor& o) const {
  if (type_ != o.type_ || i_ != o.i_ || f_.size() != o.f_.size()) return false;
  for (size_t k = 0; k < f_.size(); ++k) {
    const bool both_nan = std::isnan(f_[k]) && std::isnan(o.f_[k]);
    if (!both_nan && f_[k] != o.f_[k]) return false;
  }
  return true;
}

std::string Tensor::ToString(int max_elements) const {
  std::string s = absl::StrCat(type_.ToString(), "{");
  const int64_t n = num_elements();
  for (int64_t i = 0; i < n; ++i) {
    if (n > max_elements && i == max_elements / 2) {
      absl::StrAppend(&s, "..., ");
      i = n - max_elements / 2;
    }
    if (IsFloat(type_.dtype)) {
      absl::StrAppend(&s, absl::StrFormat("%.9g", f_[i]));
    } else {
      absl::StrAppend(&s, i_[i]);
    }
    if (i + 1 < n) absl::StrAppend(&s, ", ");
  }
  absl::StrAppend(&s, "}");
  return s;
}

}  // namespace adc
