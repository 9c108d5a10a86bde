#include "runtime/c_api.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/module.h"

namespace {

using adc::rt::ArgSpec;
using adc::rt::Buffer;
using adc::rt::ConstBuffer;
using adc::rt::Module;
using adc::rt::Status;

// One signature argument, flattened in signature order.
struct FlatArg {
  const ArgSpec* spec;
  adc_arg_kind kind;
};

// Stores a malloc'd copy of `message` in *error (if error is non-null).
// Returns -1, the error code of the int-returning functions.
int SetError(char** error, const std::string& message) {
  if (error != nullptr) {
    char* copy = static_cast<char*>(std::malloc(message.size() + 1));
    if (copy != nullptr) {
      std::memcpy(copy, message.c_str(), message.size() + 1);
    }
    *error = copy;  // NULL only if even this allocation failed.
  }
  return -1;
}

}  // namespace

struct adc_module {
  std::unique_ptr<Module> module;
  std::vector<FlatArg> args;

  const FlatArg* Arg(int32_t i) const {
    if (i < 0 || static_cast<size_t>(i) >= args.size()) return nullptr;
    return &args[i];
  }
};

namespace {

// Builds the buffer maps of one run or zero_gradients call from the C arrays.
// The dtype and dims come from the signature, so only names and sizes can be
// wrong. `role` is "input" or "output".
template <typename BufferT, typename DataT>
Status CollectBuffers(const adc_module& m, const char* role, int32_t n,
                      const char* const* names, DataT const* data,
                      const size_t* sizes,
                      std::map<std::string, BufferT>* buffers) {
  const std::string array = std::string(role) + "s";
  if (n < 0) {
    return Status::Error("negative number of " + array + ": " +
                         std::to_string(n));
  }
  if (n > 0 && (names == nullptr || data == nullptr || sizes == nullptr)) {
    return Status::Error(std::to_string(n) + " " + array +
                         " but a null names, data or sizes array");
  }
  for (int32_t i = 0; i < n; ++i) {
    if (names[i] == nullptr) {
      return Status::Error(std::string(role) + " " + std::to_string(i) +
                           ": null name");
    }
    const std::string name = names[i];
    // Unknown names get a placeholder type; Module::Run reports them.
    BufferT b;
    b.data = data[i];
    b.size_bytes = sizes[i];
    for (const FlatArg& arg : m.args) {
      if (arg.spec->name == name) {
        b.dtype = arg.spec->dtype;
        b.dims = arg.spec->dims;
        break;
      }
    }
    if (!buffers->emplace(name, std::move(b)).second) {
      return Status::Error(std::string(role) + " '" + name +
                           "' is given more than once");
    }
  }
  return Status::Ok();
}

}  // namespace

