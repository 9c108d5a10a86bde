// NumPy .npy files (numpy.save / numpy.load), for `adc run` and `adc bench`.
//
// Supported: format versions 1.0, 2.0 and 3.0; little-endian C-order arrays
// of f32, f64, i32, i64 and bool ('<f4', '<f8', '<i4', '<i8', '|b1'; native
// order '=' reads as little-endian, as on every host adc runs on); any rank,
// including 0-d arrays and zero-size arrays.
//
// Rejected with an absl::Status that says what is wrong (never a crash):
// a bad magic string, an unsupported version, a truncated file, a header
// that is not the dict numpy writes ({'descr': ..., 'fortran_order': ...,
// 'shape': (...)}), big-endian data, Fortran order, other dtypes, negative
// dimensions, and a data section whose size does not match the shape.
//
// The writer produces what numpy.save writes: version 1.0 (2.0 when the
// header needs more than 65535 bytes), keys in sorted order, and the header
// padded with spaces and ended by '\n' so the data starts at a multiple of 64
// bytes. Bool data is written as 0/1 bytes; read bool bytes other than 0 are
// normalized to 1.
#ifndef ADC_TOOLS_NPY_H_
#define ADC_TOOLS_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "graph/types.h"

namespace adc {

// An array as stored: dtype, dims and the raw little-endian row-major bytes
// (the layout of runtime buffers).
struct NpyArray {
  DType dtype = DType::kF32;
  Dims dims;
  std::vector<uint8_t> data;

  TensorType type() const { return {dtype, dims}; }
};

// What a .npy file may claim before it is refused (hostile or corrupt
// files: nothing is allocated for more than the file holds).
struct NpyLimits {
  // Header bytes (numpy's writer pads headers to 64 bytes and its reader
  // refuses more than 10,000 by default).
  int64_t max_header_bytes = int64_t{1} << 16;
  // Shapes are also held to graph values' limits, which are not settable:
  // rank ops::kMaxRank (32, NumPy's and the runtime's) and ops::kMaxElements
  // elements, counting the nonzero dimensions when one is 0.
};

// Parses the contents of a .npy file.
absl::StatusOr<NpyArray> ParseNpy(absl::string_view contents,
                                  const NpyLimits& limits = {});
// Serializes raw bytes; `data` must hold exactly NumElements(dims) elements
// of `dtype` (ADC_CHECKed: callers pass buffers they sized themselves).
std::string SerializeNpy(DType dtype, absl::Span<const int64_t> dims,
                         absl::Span<const uint8_t> data);

// Files. Errors name the path.
absl::StatusOr<NpyArray> ReadNpy(const std::string& path,
                                 const NpyLimits& limits = {});
absl::Status WriteNpy(const std::string& path, DType dtype,
                      absl::Span<const int64_t> dims,
                      absl::Span<const uint8_t> data);

// The same with adc::Tensor.
absl::StatusOr<Tensor> ReadNpyTensor(const std::string& path);
absl::Status WriteNpyTensor(const std::string& path, const Tensor& tensor);
absl::StatusOr<Tensor> NpyToTensor(const NpyArray& array);

// The numpy dtype string of a dtype ('<f4', ..., '|b1').
absl::string_view NpyDescr(DType dtype);

}  // namespace adc

#endif  // ADC_TOOLS_NPY_H_
