#include "graph/file_io.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace adc {

absl::Status WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.close();
  if (!f) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write '", path, "'"));
  }
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

absl::StatusOr<std::string> ReadFileAtMost(const std::string& path,
                                           int64_t max_bytes,
                                           absl::string_view limit) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  const std::streamoff size = f.tellg();
  if (size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read '", path, "' (not a regular file?)"));
  }
  if (size > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "'", path, "' has ", size, " bytes, more than the limit of ", max_bytes,
        " (", limit, ")"));
  }
  std::string data(static_cast<size_t>(size), '\0');
  f.seekg(0);
  if (!f.read(data.data(), size)) {
    return absl::DataLossError(absl::StrCat("cannot read '", path, "'"));
  }
  return data;
}

}  // namespace adc