extern "C" {

adc_module* adc_module_load(const char* path, char** error) {
  if (path == nullptr) {
    SetError(error, "cannot load artifact: null path");
    return nullptr;
  }
  try {
    auto loaded = Module::Load(path);
    if (!loaded.ok()) {
      SetError(error, loaded.status().message());
      return nullptr;
    }
    auto m = std::make_unique<adc_module>();
    m->module = std::move(*loaded);
    const adc::rt::Signature& sig = m->module->signature();
    for (const ArgSpec& a : sig.inputs) m->args.push_back({&a, ADC_ARG_INPUT});
    for (const ArgSpec& a : sig.parameters) {
      m->args.push_back({&a, ADC_ARG_PARAMETER});
    }
    for (const ArgSpec& a : sig.outputs)
      m->args.push_back({&a, ADC_ARG_OUTPUT});
    return m.release();
  } catch (const std::exception& e) {
    SetError(error, std::string("cannot load artifact: ") + e.what());
    return nullptr;
  }
}

void adc_module_free(adc_module* module) { delete module; }

void adc_error_free(char* error) { std::free(error); }

const char* adc_module_graph_name(const adc_module* module) {
  return module ? module->module->signature().graph_name.c_str() : nullptr;
}

const char* adc_module_target(const adc_module* module) {
  return module ? module->module->signature().target.c_str() : nullptr;
}

const char* adc_module_adc_version(const adc_module* module) {
  return module ? module->module->signature().adc_version.c_str() : nullptr;
}

int32_t adc_module_num_args(const adc_module* module) {
  return module ? static_cast<int32_t>(module->args.size()) : -1;
}

int32_t adc_module_find_arg(const adc_module* module, const char* name) {
  if (module == nullptr || name == nullptr) return -1;
  for (size_t i = 0; i < module->args.size(); ++i) {
    if (module->args[i].spec->name == name) return static_cast<int32_t>(i);
  }
  return -1;
}

const char* adc_module_arg_name(const adc_module* module, int32_t i) {
  const FlatArg* arg = module ? module->Arg(i) : nullptr;
  return arg ? arg->spec->name.c_str() : nullptr;
}

int32_t adc_module_arg_kind(const adc_module* module, int32_t i) {
  const FlatArg* arg = module ? module->Arg(i) : nullptr;
  return arg ? arg->kind : -1;
}

int32_t adc_module_arg_dtype(const adc_module* module, int32_t i) {
  const FlatArg* arg = module ? module->Arg(i) : nullptr;
  return arg ? static_cast<int32_t>(arg->spec->dtype) : -1;
}

int32_t adc_module_arg_rank(const adc_module* module, int32_t i) {
  const FlatArg* arg = module ? module->Arg(i) : nullptr;
  return arg ? static_cast<int32_t>(arg->spec->dims.size()) : -1;
}

const int64_t* adc_module_arg_dims(const adc_module* module, int32_t i) {
  const FlatArg* arg = module ? module->Arg(i) : nullptr;
  if (arg == nullptr || arg->spec->dims.empty()) return nullptr;
  return arg->spec->dims.data();
}

int32_t adc_module_arg_is_gradient(const adc_module* module, int32_t i) {
  const FlatArg* arg = module ? module->Arg(i) : nullptr;
  return arg ? (arg->spec->is_gradient ? 1 : 0) : -1;
}

int64_t adc_module_arg_size_bytes(const adc_module* module, int32_t i) {
  const FlatArg* arg = module ? module->Arg(i) : nullptr;
  return arg ? static_cast<int64_t>(arg->spec->num_bytes()) : -1;
}

const void* adc_module_arg_default_data(const adc_module* module, int32_t i) {
  const FlatArg* arg = module ? module->Arg(i) : nullptr;
  return arg ? arg->spec->default_data : nullptr;
}

int adc_module_run(const adc_module* module, int32_t n_in,
                   const char* const* in_names, const void* const* in_data,
                   const size_t* in_sizes, int32_t n_out,
                   const char* const* out_names, void* const* out_data,
                   const size_t* out_sizes, uint32_t flags, char** error) {
  if (module == nullptr) return SetError(error, "adc_module_run: null module");
  if ((flags & ~ADC_RUN_ACCUMULATE_GRADIENTS) != 0) {
    return SetError(error,
                    "adc_module_run: unknown flags " + std::to_string(flags));
  }
  try {
    std::map<std::string, ConstBuffer> inputs;
    std::map<std::string, Buffer> outputs;
    Status s = CollectBuffers(*module, "input", n_in, in_names, in_data,
                              in_sizes, &inputs);
    if (s.ok()) {
      s = CollectBuffers(*module, "output", n_out, out_names, out_data,
                         out_sizes, &outputs);
    }
    if (s.ok()) {
      adc::rt::RunOptions options;
      options.accumulate_gradients =
          (flags & ADC_RUN_ACCUMULATE_GRADIENTS) != 0;
      s = module->module->Run(inputs, outputs, options);
    }
    return s.ok() ? 0 : SetError(error, s.message());
  } catch (const std::exception& e) {
    return SetError(error, std::string("adc_module_run: ") + e.what());
  }
}

int adc_module_zero_gradients(const adc_module* module, int32_t n_out,
                              const char* const* out_names,
                              void* const* out_data, const size_t* out_sizes,
                              char** error) {
  if (module == nullptr) {
    return SetError(error, "adc_module_zero_gradients: null module");
  }
  try {
    std::map<std::string, Buffer> outputs;
    Status s = CollectBuffers(*module, "output", n_out, out_names, out_data,
                              out_sizes, &outputs);
    if (s.ok()) s = module->module->ZeroGradients(outputs);
    return s.ok() ? 0 : SetError(error, s.message());
  } catch (const std::exception& e) {
    return SetError(error,
                    std::string("adc_module_zero_gradients: ") + e.what());
  }
}

int adc_module_set_num_threads(adc_module* module, int n) {
  if (module == nullptr || n < 0) return -1;
  module->module->set_num_threads(n);
  return 0;
}

}  // extern "C"
