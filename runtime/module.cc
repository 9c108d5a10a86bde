#include "runtime/module.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>  // ElfW
#include <sys/stat.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>  // std::shared_lock
#include <unordered_map>
#include <vector>

#include "runtime/artifact_abi.h"
#include "runtime/module_internal.h"
#include "runtime/seal.h"

namespace adc::rt {
namespace {

// Largest rank a signature may declare (Halide itself allows far fewer).
constexpr int32_t kMaxRank = 32;
// Largest number of arguments a signature may declare.
constexpr int32_t kMaxArgs = 1 << 20;
// Alignment of scratch memory (one cache line, enough for any vector ISA).
constexpr size_t kScratchAlignment = 64;

bool IsValidDType(int32_t dtype) {
  return dtype >= static_cast<int32_t>(DType::kF32) &&
         dtype <= static_cast<int32_t>(DType::kBool);
}

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

#if defined(__x86_64__)
constexpr int kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int kHostMachine = EM_AARCH64;
#else
#error "adc's runtime knows x86-64 and AArch64 hosts"
#endif

std::string MachineName(int machine) {
  switch (machine) {
    case EM_X86_64:
      return "x86-64";
    case EM_AARCH64:
      return "AArch64";
    case EM_386:
      return "32-bit x86";
    case EM_ARM:
      return "32-bit ARM";
    case EM_RISCV:
      return "RISC-V";
    case EM_PPC64:
      return "POWER";
    default:
      return "ELF machine " + std::to_string(machine);
  }
}

// One Halide target feature and what the CPU needs to run code using it.
struct FeatureNeeds {
  const char* feature;
  std::vector<std::string> cpu;  // __builtin_cpu_supports names
};

#if defined(__x86_64__)
bool CpuHas(const std::string& name) {
  if (name == "f16c") {
    // Not among __builtin_cpu_supports' names: CPUID leaf 1, ECX bit 29
    // (its registers are the AVX ones, whose OS support "avx" checks).
    unsigned eax, ebx, ecx, edx;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx >> 29 & 1) != 0 &&
           __builtin_cpu_supports("avx");
  }
#define ADC_CPU(x) \
  if (name == x) return __builtin_cpu_supports(x) != 0;
  ADC_CPU("sse4.1")
  ADC_CPU("avx")
  ADC_CPU("avx2")
  ADC_CPU("fma")
  ADC_CPU("fma4")
  ADC_CPU("avx512f")
  ADC_CPU("avx512cd")
  ADC_CPU("avx512vl")
  ADC_CPU("avx512bw")
  ADC_CPU("avx512dq")
  ADC_CPU("avx512pf")
  ADC_CPU("avx512er")
  ADC_CPU("avx512ifma")
  ADC_CPU("avx512vbmi")
  ADC_CPU("avx512vnni")
  ADC_CPU("avx512bf16")
#undef ADC_CPU
  return false;
}

// Halide 14's x86 features and the CPUID flags it tests for each
// (Target.cpp, calculate_host_target).
const std::vector<FeatureNeeds>& X86Features() {
  static const auto* features = new std::vector<FeatureNeeds>{
      {"sse41", {"sse4.1"}},
      {"avx", {"avx"}},
      {"avx2", {"avx2"}},
      {"fma", {"fma"}},
      {"fma4", {"fma4"}},
      {"f16c", {"f16c"}},
      {"avx512", {"avx512f", "avx512cd"}},
      {"avx512_knl", {"avx512f", "avx512cd", "avx512pf", "avx512er"}},
      {"avx512_skylake",
       {"avx512f", "avx512cd", "avx512vl", "avx512bw", "avx512dq"}},
      {"avx512_cannonlake",
       {"avx512f", "avx512cd", "avx512vl", "avx512bw", "avx512dq", "avx512ifma",
        "avx512vbmi"}},
      {"avx512_sapphirerapids",
       {"avx512f", "avx512cd", "avx512vl", "avx512bw", "avx512dq", "avx512ifma",
        "avx512vbmi", "avx512vnni", "avx512bf16"}},
  };
  return *features;
}
#endif

std::string JoinNames(const std::vector<ArgSpec>& args) {
  if (args.empty()) return "none";
  std::string out;
  for (const ArgSpec& arg : args) {
    if (!out.empty()) out += ", ";
    out += arg.name;
  }
  return out;
}

std::string TypeString(DType dtype, const std::vector<int64_t>& dims) {
  std::string out = DTypeName(dtype);
  out += '[';
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(dims[i]);
  }
  out += ']';
  return out;
}

