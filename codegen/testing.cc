#include "codegen/testing.h"

#include <cmath>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "codegen/compile.h"
#include "codegen/run_compiled.h"
#include "graph/check.h"
#include "graph/interpreter.h"

namespace adc::testing {

absl::Status ExpectCompiledMatchesInterpreter(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    double rtol_f32, double rtol_f64) {
  ADC_ASSIGN_OR_RETURN(auto expected, Interpret(graph, feeds));
  ADC_ASSIGN_OR_RETURN(auto got, CompileAndRun(graph, feeds));
  std::string report;
  int failures = 0;
  for (const auto& [name, want] : expected) {
    const Tensor& have = got.at(name);
    const double rtol = want.dtype() == DType::kF32 ? rtol_f32 : rtol_f64;
    double scale = 0;
    for (int64_t i = 0; i < want.num_elements(); ++i) {
      if (std::isfinite(want.GetDouble(i))) {
        scale = std::max(scale, std::abs(want.GetDouble(i)));
      }
    }
    scale /= 10;
    for (int64_t i = 0; i < want.num_elements(); ++i) {
      bool ok;
      if (IsFloat(want.dtype())) {
        const double a = have.GetDouble(i), b = want.GetDouble(i);
        if (std::isnan(b) || std::isinf(b)) {
          ok = std::isnan(b) ? std::isnan(a) : a == b;
        } else {
          ok = std::abs(a - b) <= rtol * std::max({std::abs(b), scale, 0.1});
        }
      } else {
        ok = have.GetInt(i) == want.GetInt(i);
      }
      if (!ok && ++failures <= 8) {
        absl::StrAppend(
            &report,
            absl::StrFormat("\n  %s[%d]: compiled %.10g, interpreter %.10g",
                            name, i, have.GetDouble(i), want.GetDouble(i)));
      }
    }
  }
  if (failures > 0) {
    return absl::InternalError(
        absl::StrCat(failures, " element(s) differ:", report));
  }
  return absl::OkStatus();
}

std::map<std::string, Tensor> RandomFeeds(const Graph& graph, uint64_t seed,
                                          double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::map<std::string, Tensor> feeds;
  for (ValueId id : graph.inputs()) {
    Tensor t(graph.type(id));
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if (IsFloat(t.dtype())) {
        t.SetDouble(i, uniform(rng));
      } else {
        t.SetInt(i, static_cast<int64_t>(rng() %
                                         (t.dtype() == DType::kBool ? 2 : 4)));
      }
    }
    feeds[graph.node(id).name] = std::move(t);
  }
  return feeds;
}

}  // namespace adc::testing
