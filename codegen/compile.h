// Ahead-of-time compilation of a verified graph to native code with Halide.
//
// Every output of the graph becomes an output of one Halide pipeline whose
// inputs are the graph's inputs and parameters. The artifact is a shared
// library implementing runtime/artifact_abi.h: the pipeline, a C entry point,
// the embedded signature (names, dtypes, shapes, parameter values, ABI
// version) and a private copy of the Halide runtime (hidden, so artifacts
// load side by side in one process).
#ifndef ADC_CODEGEN_COMPILE_H_
#define ADC_CODEGEN_COMPILE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "codegen/limits.h"
#include "graph/graph.h"

namespace adc {

struct CompileOptions {
  // Halide target string; "host" detects this machine's CPU features.
  std::string target = "host";
  // Also write Halide's assembly next to the output (<output>.s).
  bool emit_assembly = false;
  // Run the optimization pipeline (passes/pipeline.h, without
  // stop_gradient nodes) before lowering. It preserves values exactly.
  bool optimize = true;
  // A bounds-checked build (codegen/bounds_check.h): every load and store of
  // the generated code checks the elements it touches against its buffer,
  // and an access outside fails the run with an error naming the buffer.
  // For finding bugs in code generation; costs some speed.
  bool check_bounds = false;
  // Code generation's limits (codegen/limits.h).
  LowerLimits limits;
  // Who schedules each stage: "default" (adc's own schedule: the fusion
  // plan's loops, parallel and vectorized, register-blocked products), or
  // one of Halide 14's autoschedulers, "adams2019", "li2018" (made for
  // gradient pipelines) or "mullapudi2016", given the algorithm alone and
  // this machine's core count (their plugins ship in libhalide14-0-dev).
  std::string schedule = "default";
};

// The schedule names CompileOptions::schedule accepts.
const std::vector<std::string>& ScheduleNames();

// Whether `target` (CompileOptions::target) has Halide's asan feature: its
// artifacts need AddressSanitizer in the process that loads them
// (CompiledGraph in codegen/run_compiled.h runs them in memcheck_run).
bool IsMemoryCheckedTarget(const std::string& target);

// The fusion plan (codegen/fusion_plan.h) of `graph` as code generation sees
// it (optimized if options.optimize): the materialized values, one line each
// ("stage 0: 'name' (op): reason"), after a summary line. `adc inspect
// --plan`.
absl::StatusOr<std::string> DescribeFusionPlan(
    const Graph& graph, const CompileOptions& options = {});

// Writes a shared library (`adc compile IN.pb -o OUT.so`). Errors (Halide
// compile failures included) name the node they concern; nothing aborts.
absl::Status CompileToSharedLibrary(const Graph& graph,
                                    const std::string& output_path,
                                    const CompileOptions& options = {});

// Writes <prefix>.a (static library: pipeline, signature, entry points and
// runtime) and <prefix>.h (a typed C++ entry point named `function_name`),
// for the adc_library Bazel rule.
absl::Status CompileToStaticLibrary(const Graph& graph,
                                    const std::string& prefix,
                                    const std::string& function_name,
                                    const CompileOptions& options = {});

}  // namespace adc

#endif  // ADC_CODEGEN_COMPILE_H_
