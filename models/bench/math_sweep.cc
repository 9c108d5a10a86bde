// The accuracy and cost of adc's f32 math kernels (codegen/math_kernels.h)
// over a large sweep, for issue 10's report; not a test (a sweep of 10^8
// arguments per function takes minutes).
//
//   bazel run //models/bench:math_sweep -- [--n 100000000] [--only sin]
//
// The arguments are f32 bit patterns spread evenly over all 2^32 (every
// sign and exponent, subnormals, infinities and NaNs included), in chunks.
// Each kernel is JIT-compiled for this CPU (vectorized, single-threaded, as
// generated code computes it) and compared with libm in double rounded to
// f32. Per function: the largest error in ulps (and where), how many
// special results (NaN, inf, 0) differ, and the cost per element of the
// kernel and of libm's f32 function on one core.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "Halide.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "codegen/math_kernels.h"

ABSL_FLAG(int64_t, n, 100000000, "arguments per function");
ABSL_FLAG(std::string, only, "", "only the function of this name");

namespace adc::codegen {
namespace {

using Clock = std::chrono::steady_clock;

struct Function {
  const char* name;
  Halide::Expr (*kernel)(Halide::Expr);
  double (*reference)(double);
  float (*libm)(float);
  // Results below 2^-126 may be flushed to zero (math_kernels.cc).
  bool flushes_subnormals;
};

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
float SigmoidF(float x) { return 1 / (1 + std::exp(-x)); }

const Function kFunctions[] = {
    {"exp", ExpOf, std::exp, std::exp, true},
    {"log", LogOf, std::log, std::log, false},
    {"log1p", Log1pOf, std::log1p, std::log1p, false},
    {"expm1", Expm1Of, std::expm1, std::expm1, false},
    {"sin", SinOf, std::sin, std::sin, false},
    {"cos", CosOf, std::cos, std::cos, false},
    {"tan", TanOf, std::tan, std::tan, false},
    {"tanh", TanhOf, std::tanh, std::tanh, false},
    {"erf", ErfOf, std::erf, std::erf, false},
    {"sigmoid", SigmoidOf, Sigmoid, SigmoidF, true},
    {"atan", AtanOf, std::atan, std::atan, false},
};

bool Special(float f) { return std::isnan(f) || std::isinf(f) || f == 0; }

void Sweep(const Function& fn, int64_t n) {
  constexpr int kChunk = 1 << 22;
  const Halide::Target target =
      Halide::get_host_target().with_feature(Halide::Target::JIT);
  Halide::ImageParam in(Halide::Float(32), 1, "in");
  Halide::Var x("x");
  Halide::Func out("out");
  out(x) = Halide::strict_float(StrictComparisons(fn.kernel(in(x))));
  out.vectorize(x, target.natural_vector_size<float>(),
                Halide::TailStrategy::GuardWithIf);
  Halide::Pipeline pipeline(out);
  AddMathLoweringPasses(pipeline, target);
  pipeline.compile_jit(target);
  // Bit patterns i * stride (mod 2^32): n of them, evenly over all floats.
  const uint64_t stride = std::max<uint64_t>(1, (uint64_t{1} << 32) / n);
  Halide::Buffer<float> args(kChunk), results(kChunk);
  std::vector<float> libm_results(kChunk);
  int64_t worst = 0, special_mismatches = 0, done = 0;
  float worst_x = 0, worst_have = 0, worst_want = 0;
  double kernel_s = 0, libm_s = 0;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int m = static_cast<int>(std::min<int64_t>(kChunk, n - start));
    for (int i = 0; i < m; ++i) {
      const uint32_t bits = static_cast<uint32_t>((start + i) * stride);
      std::memcpy(&args(i), &bits, sizeof bits);
    }
    in.set(args);
    Clock::time_point t0 = Clock::now();
    pipeline.realize(results);
    Clock::time_point t1 = Clock::now();
    for (int i = 0; i < m; ++i) libm_results[i] = fn.libm(args(i));
    Clock::time_point t2 = Clock::now();
    kernel_s += std::chrono::duration<double>(t1 - t0).count() * m / kChunk;
    libm_s += std::chrono::duration<double>(t2 - t1).count();
    for (int i = 0; i < m; ++i) {
      const float want = static_cast<float>(fn.reference(args(i)));
      const float have = results(i);
      if (Special(want) || Special(have)) {
        const bool same =
            std::isnan(want)
                ? std::isnan(have)
                : have == want && std::signbit(have) == std::signbit(want);
        const bool flushed = fn.flushes_subnormals && want != 0 &&
                             std::fabs(want) < 1.17549435e-38f && have == 0;
        if (!same && !flushed) ++special_mismatches;
        continue;
      }
      if (fn.flushes_subnormals && std::fabs(want) < 1.17549435e-38f) {
        continue;  // Flushed (or nearly): checked by math_kernels_test.
      }
      const int64_t d = UlpDistance(have, want);
      if (d > worst) {
        worst = d;
        worst_x = args(i);
        worst_have = have;
        worst_want = want;
      }
    }
    done += m;
  }
  // The cost on ordinary arguments: uniform in [-10, 10] (the sweep's are
  // mostly huge or tiny, where sin, cos and tan take libm's path).
  for (int i = 0; i < kChunk; ++i) args(i) = -10.0f + 20.0f * i / kChunk;
  in.set(args);
  double typical_s = 1e30, typical_libm_s = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    Clock::time_point t0 = Clock::now();
    pipeline.realize(results);
    Clock::time_point t1 = Clock::now();
    for (int i = 0; i < kChunk; ++i) libm_results[i] = fn.libm(args(i));
    Clock::time_point t2 = Clock::now();
    typical_s =
        std::min(typical_s, std::chrono::duration<double>(t1 - t0).count());
    typical_libm_s = std::min(typical_libm_s,
                              std::chrono::duration<double>(t2 - t1).count());
  }
  std::printf(
      "%-8s %lld args: max %lld ulp (x = %.9g: %.9g, libm %.9g); special "
      "results differing: %lld; ns/element over the sweep %.2f (libm's f32 "
      "%.2f), on [-10, 10] %.2f (libm's f32 %.2f)\n",
      fn.name, static_cast<long long>(done), static_cast<long long>(worst),
      worst_x, worst_have, worst_want,
      static_cast<long long>(special_mismatches), kernel_s / done * 1e9,
      libm_s / done * 1e9, typical_s / kChunk * 1e9,
      typical_libm_s / kChunk * 1e9);
  std::fflush(stdout);
}

}  // namespace
}  // namespace adc::codegen

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string only = absl::GetFlag(FLAGS_only);
  std::printf("target %s\n", Halide::get_host_target().to_string().c_str());
  for (const adc::codegen::Function& fn : adc::codegen::kFunctions) {
    if (!only.empty() && only != fn.name) continue;
    adc::codegen::Sweep(fn, absl::GetFlag(FLAGS_n));
  }
  return 0;
}
