// Temporary directories and child processes for the compiler and its test
// helpers (the C compiler and archiver that link artifacts, the memory-check
// runner).
#ifndef ADC_CODEGEN_PROCESS_H_
#define ADC_CODEGEN_PROCESS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "graph/file_io.h"  // WriteFile, ReadFile: used with TempDir.

namespace adc {

// A new directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const;

 private:
  std::string path_;
};

// Runs argv[0] (looked up in PATH unless it has a '/') with stdout and
// stderr captured to the file `log`. A program that cannot be started is a
// FailedPrecondition error ending in `missing_hint`; a non-zero exit or a
// signal is an Internal error with the command line and the start of the
// log.
absl::Status RunTool(const std::vector<std::string>& argv,
                     const std::string& log, const std::string& missing_hint);

}  // namespace adc

#endif  // ADC_CODEGEN_PROCESS_H_
