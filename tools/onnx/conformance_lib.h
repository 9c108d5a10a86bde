// ONNX conformance: runs ONNX's per-op test cases (Debian's
// libonnx-testdata: <dir>/<case>/model.onnx with test_data_set_*/input_*.pb
// and output_*.pb, each an onnx.TensorProto) through the importer and a
// backend, and compares the results with the shipped outputs.
//
// A case is skipped when the importer reports it Unimplemented (an
// unsupported op, attribute variant or dtype) or the backend does; any other
// error or a wrong value is a failure, except for the few cases whose
// shipped outputs are known to be wrong (listed with the evidence in
// conformance_lib.cc), which are skipped with that reason. Graph inputs that
// static operands depend on (a shape fed as an input, ...; see
// StaticOperandInputs) are frozen to the data set's values with
// ImportOptions::constant_inputs, so each data set is imported separately.
//
// Tolerances: |got - want| <= atol + rtol * |want| with rtol 1e-4, atol 1e-5
// for f32 and rtol 1e-9, atol 1e-12 for f64; integers and bools exactly;
// NaN matches NaN. With check_gradients, every case that passes is also
// differentiated (AddGradients of its first float output, seeded with ones,
// w.r.t. every float input and parameter) and the gradient graph must run;
// with the compiled backend, its compiled values (forward and gradients) must
// also match the reference interpreter's (codegen/testing.h tolerances).
#ifndef ADC_TOOLS_ONNX_CONFORMANCE_LIB_H_
#define ADC_TOOLS_ONNX_CONFORMANCE_LIB_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "codegen/compile.h"
#include "graph/graph.h"
#include "graph/types.h"

namespace adc {

inline constexpr char kOnnxNodeTestDir[] =
    "/usr/share/libonnx-testdata/data/node";

enum class ConformanceBackend {
  kInterpret,  // The reference interpreter (graph/interpreter.h).
  kCompile,    // Compiled code: RunCompiled below.
};

// The compiled backend: compiles `graph` (codegen/compile.h), loads the
// artifact (runtime/module.h) and runs it on `feeds`, returning the outputs by
// name.
absl::StatusOr<std::map<std::string, Tensor>> RunCompiled(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    const CompileOptions& options = {});

struct ConformanceOptions {
  std::string data_dir = kOnnxNodeTestDir;
  ConformanceBackend backend = ConformanceBackend::kInterpret;
  // If not empty: only the cases whose ops are all in this set.
  std::set<std::string> ops;
  // If not empty: only the cases whose name contains this string.
  std::string filter;
  bool check_gradients = true;
  // For the compiled backend (e.g. a target, or bounds-checked code).
  CompileOptions compile;
};

enum class CaseOutcome { kPassed, kFailed, kSkipped };

struct CaseResult {
  std::string name;  // The case's directory name, e.g. "test_add_bcast".
  CaseOutcome outcome = CaseOutcome::kPassed;
  std::string detail;  // Why it failed or was skipped.
};

struct ConformanceReport {
  std::vector<CaseResult> cases;  // In name order.
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  // "N passed, N failed, N skipped".
  std::string Summary() const;
};

// Runs every selected case under options.data_dir. Errors only if the
// directory cannot be read.
absl::StatusOr<ConformanceReport> RunConformance(
    const ConformanceOptions& options);

// Runs one case directory.
CaseResult RunConformanceCase(const std::string& case_dir,
                              const ConformanceOptions& options);

}  // namespace adc

#endif  // ADC_TOOLS_ONNX_CONFORMANCE_LIB_H_
