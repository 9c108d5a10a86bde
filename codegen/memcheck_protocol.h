// How codegen/run_compiled.cc hands a memory-checked artifact's arguments to
// codegen/memcheck_run and reads its outputs back: one file per argument in
// one directory, named by the hex digits of the argument's name (names may
// hold any character, '/' included) and a suffix, ".in" or ".out".
#ifndef ADC_CODEGEN_MEMCHECK_PROTOCOL_H_
#define ADC_CODEGEN_MEMCHECK_PROTOCOL_H_

#include <string>

namespace adc::memcheck {

inline std::string ArgumentFile(const std::string& dir, const std::string& name,
                                const std::string& suffix) {
  static const char kDigits[] = "0123456789abcdef";
  std::string path = dir + "/";
  for (unsigned char c : name) {
    path += kDigits[c >> 4];
    path += kDigits[c & 15];
  }
  return path + suffix;
}

}  // namespace adc::memcheck

#endif  // ADC_CODEGEN_MEMCHECK_PROTOCOL_H_
