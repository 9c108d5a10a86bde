// What the fuzz targets assert beyond "no crash": a broken invariant aborts
// with a message, which libFuzzer (and the replay test) report as a crash.
#ifndef ADC_TESTS_FUZZ_FUZZ_CHECK_H_
#define ADC_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

namespace adc::fuzz {

inline void Check(bool condition, const std::string& what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
}

}  // namespace adc::fuzz

#endif  // ADC_TESTS_FUZZ_FUZZ_CHECK_H_
