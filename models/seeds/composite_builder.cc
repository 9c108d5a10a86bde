// Writes the composite seed graph to argv[1] (a builder program for the
// adc_library rule).
#include <cstdio>

#include "graph/serialize.h"
#include "models/seeds/seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: composite_builder OUT.pb\n");
    return 2;
  }
  absl::Status status = adc::SaveGraph(adc::seeds::Composite(), argv[1]);
  if (!status.ok()) {
    std::fprintf(stderr, "composite_builder: %s\n",
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
