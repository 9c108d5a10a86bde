// Test helpers for compiled code: compile a graph into a temporary artifact,
// run it through the runtime and compare with the reference interpreter.
#ifndef ADC_CODEGEN_TESTING_H_
#define ADC_CODEGEN_TESTING_H_

#include <map>
#include <string>
#include <vector>

#include "Halide.h"
#include "absl/status/statusor.h"
#include "codegen/compile.h"
#include "codegen/run_compiled.h"
#include "graph/graph.h"

namespace adc::testing {

// Compares every output of the compiled graph with the interpreter. Element
// i of an output passes when |compiled - expected| <= rtol * max(|expected_i|,
// scale, 0.1), with scale = max |expected| over the output / 10: relative
// error for elements of ordinary size, and absolute error rtol * 0.1 for
// elements far smaller than the O(1) intermediates they were computed from
// (cancellation in sums, second derivatives that nearly vanish), whose
// rounding error both implementations share. rtol: 1e-5 for f32 and 1e-10
// for f64 by default; integer and bool outputs must be equal; NaN must match
// NaN and infinities must be equal. The error lists the first mismatches.
absl::Status ExpectCompiledMatchesInterpreter(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    double rtol_f32 = 1e-5, double rtol_f64 = 1e-10);

// The same, compiled with `options` (e.g. for one FeatureLevel) once and run
// on each of `feed_sets`; the error says which set differed.
absl::Status ExpectCompiledMatchesInterpreter(
    const Graph& graph,
    const std::vector<std::map<std::string, Tensor>>& feed_sets,
    const CompileOptions& options, double rtol_f32 = 1e-5,
    double rtol_f64 = 1e-10);

// An x86-64 feature level that compiled tests cover.
struct FeatureLevel {
  std::string name;    // "sse2", "sse41", "avx2", "avx512", "host"
  std::string target;  // Its Halide target (CompileOptions::target).
  // A bounds-checked build (CompileOptions::check_bounds,
  // codegen/bounds_check.h): every load and store of the generated code
  // checks the elements it touches against its buffer (inputs, outputs,
  // temporaries, Halide's own allocations without their padding), and an
  // access outside fails the run with an error naming the buffer.
  bool memory_checked = false;
  CompileOptions options() const;
  // The parsed target ("host": this CPU's).
  Halide::Target halide_target() const;
};

// The levels, lowest first: baseline x86-64 (SSE2), SSE4.1, AVX2 (with FMA
// and F16C), AVX-512 (Skylake-class: F, CD, BW, DQ, VL), each memory-checked,
// then this machine's own CPU ("host": the production code, unchecked).
// (Memory-checked artifacts of Halide's asan feature, "host-asan", are the
// other check: run_compiled.h runs them under AddressSanitizer.)
const std::vector<FeatureLevel>& FeatureLevels();

// Empty if this CPU can run code of `level`; otherwise why not (the
// instruction-set features it lacks).
std::string WhyNotRunnable(const FeatureLevel& level);

// Deterministic random inputs for every input of the graph: floats uniform
// in [lo, hi], integers in [0, 4), bools random.
std::map<std::string, Tensor> RandomFeeds(const Graph& graph, uint64_t seed,
                                          double lo = -1, double hi = 1);

}  // namespace adc::testing

#endif  // ADC_CODEGEN_TESTING_H_
