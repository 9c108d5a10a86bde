// main() for the runtime's tests: the test binary is run with `name=path`
// arguments (Bazel `args` with $(rootpath ...)) naming its data files.
#ifndef ADC_RUNTIME_TEST_MAIN_H_
#define ADC_RUNTIME_TEST_MAIN_H_

#include <string>

namespace adc::rt::testing {

// The path given as `name=path` on the command line. Fails the current test
// (and returns "") if there is none.
std::string TestPath(const std::string& name);

}  // namespace adc::rt::testing

#endif  // ADC_RUNTIME_TEST_MAIN_H_
