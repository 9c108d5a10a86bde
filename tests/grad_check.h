// Gradient checking by finite differences (torch.autograd.gradcheck): compares
// the reverse-mode gradients autodiff builds with central differences of the
// reference interpreter, in f64.
#ifndef ADC_TESTS_GRAD_CHECK_H_
#define ADC_TESTS_GRAD_CHECK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "graph/graph.h"

namespace adc {

struct GradCheckOptions {
  double eps = 1e-6;   // Central-difference step.
  double atol = 1e-6;  // |analytic - numeric| <= atol + rtol * |numeric|.
  double rtol = 1e-5;
  uint64_t seed = 1;  // For the random projection of non-scalar values.
};

// Checks d(of)/d(wrt) for each wrt (float inputs/parameters of `graph`, all of
// them when empty). A non-scalar `of` is first projected to a scalar
// sum(of * r) with a fixed random r. Every wrt must be f64. The error lists
// the first mismatching elements.
absl::Status GradCheck(const Graph& graph, const std::string& of,
                       const std::map<std::string, Tensor>& feeds,
                       std::vector<std::string> wrt = {},
                       const GradCheckOptions& options = {});

// Checks second derivatives: builds the gradient of `of` (projected to a
// scalar) with respect to `wrt`, then checks the gradient of a random
// projection of those gradients by finite differences of the first ones.
absl::Status GradGradCheck(const Graph& graph, const std::string& of,
                           const std::map<std::string, Tensor>& feeds,
                           std::vector<std::string> wrt = {},
                           const GradCheckOptions& options = {});

// Checks forward mode (passes/forward_mode.h): the JVP of `of` along random
// tangents of every wrt (f64 inputs/parameters, all when empty) against
//  - central differences of `of` along the same direction, element by
//    element with atol/rtol, and
//  - reverse mode, by the dot-product identity <JVP(t), s> = <t, VJP(s)> for
//    a random cotangent s (equal up to rounding: relative max(1e-9,
//    rtol / 1000) of the sum of the terms' magnitudes, plus 1e-14).
absl::Status JvpCheck(const Graph& graph, const std::string& of,
                      const std::map<std::string, Tensor>& feeds,
                      std::vector<std::string> wrt = {},
                      const GradCheckOptions& options = {});

// Random f64 values uniform in [lo, hi] of `type` (deterministic in `seed`).
Tensor RandomTensor(const TensorType& type, uint64_t seed, double lo = -1,
                    double hi = 1);

}  // namespace adc

#endif  // ADC_TESTS_GRAD_CHECK_H_
