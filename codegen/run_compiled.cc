#include "codegen/run_compiled.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "codegen/memcheck_protocol.h"
#include "codegen/process.h"
#include "graph/check.h"

namespace adc {
namespace {

std::string MemcheckRunner() {
  if (const char* path = std::getenv("ADC_MEMCHECK_RUN"); path && *path) {
    return path;
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir && *srcdir && workspace && *workspace) {
    return absl::StrCat(srcdir, "/", workspace, "/codegen/memcheck_run");
  }
  return "";
}

}  // namespace

absl::StatusOr<CompiledGraph> CompiledGraph::Compile(
    const Graph& graph, const CompileOptions& options) {
  CompiledGraph compiled;
  compiled.graph_ = graph;
  if (IsMemoryCheckedTarget(options.target)) {
    compiled.artifact_dir_ = std::make_shared<TempDir>();
    if (!compiled.artifact_dir_->ok()) {
      return absl::InternalError("cannot create a temporary directory");
    }
    ADC_RETURN_IF_ERROR(CompileToSharedLibrary(
        graph, compiled.artifact_dir_->File("artifact.so"), options));
    return compiled;
  }
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
  compiled.module_ = std::move(*module);
  return compiled;
}

absl::StatusOr<std::map<std::string, Tensor>> CompiledGraph::Run(
    const std::map<std::string, Tensor>& feeds) const {
  if (artifact_dir_ != nullptr) return RunMemoryChecked(feeds);
  std::map<std::string, rt::Tensor> inputs;
  for (const auto& [name, t] : feeds) {
    rt::Tensor tensor(static_cast<rt::DType>(static_cast<int>(t.dtype()) + 1),
                      t.dims());
    const std::vector<uint8_t> bytes = t.ToBytes();
    if (!bytes.empty()) std::memcpy(tensor.data(), bytes.data(), bytes.size());
    inputs[name] = std::move(tensor);
  }
  auto outputs = module_->Run(inputs);
  if (!outputs.ok()) return absl::InternalError(outputs.status().message());
  return Outputs([&](const std::string& name) {
    const rt::Tensor& t = outputs->at(name);
    return std::string(static_cast<const char*>(t.data()), t.size_bytes());
  });
}

absl::StatusOr<std::map<std::string, Tensor>> CompiledGraph::Outputs(
    const std::function<std::string(const std::string&)>& bytes) const {
  std::map<std::string, Tensor> result;
  for (const GraphOutput& out : graph_.outputs()) {
    const std::string data = bytes(out.name);
    ADC_ASSIGN_OR_RETURN(
        Tensor tensor,
        Tensor::FromBytes(
            graph_.type(out.value),
            absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()),
                                data.size())));
    result[out.name] = std::move(tensor);
  }
  return result;
}

absl::StatusOr<std::map<std::string, Tensor>> CompiledGraph::RunMemoryChecked(
    const std::map<std::string, Tensor>& feeds) const {
  const std::string runner = MemcheckRunner();
  if (runner.empty()) {
    return absl::FailedPreconditionError(
        "a memory-checked artifact runs in codegen/memcheck_run: set "
        "ADC_MEMCHECK_RUN to its path (or run under bazel test with it as "
        "data)");
  }
  TempDir io;
  if (!io.ok()) return absl::InternalError("cannot create a temporary dir");
  for (const auto& [name, t] : feeds) {
    const std::vector<uint8_t> bytes = t.ToBytes();
    ADC_RETURN_IF_ERROR(
        WriteFile(memcheck::ArgumentFile(io.path(), name, ".in"),
                  std::string(bytes.begin(), bytes.end())));
  }
  ADC_RETURN_IF_ERROR(
      RunTool({runner, artifact_dir_->File("artifact.so"), io.path()},
              io.File("log"), "build //codegen:memcheck_run"));
  return Outputs([&](const std::string& name) {
    return ReadFile(memcheck::ArgumentFile(io.path(), name, ".out"));
  });
}

absl::StatusOr<std::map<std::string, Tensor>> CompileAndRun(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    const CompileOptions& options) {
  ADC_ASSIGN_OR_RETURN(CompiledGraph compiled,
                       CompiledGraph::Compile(graph, options));
  return compiled.Run(feeds);
}

}  // namespace adc
