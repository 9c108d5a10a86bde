// adc_seal FILE...: appends the checksum seal the runtime requires
// (runtime/seal.h) to artifacts built by hand rather than by `adc compile`.
#include <cstdio>

#include "runtime/seal.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: adc_seal ARTIFACT.so...\n");
    return 2;
  }
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    const adc::rt::Status s = adc::rt::SealArtifact(argv[i]);
    if (!s.ok()) {
      std::fprintf(stderr, "adc_seal: %s\n", s.message().c_str());
      status = 1;
    }
  }
  return status;
}
