// The LLVMFuzzerInitialize of the targets that parse protobufs: silences
// protobuf's own logging (parse errors of the text format are printed to
// stderr otherwise: noise at millions of inputs).
#include <string>

#include "google/protobuf/stubs/logging.h"

namespace {

void Discard(google::protobuf::LogLevel, const char*, int, const std::string&) {
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(&Discard);
  return 0;
}