// Zero-filled, aligned memory for one argument, owned by one Run call.
class Scratch {
 public:
  // Returns false if out of memory.
  bool Allocate(size_t size_bytes) {
    // aligned_alloc needs a size that is a multiple of the alignment; a
    // zero-size argument still gets a valid, unique pointer.
    const size_t rounded =
        std::max<size_t>(
            1, (size_bytes + kScratchAlignment - 1) / kScratchAlignment) *
        kScratchAlignment;
    if (rounded < size_bytes) return false;  // Overflow.
    data_.reset(static_cast<unsigned char*>(
        std::aligned_alloc(kScratchAlignment, rounded)));
    if (data_ == nullptr) return false;
    std::memset(data_.get(), 0, rounded);
    return true;
  }
  void* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(unsigned char* p) const { std::free(p); }
  };
  std::unique_ptr<unsigned char, Free> data_;
};

// dst[i] += src[i] for `n` elements of `dtype`. Integers wrap around; bool
// saturates (logical or).
void AddInto(DType dtype, int64_t n, const void* src, void* dst) {
  switch (dtype) {
    case DType::kF32: {
      const float* s = static_cast<const float*>(src);
      float* d = static_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] += s[i];
      return;
    }
    case DType::kF64: {
      const double* s = static_cast<const double*>(src);
      double* d = static_cast<double*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] += s[i];
      return;
    }
    case DType::kI32: {
      // Unsigned arithmetic: overflow wraps instead of being undefined.
      const uint32_t* s = static_cast<const uint32_t*>(src);
      uint32_t* d = static_cast<uint32_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] += s[i];
      return;
    }
    case DType::kI64: {
      const uint64_t* s = static_cast<const uint64_t*>(src);
      uint64_t* d = static_cast<uint64_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] += s[i];
      return;
    }
    case DType::kBool: {
      const uint8_t* s = static_cast<const uint8_t*>(src);
      uint8_t* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = (d[i] != 0 || s[i] != 0) ? 1 : 0;
      return;
    }
  }
}

// Checks one caller buffer against its signature entry. `role` is "input",
// "parameter" or "output".
Status CheckBuffer(const char* role, const ArgSpec& spec, const void* data,
                   size_t size_bytes, DType dtype,
                   const std::vector<int64_t>& dims) {
  const std::string what = std::string(role) + " " + Quoted(spec.name);
  if (dtype != spec.dtype || dims != spec.dims) {
    return Status::Error(what + ": expected " + spec.TypeString() + ", got " +
                         TypeString(dtype, dims));
  }
  const size_t needed = spec.num_bytes();
  if (data == nullptr && needed > 0) {
    return Status::Error(what + ": data is null");
  }
  if (size_bytes < needed) {
    return Status::Error(what + ": buffer holds " + std::to_string(size_bytes) +
                         " bytes, " + spec.TypeString() + " needs " +
                         std::to_string(needed));
  }
  return Status::Ok();
}

// A caller buffer's byte range, for the overlap check.
struct Range {
  uintptr_t begin;
  uintptr_t end;
  bool is_output;
  const std::string* name;
};

std::string RangeName(const Range& r) {
  return std::string(r.is_output ? "output " : "input ") + Quoted(*r.name);
}

