// Fuzz target: the graph loader and verifier on the text form (.pbtxt).
#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/serialize.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<adc::Graph> graph = adc::GraphFromText(
      std::string(reinterpret_cast<const char*>(data), size));
  if (!graph.ok()) return 0;
  const std::string text = adc::GraphToText(*graph);
  absl::StatusOr<adc::Graph> again = adc::GraphFromText(text);
  adc::fuzz::Check(again.ok(), "the written text does not load: " +
                                   again.status().ToString());
  return 0;
}
