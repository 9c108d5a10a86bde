// Runs ONNX's per-op conformance cases through the importer and a backend:
//
//   bazel run //tools/onnx:conformance -- [--backend=compile|interpret]
//       [--verbose] [--filter=SUBSTRING] [--data_dir=DIR]
//
// Prints one line per failing case (and, with --verbose, per skipped case
// with the reason, and per passing case), then "N passed, N failed, N
// skipped". Exits 1 if any case failed.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/onnx/conformance_lib.h"

ABSL_FLAG(std::string, backend, "compile",
          "compile (through adc's generated code, one artifact per case) or "
          "interpret (the reference interpreter, much faster)");
ABSL_FLAG(bool, verbose, false,
          "also print skipped cases with the reason, and passing cases");
ABSL_FLAG(std::string, filter, "",
          "only run cases whose name contains this string");
ABSL_FLAG(std::string, data_dir, adc::kOnnxNodeTestDir,
          "directory of case directories (each with model.onnx and "
          "test_data_set_*)");
ABSL_FLAG(bool, check_gradients, true,
          "also differentiate every passing case and run the gradient graph");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs ONNX's per-op conformance cases (libonnx-testdata) through the "
      "ONNX importer and a backend; prints failures and a summary.");
  absl::ParseCommandLine(argc, argv);
  adc::ConformanceOptions options;
  const std::string backend = absl::GetFlag(FLAGS_backend);
  if (backend == "interpret") {
    options.backend = adc::ConformanceBackend::kInterpret;
  } else if (backend == "compile") {
    options.backend = adc::ConformanceBackend::kCompile;
  } else {
    std::fprintf(stderr,
                 "error: --backend must be interpret or compile, got '%s'\n",
                 backend.c_str());
    return 2;
  }
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.filter = absl::GetFlag(FLAGS_filter);
  options.check_gradients = absl::GetFlag(FLAGS_check_gradients);
  const bool verbose = absl::GetFlag(FLAGS_verbose);

  absl::StatusOr<adc::ConformanceReport> report = adc::RunConformance(options);
  if (!report.ok()) {
    std::fprintf(stderr, "error: %s\n",
                 std::string(report.status().message()).c_str());
    return 2;
  }
  for (const adc::CaseResult& c : report->cases) {
    switch (c.outcome) {
      case adc::CaseOutcome::kFailed:
        std::printf("FAIL %s: %s\n", c.name.c_str(), c.detail.c_str());
        break;
      case adc::CaseOutcome::kSkipped:
        if (verbose) {
          std::printf("SKIP %s: %s\n", c.name.c_str(), c.detail.c_str());
        }
        break;
      case adc::CaseOutcome::kPassed:
        if (verbose) std::printf("PASS %s\n", c.name.c_str());
        break;
    }
  }
  int backend_skips = 0;
  std::string backend_reason;
  for (const adc::CaseResult& c : report->cases) {
    if (c.outcome == adc::CaseOutcome::kSkipped &&
        c.detail.rfind("backend: ", 0) == 0) {
      if (backend_skips++ == 0) backend_reason = c.detail;
    }
  }
  if (backend_skips > 0) {
    std::printf("note: the backend skipped %d cases (%s)\n", backend_skips,
                backend_reason.c_str());
  }
  std::printf("%s\n", report->Summary().c_str());
  return report->failed > 0 ? 1 : 0;
}
