// The adc runtime: loads a compiled artifact (`adc compile` output) and runs
// it. Depends on the C++ standard library, libdl and pthreads only: no Halide,
// LLVM, protobuf or Abseil at run time.
//
//   auto module = adc::rt::Module::Load("model.so");
//   if (!module.ok()) { std::cerr << module.status().message(); ... }
//   std::vector<float> x(4), y(4);
//   adc::rt::Status s = module->Run(
//       {{"x", adc::rt::ConstBuffer::Of(x, {4})}},
//       {{"y", adc::rt::Buffer::Of(y, {4})}});
//
// Run checks every input and output buffer against the embedded signature
// before touching memory: a missing input, unknown name, wrong dtype, wrong
// shape or too-small buffer is an error naming the argument, and nothing is
// written. Parameters may be omitted (their stored values are used) or given
// to override them. Outputs may be omitted (computed into scratch memory).
// Run is const and thread-safe: one module may run on many threads at once,
// and any number of times.
//
// An output buffer may not overlap any other buffer passed to the same Run
// (the compiled code reads its inputs while it writes its outputs); inputs may
// overlap each other. If the artifact itself fails at run time (its error
// message is returned), given outputs may have been partly written.
//
// Loading the same file twice yields two Modules sharing one loaded copy of
// the artifact (dlopen reference counting), and so one thread pool.
#ifndef ADC_RUNTIME_MODULE_H_
#define ADC_RUNTIME_MODULE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace adc::rt {

// Element types (numbering as in the artifact ABI).
enum class DType : int32_t {
  kF32 = 1,
  kF64 = 2,
  kI32 = 3,
  kI64 = 4,
  kBool = 5
};
const char* DTypeName(DType dtype);  // "f32", ...
size_t DTypeSize(DType dtype);       // bytes per element (bool: 1)

// A success or an error message (the runtime uses no Abseil).
class Status {
 public:
  Status() = default;  // OK.
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    return Status(std::move(message));
  }
  bool ok() const { return !error_; }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message)
      : error_(true), message_(std::move(message)) {}
  bool error_ = false;
  std::string message_;
};

template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return value_; }
  const T& value() const { return value_; }
  T& operator*() { return value_; }
  const T& operator*() const { return value_; }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }

 private:
  Status status_;
  T value_{};
};

// One argument of the signature.
struct ArgSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> dims;
  bool is_gradient = false;  // Outputs added by autodiff.
  // Parameters: the stored value (num_bytes() bytes, dense row-major), owned
  // by the loaded artifact: valid while its Module lives. Null otherwise.
  const void* default_data = nullptr;

  int64_t num_elements() const;
  size_t num_bytes() const { return num_elements() * DTypeSize(dtype); }
  std::string TypeString() const;  // "f32[2,3]"
};

struct Signature {
  std::string graph_name;
  std::string target;       // The Halide target the artifact was compiled for.
  std::string adc_version;  // The compiler that made it.
  std::vector<ArgSpec> inputs;
  std::vector<ArgSpec> parameters;
  std::vector<ArgSpec> outputs;
};

// A view of caller-owned memory: dense, row-major.
struct Buffer {
  void* data = nullptr;
  size_t size_bytes = 0;
  DType dtype = DType::kF32;
  std::vector<int64_t> dims;

  template <typename T>
  static Buffer Of(std::vector<T>& v, std::vector<int64_t> dims);
};

struct ConstBuffer {
  const void* data = nullptr;
  size_t size_bytes = 0;
  DType dtype = DType::kF32;
  std::vector<int64_t> dims;

  template <typename T>
  static ConstBuffer Of(const std::vector<T>& v, std::vector<int64_t> dims);
  ConstBuffer() = default;
  ConstBuffer(const Buffer& b)  // NOLINT
      : data(b.data), size_bytes(b.size_bytes), dtype(b.dtype), dims(b.dims) {}
};

// An owning tensor, for the convenience overload of Run.
class Tensor {
 public:
  Tensor() = default;
  // Zero-filled. A negative dimension is treated as 0 (no elements).
  Tensor(DType dtype, std::vector<int64_t> dims);
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t num_elements() const;
  void* data() { return bytes_.data(); }
  const void* data() const { return bytes_.data(); }
  size_t size_bytes() const { return bytes_.size(); }
  template <typename T>
  T* data_as() {
    return reinterpret_cast<T*>(bytes_.data());
  }
  template <typename T>
  const T* data_as() const {
    return reinterpret_cast<const T*>(bytes_.data());
  }
  Buffer buffer();
  ConstBuffer buffer() const;

