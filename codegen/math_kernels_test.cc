// The f32 math kernels against libm over a wide sweep: every f32 kernel is
// JIT-compiled vectorized for every x86-64 feature level this CPU can run
// (testing::FeatureLevels, as generated code runs it) and compared with the
// libm function in double rounded to f32. Prints the largest error in ulps per
// function; special values (NaN, +-inf, +-0, subnormals) must match exactly,
// the sign of zero included. The bounds are the measured maxima, equal on SSE2,
// SSE4.1, AVX2 (FMA) and AVX-512: exp 1, log 1, log1p 2, expm1 2, sin 1, cos
// 2, tan 3, tanh 2, erf 5, sigmoid 2, atan 2 ulps; pow calls libm's powf.
#include "codegen/math_kernels.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen/testing.h"
#include "gtest/gtest.h"

namespace adc::codegen {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kMinNormal = std::numeric_limits<float>::min();  // 2^-126

// Values in [lo, hi]: both signs of magnitudes spread evenly in log scale
// from 1e-40 (subnormal) to `max_magnitude`, a dense grid of [-10, 10], and
// the special values.
std::vector<float> Sweep(float lo, float hi, float max_magnitude) {
  // (-534117.875 and 853350.8125 are near multiples of pi/2, where sin
  // and cos need pi/2 to more than f64 precision: 2931 and 73 ulp with one
  // f64 constant; models/bench:math_sweep found them.)
  std::vector<float> xs = {
      0.0f,  -0.0f,  kInf,    -kInf,           kNaN,         1.0f,
      -1.0f, 1e-45f, -1e-45f, 1.17549435e-38f, -534117.875f, 853350.8125f};
  for (int i = 0; i <= 20000; ++i) {
    const double m =
        std::pow(10.0, -40 + i * (std::log10(max_magnitude) + 40) / 20000);
    xs.push_back(static_cast<float>(m));
    xs.push_back(static_cast<float>(-m));
  }
  for (int i = -100000; i <= 100000; ++i) xs.push_back(i * 1e-4f);
  // The floats nearest the multiples k pi/2 (two on each side), where sin,
  // cos and tan need the most of pi/2: every k the f32 reduction takes
  // (|x| < 4096), then every 97th up to 2^20.
  for (int k = 1; k < 700000; k += k < 2700 ? 1 : 97) {
    const float near = static_cast<float>(k * (M_PI / 2));
    float up = near, down = near;
    for (int i = 0; i < 3; ++i) {
      for (float v : {up, down}) {
        xs.push_back(v);
        xs.push_back(-v);
      }
      up = std::nextafter(up, kInf);
      down = std::nextafter(down, 0.0f);
    }
  }
  std::vector<float> kept;
  for (float x : xs) {
    if (std::isnan(x) || (x >= lo && x <= hi) || std::isinf(x)) {
      kept.push_back(x);
    }
  }
  return kept;
}

// f(x) for every x, computed by generated code vectorized for the host,
// strict as lowering makes it (codegen/lower_elementwise.cc).
std::vector<float> Compute(const std::function<Halide::Expr(Halide::Expr)>& f,
                           const std::vector<float>& xs,
                           const Halide::Target& target) {
  Halide::Buffer<float> in(static_cast<int>(xs.size()));
  for (size_t i = 0; i < xs.size(); ++i) in(static_cast<int>(i)) = xs[i];
  Halide::Var x("x");
  Halide::Func out("out");
  out(x) = Halide::strict_float(StrictComparisons(f(in(x))));
  out.vectorize(x, target.natural_vector_size<float>(),
                Halide::TailStrategy::GuardWithIf);
  Halide::Pipeline pipeline(out);
  AddMathLoweringPasses(pipeline, target);
  Halide::Buffer<float> result =
      pipeline.realize({static_cast<int>(xs.size())}, target);
  return std::vector<float>(result.data(), result.data() + xs.size());
}

// The JIT target of a feature level.
Halide::Target JitTarget(const testing::FeatureLevel& level) {
  return level.halide_target().with_feature(Halide::Target::JIT);
}

struct Case {
  std::string name;
  std::function<Halide::Expr(Halide::Expr)> kernel;
  double (*libm)(double);
  float lo, hi;  // Of the sweep.
  int max_ulps;
  // Results below 2^-126 may be flushed to zero (exp's polynomial builds
  // 2^k from the exponent bits; math_kernels.cc).
  bool flushes_subnormals = false;
};

class MathKernelsTest
    : public ::testing::TestWithParam<std::tuple<Case, testing::FeatureLevel>> {
 protected:
  void SetUp() override {
    const std::string why = testing::WhyNotRunnable(level());
    if (!why.empty()) GTEST_SKIP() << "level " << level().name << ": " << why;
  }
  const testing::FeatureLevel& level() const { return std::get<1>(GetParam()); }
};

TEST_P(MathKernelsTest, AgreesWithLibm) {
  const Case& c = std::get<0>(GetParam());
  const std::vector<float> xs = Sweep(c.lo, c.hi, 3e38f);
  const std::vector<float> got = Compute(c.kernel, xs, JitTarget(level()));
  int64_t worst = 0;
  float worst_x = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const float want = static_cast<float>(c.libm(xs[i]));
    const float have = got[i];
    SCOPED_TRACE(
        absl::StrCat(c.name, "(", xs[i], "): libm ", want, ", kernel ", have));
    if (std::isnan(want) || std::isinf(want) || want == 0) {
      // Special results exactly (NaN as NaN, the sign of zero and of inf).
      ASSERT_EQ(std::isnan(have), std::isnan(want));
      if (!std::isnan(want)) {
        ASSERT_EQ(have, want);
        ASSERT_EQ(std::signbit(have), std::signbit(want));
      }
      continue;
    }
    ASSERT_TRUE(std::isfinite(have));
    ASSERT_EQ(std::signbit(have), std::signbit(want));
    if (c.flushes_subnormals && std::fabs(want) < kMinNormal) {
      // Flushed to zero (or nearly): an absolute error below 2^-126.
      ASSERT_LE(std::fabs(have - want), kMinNormal);
      continue;
    }
    const int64_t d = UlpDistance(have, want);
    if (d > worst) {
      worst = d;
      worst_x = xs[i];
    }
  }
  std::printf("%-8s %-6s max error %lld ulp (at x = %.9g) over %zu values\n",
              c.name.c_str(), level().name.c_str(),
              static_cast<long long>(worst), worst_x, xs.size());
  EXPECT_LE(worst, c.max_ulps) << c.name << " at x = " << worst_x;
}

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double Sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : x; }

