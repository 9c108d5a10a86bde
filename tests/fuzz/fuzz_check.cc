#include "tests/fuzz/fuzz_check.h"

#include "google/protobuf/stubs/logging.h"

namespace adc::fuzz {
namespace {

void Discard(google::protobuf::LogLevel, const char*, int, const std::string&) {
}

}  // namespace

void QuietProtobuf() { google::protobuf::SetLogHandler(&Discard); }

}  // namespace adc::fuzz