// Error if an output's memory overlaps any other range (inputs may overlap
// each other). O(n log n): sweep by start address, tracking the furthest end
// seen so far among all ranges and among outputs.
Status CheckNoOverlap(std::vector<Range> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  const Range* furthest = nullptr;         // Any kind.
  const Range* furthest_output = nullptr;  // Outputs only.
  for (const Range& r : ranges) {
    if (r.begin == r.end) continue;  // Empty: overlaps nothing.
    const Range* other = nullptr;
    if (r.is_output && furthest != nullptr && r.begin < furthest->end) {
      other = furthest;
    } else if (furthest_output != nullptr && r.begin < furthest_output->end) {
      other = furthest_output;
    }
    if (other != nullptr) {
      const Range& output = r.is_output ? r : *other;
      const Range& overlapped = r.is_output ? *other : r;
      return Status::Error(RangeName(output) + " overlaps " +
                           RangeName(overlapped) +
                           ": an output may not share memory with any other "
                           "buffer of the same run");
    }
    if (furthest == nullptr || r.end > furthest->end) furthest = &r;
    if (r.is_output &&
        (furthest_output == nullptr || r.end > furthest_output->end)) {
      furthest_output = &r;
    }
  }
  return Status::Ok();
}

// A non-null address for zero-size arguments whose caller passed null.
alignas(kScratchAlignment) unsigned char empty_argument[kScratchAlignment];

}  // namespace

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kF64:
      return "f64";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
    case DType::kBool:
      return "bool";
  }
  return "invalid";
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF64:
      return 8;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kBool:
      return 1;
  }
  return 0;
}

int64_t ArgSpec::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::string ArgSpec::TypeString() const {
  return adc::rt::TypeString(dtype, dims);
}

// ---------------------------------------------------------------------------
// Tensor

Tensor::Tensor(DType dtype, std::vector<int64_t> dims)
    : dtype_(dtype), dims_(std::move(dims)) {
  bytes_.resize(static_cast<size_t>(num_elements()) * DTypeSize(dtype_));
}

int64_t Tensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= std::max<int64_t>(d, 0);
  return n;
}

Buffer Tensor::buffer() {
  return Buffer{bytes_.data(), bytes_.size(), dtype_, dims_};
}

ConstBuffer Tensor::buffer() const {
  ConstBuffer b;
  b.data = bytes_.data();
  b.size_bytes = bytes_.size();
  b.dtype = dtype_;
  b.dims = dims_;
  return b;
}

// ---------------------------------------------------------------------------
// Module

// A shared mutex that prefers the exclusive side: once set_num_threads
// waits, runs that start wait behind it. (glibc's rwlock, under
// std::shared_mutex, prefers readers: with runs always in progress,
// set_num_threads waited until they all stopped; stress_test found it.)
class PoolGate {
 public:
  void lock_shared() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return writers_ == 0; });
    ++readers_;
  }
  void unlock_shared() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--readers_ == 0) changed_.notify_all();
  }
  void lock() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++writers_;  // Waiting or writing: new readers wait.
    changed_.wait(lock, [&] { return readers_ == 0 && !writing_; });
    writing_ = true;
  }
  void unlock() {
    std::lock_guard<std::mutex> lock(mutex_);
    writing_ = false;
    --writers_;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int readers_ = 0;
  int writers_ = 0;
  bool writing_ = false;
};

struct Module::Impl {
  ~Impl() {
    if (handle != nullptr) dlclose(handle);
  }

  void* handle = nullptr;
  adc_artifact_run_fn run = nullptr;
  adc_artifact_last_error_fn last_error = nullptr;
  adc_artifact_set_num_threads_fn set_num_threads = nullptr;
  adc_artifact_peak_bytes_fn peak_bytes = nullptr;  // Optional.
  // Runs hold it shared; set_num_threads (which stops the thread pool) holds
  // it exclusively, so it waits for the runs in progress. One per loaded
  // artifact (PoolMutexFor), since Modules loaded from the same file share
  // its thread pool.
  std::shared_ptr<PoolGate> pool_mutex;

