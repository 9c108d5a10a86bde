#include "codegen/run_compiled.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "runtime/module.h"

namespace adc {

absl::StatusOr<std::map<std::string, Tensor>> CompileAndRun(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    const CompileOptions& options) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TEST_TMPDIR");
  if (dir == nullptr || *dir == '\0') dir = std::getenv("TMPDIR");
  const std::string path =
      absl::StrCat(dir != nullptr && *dir != '\0' ? dir : "/tmp",
                   "/adc_artifact_", getpid(), "_", counter++, ".so");
  ADC_RETURN_IF_ERROR(CompileToSharedLibrary(graph, path, options));
  auto module = rt::Module::Load(path);
  std::remove(path.c_str());
  if (!module.ok()) return absl::InternalError(module.status().message());
  std::map<std::string, rt::Tensor> inputs;
  for (const auto& [name, t] : feeds) {
    rt::Tensor tensor(static_cast<rt::DType>(static_cast<int>(t.dtype()) + 1),
                      t.dims());
    const std::vector<uint8_t> bytes = t.ToBytes();
    if (!bytes.empty()) std::memcpy(tensor.data(), bytes.data(), bytes.size());
    inputs[name] = std::move(tensor);
  }
  auto outputs = (*module)->Run(inputs);
  if (!outputs.ok()) return absl::InternalError(outputs.status().message());
  std::map<std::string, Tensor> result;
  for (const GraphOutput& out : graph.outputs()) {
    const rt::Tensor& t = outputs->at(out.name);
    ADC_ASSIGN_OR_RETURN(
        Tensor tensor,
        Tensor::FromBytes(
            graph.type(out.value),
            absl::MakeConstSpan(static_cast<const uint8_t*>(t.data()),
                                t.size_bytes())));
    result[out.name] = std::move(tensor);
  }
  return result;
}

}  // namespace adc
