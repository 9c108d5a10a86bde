// adc compile IN.pb -o OUT.so [--target host|<halide target>]
//             [--emit-assembly] [--check-bounds] [--schedule NAME]
// adc compile IN.pb -o OUT.a --function NAME   (static library + OUT.h, for
//             the adc_library Bazel rule)
#include "absl/flags/flag.h"
#include "codegen/compile.h"
#include "graph/check.h"
#include "tools/commands.h"

ABSL_FLAG(std::string, target, "host",
          "Halide target string (default: host, this machine's CPU "
          "features). Tested x86-64 levels: x86-64-linux (SSE2), "
          "x86-64-linux-sse41, x86-64-linux-avx-avx2-f16c-fma-sse41, "
          "x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41 and "
          "host; host-asan (or any level with -asan) makes a memory-checked "
          "artifact, to run under AddressSanitizer.");
ABSL_FLAG(bool, check_bounds, false,
          "Bounds-checked code: every load and store checks the elements it "
          "touches against its buffer; an access outside fails the run with "
          "an error naming the buffer (for debugging code generation).");
ABSL_FLAG(bool, emit_assembly, false,
          "Also write the generated assembly next to the output (OUT.so.s).");
ABSL_FLAG(bool, optimize, true,
          "Run the optimization pipeline before code generation "
          "(--optimize=false compiles the graph as it is).");
ABSL_FLAG(std::string, schedule, "default",
          "Who schedules the generated code: default (adc's schedule), or "
          "Halide 14's autoschedulers adams2019, li2018 (made for gradient "
          "pipelines) or mullapudi2016.");
ABSL_FLAG(std::string, function, "",
          "With -o OUT.a: the name of the typed C++ entry point declared in "
          "OUT.h (a C identifier).");

namespace adc::cli {
namespace {

absl::Status RunCompile(const Args& args) {
  const std::string out = absl::GetFlag(FLAGS_o);
  if (out.empty()) return UsageError("compile", "missing -o OUT.so");
  // LoadGraphFile verifies the graph.
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  CompileOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.emit_assembly = absl::GetFlag(FLAGS_emit_assembly);
  options.optimize = absl::GetFlag(FLAGS_optimize);
  options.check_bounds = absl::GetFlag(FLAGS_check_bounds);
  options.schedule = absl::GetFlag(FLAGS_schedule);
  const std::string function = absl::GetFlag(FLAGS_function);
  if (out.size() > 2 && out.substr(out.size() - 2) == ".a") {
    if (function.empty()) {
      return UsageError("compile", "-o OUT.a needs --function NAME");
    }
    return CompileToStaticLibrary(graph, out.substr(0, out.size() - 2),
                                  function, options);
  }
  if (!function.empty()) {
    return UsageError("compile", "--function needs -o OUT.a");
  }
  return CompileToSharedLibrary(graph, out, options);
}

}  // namespace

Command CompileCommand() {
  return {
      "compile",
      "IN.pb -o OUT.so|OUT.a [--target host|<halide target>] "
      "[--emit-assembly] [--check-bounds] [--schedule NAME] [--function "
      "NAME]",
      "compile a graph ahead of time to a shared library",
      "Verifies the graph and compiles it with Halide to a shared library "
      "that\n"
      "embeds its signature (inputs, parameters with their stored values,\n"
      "outputs); load it with the runtime (runtime/module.h) or 'adc run'.\n"
      "With -o OUT.a and --function NAME it writes a static library and\n"
      "OUT.h with a typed C++ entry point NAME(inputs..., parameters...,\n"
      "outputs...) instead (what the adc_library Bazel rule uses).",
      {{"o", "OUT.so|OUT.a", "Where to write the library (required)."},
       {"target", "TARGET"},
       {"emit-assembly", ""},
       {"optimize", ""},
       {"check-bounds", ""},
       {"schedule", "NAME"},
       {"function", "NAME"}},
      {"IN.pb"},
      RunCompile,
  };
}

}  // namespace adc::cli