  // Argument name -> position in the artifact's buffer array (signature
  // order: inputs, then parameters, then outputs).
  std::unordered_map<std::string, size_t> position;
};

namespace {

// The pool lock of the artifact loaded at `handle`, shared by every Module
// that holds it (dlopen returns the same handle for a file already loaded).
std::shared_ptr<PoolGate> PoolMutexFor(void* handle) {
  static std::mutex registry_mutex;
  static auto* registry = new std::map<void*, std::weak_ptr<PoolGate>>();
  std::lock_guard<std::mutex> lock(registry_mutex);
  // Entries of artifacts no Module holds any more go (a process may load
  // many artifacts over its life).
  for (auto it = registry->begin(); it != registry->end();) {
    it = it->second.expired() ? registry->erase(it) : std::next(it);
  }
  std::weak_ptr<PoolGate>& entry = (*registry)[handle];
  std::shared_ptr<PoolGate> mutex = entry.lock();
  if (mutex == nullptr) {
    mutex = std::make_shared<PoolGate>();
    entry = mutex;
  }
  return mutex;
}

}  // namespace

Module::Module(std::string path, std::unique_ptr<Impl> impl,
               Signature signature)
    : path_(std::move(path)),
      impl_(std::move(impl)),
      signature_(std::move(signature)) {}

Module::~Module() = default;

namespace internal {

Status CheckSegmentsInFile(const std::string& path, uint64_t file_size,
                           const std::string& where) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) return Status::Ok();  // dlopen will say why.
  ElfW(Ehdr) header;
  if (std::fread(&header, sizeof(header), 1, file.get()) != 1 ||
      std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] !=
          (sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32) ||
      header.e_phentsize != sizeof(ElfW(Phdr))) {
    return Status::Ok();
  }
  if (header.e_machine != kHostMachine) {
    return Status::Error(where + "an ELF file for another architecture (" +
                         MachineName(header.e_machine) + "), this is " +
                         MachineName(kHostMachine));
  }
  const uint64_t table_end =
      uint64_t{header.e_phoff} + uint64_t{header.e_phnum} * sizeof(ElfW(Phdr));
  if (table_end > file_size) {
    return Status::Error(where +
                         "truncated file (the program header table ends at "
                         "byte " +
                         std::to_string(table_end) + ", the file has " +
                         std::to_string(file_size) + " bytes)");
  }
  if (std::fseek(file.get(), static_cast<long>(header.e_phoff), SEEK_SET) !=
      0) {
    return Status::Ok();
  }
  for (int i = 0; i < header.e_phnum; ++i) {
    ElfW(Phdr) segment;
    if (std::fread(&segment, sizeof(segment), 1, file.get()) != 1) break;
    const uint64_t end = uint64_t{segment.p_offset} + segment.p_filesz;
    if (segment.p_filesz > 0 && (end < segment.p_offset || end > file_size)) {
      return Status::Error(where + "truncated file (segment " +
                           std::to_string(i) + " ends at byte " +
                           std::to_string(end) + ", the file has " +
                           std::to_string(file_size) + " bytes)");
    }
  }
  return Status::Ok();
}

