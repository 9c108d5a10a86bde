#include "runtime/test_main.h"

#include <cstdio>
#include <map>

#include "gtest/gtest.h"

namespace adc::rt::testing {
namespace {

std::map<std::string, std::string>& Paths() {
  static auto* paths = new std::map<std::string, std::string>;
  return *paths;
}

}  // namespace

std::string TestPath(const std::string& name) {
  auto it = Paths().find(name);
  if (it == Paths().end()) {
    ADD_FAILURE() << "no test data '" << name << "' (pass " << name << "=PATH)";
    return "";
  }
  return it->second;
}

}  // namespace adc::rt::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);  // Removes gtest's own flags.
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      fprintf(stderr, "unexpected argument '%s' (want name=path)\n", argv[i]);
      return 2;
    }
    adc::rt::testing::Paths()[arg.substr(0, eq)] = arg.substr(eq + 1);
  }
  return RUN_ALL_TESTS();
}
