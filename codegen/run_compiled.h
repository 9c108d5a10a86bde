// Compiles a graph into a temporary artifact and runs it through the runtime:
// the compiled counterpart of Interpret() (graph/interpreter.h), for tests,
// the ONNX conformance runner and tools that compare the two.
#ifndef ADC_CODEGEN_RUN_COMPILED_H_
#define ADC_CODEGEN_RUN_COMPILED_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "codegen/compile.h"
#include "graph/graph.h"
#include "runtime/module.h"

namespace adc {

class TempDir;

// A graph compiled to a shared library in $TEST_TMPDIR or $TMPDIR (or /tmp)
// and loaded with adc::rt::Module (the file is removed once loaded).
//
// A memory-checked target (one with Halide's asan feature, e.g.
// "host-asan") is not loaded here: each Run runs it in a child process built
// with AddressSanitizer, codegen/memcheck_run (found through
// $ADC_MEMCHECK_RUN, else the Bazel runfiles of the test), and an
// out-of-bounds access or use after free in generated code is an error
// holding AddressSanitizer's report.
class CompiledGraph {
 public:
  static absl::StatusOr<CompiledGraph> Compile(
      const Graph& graph, const CompileOptions& options = {});

  // Runs once on `feeds` (every input; parameters default to their stored
  // values and may be overridden). Every buffer is exactly the size of its
  // value. Returns the outputs by name.
  absl::StatusOr<std::map<std::string, Tensor>> Run(
      const std::map<std::string, Tensor>& feeds) const;

 private:
  absl::StatusOr<std::map<std::string, Tensor>> RunMemoryChecked(
      const std::map<std::string, Tensor>& feeds) const;
  // The graph's outputs from their bytes (dense, row-major) by name.
  absl::StatusOr<std::map<std::string, Tensor>> Outputs(
      const std::function<std::string(const std::string&)>& bytes) const;

  Graph graph_;
  std::shared_ptr<rt::Module> module_;
  std::shared_ptr<TempDir> artifact_dir_;  // Memory-checked: the artifact.
};

// Compile and run once.
absl::StatusOr<std::map<std::string, Tensor>> CompileAndRun(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    const CompileOptions& options = {});

}  // namespace adc

#endif  // ADC_CODEGEN_RUN_COMPILED_H_
