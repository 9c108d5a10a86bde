// Writes models/seeds/{scalar,composite}.pbtxt from the builder:
//   bazel run //models/seeds:write_seeds -- "$PWD/models/seeds"
#include <cstdio>
#include <string>

#include "graph/serialize.h"
#include "models/seeds/seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_seeds OUT_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  for (const auto& [name, graph] :
       {std::pair<std::string, adc::Graph>{"scalar", adc::seeds::Scalar()},
        {"composite", adc::seeds::Composite()}}) {
    const std::string path = dir + "/" + name + ".pbtxt";
    absl::Status status = adc::SaveGraph(graph, path);
    if (!status.ok()) {
      std::fprintf(stderr, "write_seeds: %s\n",
                   std::string(status.message()).c_str());
      return 1;
    }
    std::printf("wrote %s\n", path.c_str());
  }
  return 0;
}