INSTANTIATE_TEST_SUITE_P(
    F32, MathKernelsTest,
    ::testing::Combine(
        ::testing::Values(Case{"exp", ExpOf, std::exp, -kInf, kInf, 1, true},
                          Case{"log", LogOf, std::log, -kInf, kInf, 1},
                          Case{"log1p", Log1pOf, std::log1p, -kInf, kInf, 2},
                          Case{"expm1", Expm1Of, std::expm1, -kInf, kInf, 2},
                          // Reduced in f32 below 4096, then by Payne-Hanek.
                          Case{"sin", SinOf, std::sin, -kInf, kInf, 1},
                          Case{"cos", CosOf, std::cos, -kInf, kInf, 2},
                          Case{"tan", TanOf, std::tan, -kInf, kInf, 3},
                          Case{"tanh", TanhOf, std::tanh, -kInf, kInf, 2},
                          Case{"erf", ErfOf, std::erf, -kInf, kInf, 5},
                          Case{"sigmoid", SigmoidOf, Sigmoid, -kInf, kInf, 2,
                               true},
                          Case{"atan", AtanOf, std::atan, -kInf, kInf, 2},
                          Case{"sign", SignOf, Sign, -kInf, kInf, 0}),
        ::testing::ValuesIn(testing::FeatureLevels())),
    [](const ::testing::TestParamInfo<MathKernelsTest::ParamType>& info) {
      return std::get<0>(info.param).name + "_" + std::get<1>(info.param).name;
    });

