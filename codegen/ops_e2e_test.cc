// End-to-end: every op, compiled through Halide and run through the runtime,
// equals the reference interpreter (f32: 1e-5 relative, f64: 1e-10), for the
// values and their first and second derivatives, on several shapes including
// odd sizes and broadcasting. Ops are grouped into one graph (one compile)
// per group, shape and dtype.
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <set>

#include "codegen/lower.h"
#include "codegen/testing.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/ops/op_def.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

struct InputSpec {
  std::string name;
  Dims dims;
  double lo = -1, hi = 1;
  DType dtype = DType::kF32;  // Floating inputs take the case's dtype.
};

struct Case {
  std::string name;
  std::vector<InputSpec> inputs;
  std::function<Value(const std::vector<Value>&)> body;
};

struct Group {
  std::string name;
  std::vector<Case> cases;
  bool second_order = true;
};

using V = const std::vector<Value>&;

// Builds one graph with every case of the group as an output "<case>", its
// first derivatives (of sum(out * r)) and, if asked, second derivatives.
Graph BuildGroup(const Group& group, DType dtype,
                 std::map<std::string, Tensor>* feeds, uint64_t seed) {
  GraphBuilder b(group.name);
  std::mt19937_64 rng(seed);
  std::vector<std::pair<std::string, std::vector<std::string>>> losses;
  for (const Case& c : group.cases) {
    std::vector<Value> ins;
    std::vector<std::string> wrt;
    for (const InputSpec& spec : c.inputs) {
      const DType dt = IsFloat(spec.dtype) ? dtype : spec.dtype;
      const std::string name = c.name + "." + spec.name;
      ins.push_back(b.Input(name, dt, spec.dims));
      if (IsFloat(dt)) wrt.push_back(name);
      Tensor t(TensorType{dt, spec.dims});
      std::uniform_real_distribution<double> u(spec.lo, spec.hi);
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        if (IsFloat(dt)) {
          t.SetDouble(i, u(rng));
        } else {
          t.SetInt(i, static_cast<int64_t>(std::floor(u(rng))));
        }
      }
      (*feeds)[name] = std::move(t);
    }
    Value out = c.body(ins);
    b.Output(c.name, out);
    if (IsFloat(out.dtype())) {
      Tensor r(out.type());
      std::uniform_real_distribution<double> u(0.5, 1.5);
      for (int64_t i = 0; i < r.num_elements(); ++i) r.SetDouble(i, u(rng));
      // The projection to a scalar is named, not an output: a sum of many
      // cancelling terms, it is compared through its gradients instead.
      b.Named(Sum(out * Constant(b, r)), c.name + ".loss");
      losses.push_back({c.name + ".loss", wrt});
    }
  }
  auto g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  Graph graph = *std::move(g);
  for (const auto& [loss, wrt] : losses) {
    if (wrt.empty()) continue;
    auto names = AddGradients(&graph, {.of = loss, .wrt = wrt});
    EXPECT_TRUE(names.ok()) << names.status();
    if (!group.second_order || !names.ok()) continue;
    // d/dw of a random projection of the first derivatives (random, so
    // that invariances such as softmax's shift invariance do not make it
    // identically zero), w.r.t. every input again.
    GraphBuilder gb(&graph);
    Value total;
    for (const std::string& n : *names) {
      Value grad = gb.Find(n);
      Tensor r(grad.type());
      std::uniform_real_distribution<double> u(0.5, 1.5);
      for (int64_t i = 0; i < r.num_elements(); ++i) r.SetDouble(i, u(rng));
      Value s = Sum(grad * Constant(gb, r));
      total = total.valid() ? total + s : s;
    }
    gb.Named(total, loss + ".gradsum");
    EXPECT_TRUE(gb.ok()) << gb.status();
    auto second = AddGradients(&graph, {.of = loss + ".gradsum", .wrt = wrt});
    EXPECT_TRUE(second.ok()) << second.status();
  }
  return graph;
}

void CheckGroup(const Group& group, const testing::FeatureLevel& level) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    std::map<std::string, Tensor> feeds;
    Graph g = BuildGroup(group, dtype, &feeds, 42);
    if (const char* dump = std::getenv("ADC_DUMP_GROUP")) {
      if (group.name == dump) {
        (void)SaveGraph(g, absl::StrCat("/tmp/", group.name, "_",
                                        DTypeName(dtype), ".pbtxt"));
      }
    }
    absl::Status s =
        testing::ExpectCompiledMatchesInterpreter(g, {feeds}, level.options());
    EXPECT_TRUE(s.ok()) << group.name << " " << DTypeName(dtype) << " on "
                        << level.name << ": " << s;
  }
}

// Every test runs on the host's own level (unchecked: the production code),
// and the cross-section kOnEveryLevel on every other x86-64 feature level
// this CPU can run (testing::FeatureLevels: SSE2, SSE4.1, AVX2 and AVX-512,
// bounds-checked). (Bounds-checked code takes about 1.5 times as long to
// compile; the whole matrix would add ten minutes. The groups of a million
// elements spend their time in the interpreter.)
const std::set<std::string> kOnEveryLevel = {"Tails",
                                             "SpecialValues",
                                             "UnarySmall",
                                             "BinaryBroadcast",
                                             "ReductionsVector",
                                             "ReductionsMatrix",
                                             "Linalg",
                                             "MatMulLarge",
                                             "Shapes",
                                             "IntegerReductions",
                                             "ControlFlow",
                                             "ConvPool",
                                             "ConvChunked",
                                             "Random"};

class OpsE2eTest : public ::testing::TestWithParam<testing::FeatureLevel> {
 protected:
  void SetUp() override {
    const testing::FeatureLevel& level = GetParam();
    const std::string why = testing::WhyNotRunnable(level);
    if (!why.empty()) GTEST_SKIP() << "level " << level.name << ": " << why;
    // "UnarySmall/sse2" -> "UnarySmall".
    std::string test =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    test = test.substr(0, test.find('/'));
    if (level.target != "host" && kOnEveryLevel.count(test) == 0) {
      GTEST_SKIP() << "host level only (the others run a cross-section)";
    }
  }
};

INSTANTIATE_TEST_SUITE_P(
    Levels, OpsE2eTest, ::testing::ValuesIn(testing::FeatureLevels()),
    [](const ::testing::TestParamInfo<testing::FeatureLevel>& info) {
      return info.param.name;
    });

