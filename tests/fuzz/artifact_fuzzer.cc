// Fuzz target: what the runtime reads of an artifact before trusting it.
//  - The file checks before dlopen (runtime/seal.h CheckSeal, the checksum;
//    runtime/module.cc CheckSegmentsInFile: the ELF header and program
//    headers, so that a truncated file is refused instead of raising SIGBUS
//    in dlopen), on the input's bytes as a file.
//  - The signature an artifact exports (ConvertSignature), built from the
//    input: argument counts, names, kinds, dtypes, ranks and dimensions of
//    any value, null pointers included; and its target string
//    (CheckTargetRunsHere).
//  - Argument checking of Module::Run against a loaded artifact (the
//    runtime's fake_affine), with buffers of any name, dtype, shape and
//    size.
// None may crash; a signature that converts must be self-consistent.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/artifact_abi.h"
#include "runtime/module.h"
#include "runtime/module_internal.h"
#include "runtime/seal.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// Reads the input front to back; past its end, zeros.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  template <typename T>
  T Take() {
    T value{};
    const size_t n = std::min(sizeof(T), size_ - pos_);
    std::memcpy(&value, data_ + pos_, n);
    pos_ += n;
    return value;
  }
  // A small value for counts: mostly in [0, limit), sometimes any int32.
  int32_t Small(int32_t limit) {
    const uint8_t b = Take<uint8_t>();
    return b < 240 ? b % limit : Take<int32_t>();
  }
  std::string String(size_t max) {
    const size_t n =
        std::min<size_t>(Take<uint8_t>() % (max + 1), size_ - pos_);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  bool empty() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

std::unique_ptr<adc::rt::Module>& Affine() {
  static auto* module = new std::unique_ptr<adc::rt::Module>();
  return *module;
}

void CheckFile(const uint8_t* data, size_t size) {
  const int fd = memfd_create("artifact", 0);
  adc::fuzz::Check(fd >= 0, "memfd_create failed");
  size_t written = 0;
  while (written < size) {
    const ssize_t n = write(fd, data + written, size - written);
    adc::fuzz::Check(n > 0, "write to memfd failed");
    written += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  (void)adc::rt::CheckSeal(path, size, "");
  (void)adc::rt::internal::CheckSegmentsInFile(path, size, "");
  close(fd);
}

void CheckSignature(Bytes& in) {
  adc_signature raw{};
  raw.abi_version = in.Take<int32_t>();
  raw.num_args = in.Small(8);
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> dims;
  std::vector<adc_arg_desc> args;
  const int32_t n = raw.num_args > 0 && raw.num_args < 64 ? raw.num_args : 0;
  names.reserve(n);
  dims.reserve(n);
  for (int32_t i = 0; i < n; ++i) {
    adc_arg_desc arg{};
    const uint8_t flags = in.Take<uint8_t>();
    names.push_back(in.String(6));
    arg.name = flags & 1 ? nullptr : names.back().c_str();
    arg.kind = in.Small(4);
    arg.dtype = in.Small(7);
    arg.rank = in.Small(6);
    arg.is_gradient = in.Take<uint8_t>() & 1;
    dims.emplace_back();
    const int32_t rank = arg.rank > 0 && arg.rank < 64 ? arg.rank : 0;
    for (int32_t d = 0; d < rank; ++d) {
      const uint8_t b = in.Take<uint8_t>();
      dims.back().push_back(b < 200 ? b % 9 : in.Take<int64_t>());
    }
    arg.dims = flags & 2 ? nullptr : dims.back().data();
    static const double kStored[64] = {};
    arg.default_data = flags & 4 ? nullptr : kStored;
    args.push_back(arg);
  }
  raw.args = in.Take<uint8_t>() & 1 ? nullptr : args.data();
  const std::string target = in.String(48);
  raw.target = target.c_str();
  adc::rt::Signature signature;
  if (!adc::rt::internal::ConvertSignature(raw, "", &signature).ok()) return;
  (void)adc::rt::internal::CheckTargetRunsHere(signature.target, "");
  size_t count = 0;
  for (const auto* group :
       {&signature.inputs, &signature.parameters, &signature.outputs}) {
    for (const adc::rt::ArgSpec& spec : *group) {
      ++count;
      adc::fuzz::Check(!spec.name.empty(), "an accepted argument has no name");
      for (int64_t d : spec.dims) {
        adc::fuzz::Check(d >= 0, "an accepted argument has a negative dim");
      }
    }
  }
  adc::fuzz::Check(count == static_cast<size_t>(raw.num_args),
                   "accepted signature lost arguments");
}

void CheckRun(Bytes& in) {
  const adc::rt::Module* module = Affine().get();
  if (module == nullptr) return;
  static const char* const kNames[] = {"x",      "p",      "y", "loss",
                                       "x.grad", "p.grad", "q", ""};
  std::vector<std::vector<unsigned char>> storage;
  std::map<std::string, adc::rt::ConstBuffer> inputs;
  std::map<std::string, adc::rt::Buffer> outputs;
  const int count = in.Small(8);
  storage.reserve(16);  // Buffers point into it: no reallocation.
  for (int i = 0; i < count && i < 16; ++i) {
    const uint8_t which = in.Take<uint8_t>();
    adc::rt::Buffer buffer;
    buffer.dtype = static_cast<adc::rt::DType>(in.Small(7));
    const int rank = in.Small(4);
    for (int d = 0; d < rank && d < 8; ++d) {
      const uint8_t b = in.Take<uint8_t>();
      buffer.dims.push_back(b < 200 ? b % 5 : in.Take<int64_t>());
    }
    // The size claimed is the size held: at most 256 bytes.
    storage.emplace_back(in.Take<uint8_t>(), 0);
    buffer.size_bytes = storage.back().size();
    buffer.data = in.Take<uint8_t>() % 8 == 0 ? nullptr : storage.back().data();
    const std::string name = kNames[which % 8];
    if (which & 8) {
      outputs[name] = buffer;
    } else {
      inputs[name] = buffer;
    }
  }
  adc::rt::RunOptions options;
  options.accumulate_gradients = in.Take<uint8_t>() & 1;
  (void)module->Run(inputs, outputs, options);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // The runtime's fake artifact, from the test's runfiles or the fuzzer
  // binary's (bazel run), or ADC_FUZZ_ARTIFACT.
  std::string path;
  if (const char* env = std::getenv("ADC_FUZZ_ARTIFACT")) {
    path = env;
  } else if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
    path = std::string(srcdir) + "/adc/runtime/testdata/libfake_affine.so";
  } else if (*argc > 0) {
    path = std::string((*argv)[0]) +
           ".runfiles/adc/runtime/testdata/libfake_affine.so";
  }
  auto module = adc::rt::Module::Load(path);
  if (module.ok()) {
    Affine() = std::move(*module);
  } else {
    std::fprintf(stderr, "artifact_fuzzer: no artifact for Run: %s\n",
                 module.status().message().c_str());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Bytes in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      CheckFile(data + 1, size - 1);
      break;
    case 1:
      CheckSignature(in);
      break;
    default:
      CheckRun(in);
      break;
  }
  return 0;
}
