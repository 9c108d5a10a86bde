// Whole-file reads and writes, shared by the graph format, .npy files and
// the compiler's temporaries.
#ifndef ADC_GRAPH_FILE_IO_H_
#define ADC_GRAPH_FILE_IO_H_

#include <string>

#include "absl/status/status.h"

namespace adc {

// Writes (truncating) `data` to `path`; PermissionDenied "cannot write
// 'path'" if it cannot.
absl::Status WriteFile(const std::string& path, const std::string& data);
// The file's contents, or "" if it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace adc

#endif  // ADC_GRAPH_FILE_IO_H_