std::vector<Case> UnaryCases(Dims d) {
  auto c = [&](std::string name, double lo, double hi,
               std::function<Value(Value)> f) {
    return Case{name, {{"x", d, lo, hi}}, [f](V v) { return f(v[0]); }};
  };
  return {
      c("neg", -2, 2, [](Value x) { return -x; }),
      c("abs", 0.1, 2, [](Value x) { return Abs(x) + Abs(-x); }),
      c("exp", -3, 3, Exp),
      c("log", 0.1, 3, Log),
      c("log1p", -0.5, 3, Log1p),
      c("log1p_tiny", -1e-6, 1e-6, Log1p),
      c("expm1", -2, 2, Expm1),
      c("expm1_tiny", -1e-6, 1e-6, Expm1),
      c("sin", -4, 4, Sin),
      c("cos", -4, 4, Cos),
      c("tan", -1.2, 1.2, Tan),
      c("tanh", -3, 3, Tanh),
      c("sigmoid", -6, 6, Sigmoid),
      c("sqrt", 0.1, 3, Sqrt),
      c("rsqrt", 0.1, 3, Rsqrt),
      c("square", -2, 2, Square),
      c("reciprocal", 0.2, 3, Reciprocal),
      c("erf", -2.5, 2.5, Erf),
      c("atan", -4, 4, Atan),
      c("relu", -1, 1, Relu),
      c("leaky_relu", -1, 1, [](Value x) { return LeakyRelu(x, 0.1); }),
      c("elu", -2, 2, [](Value x) { return Elu(x, 0.7); }),
      c("softplus", -5, 5, Softplus),
      c("clip", -2, 2, [](Value x) { return Clip(x, -0.5, 0.7); }),
      c("sign", -1, 1, [](Value x) { return Sign(x) * x; }),
      c("round", -3, 3, [](Value x) { return Round(x * 2.0) * x; }),
      c("barrier", -1, 1,
        [](Value x) { return Barrier(Sin(x), {x * 2.0}) * x; }),
      // A call: compiled as its forward function (its gradient, the user's
      // rule, is inlined by autodiff).
      c("custom_vjp", -2, 2,
        [](Value x) {
          return CustomVjp(
              *x.builder(), "softplus", {x},
              [](GraphBuilder&, const std::vector<Value>& a) {
                return Maximum(a[0], 0.0) + Log1p(Exp(-Abs(a[0])));
              },
              [](GraphBuilder&, const std::vector<Value>& a, Value, Value dy) {
                return std::vector<Value>{dy * Sigmoid(a[0])};
              });
        }),
      c("stop_gradient", -1, 1, [](Value x) { return StopGradient(x) * x; }),
      c("cast", -1, 1,
        [](Value x) {
          DType other = x.dtype() == DType::kF32 ? DType::kF64 : DType::kF32;
          return Cast(Cast(x, other) * 2.0, x.dtype());
        }),
  };
}

std::vector<Case> BinaryCases(Dims a, Dims b) {
  auto c = [&](std::string name, double lo, double hi,
               std::function<Value(Value, Value)> f) {
    return Case{name, {{"a", a, lo, hi}, {"b", b, lo, hi}}, [f](V v) {
                  return f(v[0], v[1]);
                }};
  };
  return {
      c("add", -2, 2, [](Value x, Value y) { return x + y; }),
      c("sub", -2, 2, [](Value x, Value y) { return x - y; }),
      c("mul", -2, 2, [](Value x, Value y) { return x * y; }),
      c("div", 0.5, 2, [](Value x, Value y) { return x / y; }),
      c("pow", 0.5, 2, [](Value x, Value y) { return Pow(x, y); }),
      c("pow_int", -2, 2, [](Value x, Value) { return Pow(x, 3.0); }),
      c("maximum", -2, 2, [](Value x, Value y) { return Maximum(x, y); }),
      c("minimum", -2, 2, [](Value x, Value y) { return Minimum(x, y); }),
      c("mul_no_nan", -2, 2, MulNoNan),
      c("select", -2, 2,
        [](Value x, Value y) { return Select(Lt(x, y), x * y, x - y); }),
      c("compare", -2, 2,
        [](Value x, Value y) {
          Value m = Cast(Le(x, y), x.dtype()) + Cast(Ge(x, y), x.dtype()) +
                    Cast(Eq(x, y), x.dtype()) + Cast(Ne(x, y), x.dtype()) +
                    Cast(Gt(x, y), x.dtype());
          return m * x;
        }),
  };
}

TEST_P(OpsE2eTest, UnaryLarge) {
  CheckGroup({"unary_large", UnaryCases({1000003}), /*second_order=*/false},
             GetParam());
}

// The vectorized f32 sin/cos reduce their argument in f64: accurate over a
// wide range, not only near 0; tanh likewise.
TEST_P(OpsE2eTest, TrigWideRange) {
  std::vector<Case> cases;
  for (double range : {10.0, 1e4, 1e6}) {
    const std::string r = std::to_string(static_cast<int>(range));
    cases.push_back({"sin_" + r, {{"x", {4099}, -range, range}}, [](V v) {
                       return Sin(v[0]);
                     }});
    cases.push_back({"cos_" + r, {{"x", {4099}, -range, range}}, [](V v) {
                       return Cos(v[0]);
                     }});
  }
  cases.push_back(
      {"tan", {{"x", {4099}, -1.5, 1.5}}, [](V v) { return Tan(v[0]); }});
  // The vectorized f32 tanh: near 0 (expm1 branch and the x branch below
  // 2^-12), across, and where it saturates.
  for (double range : {1e-3, 0.3, 3.0, 20.0}) {
    cases.push_back({absl::StrCat("tanh_", range),
                     {{"x", {4099}, -range, range}},
                     [](V v) { return Tanh(v[0]); }});
  }
  CheckGroup({"trig_wide", cases, /*second_order=*/false}, GetParam());
}

TEST_P(OpsE2eTest, UnarySmall) {
  CheckGroup({"unary_small", UnaryCases({7})}, GetParam());
}

TEST_P(OpsE2eTest, UnaryMatrix) {
  CheckGroup({"unary_matrix", UnaryCases({33, 17})}, GetParam());
}

TEST_P(OpsE2eTest, BinarySameShape) {
  CheckGroup({"binary", BinaryCases({7}, {7})}, GetParam());
}

TEST_P(OpsE2eTest, BinaryBroadcast) {
  CheckGroup({"binary_broadcast", BinaryCases({5, 1, 3}, {4, 1})}, GetParam());
}

TEST_P(OpsE2eTest, BinaryLarge) {
  CheckGroup({"binary_large", BinaryCases({1000003}, {1000003}), false},
             GetParam());
}

std::vector<Case> ReductionCases(Dims d) {
  auto c = [&](std::string name, std::function<Value(Value)> f, double lo = -1,
               double hi = 1) {
    return Case{name, {{"x", d, lo, hi}}, [f](V v) { return f(v[0]); }};
  };
  const int r = static_cast<int>(d.size());
  std::vector<Case> cases = {
      c("sum_all", [](Value x) { return Sum(x); }),
      c("mean_all", [](Value x) { return Mean(x); }),
      c("max_all", [](Value x) { return Max(x); }),
      c("min_all", [](Value x) { return Min(x); }),
      c(
          "prod_all", [](Value x) { return Prod(x); }, 0.9, 1.1),
      c("logsumexp_all", [](Value x) { return LogSumExp(x); }),
  };
  for (int a = 0; a < r; ++a) {
    const std::string s = std::to_string(a);
    cases.push_back(c("sum_" + s, [a](Value x) { return Sum(x, {a}); }));
    cases.push_back(
        c("sum_keep_" + s, [a](Value x) { return Sum(x, {a}, true) * x; }));
    cases.push_back(c("max_" + s, [a](Value x) { return Max(x, {a}); }));
    cases.push_back(c("min_" + s, [a](Value x) { return Min(x, {a}, true); }));
    cases.push_back(c(
        "prod_" + s, [a](Value x) { return Prod(x, {a}); }, 0.5, 1.5));
    cases.push_back(c("softmax_" + s, [a](Value x) { return Softmax(x, a); }));
    cases.push_back(
        c("log_softmax_" + s, [a](Value x) { return LogSoftmax(x, a); }));
    cases.push_back(c("cumsum_" + s, [a](Value x) { return CumSum(x, a); }));
    cases.push_back(c("cumsum_rev_excl_" + s,
                      [a](Value x) { return CumSum(x, a, true, true); }));
  }
  if (r >= 2) {
    cases.push_back(c("sum_01", [](Value x) { return Sum(x, {0, 1}); }));
    cases.push_back(c("mean_last2", [](Value x) { return Mean(x, {-2, -1}); }));
  }
  return cases;
}

