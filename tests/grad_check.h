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

}  // namespace adc

#endif  // ADC_TESTS_GRAD_CHECK_H_
