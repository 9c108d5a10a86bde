#include "codegen/testing.h"

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "Halide.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "codegen/compile.h"
#include "codegen/run_compiled.h"
#include "graph/check.h"
#include "graph/interpreter.h"

namespace adc::testing {

namespace {

absl::Status Compare(const std::map<std::string, Tensor>& expected,
                     const std::map<std::string, Tensor>& got, double rtol_f32,
                     double rtol_f64) {
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

}  // namespace

absl::Status ExpectCompiledMatchesInterpreter(
    const Graph& graph, const std::map<std::string, Tensor>& feeds,
    double rtol_f32, double rtol_f64) {
  return ExpectCompiledMatchesInterpreter(graph, {feeds}, CompileOptions(),
                                          rtol_f32, rtol_f64);
}

absl::Status ExpectCompiledMatchesInterpreter(
    const Graph& graph,
    const std::vector<std::map<std::string, Tensor>>& feed_sets,
    const CompileOptions& options, double rtol_f32, double rtol_f64) {
  ADC_ASSIGN_OR_RETURN(CompiledGraph compiled,
                       CompiledGraph::Compile(graph, options));
  for (size_t k = 0; k < feed_sets.size(); ++k) {
    ADC_ASSIGN_OR_RETURN(auto expected, Interpret(graph, feed_sets[k]));
    ADC_ASSIGN_OR_RETURN(auto got, compiled.Run(feed_sets[k]));
    absl::Status s = Compare(expected, got, rtol_f32, rtol_f64);
    if (!s.ok()) {
      return feed_sets.size() == 1 ? s
                                   : absl::InternalError(absl::StrCat(
                                         "inputs #", k, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

CompileOptions FeatureLevel::options() const {
  CompileOptions o;
  o.target = target;
  o.check_bounds = memory_checked;
  return o;
}

Halide::Target FeatureLevel::halide_target() const {
  return target == "host" ? Halide::get_host_target() : Halide::Target(target);
}

const std::vector<FeatureLevel>& FeatureLevels() {
  static const auto* levels = new std::vector<FeatureLevel>{
      {"sse2", "x86-64-linux", true},
      {"sse41", "x86-64-linux-sse41", true},
      {"avx2", "x86-64-linux-avx-avx2-f16c-fma-sse41", true},
      {"avx512", "x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41",
       true},
      {"host", "host", false},
  };
  return *levels;
}

std::string WhyNotRunnable(const FeatureLevel& level) {
  if (level.target == "host") return "";
  const Halide::Target host = Halide::get_host_target();
  const Halide::Target want = level.halide_target();
  std::string missing;
  for (int f = 0; f < Halide::Target::FeatureEnd; ++f) {
    const auto feature = static_cast<Halide::Target::Feature>(f);
    if (want.has_feature(feature) && !host.has_feature(feature)) {
      absl::StrAppend(&missing, missing.empty() ? "" : ", ",
                      Halide::Target::feature_to_name(feature));
    }
  }
  return missing.empty() ? "" : absl::StrCat("this CPU lacks ", missing);
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