TEST_P(OpsE2eTest, ReductionsVector) {
  CheckGroup({"reduce_vec", ReductionCases({7})}, GetParam());
}

TEST_P(OpsE2eTest, ReductionsMatrix) {
  CheckGroup({"reduce_mat", ReductionCases({33, 65})}, GetParam());
}

TEST_P(OpsE2eTest, Reductions3d) {
  CheckGroup({"reduce_3d", ReductionCases({3, 5, 40})}, GetParam());
}

TEST_P(OpsE2eTest, ReductionsLarge) {
  std::vector<Case> cases = {
      {"sum", {{"x", {1000003}}}, [](V v) { return Sum(v[0]); }},
      {"mean", {{"x", {1000003}}}, [](V v) { return Mean(v[0]); }},
      {"max", {{"x", {1000003}}}, [](V v) { return Max(v[0]); }},
      {"logsumexp", {{"x", {1000003}}}, [](V v) { return LogSumExp(v[0]); }},
      {"rows", {{"x", {1000, 1003}}}, [](V v) { return Sum(v[0], {1}); }},
      {"cols", {{"x", {1000, 1003}}}, [](V v) { return Sum(v[0], {0}); }},
      {"softmax", {{"x", {1000, 1003}}}, [](V v) { return Softmax(v[0]); }},
      {"cumsum", {{"x", {1000003}}}, [](V v) { return CumSum(v[0], 0); }},
      // Batch norm's statistics (keepdims: outer axes of 1 around the
      // channels, parallel over the kept axes fused), and a kept row whose
      // only axis longer than 1 is the innermost (parallel over it).
      {"stats_keep",
       {{"x", {3, 37, 13, 29}}},
       [](V v) {
         return Sum(v[0], {0, 2, 3}, true) * v[0];
       }},
      // A bias's gradient on small planes (the trailing reduced axes fused
      // into the lanes: 11 x 11 is 121 elements of one axis), and a max
      // over them (its update is a select).
      {"bias_grad",
       {{"x", {5, 19, 11, 11}}},
       [](V v) {
         return Sum(v[0], {0, 2, 3});
       }},
      {"stats_max",
       {{"x", {3, 37, 13, 29}}},
       [](V v) {
         return Max(v[0], {0, 2, 3});
       }},
      {"stats_keep_mid",
       {{"x", {5, 301, 41}}},
       [](V v) {
         return Sum(v[0], {0, 2}, true) * v[0];
       }},
      {"row_keep",
       {{"x", {257, 1, 70}}},
       [](V v) { return Sum(v[0], {0}, true) * v[0]; }},
      {"one_row", {{"x", {1, 1, 20011}}}, [](V v) { return Exp(v[0]); }},
  };
  CheckGroup({"reduce_large", cases, /*second_order=*/false}, GetParam());
}

// Tails of vectorized, tiled and parallel loops, memory-checked on every
// level but the host's: 16 shapes [a, b, c] whose every axis takes every
// length modulo 16 (the widest vector, f32 on AVX-512; so also every
// remainder modulo 8 and 4), below and above one vector on the innermost
// axis, through the schedules that split loops: reductions over the first,
// middle and last axis (vectorized over the kept innermost axis, or per-lane
// partial results), max (its update is a select), softmax, cumsum and
// element-wise ops with broadcasting; then matmuls whose rows, columns and
// inner length take lengths on both sides of the register tiles (8 x 48 on
// AVX-512, smaller elsewhere), with their transposed gradient products.
// (Only first derivatives: compiling with the asan feature costs about ten
// times the usual LLVM time.)
Graph TailGraph(DType dtype, std::map<std::string, Tensor>* feeds) {
  GraphBuilder b("tails");
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  auto input = [&](const std::string& name, Dims dims) {
    Tensor t(TensorType{dtype, dims});
    for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, u(rng));
    (*feeds)[name] = std::move(t);
    return b.Input(name, dtype, dims);
  };
  for (int64_t k = 0; k < 16; ++k) {
    const int64_t a = 1 + k, bb = 17 + (5 * k + 3) % 16,
                  c = (k % 2 == 0 ? 1 : 17) + (7 * k + 5) % 16;
    const std::string s = absl::StrCat("s", k);
    Value x = input(s + ".x", {a, bb, c});
    b.Output(s + ".max0", Max(x, {0}));
    b.Output(s + ".sum1", Sum(Relu(x), {1}, /*keepdims=*/true) * x);
    b.Output(s + ".min2", Min(x, {2}));
    b.Output(s + ".softmax2", Softmax(x, 2));
    b.Output(s + ".cumsum0", CumSum(Exp(x), 0));
  }
  std::vector<std::string> wrt;
  Value loss;
  const std::vector<std::array<int64_t, 3>> mkn = {
      {1, 5, 1},   {3, 17, 16}, {9, 8, 47},   {8, 33, 48},
      {17, 3, 49}, {7, 64, 65}, {33, 9, 100}, {2, 1, 13}};
  for (size_t i = 0; i < mkn.size(); ++i) {
    const auto [m, kk, n] = mkn[i];
    const std::string s = absl::StrCat("mm", i);
    Value p = input(s + ".a", {m, kk});
    Value q = input(s + ".b", {kk, n});
    wrt.push_back(s + ".a");
    wrt.push_back(s + ".b");
    Value y = MatMul(p, q);
    b.Output(s, y);
    Tensor r(y.type());
    for (int64_t e = 0; e < r.num_elements(); ++e) r.SetDouble(e, u(rng));
    Value term = Sum(y * Constant(b, r));
    loss = loss.valid() ? loss + term : term;
  }
  b.Output("mm.loss", loss);
  auto g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(AddGradients(&*g, {.of = "mm.loss", .wrt = wrt}).ok());
  return *std::move(g);
}

TEST_P(OpsE2eTest, Tails) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    std::map<std::string, Tensor> feeds;
    const Graph g = TailGraph(dtype, &feeds);
    if (const char* dump = std::getenv("ADC_DUMP_GROUP")) {
      if (std::string(dump) == "tails") {
        (void)SaveGraph(
            g, absl::StrCat("/tmp/tails_", DTypeName(dtype), ".pbtxt"));
      }
    }
    absl::Status st = testing::ExpectCompiledMatchesInterpreter(
        g, {feeds}, GetParam().options());
    EXPECT_TRUE(st.ok()) << DTypeName(dtype) << ": " << st;
  }
}

