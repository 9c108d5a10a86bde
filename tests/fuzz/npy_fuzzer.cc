// Fuzz target: the .npy reader (adc run and adc bench read users' arrays).
// An array that parses must convert to a tensor and write back to the same
// bytes' meaning: parse(serialize(a)) == a.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<adc::NpyArray> array = adc::ParseNpy(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!array.ok()) return 0;
  absl::StatusOr<adc::Tensor> tensor = adc::NpyToTensor(*array);
  adc::fuzz::Check(tensor.ok(), "a parsed array does not convert: " +
                                    tensor.status().ToString());
  const std::string bytes =
      adc::SerializeNpy(array->dtype, array->dims, array->data);
  absl::StatusOr<adc::NpyArray> again = adc::ParseNpy(bytes);
  adc::fuzz::Check(again.ok(), "a written array does not parse: " +
                                   again.status().ToString());
  adc::fuzz::Check(again->dtype == array->dtype && again->dims == array->dims &&
                       again->data == array->data,
                   "an array does not round-trip");
  return 0;
}
