// Whole-file reads and writes, shared by the graph format, .npy files and
// the compiler's temporaries.
#ifndef ADC_GRAPH_FILE_IO_H_
#define ADC_GRAPH_FILE_IO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adc {

// Writes (truncating) `data` to `path`; PermissionDenied "cannot write
// 'path'" if it cannot.
absl::Status WriteFile(const std::string& path, const std::string& data);
// The file's contents, or "" if it cannot be read.
std::string ReadFile(const std::string& path);
// The file's contents, read into one buffer of its size: NotFound "cannot
// open 'path'"; ResourceExhausted, before reading, if it has more than
// `max_bytes` bytes (the message names `limit`, the setting to raise).
absl::StatusOr<std::string> ReadFileAtMost(const std::string& path,
                                           int64_t max_bytes,
                                           absl::string_view limit);

}  // namespace adc

#endif  // ADC_GRAPH_FILE_IO_H_