std::vector<Case> LinalgCases() {
  auto c = [](std::string name, Dims a, Dims b) {
    return Case{
        name, {{"a", a}, {"b", b}}, [](V v) { return MatMul(v[0], v[1]); }};
  };
  return {
      c("mm", {7, 5}, {5, 3}),
      c("mm_wide", {9, 64}, {64, 100}),
      c("mm_odd", {37, 29}, {29, 53}),
      c("mv", {6, 4}, {4}),
      c("vm", {4}, {4, 6}),
      c("dot", {5}, {5}),
      c("batched", {2, 3, 4, 5}, {2, 3, 5, 6}),
      c("broadcast_batch", {3, 1, 4, 5}, {2, 5, 7}),
      {"linear",
       {{"x", {8, 6}}, {"w", {4, 6}}, {"b", {4}}},
       [](V v) { return Linear(v[0], v[1], v[2]); }},
  };
}

TEST_P(OpsE2eTest, Linalg) {
  CheckGroup({"linalg", LinalgCases()}, GetParam());
}

TEST_P(OpsE2eTest, MatMulLarge) {
  // Products wide enough that each task packs its own panels of b (the
  // gradient's products too), with b transposed, and batched; every size
  // leaves a remainder against the register block and the vector width.
  CheckGroup({"mm_large",
              {{"mm",
                {{"a", {256, 300}}, {"b", {300, 200}}},
                [](V v) { return MatMul(v[0], v[1]); }},
               {"mm_nt",
                {{"a", {37, 70}}, {"b", {530, 70}}},
                [](V v) {
                  return MatMul(v[0], Transpose(v[1], {1, 0}));
                }},
               {"mm_batched",
                {{"a", {3, 20, 33}}, {"b", {3, 33, 150}}},
                [](V v) { return MatMul(v[0], v[1]); }},
               // Deep enough that a panel is summed in blocks of k
               // (PlanKBlock) where vectors are 8 or 16 floats: 8448 = 33
               // x 256. Positive terms: a sum this long of mixed signs
               // cancels to well below f32's rounding of the terms.
               {"mm_deep",
                {{"a", {8, 7, 8448}, 0.5, 1.0}, {"b", {8, 8448, 21}, 0.5, 1.0}},
                [](V v) { return MatMul(v[0], v[1]); }},
               // Few panels of b, each larger than a core's share of the
               // last-level cache, and blocks of k that are work enough:
               // all tasks share each block (ScheduleSharedKBlocks) with
               // AVX2's f32 blocks and AVX-512's f32 and f64 ones; 66048 =
               // 129 x 512, 100 columns (2, 4 or 7 panels), 75 rows.
               {"mm_shared_k",
                {{"a", {75, 66048}, 0.5, 1.0}, {"b", {66048, 100}, 0.5, 1.0}},
                [](V v) { return MatMul(v[0], v[1]); }}},
              /*second_order=*/false},
             GetParam());
}

std::vector<Case> ShapeCases() {
  return {
      {"reshape",
       {{"x", {6, 4}}},
       [](V v) {
         return Reshape(v[0], {3, 8});
       }},
      {"reshape_merge",
       {{"x", {3, 4, 5}}},
       [](V v) {
         return Reshape(v[0], {12, 5}) * 2.0;
       }},
      {"reshape_mixed",
       {{"x", {6, 4}}},
       [](V v) {
         return Reshape(Sin(v[0]), {4, 3, 2});
       }},
      {"transpose",
       {{"x", {3, 4, 5}}},
       [](V v) {
         return Transpose(Exp(v[0]), {2, 0, 1});
       }},
      {"broadcast",
       {{"x", {3, 1}}},
       [](V v) {
         return BroadcastTo(v[0], {2, 3, 4});
       }},
      {"expand_squeeze",
       {{"x", {3, 4}}},
       [](V v) { return Squeeze(ExpandDims(v[0], 1)) * v[0]; }},
      {"flatten", {{"x", {2, 3, 4}}}, [](V v) { return Flatten(v[0], 1); }},
      {"concat",
       {{"a", {2, 3}}, {"b", {2, 5}}, {"c", {2, 1}}},
       [](V v) {
         return Concat({v[0], Sin(v[1]), v[2]}, 1);
       }},
      {"slice",
       {{"x", {9, 8}}},
       [](V v) {
         return Slice(v[0], {1, 0}, {8, 8}, {3, 2});
       }},
      {"slice_negative",
       {{"x", {9, 8}}},
       [](V v) {
         return SliceAxis(SliceAxis(v[0], 0, -2, 1, -2), 1, 6, 0, -3);
       }},
      {"index", {{"x", {4, 5}}}, [](V v) { return Index(v[0], -1, 1); }},
      {"reverse",
       {{"x", {4, 5}}},
       [](V v) {
         return Reverse(v[0], {0, 1});
       }},
      {"pad",
       {{"x", {3, 4}}},
       [](V v) {
         return Pad(v[0], {1, 2}, {2, 0}, 0.5, {1, 0});
       }},
      {"pad_crop",
       {{"x", {5, 4}}},
       [](V v) {
         return Pad(v[0], {-1, 2}, {1, -2}, -1.0);
       }},
      {"gather",
       {{"x", {5, 3}}, {"i", {2, 4}, -7, 7, DType::kI32}},
       [](V v) { return Gather(v[0], v[1], 0); }},
      {"gather_axis1",
       {{"x", {3, 6, 2}}, {"i", {5}, -6, 6, DType::kI64}},
       [](V v) { return Gather(v[0], v[1], 1); }},
      {"scatter_add",
       {{"b", {6, 3}}, {"i", {4}, -6, 6, DType::kI32}, {"u", {4, 3}}},
       [](V v) { return ScatterAdd(v[0], v[1], v[2], 0); }},
      {"iota",
       {{"x", {4, 3}}},
       [](V v) {
         return v[0] * Iota(*v[0].builder(), v[0].dtype(), {4, 3}, 1);
       }},
      {"arange",
       {{"x", {5}}},
       [](V v) {
         return v[0] * Arange(*v[0].builder(), 1, 3.5, 0.5, v[0].dtype());
       }},
      {"mse",
       {{"p", {4, 3}}, {"t", {4, 3}}},
       [](V v) { return MseLoss(v[0], v[1]); }},
      {"cross_entropy",
       {{"x", {4, 5}}, {"y", {4}, 0, 5, DType::kI64}},
       [](V v) { return CrossEntropy(v[0], v[1]); }},
  };
}

TEST_P(OpsE2eTest, Shapes) { CheckGroup({"shapes", ShapeCases()}, GetParam()); }