// pow over a grid of bases and exponents, with C's special cases: pow(x, 0)
// = 1 and pow(1, y) = 1 for any x and y, NaN included.
TEST(MathKernelsPowTest, AgreesWithLibm) {
  std::vector<float> bases = {0.0f, -0.0f, 1.0f,  -1.0f,  kInf,  -kInf, kNaN,
                              0.5f, 2.0f,  -2.0f, 1e-30f, 1e30f, 3.7f,  -8.0f};
  std::vector<float> exps = {0.0f,  -0.0f, 1.0f,  -1.0f, 0.5f, 2.0f,  3.0f,
                             -3.0f, kInf,  -kInf, kNaN,  2.5f, 1e-3f, 100.0f};
  std::vector<float> xs, ys;
  for (float b : bases) {
    for (float e : exps) {
      xs.push_back(b);
      ys.push_back(e);
    }
  }
  Halide::Buffer<float> bx(static_cast<int>(xs.size())),
      by(static_cast<int>(xs.size()));
  for (size_t i = 0; i < xs.size(); ++i) {
    bx(static_cast<int>(i)) = xs[i];
    by(static_cast<int>(i)) = ys[i];
  }
  Halide::Var x("x");
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    if (!testing::WhyNotRunnable(level).empty()) continue;
    SCOPED_TRACE(level.name);
    const Halide::Target target = JitTarget(level);
    Halide::Func out("out");
    out(x) = Halide::strict_float(StrictComparisons(PowOf(bx(x), by(x))));
    out.vectorize(x, target.natural_vector_size<float>(),
                  Halide::TailStrategy::GuardWithIf);
    Halide::Buffer<float> got =
        out.realize({static_cast<int>(xs.size())}, target);
    for (size_t i = 0; i < xs.size(); ++i) {
      const float want = std::pow(xs[i], ys[i]);
      const float have = got(static_cast<int>(i));
      SCOPED_TRACE(absl::StrCat("pow(", xs[i], ", ", ys[i], ")"));
      ASSERT_EQ(std::isnan(have), std::isnan(want));
      if (!std::isnan(want)) {
        EXPECT_EQ(have, want);
        EXPECT_EQ(std::signbit(have), std::signbit(want));
      }
    }
  }
}

// A store of `value` to element 0 of buffer `name` (a lowered statement's
// leaf), and a statement's text as Halide prints it.
Halide::Internal::Stmt StoreTo(const std::string& name, Halide::Expr value) {
  using namespace Halide::Internal;
  return Store::make(name, std::move(value), 0, Parameter(), const_true(),
                     ModulusRemainder());
}

std::string Text(const Halide::Internal::Stmt& s) {
  std::ostringstream text;
  text << s;
  return text.str();
}

// What a slow side alone uses is computed only on it, also when Halide's
// common-subexpression elimination has lifted it into a let around the
// store (f64 trig reduction shared by sin and cos): let t = x * 2 in
// out[0] = RarePath(x > 1, t + t, x) + t2 (t2 used outside too).
TEST(RarePathTest, LetsUsedOnlyOnSlowSidesMoveIntoThem) {
  using namespace Halide::Internal;
  using Halide::Expr;
  Expr x = Variable::make(Halide::Float(32), "x");
  Expr t = Variable::make(Halide::Float(32), "t");
  Expr t2 = Variable::make(Halide::Float(32), "t2");
  Expr value = RarePath(x > 1.0f, t + t + t2, x) + t2;
  Stmt s = LetStmt::make("t", x * 2.0f,
                         LetStmt::make("t2", x * 3.0f, StoreTo("out", value)));
  Stmt lowered = LowerMathMarkers(s, Halide::get_host_target());
  const std::string text = Text(lowered);
  SCOPED_TRACE(text);
  // t2 stays around the store; t is bound inside the branch's slow side.
  const LetStmt* outer = lowered.as<LetStmt>();
  ASSERT_NE(outer, nullptr);
  EXPECT_EQ(outer->name, "t2");
  const Store* inner = outer->body.as<Store>();
  ASSERT_NE(inner, nullptr);
  EXPECT_NE(text.find("select((float32)x > 1.000000f, let t = "),
            std::string::npos);
  EXPECT_NE(text.find("if_then_else"), std::string::npos);
  EXPECT_EQ(text.find("adc_rare_path"), std::string::npos);
}

// A let whose only use is in the value of a let that a slow side alone
// uses moves too (Halide's CSE nests them: the Payne-Hanek reduction's
// quadrant, used in a let around the kernel's select).
TEST(RarePathTest, LetsUsedByMovedLetsMoveToo) {
  using namespace Halide::Internal;
  using Halide::Expr;
  Expr x = Variable::make(Halide::Float(32), "x");
  Expr t = Variable::make(Halide::Float(32), "t");
  Expr u = Variable::make(Halide::Float(32), "u");
  Expr value = Let::make("u", t + 1.0f, RarePath(x > 1.0f, u + u, x));
  Stmt s = LetStmt::make("t", x * 2.0f, StoreTo("out", value));
  Stmt lowered = LowerMathMarkers(s, Halide::get_host_target());
  const std::string text = Text(lowered);
  SCOPED_TRACE(text);
  ASSERT_NE(lowered.as<Store>(), nullptr);  // No let around the store.
  EXPECT_NE(text.find("select((float32)x > 1.000000f, let t = "),
            std::string::npos);
}