Status ConvertSignature(const adc_signature& raw, const std::string& where,
                        Signature* signature) {
  if (raw.num_args < 0 || raw.num_args > kMaxArgs) {
    return Status::Error(where + "invalid signature: " +
                         std::to_string(raw.num_args) + " arguments");
  }
  if (raw.num_args > 0 && raw.args == nullptr) {
    return Status::Error(where + "invalid signature: args is null");
  }
  signature->graph_name = raw.graph_name ? raw.graph_name : "";
  signature->target = raw.target ? raw.target : "";
  signature->adc_version = raw.adc_version ? raw.adc_version : "";

  std::set<std::string> names;
  int32_t previous_kind = ADC_ARG_INPUT;
  for (int32_t i = 0; i < raw.num_args; ++i) {
    const adc_arg_desc& arg = raw.args[i];
    const std::string at =
        where + "invalid signature: argument " + std::to_string(i);
    if (arg.name == nullptr || arg.name[0] == '\0') {
      return Status::Error(at + " has no name");
    }
    const std::string name = Quoted(arg.name);
    if (!names.insert(arg.name).second) {
      return Status::Error(at + ": duplicate name " + name);
    }
    if (arg.kind != ADC_ARG_INPUT && arg.kind != ADC_ARG_PARAMETER &&
        arg.kind != ADC_ARG_OUTPUT) {
      return Status::Error(at + " (" + name + "): invalid kind " +
                           std::to_string(arg.kind));
    }
    if (arg.kind < previous_kind) {
      return Status::Error(at + " (" + name +
                           "): out of order (must be inputs, then "
                           "parameters, then outputs)");
    }
    previous_kind = arg.kind;
    if (!IsValidDType(arg.dtype)) {
      return Status::Error(at + " (" + name + "): invalid dtype " +
                           std::to_string(arg.dtype));
    }
    if (arg.rank < 0 || arg.rank > kMaxRank) {
      return Status::Error(at + " (" + name + "): invalid rank " +
                           std::to_string(arg.rank));
    }
    if (arg.rank > 0 && arg.dims == nullptr) {
      return Status::Error(at + " (" + name + "): dims is null");
    }
    ArgSpec spec;
    spec.name = arg.name;
    spec.dtype = static_cast<DType>(arg.dtype);
    spec.dims.assign(arg.dims, arg.dims + arg.rank);
    // Element and byte counts must fit, so that num_bytes() is exact.
    int64_t elements = 1;
    for (int64_t d : spec.dims) {
      if (d < 0) {
        return Status::Error(at + " (" + name + "): negative dimension in " +
                             spec.TypeString());
      }
      if (d > 0 && elements > std::numeric_limits<int64_t>::max() / 8 / d) {
        return Status::Error(at + " (" + name + "): " + spec.TypeString() +
                             " is too large");
      }
      elements *= d;
    }
    spec.is_gradient = arg.kind == ADC_ARG_OUTPUT && arg.is_gradient != 0;
    switch (static_cast<adc_arg_kind>(arg.kind)) {
      case ADC_ARG_INPUT:
        signature->inputs.push_back(std::move(spec));
        break;
      case ADC_ARG_PARAMETER:
        if (arg.default_data == nullptr) {
          return Status::Error(at + " (" + name +
                               "): parameter without a stored value");
        }
        spec.default_data = arg.default_data;
        signature->parameters.push_back(std::move(spec));
        break;
      case ADC_ARG_OUTPUT:
        signature->outputs.push_back(std::move(spec));
        break;
    }
  }
  return Status::Ok();
}

Status CheckTargetRunsHere(const std::string& target,
                           const std::string& where) {
  if (target.empty()) return Status::Ok();  // Hand-built: nothing claimed.
  std::vector<std::string> tokens;
  for (size_t start = 0;;) {
    const size_t dash = target.find('-', start);
    tokens.push_back(target.substr(start, dash - start));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
#if defined(__x86_64__)
  const bool same_arch =
      tokens.size() >= 2 && tokens[0] == "x86" && tokens[1] == "64";
  const char* host = "x86-64";
#else
  const bool same_arch =
      tokens.size() >= 2 && tokens[0] == "arm" && tokens[1] == "64";
  const char* host = "arm-64";
#endif
  if (!same_arch) {
    return Status::Error(where + "compiled for target " + Quoted(target) +
                         ", not for this machine (" + host + ")");
  }
#if defined(__x86_64__)
  std::vector<std::string> missing;
  for (size_t i = 2; i < tokens.size(); ++i) {
    for (const FeatureNeeds& f : X86Features()) {
      if (tokens[i] != f.feature) continue;
      for (const std::string& flag : f.cpu) {
        if (!CpuHas(flag) &&
            std::find(missing.begin(), missing.end(), flag) == missing.end()) {
          missing.push_back(flag);
        }
      }
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& flag : missing) {
      list += (list.empty() ? "" : ", ") + flag;
    }
    return Status::Error(
        where + "compiled for target " + Quoted(target) +
        ", which needs CPU features this CPU lacks (" + list +
        "); running it would stop on an illegal instruction. Recompile it "
        "here (adc compile --target=host) or for a lower feature level");
  }
#endif
  return Status::Ok();
}

}  // namespace internal