// Integer reductions over every axis choice, on a small shape and on one
// wide enough for per-lane partial results. (Integer max/min once failed
// LLVM's verifier: Halide's own temporaries clashed with an argument's name.)
TEST_P(OpsE2eTest, IntegerReductions) {
  for (DType dt : {DType::kI32, DType::kI64}) {
    for (const Dims& dims : std::vector<Dims>{{5, 7}, {3, 1000}}) {
      SCOPED_TRACE(absl::StrCat(DTypeName(dt), " ", dims[0], "x", dims[1]));
      GraphBuilder b("int_reductions");
      Value x = b.Input("x", dt, dims);
      for (const auto& [name, axes] :
           std::vector<std::pair<std::string, std::vector<int64_t>>>{
               {"0", {0}}, {"1", {1}}, {"all", {0, 1}}}) {
        b.Output("max" + name, Max(x, axes, true));
        b.Output("min" + name, Min(x, axes));
        b.Output("sum" + name, Sum(x, axes));
        b.Output("prod" + name, Prod(x, axes, true));
      }
      auto g = b.Build();
      ASSERT_TRUE(g.ok()) << g.status();
      std::mt19937_64 rng(7);
      std::uniform_int_distribution<int64_t> u(-1000, 1000);
      Tensor t(TensorType{dt, dims});
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        // Mostly +-1 so that products stay small, with large values for
        // max/min/sum.
        t.SetInt(i, i % 5 == 0 ? u(rng) : (u(rng) >= 0 ? 1 : -1));
      }
      absl::Status s = testing::ExpectCompiledMatchesInterpreter(
          *g, {{{"x", t}}}, GetParam().options());
      EXPECT_TRUE(s.ok()) << s;
    }
  }
}

// Every op that takes integers or bools, compiled, on i32, i64 and bool
// tensors: arithmetic, matmul, data movement, gather/scatter, cumsum,
// select, comparisons and casts between all dtypes.
TEST_P(OpsE2eTest, IntegerAndBoolTensors) {
  for (DType dt : {DType::kI32, DType::kI64}) {
    SCOPED_TRACE(DTypeName(dt));
    GraphBuilder b("int_tensors");
    Value x = b.Input("x", dt, {4, 6});
    Value y = b.Input("y", dt, {4, 6});  // No zeros.
    Value c = b.Input("c", DType::kBool, {4, 6});
    Value idx = b.Input("idx", DType::kI64, {5});
    b.Output("arith", (x + y) * x - y / 2.0 + Square(y) - Neg(Abs(x)));
    b.Output("div", x / y);
    b.Output("max_min", Maximum(x, y) * Minimum(y, 2.0) + Sign(x));
    b.Output("matmul", MatMul(x, Transpose(y)));
    b.Output("dot", Dot(Reshape(x, {24}), Reshape(y, {24})));
    b.Output("data",
             Concat({Reverse(x, {1}), Slice(y, {0, 1}, {4, 6}, {1, 2})}, 1));
    b.Output("bcast", BroadcastTo(ExpandDims(Index(x, 1), 0), {3, 6}) +
                          Index(Squeeze(Reshape(y, {1, 4, 6, 1})), 0));
    b.Output("pad", Pad(x, {1, 0}, {0, 2}, 7, {1, 0}));
    b.Output("gather", Gather(x, idx, 0));
    b.Output("scatter", ScatterAdd(y, idx, Gather(x, idx, 0), 0));
    b.Output("cumsum", CumSum(x, 1, true, true) + CumSum(y, 0));
    b.Output("select", Select(c, x, y) + Select(Lt(x, y), y, 3.0));
    b.Output(
        "compare",
        Concat({Le(x, y), Gt(x, 0.0), Ge(x, y), Eq(x, y), Ne(x, 1.0), c}, 0));
    b.Output("bool_data",
             Transpose(Concat({Pad(c, {0, 1}, {0, 0}), Reverse(c, {0})}, 1)));
    b.Output("bool_gather", Gather(c, idx, 0));
    b.Output("to_f32", Cast(x, DType::kF32) / 3.0);
    b.Output("to_f64", Cast(y, DType::kF64) / 3.0);
    b.Output("to_bool", Cast(x, DType::kBool));
    b.Output("from_bool",
             Gt(Cast(c, dt) + Cast(Cast(c, DType::kF32), dt), 0.0));
    b.Output("to_other",
             Cast(x, dt == DType::kI32 ? DType::kI64 : DType::kI32));
    b.Output("from_f32", Cast(Cast(x, DType::kF32) * 2.5, dt));
    auto g = b.Build();
    ASSERT_TRUE(g.ok()) << g.status();
    std::mt19937_64 rng(11);
    std::uniform_int_distribution<int64_t> u(-9, 9), pick(0, 3);
    Tensor tx(TensorType{dt, {4, 6}}), ty(TensorType{dt, {4, 6}}),
        tc(TensorType{DType::kBool, {4, 6}}), ti(TensorType{DType::kI64, {5}});
    for (int64_t i = 0; i < 24; ++i) {
      tx.SetInt(i, u(rng));
      const int64_t v = u(rng);
      ty.SetInt(i, v == 0 ? 5 : v);
      tc.SetInt(i, u(rng) > 0);
    }
    for (int64_t i = 0; i < 5; ++i) ti.SetInt(i, pick(rng));
    absl::Status s = testing::ExpectCompiledMatchesInterpreter(
        *g, {{{"x", tx}, {"y", ty}, {"c", tc}, {"idx", ti}}},
        GetParam().options());
    EXPECT_TRUE(s.ok()) << s;
  }
}

TEST_P(OpsE2eTest, IntegerOps) {
  GraphBuilder b("ints");
  Value x = b.Input("x", DType::kI32, {9});
  Value y = b.Input("y", DType::kI32, {9});
  Value z = b.Input("z", DType::kI64, {9});
  b.Output("div", x / y);
  b.Output("mix", (x + y) * x - y);
  b.Output("abs_sign", Abs(x) + Sign(y) + -x);
  b.Output("max_min", Maximum(x, y) - Minimum(x, 1));
  b.Output("sum", Sum(Reshape(z, {3, 3}), {1}));
  b.Output("cumsum", CumSum(z, 0, true));
  b.Output("cast", Cast(Cast(x, DType::kF32) / 2.0, DType::kI64) + z);
  b.Output("bool", Cast(Lt(x, y), DType::kI32) + Cast(Ne(z, 0.0), DType::kI32));
  auto g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  std::map<std::string, Tensor> feeds = {
      {"x",
       Tensor::FromInts({DType::kI32, {9}}, {7, -7, 7, -7, 0, 5, 100, -3, 2})},
      {"y",
       Tensor::FromInts({DType::kI32, {9}}, {2, 2, -2, -2, 3, 0, 7, 3, -1})},
      {"z", Tensor::FromInts({DType::kI64, {9}}, {1, 2, 3, -4, 5, 6, 0, 8, 9})},
  };
  absl::Status s = testing::ExpectCompiledMatchesInterpreter(
      *g, {feeds}, GetParam().options());
  EXPECT_TRUE(s.ok()) << s;
}