// Two stores in a loop computing the same marker (a tuple's elements using
// sin of one argument, each through lets of its own) share one branch: the
// marker is bound once around the loop's body. A marker reading a buffer
// the body stores to stays where it is.
TEST(RarePathTest, StoresShareAMarker) {
  using namespace Halide::Internal;
  using Halide::Expr;
  auto lowered_loop = [](const std::string& read) {
    Expr in = Load::make(Halide::Float(32), read, Expr(0), Halide::Buffer<>(),
                         Parameter(), const_true(), ModulusRemainder());
    Expr a = Variable::make(Halide::Float(32), "a");
    Expr b = Variable::make(Halide::Float(32), "b");
    auto store = [&](const std::string& out, const std::string& let, Expr v) {
      return LetStmt::make(let, in * 2.0f, StoreTo(out, v));
    };
    Stmt body =
        Block::make(store("out0", "a", RarePath(a > 1.0f, a + a, a) + 1.0f),
                    store("out1", "b", RarePath(b > 1.0f, b + b, b) * 3.0f));
    Stmt loop =
        For::make("i", 0, 8, ForType::Serial, Halide::DeviceAPI::None, body);
    return Text(LowerMathMarkers(loop, Halide::get_host_target()));
  };
  auto count = [](const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos;
         at = text.find(what, at + 1)) {
      ++n;
    }
    return n;
  };
  const std::string shared = lowered_loop("in");
  EXPECT_EQ(count(shared, "if_then_else"), 1) << shared;
  const std::string kept = lowered_loop("out1");  // out1 is stored there.
  EXPECT_EQ(count(kept, "if_then_else"), 2) << kept;
}

// Fma's marker: LLVM's fma where the target has FMA, else a strict
// multiplication and addition.
TEST(FmaTest, LoweredForTheTarget) {
  using namespace Halide::Internal;
  Halide::Expr a = Variable::make(Halide::Float(32), "a");
  Stmt store = StoreTo("out", Fma(a, 2.0f, 3.0f));
  for (bool fma : {false, true}) {
    Halide::Target target("x86-64-linux-sse41-avx-avx2-f16c");
    if (fma) target = target.with_feature(Halide::Target::FMA);
    const std::string text = Text(LowerMathMarkers(store, target));
    SCOPED_TRACE(text);
    EXPECT_EQ(text.find("adc_fma"), std::string::npos);
    EXPECT_EQ(text.find("llvm.fma.f32((float32)a, 2.000000f, 3.000000f)") !=
                  std::string::npos,
              fma);
    EXPECT_EQ(text.find("strict_float(((float32)a*2.000000f) + 3.000000f)") !=
                  std::string::npos,
              !fma);
  }
}

// Comparisons with NaN and infinities, strict as lowering makes them:
// only != holds for a NaN operand. (Halide 14's strict <= and >= said
// NaN <= 0.)
TEST(StrictComparisonsTest, NaNAndInfinities) {
  const std::vector<float> values = {kNaN, -kInf, -1.0f, -0.0f,
                                     0.0f, 1.0f,  kInf};
  std::vector<float> xs, ys;
  for (float a : values) {
    for (float b : values) {
      xs.push_back(a);
      ys.push_back(b);
    }
  }
  const int n = static_cast<int>(xs.size());
  Halide::Buffer<float> bx(n), by(n);
  for (int i = 0; i < n; ++i) {
    bx(i) = xs[i];
    by(i) = ys[i];
  }
  Halide::Var x("x"), c("c");
  Halide::Expr a = bx(x), b = by(x);
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    if (!testing::WhyNotRunnable(level).empty()) continue;
    SCOPED_TRACE(level.name);
    const Halide::Target target = JitTarget(level);
    Halide::Func out("out");
    out(x, c) = Halide::strict_float(StrictComparisons(Halide::cast<uint8_t>(
        Halide::mux(c, {a<b, a <= b, a> b, a >= b, a == b, a != b}))));
    out.bound(c, 0, 6).unroll(c).vectorize(x,
                                           target.natural_vector_size<float>(),
                                           Halide::TailStrategy::GuardWithIf);
    Halide::Buffer<uint8_t> got = out.realize({n, 6}, target);
    for (int i = 0; i < n; ++i) {
      const float p = xs[i], q = ys[i];
      const bool want[6] = {p<q, p <= q, p> q, p >= q, p == q, p != q};
      for (int k = 0; k < 6; ++k) {
        EXPECT_EQ(got(i, k), want[k] ? 1 : 0)
            << "comparison " << k << " of " << p << " and " << q;
      }
    }
  }
}

}  // namespace
}  // namespace adc::codegen
