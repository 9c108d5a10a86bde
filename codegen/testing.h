// Test helpers for compiled code: compile a graph into a temporary artifact,
// run it through the runtime and compare with the reference interpreter.
#ifndef ADC_CODEGEN_TESTING_H_
#define ADC_CODEGEN_TESTING_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
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

// Deterministic random inputs for every input of the graph: floats uniform
// in [lo, hi], integers in [0, 4), bools random.
std::map<std::string, Tensor> RandomFeeds(const Graph& graph, uint64_t seed,
                                          double lo = -1, double hi = 1);

}  // namespace adc::testing

#endif  // ADC_CODEGEN_TESTING_H_