// Special values through every comparison, select, the functions whose
// special cases are hand-written (math_kernels.cc) and casts to integers:
// NaN, infinities, signed zeros, subnormals and the extremes of f32.
// (Halide 14's strict <= and >= said NaN <= 0; sigmoid(NaN) was 1 on 4-
// and 8-lane vectors; sin(-0), tan(-0) and erf(-0) were +0.)
TEST_P(OpsE2eTest, SpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> specials = {nan,   -inf,  -3e38, -1,   -1e-40, -0.0,
                                        0.0,   1e-40, 1,     3e38, inf,    0.5,
                                        -88.5, -100,  89,    -2.5, 2.5};
  const int64_t n = static_cast<int64_t>(specials.size());
  for (DType dtype : {DType::kF32, DType::kF64}) {
    SCOPED_TRACE(DTypeName(dtype));
    GraphBuilder b("specials");
    Value x = b.Input("x", dtype, {n, 1});
    Value y = b.Input("y", dtype, {1, n});
    b.Output("lt", Lt(x, y));
    b.Output("le", Le(x, y));
    b.Output("gt", Gt(x, y));
    b.Output("ge", Ge(x, y));
    b.Output("eq", Eq(x, y));
    b.Output("ne", Ne(x, y));
    b.Output("select", Select(Le(x, y), x, y));
    b.Output("max_min", Maximum(x, y) - Minimum(x, y));
    for (const auto& [name, f] :
         std::vector<std::pair<std::string, Value (*)(Value)>>{
             {"exp", Exp},
             {"log", Log},
             {"log1p", Log1p},
             {"expm1", Expm1},
             {"tanh", Tanh},
             {"sigmoid", Sigmoid},
             {"sqrt", Sqrt},
             {"erf", Erf},
             {"sign", Sign},
             {"round", Round},
             {"abs", Abs},
             {"neg", Neg},
             {"atan", Atan}}) {
      b.Output(name, f(x));
    }
    // f32 sin, cos and tan reduce their argument in f64, exact for |x| <
    // 2^20 and wrong far beyond (no Payne-Hanek reduction): not +-3e38.
    Value xt = Select(Ne(Abs(x), 3e38), x, 0.0);
    b.Output("sin", Sin(xt));
    b.Output("cos", Cos(xt));
    b.Output("tan", Tan(xt));
    b.Output("pow", Pow(x, y));
    b.Output("to_i32", Cast(x, DType::kI32));
    b.Output("to_i64", Cast(x, DType::kI64));
    b.Output("to_bool", Cast(x, DType::kBool));
    auto g = b.Build();
    ASSERT_TRUE(g.ok()) << g.status();
    Tensor tx(TensorType{dtype, {n, 1}}), ty(TensorType{dtype, {1, n}});
    for (int64_t i = 0; i < n; ++i) {
      tx.SetDouble(i, specials[i]);
      ty.SetDouble(i, specials[i]);
    }
    // The production code of each level: bounds-checked builds wrap every
    // load in a branch, under which LLVM treated NaN as a number in log1p
    // and tanh (test builds only; the production code is exact).
    CompileOptions options = GetParam().options();
    options.check_bounds = false;
    absl::Status s = testing::ExpectCompiledMatchesInterpreter(
        *g, {{{"x", tx}, {"y", ty}}}, options);
    EXPECT_TRUE(s.ok()) << s;
  }
}

// The lowering of every op kind is compiled and compared by the tests
// above: the graphs of their case tables (forward and derivatives) use every
// op that a node may have. A new op fails here until a case covers it.
// (Parameters, the one leaf not here, are compiled by artifact_test.)
// Control flow (cond, while_loop; more in control_flow_e2e_test): a loop
// whose body holds a cond, then a cond on its result.
Graph ControlFlowGraph(DType dtype, std::map<std::string, Tensor>* feeds) {
  GraphBuilder b("control_flow");
  Value x = b.Input("x", dtype, {3, 17});
  std::vector<Value> loop = WhileLoop(
      b,
      [](GraphBuilder&, const std::vector<Value>& c,
         const std::vector<Value>&) { return Lt(Sum(Abs(c[0])), 1e3); },
      [](GraphBuilder&, const std::vector<Value>& c,
         const std::vector<Value>& k) {
        return Cond(
            Gt(Sum(c[0]), 0.0),
            [](GraphBuilder&, const std::vector<Value>& o) {
              return std::vector<Value>{o[0] * 3.0};
            },
            [](GraphBuilder&, const std::vector<Value>& o) {
              return std::vector<Value>{o[0] * -2.0 + o[1]};
            },
            {c[0], k[0]}, "sign");
      },
      {x}, /*max_iterations=*/100, {x}, "grow");
  std::vector<Value> c = Cond(
      Lt(Max(loop[0]), 0.0),
      [](GraphBuilder&, const std::vector<Value>& o) {
        return std::vector<Value>{Exp(o[0] * 1e-3)};
      },
      [](GraphBuilder&, const std::vector<Value>& o) { return o; }, loop,
      "finish");
  b.Output("y", c[0]);
  auto g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  *feeds = testing::RandomFeeds(*g, 9);
  return *std::move(g);
}

