// Element types, tensor types and dense tensors: the value vocabulary shared by
// the graph IR, the builder, the reference interpreter and code generation.
#ifndef ADC_GRAPH_TYPES_H_
#define ADC_GRAPH_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace adc {

// Element types. kBool is stored as 0/1.
enum class DType : uint8_t { kF32, kF64, kI32, kI64, kBool };

inline constexpr DType kAllDTypes[] = {DType::kF32, DType::kF64, DType::kI32,
                                       DType::kI64, DType::kBool};

// "f32", "f64", "i32", "i64", "bool".
absl::string_view DTypeName(DType dtype);
absl::StatusOr<DType> ParseDType(absl::string_view name);
bool IsFloat(DType dtype);
// i32 or i64 (not bool).
bool IsInteger(DType dtype);
// Bytes per element in a runtime buffer (bool: 1).
int DTypeSize(DType dtype);

using Dims = std::vector<int64_t>;

// "[2,3]"; "[]" for a scalar.
std::string DimsToString(absl::Span<const int64_t> dims);
// Product of dims (1 for a scalar).
int64_t NumElements(absl::Span<const int64_t> dims);
// Row-major strides of `dims`, in elements.
std::vector<int64_t> RowMajorStrides(absl::Span<const int64_t> dims);

struct TensorType {
  DType dtype = DType::kF32;
  Dims dims;

  int rank() const { return static_cast<int>(dims.size()); }
  int64_t num_elements() const { return NumElements(dims); }
  // "f32[2,3]".
  std::string ToString() const;
  bool operator==(const TensorType& o) const {
    return dtype == o.dtype && dims == o.dims;
  }
  bool operator!=(const TensorType& o) const { return !(*this == o); }
};

// A dense row-major tensor. Values are held exactly in one of two arrays:
// floating-point dtypes in `f` (f32 values are exactly representable as
// double), integer and bool dtypes in `i`. The other array is empty.
class Tensor {
 public:
  Tensor() = default;
  // A zero-filled tensor.
  explicit Tensor(TensorType type);

  static Tensor Scalar(double value, DType dtype = DType::kF32);
  // Every element = value (rounded/converted to dtype).
  static Tensor Filled(TensorType type, double value);
  static Tensor FromDoubles(TensorType type, std::vector<double> values);
  static Tensor FromInts(TensorType type, std::vector<int64_t> values);

  const TensorType& type() const { return type_; }
  DType dtype() const { return type_.dtype; }
  const Dims& dims() const { return type_.dims; }
  int64_t num_elements() const { return type_.num_elements(); }

  // Element i (flat row-major index) as double / int64, whatever the dtype.
  double GetDouble(int64_t i) const;
  int64_t GetInt(int64_t i) const;
  // Stores `v` converted to the dtype: f32 rounds to float, i32 wraps, bool is
  // v != 0, integer dtypes truncate toward zero (NaN and out-of-range -> 0).
  void SetDouble(int64_t i, double v);
  void SetInt(int64_t i, int64_t v);

  // Raw arrays (see class comment).
  const std::vector<double>& doubles() const { return f_; }
  const std::vector<int64_t>& ints() const { return i_; }
  std::vector<double>& mutable_doubles() { return f_; }
  std::vector<int64_t>& mutable_ints() { return i_; }

  // Converts to another dtype element-wise (like Cast).
  Tensor CastTo(DType dtype) const;

  // Native little-endian bytes (f32 as float, bool as uint8, ...), the layout
  // of runtime buffers and .npy files.
  std::vector<uint8_t> ToBytes() const;
  static absl::StatusOr<Tensor> FromBytes(TensorType type,
                                          absl::Span<const uint8_t> bytes);

  // Exact equality of type and values (NaN == NaN).
  bool operator==(const Tensor& o) const;
  bool operator!=(const Tensor& o) const { return !(*this == o); }
  // "f32[3]{1, 2, 3}", eliding the middle of long tensors.
  std::string ToString(int max_elements = 16) const;

 private:
  TensorType type_;
  std::vector<double> f_;
  std::vector<int64_t> i_;
};

// Rounds a double to the nearest value of a float dtype (identity for f64).
double RoundToDType(double v, DType dtype);
// Converts a double to an integer dtype like a C++ cast would for in-range
// values; NaN and out-of-range values become 0 (C++ leaves them undefined).
int64_t DoubleToIntDType(double v, DType dtype);
// Wraps an int64 to the range of an integer dtype (i32 wraps, bool -> 0/1).
int64_t WrapToIntDType(int64_t v, DType dtype);

}  // namespace adc

#endif  // ADC_GRAPH_TYPES_H_
