// Links only //runtime (C++ and C API), for link_deps_test: its dynamic
// dependencies are exactly those the runtime brings in.
#include <cstdio>

#include "runtime/c_api.h"
#include "runtime/module.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ARTIFACT.so\n", argv[0]);
    return 2;
  }
  auto module = adc::rt::Module::Load(argv[1]);
  if (!module.ok()) {
    std::fprintf(stderr, "%s\n", module.status().message().c_str());
  }
  char* error = nullptr;
  adc_module* m = adc_module_load(argv[1], &error);
  adc_error_free(error);
  adc_module_free(m);
  return module.ok() ? 0 : 1;
}