// Convolution (the conv op: its gradients are convolutions with input and
// kernel dilations, strides and cropping pads of their own) and pooling
// (compositions, graph/nn.cc) with spatial sizes leaving every kind of
// remainder, first and second derivatives.
std::vector<Case> ConvPoolCases() {
  WindowOptions strided;
  strided.strides = {2, 1};
  strided.dilations = {1, 2};
  strided.pads_low = {1, 0};
  strided.pads_high = {2, 1};
  WindowOptions pool;
  pool.strides = {2, 2};
  pool.pads_low = pool.pads_high = {1, 1};
  pool.ceil_mode = true;
  WindowOptions pool2;
  pool2.strides = {2, 2};
  WindowOptions same;
  same.strides = {2};
  same.same = WindowOptions::Same::kLower;
  WindowOptions row_pad;
  row_pad.pads_low = row_pad.pads_high = {1, 1};
  WindowOptions row_strided;
  row_strided.strides = {1, 2};
  row_strided.dilations = {1, 2};
  row_strided.pads_low = {1, 2};
  row_strided.pads_high = {0, 2};
  WindowOptions planes_dilated;
  planes_dilated.dilations = {1, 2};
  WindowOptions row_pad1;
  row_pad1.pads_low = row_pad1.pads_high = {1};
  WindowOptions full_pad1;
  full_pad1.pads_low = full_pad1.pads_high = {2};
  WindowOptions uneven;
  uneven.pads_low = {2, 0};
  uneven.pads_high = {1, 2};
  WindowOptions pixels;
  pixels.strides = {1, 2};
  pixels.pads_low = pixels.pads_high = {0, 1};
  return {
      // Output rows of whole vectors, by rows (LowerConvByRows, read in
      // place unless strided): 126 pixels (panels with a tail; as many
      // columns as by planes, 2 x 128, on every level), 29 with stride and
      // dilation (one padded panel), and a 1-d row of 57 below;
      // remainders 14, 13, 9 modulo 16, 6, 5, 1 modulo 8 and 2, 1, 1
      // modulo 4.
      {"conv2d_rows",
       {{"x", {1, 3, 2, 126}}, {"w", {8, 3, 3, 3}}, {"b", {8}}},
       [row_pad](V v) { return Conv(v[0], v[1], v[2], row_pad); }},
      {"conv2d_rows_strided",
       {{"x", {2, 4, 3, 57}}, {"w", {12, 2, 2, 3}}},
       [row_strided](V v) {
         return Conv(v[0], v[1], std::nullopt, row_strided, 2);
       }},
      // Few output pixels from a long kernel, by pixels
      // (LowerConvByPixels): the shape of a weight gradient; batch 17, a
      // kernel row of 19 (padded to whole vectors), a stride.
      {"conv2d_pixels",
       {{"x", {17, 2, 3, 21}}, {"w", {6, 2, 2, 19}}},
       [pixels](V v) { return Conv(v[0], v[1], std::nullopt, pixels); }},
      // Few pixels, whole vectors of output channels: copied out of the
      // product in vectors along o, the pixels unrolled and their stores
      // interleaved (Lowering::ScheduleConvCopy), from each layout: by
      // pixels ([p][o][n]), flattened ([o][(n, p)]) and, with fewer
      // columns than a vector, transposed ([(n, p)][o]). (By planes,
      // [(n, p)][o]: conv2d_weights_planes below.)
      {"conv2d_pixels_channels",
       {{"x", {16, 2, 3, 21}}, {"w", {32, 2, 2, 19}}},
       [pixels](V v) { return Conv(v[0], v[1], std::nullopt, pixels); }},
      {"conv2d_flat_channels",
       {{"x", {2, 5, 5, 5}}, {"w", {32, 5, 3, 3}}},
       [](V v) { return Conv(v[0], v[1]); }},
      {"conv2d_flat_transposed",
       {{"x", {1, 3, 4, 4}}, {"w", {32, 3, 3, 3}}},
       [](V v) { return Conv(v[0], v[1]); }},
      {"conv1d_rows",
       {{"x", {2, 4, 61}}, {"w", {7, 4, 5}}},
       [](V v) { return Conv(v[0], v[1]); }},
      // Stride 1, by planes (LowerConvByPlanes, read in place): rows of
      // 70 (fewer columns by planes than by rows, 320 against 512 with 16
      // lanes), two groups of 4 outputs on 15x13 padded planes, a
      // dilation on 12x12, a 1-d row of 12 padded to 14 and a 3-d image
      // (8x8x8 outputs on 9x9x9 planes).
      {"conv2d_planes_wide",
       {{"x", {1, 3, 4, 70}}, {"w", {8, 3, 3, 3}}, {"b", {8}}},
       [row_pad](V v) { return Conv(v[0], v[1], v[2], row_pad); }},
      {"conv2d_planes",
       {{"x", {3, 4, 13, 11}}, {"w", {8, 2, 3, 3}}, {"b", {8}}},
       [row_pad](V v) { return Conv(v[0], v[1], v[2], row_pad, 2); }},
      // 7x7 outputs on 9x9 planes, per image (PlaneColumns): the first 61
      // positions of each image's plane in one product, rounded up to
      // whole panels, in two groups.
      {"conv2d_planes_per_image",
       {{"x", {3, 4, 7, 7}}, {"w", {8, 2, 3, 3}}, {"b", {8}}},
       [row_pad](V v) { return Conv(v[0], v[1], v[2], row_pad, 2); }},
      {"conv2d_planes_dilated",
       {{"x", {2, 3, 12, 12}}, {"w", {5, 3, 2, 2}}},
       [planes_dilated](V v) {
         return Conv(v[0], v[1], std::nullopt, planes_dilated);
       }},
      {"conv1d_planes",
       {{"x", {3, 5, 12}}, {"w", {4, 5, 3}}},
       [row_pad1](V v) { return Conv(v[0], v[1], std::nullopt, row_pad1); }},
      // Rows sharing their zero padding (Planes): a full padding (the
      // input gradient's shape: 14 outputs on planes of 14), and pads
      // unequal, low above high (shared 1 row) and below (none shared).
      {"conv1d_planes_full",
       {{"x", {3, 5, 12}}, {"w", {4, 5, 3}}},
       [full_pad1](V v) { return Conv(v[0], v[1], std::nullopt, full_pad1); }},
      {"conv2d_planes_uneven",
       {{"x", {2, 3, 9, 10}}, {"w", {4, 3, 3, 3}}},
       [uneven](V v) { return Conv(v[0], v[1], std::nullopt, uneven); }},
      // A 1x1 kernel, padded: nothing to share (the outputs fill the
      // padded planes; the weight gradient of a 3x3 convolution on 1x1
      // images, ResNet-18's layer4 at 32x32, has this shape).
      {"conv2d_planes_1x1_padded",
       {{"x", {2, 3, 5, 4}}, {"w", {4, 3, 1, 1}}},
       [row_pad](V v) { return Conv(v[0], v[1], std::nullopt, row_pad); }},
      {"conv3d_planes",
       {{"x", {1, 2, 9, 9, 9}}, {"w", {4, 2, 2, 2, 2}}},
       [](V v) { return Conv(v[0], v[1]); }},
      // A weight gradient's shape with short kernel rows, by planes
      // (LowerConvWeightsByPlanes): 3x3 outputs of an 11x10 kernel on
      // 13x12 padded planes, and a 1-d kernel of 18 on 20.
      {"conv2d_weights_planes",
       {{"x", {3, 3, 11, 10}}, {"w", {16, 3, 11, 10}}},
       [row_pad](V v) { return Conv(v[0], v[1], std::nullopt, row_pad); }},
      {"conv1d_weights_planes",
       {{"x", {3, 4, 20}}, {"w", {16, 4, 18}}},
       [](V v) { return Conv(v[0], v[1]); }},
      // The same with few outputs and a long sum: a dot product (DotPlan:
      // lanes along the 4 x 40 x 37 terms; tiles of 3 rows, 8 columns or
      // fewer, with a tail on each: 2 x 2 x 2 rows, 19 columns).
      {"conv2d_weights_dot",
       {{"x", {2, 4, 40, 37}}, {"w", {19, 4, 39, 36}}},
       [](V v) { return Conv(v[0], v[1]); }},
      // Many channels: the rows of the products (the weights, and their
      // transposed flip for the input gradient) are copied in parallel
      // tiles of 16 rows by 8 vectors of terms, with a tail on each (rows
      // 40 and 50, terms 450 and 360).
      {"conv2d_channels",
       {{"x", {2, 50, 6, 7}}, {"w", {40, 50, 3, 3}}},
       [row_pad](V v) { return Conv(v[0], v[1], std::nullopt, row_pad); }},
      // Terms of whole vectors but not whole tiles (144 = 9 x 16 = 2 x 64
      // + 16 = 4 x 32 + 16): the last tile shifts inwards (a guarded one
      // stored whole vectors past the last row).
      {"conv2d_wide_out",
       {{"x", {1, 16, 5, 6}}, {"w", {128, 16, 3, 3}}},
       [row_pad](V v) { return Conv(v[0], v[1], std::nullopt, row_pad); }},
      // ResNet-18's layer3 weight gradient in miniature: sums of 8 x 14 x
      // 14 = 1568 terms (98 vectors of 16: 12 tiles and 2 vectors), of
      // positive terms (mixed signs would cancel below f32's rounding).
      {"conv2d_batch8",
       {{"x", {8, 4, 14, 14}, 0.5, 1.0}, {"w", {16, 4, 3, 3}, 0.5, 1.0}},
       [row_pad](V v) { return Conv(v[0], v[1], std::nullopt, row_pad); }},
      {"conv2d",
       {{"x", {2, 4, 9, 17}}, {"w", {6, 2, 3, 3}}, {"b", {6}}},
       [strided](V v) { return Conv(v[0], v[1], v[2], strided, 2); }},
      // One input channel, many outputs: the weight gradient's product
      // has fewer columns than a vector (transposed, lower_conv.cc).
      {"conv2d_narrow",
       {{"x", {3, 1, 6, 5}}, {"w", {20, 1, 2, 2}}},
       [](V v) { return Conv(v[0], v[1]); }},
      {"conv1d_depthwise_same",
       {{"x", {3, 5, 33}}, {"w", {5, 1, 4}}},
       [same](V v) { return Conv(v[0], v[1], std::nullopt, same, 5); }},
      {"conv_transpose2d",
       {{"x", {1, 3, 5, 7}}, {"w", {3, 2, 3, 2}}},
       [strided](V v) {
         return ConvTranspose(v[0], v[1], std::nullopt, strided, 1, {1, 0});
       }},
      {"max_pool",
       {{"x", {2, 3, 11, 10}}},
       [pool](V v) {
         return MaxPool(v[0], {3, 3}, pool);
       }},
      // A ReLU's 2x2/2 max pool, as the small CNN's: its gradient is four
      // dilating pads in loops split into phases along the axes of whole
      // phases. First both axes (13 and 21 per phase, a vector shifted
      // inwards), the pads' operands inline, in parallel; then rows in
      // phases and odd columns (33: not split, the operands stored).
      {"max_pool_2x2",
       {{"x", {4, 4, 26, 42}}},
       [pool2](V v) {
         return MaxPool(Relu(v[0]), {2, 2}, pool2);
       }},
      {"max_pool_2x2_odd",
       {{"x", {2, 8, 26, 33}}},
       [pool2](V v) {
         return MaxPool(Relu(v[0]), {2, 2}, pool2);
       }},
      {"avg_pool",
       {{"x", {2, 3, 11, 10}}},
       [pool](V v) {
         WindowOptions o = pool;
         o.count_include_pad = true;
         return AvgPool(v[0], {3, 3}, o) +
                GlobalAvgPool(v[0]) * GlobalMaxPool(v[0]);
       }},
  };
}