 private:
  DType dtype_ = DType::kF32;
  std::vector<int64_t> dims_;
  std::vector<unsigned char> bytes_;
};

struct RunOptions {
  // Add gradient outputs (ArgSpec::is_gradient) into the given buffers
  // instead of overwriting them, as PyTorch accumulates .grad: running k
  // times accumulates k gradients. Other outputs are overwritten.
  bool accumulate_gradients = false;
};

class Module {
 public:
  // Loads an artifact. Errors: missing file, not a regular file, not a shared
  // library (dlopen's message included) or a truncated one, a shared library
  // that is not an adc artifact, an incompatible ABI version, an invalid
  // signature (bad dtype, kind or rank, missing or duplicate name, arguments
  // out of order, a parameter without a stored value). A path without '/' is
  // a file in the current directory, never a library-path search.
  static StatusOr<std::unique_ptr<Module>> Load(const std::string& path);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const Signature& signature() const { return signature_; }
  const std::string& path() const { return path_; }

  Status Run(const std::map<std::string, ConstBuffer>& inputs,
             const std::map<std::string, Buffer>& outputs,
             const RunOptions& options = {}) const;
  // Allocates and returns every output (by name). Parameters not in
  // `inputs` take their stored values.
  StatusOr<std::map<std::string, Tensor>> Run(
      const std::map<std::string, Tensor>& inputs) const;

  // Size of this module's thread pool (0: one thread per core). Independent
  // of other modules (but see "Loading the same file twice" above). A
  // negative n counts as 0. The pool is stopped and restarts at the new size
  // on the next Run, so it may shrink as well as grow. Safe to call while
  // other threads run this module: it waits for the runs in progress, and
  // runs that start meanwhile wait for it.
  void set_num_threads(int n);

  // The most bytes of intermediate memory (Halide's internal buffers and
  // the temporaries between stages; not inputs, parameters or outputs) in
  // use at once during the runs since the last reset (or the load); with
  // `reset`, starts a new measurement. -1 when the artifact does not measure
  // it (memory-checked builds, and artifacts made before it did). Shared by
  // the modules of one file.
  int64_t PeakIntermediateBytes(bool reset = false) const;

  // Zeroes the gradient outputs among `outputs` (PyTorch's zero_grad). Every
  // buffer is checked as in Run first (an unknown name or a mismatch is an
  // error and nothing is written); non-gradient outputs are left alone.
  Status ZeroGradients(const std::map<std::string, Buffer>& outputs) const;

 private:
  struct Impl;
  Module(std::string path, std::unique_ptr<Impl> impl, Signature signature);
  std::string path_;
  std::unique_ptr<Impl> impl_;
  Signature signature_;
};

// ---------------------------------------------------------------------------
template <typename T>
constexpr DType DTypeOf() {
  if constexpr (std::is_same_v<T, float>) return DType::kF32;
  if constexpr (std::is_same_v<T, double>) return DType::kF64;
  if constexpr (std::is_same_v<T, int32_t>) return DType::kI32;
  if constexpr (std::is_same_v<T, int64_t>) return DType::kI64;
  if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, uint8_t>) {
    return DType::kBool;
  }
}

template <typename T>
Buffer Buffer::Of(std::vector<T>& v, std::vector<int64_t> dims) {
  static_assert(!std::is_same_v<T, bool>, "use std::vector<uint8_t> for bool");
  return Buffer{v.data(), v.size() * sizeof(T), DTypeOf<T>(), std::move(dims)};
}

template <typename T>
ConstBuffer ConstBuffer::Of(const std::vector<T>& v,
                            std::vector<int64_t> dims) {
  static_assert(!std::is_same_v<T, bool>, "use std::vector<uint8_t> for bool");
  ConstBuffer b;
  b.data = v.data();
  b.size_bytes = v.size() * sizeof(T);
  b.dtype = DTypeOf<T>();
  b.dims = std::move(dims);
  return b;
}

}  // namespace adc::rt

#endif  // ADC_RUNTIME_MODULE_H_
