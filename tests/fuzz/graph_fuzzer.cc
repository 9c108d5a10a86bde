// Fuzz target: the graph loader and verifier on the binary form of a
// GraphDef. A graph that loads (GraphFromProto verifies it) must write out,
// read back from text and binary, and verify again, unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/graph.pb.h"
#include "graph/serialize.h"
#include "graph/verifier.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  adc::proto::GraphDef def;
  if (!def.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<adc::Graph> graph = adc::GraphFromProto(def);
  if (!graph.ok()) return 0;
  const std::string status = adc::Verify(*graph).ToString();
  adc::fuzz::Check(status == "OK", "a loaded graph does not verify: " + status);
  const std::string text = adc::GraphToText(*graph);
  absl::StatusOr<adc::Graph> from_text = adc::GraphFromText(text);
  adc::fuzz::Check(from_text.ok(), "the text form does not load: " +
                                       from_text.status().ToString());
  adc::fuzz::Check(adc::GraphToText(*from_text) == text,
                   "the text form does not round-trip");
  const std::string bytes = adc::GraphDefToBytes(adc::GraphToProto(*graph));
  adc::proto::GraphDef again;
  adc::fuzz::Check(again.ParseFromString(bytes), "written bytes do not parse");
  absl::StatusOr<adc::Graph> from_bytes = adc::GraphFromProto(again);
  adc::fuzz::Check(from_bytes.ok(), "the binary form does not load: " +
                                        from_bytes.status().ToString());
  return 0;
}
