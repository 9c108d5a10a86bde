// Gradient checking by finite differences (torch.autograd.gradcheck and
// gradgradcheck): compares the derivatives autodiff builds with central
// differences of the reference interpreter, in f64. The oracle of the op
// tests (tests/op_gradients_test.cc) and the engine of `adc gradcheck`.
//
// What is checked. For `of` (an output or any value) and a cotangent v of
// its type, the scalar f(x) = <of(x), v> = sum_i of_i(x) * v_i:
//  - order 1: the gradient autodiff builds for f (the vector-Jacobian product
//    v^T J, AddGradients with seed v) against (f(x + eps e_i) -
//    f(x - eps e_i)) / (2 eps) for every element i of every wrt;
//  - order 2: the first-order gradients g_k, projected to the scalar
//    h = sum_k <g_k, u_k> with fixed random u_k, then the same check of h:
//    autodiff applied to autodiff's output, against finite differences of
//    the first-order gradients.
// An element passes when |analytic - numeric| <= atol + rtol * |numeric|
// (torch's rule; NaN never passes). The wrt must be f64 inputs or parameters
// (PromoteToF64, passes/promote_f64.h, makes an f32 graph f64); `of` must be
// finite at the point checked, else an error names it.
#ifndef ADC_TOOLS_GRAD_CHECK_H_
#define ADC_TOOLS_GRAD_CHECK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace adc {

// The range of random cotangents and projections: no direction is
// degenerate.
inline constexpr double kRandomCotangentLo = 0.5;
inline constexpr double kRandomCotangentHi = 1.5;

struct GradCheckOptions {
  double eps = 1e-6;   // Central-difference step.
  double atol = 1e-6;  // |analytic - numeric| <= atol + rtol * |numeric|.
  double rtol = 1e-5;
  uint64_t seed = 1;  // For random cotangents, projections and tangents.
  // The cotangent v of `of` (CheckGradients, GradCheck, GradGradCheck):
  //   ""     1 for a scalar `of`; else fixed random values, uniform in
  //          [kRandomCotangentLo, kRandomCotangentHi] (a random projection:
  //          sum(of) may have gradient 0, as for softmax);
  //   "ones" ones (the gradient of sum(of));
  //   NAME   a new graph input holding v, as GradOptions::seed (an existing
  //          input of of's type is reused): `feeds` may give it, else it is
  //          random as for "".
  std::string cotangent;
};

// How the derivative with respect to one wrt compares.
struct WrtCheck {
  std::string wrt;
  TensorType type;
  // Elements outside the tolerance (NaN counts as outside).
  int64_t mismatches = 0;
  // The worst element: the largest |analytic - numeric| / (atol + rtol *
  // |numeric|), i.e. the closest to failing or the furthest past it (the
  // first of equals; NaN is the worst). Flat row-major index; -1 when the
  // wrt has no elements.
  int64_t worst = -1;
  double analytic = 0;
  double numeric = 0;
  double abs_error = 0;  // |analytic - numeric|
  // abs_error / |numeric|; 0 when both are 0, inf when only numeric is 0.
  double rel_error = 0;

  bool ok() const { return mismatches == 0; }
};

struct GradCheckReport {
  std::string of;
  int order = 1;
  GradCheckOptions options;
  std::vector<WrtCheck> wrt;  // In wrt order.

  bool ok() const;
  int64_t mismatches() const;
  int64_t num_elements() const;
};

// Checks derivatives of order 1 or 2 of `of` with respect to each wrt (f64
// inputs and parameters; every floating-point one when empty). `feeds` gives
// every input (and may override parameters, which otherwise take their
// stored values). Errors: unknown `of` or wrt, a wrt that is not f64, an
// order other than 1 or 2, a cotangent feed of the wrong type, `of` not
// finite, and any failure of autodiff or the interpreter. A mismatch is not
// an error: it is in the report.
absl::StatusOr<GradCheckReport> CheckGradients(
    const Graph& graph, const std::string& of,
    const std::map<std::string, Tensor>& feeds, std::vector<std::string> wrt,
    const GradCheckOptions& options, int order);

// "x[1,2]": element `index` (flat, row-major) of a value named `name` of
// shape `dims`; just "x" for a scalar.
std::string ElementName(const std::string& name, const Dims& dims,
                        int64_t index);

// One line per wrt (names padded to one column): the worst element, its
// analytic and numeric derivatives, absolute and relative error, and "ok" or
// "FAILED (k of n elements)".
std::vector<std::string> FormatReport(const GradCheckReport& report);
// "gradcheck: passed (...)" or "gradcheck: FAILED: ...".
std::string ReportSummary(const GradCheckReport& report);
// OK when the report passes; else an error "gradcheck failed for N
// element(s):" followed by the lines of the failing wrts.
absl::Status ReportToStatus(const GradCheckReport& report);

// CheckGradients of order 1 and 2, as a Status (ReportToStatus).
absl::Status GradCheck(const Graph& graph, const std::string& of,
                       const std::map<std::string, Tensor>& feeds,
                       std::vector<std::string> wrt = {},
                       const GradCheckOptions& options = {});
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
// options.cotangent does not apply.
absl::Status JvpCheck(const Graph& graph, const std::string& of,
                      const std::map<std::string, Tensor>& feeds,
                      std::vector<std::string> wrt = {},
                      const GradCheckOptions& options = {});

// Random f64 values uniform in [lo, hi] of `type` (deterministic in `seed`).
Tensor RandomTensor(const TensorType& type, uint64_t seed, double lo = -1,
                    double hi = 1);

// The range of AddRandomInputs.
inline constexpr double kRandomInputLo = -1;
inline constexpr double kRandomInputHi = 1;

// Adds to `feeds` a value for every graph input it does not give:
// floating-point inputs get RandomTensor values in [kRandomInputLo,
// kRandomInputHi], deterministic in `seed` and the input's name (adding an
// input changes no other's values). Integer and bool inputs are not made up
// (integers are often indices, which random values would send out of range;
// zeros are not always safe either: an integer cast to float may divide):
// an error names every such input. Parameters are left to their stored values.
// Returns the names of the inputs it filled, in graph order.
absl::StatusOr<std::vector<std::string>> AddRandomInputs(
    const Graph& graph, uint64_t seed, std::map<std::string, Tensor>* feeds);

}  // namespace adc

#endif  // ADC_TOOLS_GRAD_CHECK_H_