StatusOr<std::unique_ptr<Module>> Module::Load(const std::string& path) {
  const std::string where = "cannot load " + Quoted(path) + ": ";
  if (path.empty()) return Status::Error("cannot load artifact: empty path");
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Status::Error(where + "no such file");
  }
  if (S_ISDIR(st.st_mode)) return Status::Error(where + "is a directory");
  if (!S_ISREG(st.st_mode)) return Status::Error(where + "not a regular file");
  if (Status s = CheckSeal(path, st.st_size, where); !s.ok()) return s;
  if (Status s = internal::CheckSegmentsInFile(
          path, static_cast<uint64_t>(st.st_size) - kSealSize, where);
      !s.ok()) {
    return s;
  }

  // dlopen searches the library path for a name without '/': make it a path
  // so that exactly this file is loaded.
  const std::string dlopen_path =
      path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();  // Clear any stale error.
  auto impl = std::make_unique<Impl>();
  impl->handle = dlopen(dlopen_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (impl->handle == nullptr) {
    const char* error = dlerror();
    std::string why = error ? error : "unknown dlopen error";
    if (why.find("__asan_") != std::string::npos) {
      // Compiled with Halide's asan feature (adc compile --target=...-asan).
      return Status::Error(
          where + "a memory-checked artifact (target feature asan) " +
          "needs AddressSanitizer in the process: build the program with " +
          "-fsanitize=address or run it with LD_PRELOAD=$(gcc " +
          "-print-file-name=libasan.so) (" + why + ")");
    }
    return Status::Error(where + "not a loadable shared library (" + why + ")");
  }

  impl->pool_mutex = PoolMutexFor(impl->handle);
  auto signature_fn = reinterpret_cast<adc_artifact_signature_fn>(
      dlsym(impl->handle, "adc_artifact_signature"));
  if (signature_fn == nullptr) {
    return Status::Error(
        where + "not an adc artifact (no adc_artifact_signature symbol)");
  }
  impl->run = reinterpret_cast<adc_artifact_run_fn>(
      dlsym(impl->handle, "adc_artifact_run"));
  impl->last_error = reinterpret_cast<adc_artifact_last_error_fn>(
      dlsym(impl->handle, "adc_artifact_last_error"));
  impl->set_num_threads = reinterpret_cast<adc_artifact_set_num_threads_fn>(
      dlsym(impl->handle, "adc_artifact_set_num_threads"));
  impl->peak_bytes = reinterpret_cast<adc_artifact_peak_bytes_fn>(
      dlsym(impl->handle, "adc_artifact_peak_bytes"));
  for (const auto& [symbol, found] :
       {std::pair<const char*, bool>{"adc_artifact_run", impl->run != nullptr},
        {"adc_artifact_last_error", impl->last_error != nullptr},
        {"adc_artifact_set_num_threads", impl->set_num_threads != nullptr}}) {
    if (!found) {
      return Status::Error(where + "incomplete adc artifact (no " + symbol +
                           " symbol)");
    }
  }

  const adc_signature* raw = signature_fn();
  if (raw == nullptr) {
    return Status::Error(where + "invalid adc artifact (null signature)");
  }
  if (raw->abi_version != ADC_ABI_VERSION) {
    return Status::Error(
        where + "artifact ABI version " + std::to_string(raw->abi_version) +
        ", this runtime supports version " + std::to_string(ADC_ABI_VERSION) +
        "; recompile it with a matching adc");
  }
  Signature signature;
  if (Status s = internal::ConvertSignature(*raw, where, &signature); !s.ok())
    return s;
  if (Status s = internal::CheckTargetRunsHere(signature.target, where);
      !s.ok()) {
    return s;
  }

  size_t position = 0;
  for (const auto* group :
       {&signature.inputs, &signature.parameters, &signature.outputs}) {
    for (const ArgSpec& arg : *group) impl->position[arg.name] = position++;
  }
  return std::unique_ptr<Module>(
      new Module(path, std::move(impl), std::move(signature)));
}

