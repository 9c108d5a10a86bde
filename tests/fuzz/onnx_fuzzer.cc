// Fuzz target: the ONNX importer on a serialized ModelProto (Debian's libonnx
// parses, checks and infers shapes; adc's importer maps the nodes). An
// imported graph must verify.
#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/verifier.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/onnx/importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<adc::Graph> graph = adc::ImportOnnxBytes(
      std::string(reinterpret_cast<const char*>(data), size));
  if (!graph.ok()) return 0;
  const std::string status = adc::Verify(*graph).ToString();
  adc::fuzz::Check(status == "OK",
                   "an imported graph does not verify: " + status);
  return 0;
}
