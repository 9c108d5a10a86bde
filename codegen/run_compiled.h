// Compiles a graph into a temporary artifact and runs it through the runtime:
// the compiled counterpart of Interpret() (graph/interpreter.h), for tests,
// the ONNX conformance runner and tools that compare the two.
#ifndef ADC_CODEGEN_RUN_COMPILED_H_
#define ADC_CODEGEN_RUN_COMPILED_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "codegen/compile.h"
#include "graph/graph.h"

namespace adc {

// Compiles `graph` to a shared library in $TEST_TMPDIR or $TMPDIR (or /tmp),
// loads it with adc::rt::Module, runs it once on `feeds` (every input;
// parameters default to their stored values and may be overridden) and
// removes the file. Returns the outputs by name.
absl::StatusOr<std::map<std::string, Tensor>> CompileAndRun(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    const CompileOptions& options = {});

}  // namespace adc

#endif  // ADC_CODEGEN_RUN_COMPILED_H_