Status Module::Run(const std::map<std::string, ConstBuffer>& inputs,
                   const std::map<std::string, Buffer>& outputs,
                   const RunOptions& options) const {
  const size_t num_inputs = signature_.inputs.size();
  const size_t num_parameters = signature_.parameters.size();
  const size_t first_output = num_inputs + num_parameters;
  const size_t num_args = first_output + signature_.outputs.size();

  // 1. Check every buffer; nothing is touched until all pass.
  std::vector<void*> buffers(num_args, nullptr);
  std::vector<Range> ranges;
  ranges.reserve(inputs.size() + outputs.size());
  for (const auto& [name, buffer] : inputs) {
    auto it = impl_->position.find(name);
    if (it == impl_->position.end()) {
      return Status::Error("unknown input " + Quoted(name) +
                           " (inputs: " + JoinNames(signature_.inputs) +
                           "; parameters: " + JoinNames(signature_.parameters) +
                           ")");
    }
    const size_t pos = it->second;
    if (pos >= first_output) {
      return Status::Error(Quoted(name) +
                           " is an output; pass it among the outputs");
    }
    const bool is_parameter = pos >= num_inputs;
    const ArgSpec& spec = is_parameter ? signature_.parameters[pos - num_inputs]
                                       : signature_.inputs[pos];
    if (Status s =
            CheckBuffer(is_parameter ? "parameter" : "input", spec, buffer.data,
                        buffer.size_bytes, buffer.dtype, buffer.dims);
        !s.ok()) {
      return s;
    }
    buffers[pos] = const_cast<void*>(buffer.data);
    const auto begin = reinterpret_cast<uintptr_t>(buffer.data);
    ranges.push_back({begin, begin + spec.num_bytes(), false, &spec.name});
  }
  for (size_t i = 0; i < num_inputs; ++i) {
    if (inputs.count(signature_.inputs[i].name) == 0) {
      return Status::Error("missing input " +
                           Quoted(signature_.inputs[i].name) + " (" +
                           signature_.inputs[i].TypeString() + ")");
    }
  }
  for (const auto& [name, buffer] : outputs) {
    auto it = impl_->position.find(name);
    if (it == impl_->position.end()) {
      return Status::Error("unknown output " + Quoted(name) +
                           " (outputs: " + JoinNames(signature_.outputs) + ")");
    }
    if (it->second < first_output) {
      return Status::Error(Quoted(name) +
                           " is an input; pass it among the inputs");
    }
    const ArgSpec& spec = signature_.outputs[it->second - first_output];
    if (Status s = CheckBuffer("output", spec, buffer.data, buffer.size_bytes,
                               buffer.dtype, buffer.dims);
        !s.ok()) {
      return s;
    }
    const auto begin = reinterpret_cast<uintptr_t>(buffer.data);
    ranges.push_back({begin, begin + spec.num_bytes(), true, &spec.name});
  }
  if (Status s = CheckNoOverlap(std::move(ranges)); !s.ok()) return s;

  // 2. Fill in the rest: stored parameters, scratch for omitted outputs and
  // for gradients to accumulate.
  for (size_t i = 0; i < num_parameters; ++i) {
    if (inputs.count(signature_.parameters[i].name) == 0) {
      buffers[num_inputs + i] =
          const_cast<void*>(signature_.parameters[i].default_data);
    }
  }
  std::vector<Scratch> scratch(signature_.outputs.size());
  struct Accumulation {
    const ArgSpec* spec;
    const void* computed;
    void* into;
  };
  std::vector<Accumulation> accumulations;
  for (size_t i = 0; i < signature_.outputs.size(); ++i) {
    const ArgSpec& spec = signature_.outputs[i];
    auto given = outputs.find(spec.name);
    const bool accumulate = given != outputs.end() &&
                            options.accumulate_gradients && spec.is_gradient;
    if (given != outputs.end() && !accumulate) {
      buffers[first_output + i] = given->second.data;
      continue;
    }
    if (!scratch[i].Allocate(spec.num_bytes())) {
      return Status::Error(
          "out of memory: " + std::to_string(spec.num_bytes()) +
          " bytes of scratch for output " + Quoted(spec.name));
    }
    buffers[first_output + i] = scratch[i].data();
    if (accumulate) {
      accumulations.push_back({&spec, scratch[i].data(), given->second.data});
    }
  }
  // Zero-size arguments may come with null data; the artifact gets a valid
  // (never dereferenced) pointer.
  for (void*& b : buffers) {
    if (b == nullptr) b = empty_argument;
  }

  // 3. Run, then add accumulated gradients into the caller's buffers.
  int rc;
  {
    std::shared_lock<PoolGate> lock(*impl_->pool_mutex);
    rc = impl_->run(buffers.data());
  }
  if (rc != 0) {
    const char* error = impl_->last_error();
    return Status::Error(
        "artifact " + Quoted(path_) + " failed: " +
        (error != nullptr && error[0] != '\0' ? error : "no error message"));
  }
  for (const Accumulation& a : accumulations) {
    AddInto(a.spec->dtype, a.spec->num_elements(), a.computed, a.into);
  }
  return Status::Ok();
}