TEST_P(OpsE2eTest, ConvPool) {
  CheckGroup({"conv_pool", ConvPoolCases()}, GetParam());
}

// Random numbers and dropout, compiled: the same bits as the interpreter
// (exactly: rtol 0) for f32 and f64, i32 and i64 seeds (a negative one:
// 64-bit wrap-around), streams, and lengths leaving every remainder; the
// dropout's gradient through the same mask.
Graph RandomGraph(std::map<std::string, Tensor>* feeds) {
  GraphBuilder b("random");
  Value seed = b.Input("seed", DType::kI64, {});
  Value seed32 = b.Input("seed32", DType::kI32, {});
  Value x = b.Input("x", DType::kF32, {9, 65});
  b.Output("u64", RandomUniform(seed, {3, 33, 17}, DType::kF64, 5));
  b.Output("u32", RandomUniform(seed32, {1001}, DType::kF32));
  b.Output("u_small", RandomUniform(seed, {7}, DType::kF32, 1));
  // The op on i32 operands (sign-extended; the builder casts seeds to i64).
  b.Output("u_i32",
           b.AddOp(OpKind::kRandomUniform,
                   {BroadcastTo(seed32, {37}),
                    Iota(b, DType::kI32, {37}) - Scalar(b, 5, DType::kI32)},
                   Attrs().Set("dtype", DType::kF64)));
  Value mask;
  Value drop = Dropout(x, 0.25, seed, 3, &mask);
  b.Output("drop", drop);
  b.Output("mask", mask);
  b.Output("loss", Sum(Square(drop)));
  auto g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  Graph graph = *std::move(g);
  EXPECT_TRUE(AddGradients(&graph, {.of = "loss", .wrt = {"x"}}).ok());
  (*feeds)["seed"] =
      Tensor::FromInts({DType::kI64, {}}, {-8070450532247928832});
  (*feeds)["seed32"] = Tensor::FromInts({DType::kI32, {}}, {-7});
  Tensor tx(TensorType{DType::kF32, {9, 65}});
  for (int64_t i = 0; i < tx.num_elements(); ++i) tx.SetDouble(i, i - 300.5);
  (*feeds)["x"] = tx;
  return graph;
}

TEST_P(OpsE2eTest, Random) {
  std::map<std::string, Tensor> feeds;
  const Graph g = RandomGraph(&feeds);
  absl::Status s = testing::ExpectCompiledMatchesInterpreter(
      g, {feeds}, GetParam().options(), /*rtol_f32=*/0, /*rtol_f64=*/0);
  EXPECT_TRUE(s.ok()) << s;
}

// The conv lowering's column chunks (lower_conv.cc), which real sizes reach
// only past 2^27 window elements: with the limit lowered to 4096, the
// forward convolution (210 columns of 27 terms) runs in chunks of 128, the
// last one partial, and so do its gradients' products.
TEST_P(OpsE2eTest, ConvChunked) {
  CompileOptions options = GetParam().options();
  options.limits.max_conv_window_elements = 4096;
  const Group group{
      "conv_chunked",
      {{"conv2d", {{"x", {2, 3, 9, 17}}, {"w", {5, 3, 3, 3}}}, [](V v) {
          return Conv(v[0], v[1]);
        }}}};
  for (DType dtype : {DType::kF32, DType::kF64}) {
    std::map<std::string, Tensor> feeds;
    Graph g = BuildGroup(group, dtype, &feeds, 42);
    absl::Status s =
        testing::ExpectCompiledMatchesInterpreter(g, {feeds}, options);
    EXPECT_TRUE(s.ok()) << DTypeName(dtype) << ": " << s;
  }
}

TEST_P(OpsE2eTest, ControlFlow) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    std::map<std::string, Tensor> feeds;
    const Graph g = ControlFlowGraph(dtype, &feeds);
    absl::Status st = testing::ExpectCompiledMatchesInterpreter(
        g, {feeds}, GetParam().options());
    EXPECT_TRUE(st.ok()) << DTypeName(dtype) << ": " << st;
  }
}

TEST(OpsE2eCoverageTest, EveryOpKindIsCompiled) {
  std::set<OpKind> used;
  auto collect = [&](const Graph& g) {
    for (ValueId v = 0; v < g.num_nodes(); ++v) used.insert(g.node(v).op);
  };
  for (const Group& group : std::vector<Group>{
           {"unary", UnaryCases({7})},
           {"binary", BinaryCases({5, 1, 3}, {4, 1})},
           {"reduce", ReductionCases({3, 5, 40})},
           {"linalg", LinalgCases()},
           {"shapes", ShapeCases()},
           {"conv_pool", ConvPoolCases()},
       }) {
    std::map<std::string, Tensor> feeds;
    collect(BuildGroup(group, DType::kF64, &feeds, 42));
  }
  std::map<std::string, Tensor> feeds;
  collect(TailGraph(DType::kF32, &feeds));
  collect(ControlFlowGraph(DType::kF32, &feeds));
  collect(RandomGraph(&feeds));
  std::vector<std::string> missing;
  for (int k = 0; k < kNumOpKinds; ++k) {
    const OpKind kind = static_cast<OpKind>(k);
    EXPECT_TRUE(codegen::HasLowering(kind)) << GetOpDef(kind).name;
    if (used.count(kind) == 0 && kind != OpKind::kParameter) {
      missing.push_back(GetOpDef(kind).name);
    }
  }
  EXPECT_THAT(missing, ::testing::IsEmpty());
}

}  // namespace
}  // namespace adc