StatusOr<std::map<std::string, Tensor>> Module::Run(
    const std::map<std::string, Tensor>& inputs) const {
  std::map<std::string, ConstBuffer> input_buffers;
  for (const auto& [name, tensor] : inputs) {
    input_buffers[name] = tensor.buffer();
  }
  std::map<std::string, Tensor> results;
  std::map<std::string, Buffer> output_buffers;
  for (const ArgSpec& spec : signature_.outputs) {
    Tensor& t = results[spec.name] = Tensor(spec.dtype, spec.dims);
    output_buffers[spec.name] = t.buffer();
  }
  if (Status s = Run(input_buffers, output_buffers); !s.ok()) return s;
  return results;
}

int64_t Module::PeakIntermediateBytes(bool reset) const {
  return impl_->peak_bytes != nullptr ? impl_->peak_bytes(reset ? 1 : 0) : -1;
}

void Module::set_num_threads(int n) {
  std::unique_lock<PoolGate> lock(*impl_->pool_mutex);
  impl_->set_num_threads(std::max(n, 0));
}

Status Module::ZeroGradients(
    const std::map<std::string, Buffer>& outputs) const {
  const size_t first_output =
      signature_.inputs.size() + signature_.parameters.size();
  std::vector<std::pair<void*, size_t>> to_zero;
  for (const auto& [name, buffer] : outputs) {
    auto it = impl_->position.find(name);
    if (it == impl_->position.end() || it->second < first_output) {
      return Status::Error("unknown output " + Quoted(name) +
                           " (outputs: " + JoinNames(signature_.outputs) + ")");
    }
    const ArgSpec& spec = signature_.outputs[it->second - first_output];
    if (Status s = CheckBuffer("output", spec, buffer.data, buffer.size_bytes,
                               buffer.dtype, buffer.dims);
        !s.ok()) {
      return s;
    }
    if (spec.is_gradient && spec.num_bytes() > 0) {
      to_zero.emplace_back(buffer.data, spec.num_bytes());
    }
  }
  for (const auto& [data, size] : to_zero) std::memset(data, 0, size);
  return Status::Ok();
}

}  // namespace adc::rt
