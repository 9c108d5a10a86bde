// Numerical edge cases with exact expectations, interpreted and compiled
// (issue 11): -inf and huge entries in logsumexp, softmax and log_softmax,
// log(0), sqrt(0), pow(0, y), abs at 0, ties of max and min, division by
// zero, where with a NaN branch. The expected values and gradients are
// PyTorch 1.13's (computed in float64 and float32 with torch.autograd.grad,
// the seed a sum of the outputs), except where the table says adc's answer
// is a better one and why.
//
// Also: empty tensors, rank-0 scalars, size-1 broadcasting, mixed f32/f64
// graphs and integer inputs compile, run and differentiate, compiled as
// interpreted.
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "codegen/run_compiled.h"
#include "codegen/testing.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct EdgeCase {
  std::string name;
  // y = f(x0, x1, ...) of inputs of the given values (one-dimensional).
  std::function<Value(std::vector<Value>)> f;
  std::vector<std::vector<double>> inputs;
  std::vector<double> y;
  // d sum(y) / d x_i.
  std::vector<std::vector<double>> grads;
};

// Every case, in both float types.
std::vector<EdgeCase> Cases() {
  auto one = [](Value (*g)(Value)) {
    return [g](std::vector<Value> x) { return g(x[0]); };
  };
  return {
      {"logsumexp_with_minus_inf",
       [](std::vector<Value> x) { return LogSumExp(x[0], {0}, true); },
       {{-kInf, -kInf, 0}},
       {0},
       {{0, 0, 1}}},
      // PyTorch: -inf and NaN gradients (issue 31829); the value is right,
      // the gradient has no finite answer either way.
      {"logsumexp_all_minus_inf",
       [](std::vector<Value> x) { return LogSumExp(x[0], {0}, true); },
       {{-kInf, -kInf}},
       {-kInf},
       {{kNaN, kNaN}}},
      {"logsumexp_huge",
       [](std::vector<Value> x) { return LogSumExp(x[0], {0}, true); },
       {{3e38, 3e38}},
       {3e38 + std::log(2.0)},
       {{0.5, 0.5}}},
      {"softmax_with_minus_inf",
       [](std::vector<Value> x) { return Softmax(x[0], 0); },
       {{-kInf, 0, 1}},
       {0, 0.26894142136999516, 0.7310585786300049},
       {{0, 0, 0}}},
      {"softmax_all_minus_inf",
       [](std::vector<Value> x) { return Softmax(x[0], 0); },
       {{-kInf, -kInf}},
       {kNaN, kNaN},
       {{kNaN, kNaN}}},
      {"softmax_huge",
       [](std::vector<Value> x) { return Softmax(x[0], 0); },
       {{1e30, 0}},
       {1, 0},
       {{0, 0}}},
      {"log_softmax_with_minus_inf",
       [](std::vector<Value> x) { return LogSoftmax(x[0], 0); },
       {{-kInf, 0, 1}},
       {-kInf, -1.3132616875182228, -0.31326168751822286},
       {{1, 0.1931757358900147, -1.1931757358900148}}},
      {"log_softmax_all_minus_inf",
       [](std::vector<Value> x) { return LogSoftmax(x[0], 0); },
       {{-kInf, -kInf}},
       {kNaN, kNaN},
       {{kNaN, kNaN}}},
      {"log_of_zero", one(Log), {{0}}, {-kInf}, {{kInf}}},
      {"sqrt_of_zero", one(Sqrt), {{0}}, {0}, {{kInf}}},
      {"abs_at_zero", one(Abs), {{0}}, {0}, {{0}}},
      {"one_over_zero",
       [](std::vector<Value> x) { return 1.0 / x[0]; },
       {{0}},
       {kInf},
       {{-kInf}}},
      {"zero_over_zero",
       [](std::vector<Value> x) { return x[0] / x[0]; },
       {{0}},
       {kNaN},
       {{kNaN}}},
      // pow(0, y) and its gradients w.r.t. both operands.
      {"pow_zero_minus_one",
       [](std::vector<Value> x) { return Pow(x[0], x[1]); },
       {{0}, {-1}},
       {kInf},
       {{-kInf}, {-kInf}}},
      {"pow_zero_zero",
       [](std::vector<Value> x) { return Pow(x[0], x[1]); },
       {{0}, {0}},
       {1},
       {{0}, {0}}},
      {"pow_zero_half",
       [](std::vector<Value> x) { return Pow(x[0], x[1]); },
       {{0}, {0.5}},
       {0},
       {{kInf}, {0}}},
      {"pow_zero_two",
       [](std::vector<Value> x) { return Pow(x[0], x[1]); },
       {{0}, {2}},
       {0},
       {{0}, {0}}},
      // Ties split the gradient evenly, as PyTorch's maximum, minimum and
      // amax/max (full reduction).
      {"maximum_tie",
       [](std::vector<Value> x) { return Maximum(x[0], x[1]); },
       {{1, 2}, {1, 3}},
       {1, 3},
       {{0.5, 0}, {0.5, 1}}},
      {"minimum_tie",
       [](std::vector<Value> x) { return Minimum(x[0], x[1]); },
       {{1, 2}, {1, 3}},
       {1, 2},
       {{0.5, 1}, {0.5, 0}}},
      {"max_reduction_tie",
       [](std::vector<Value> x) { return Max(x[0], {0}, true); },
       {{3, 1, 3}},
       {3},
       {{0.5, 0, 0.5}}},
  };
}

// where(x > 0, sqrt(x), 0) and where(x > 0, log(x), 0): the branch not taken
// is NaN or infinite where x <= 0. PyTorch's gradient there is NaN (0 times
// the untaken branch's NaN or inf derivative: PyTorch #68425, JAX #1052);
// adc's is 0, its documented better answer (graph/ops/elementwise.cc: the
// chain-rule products are mul_no_nan, 0 wherever the cotangent is 0).
std::vector<EdgeCase> WhereCases() {
  return {
      {"where_sqrt",
       [](std::vector<Value> x) {
         return Select(Gt(x[0], 0.0), Sqrt(x[0]), 0.0);
       },
       {{-1, 4}},
       {0, 2},
       {{0, 0.25}}},
      {"where_log",
       [](std::vector<Value> x) {
         return Select(Gt(x[0], 0.0), Log(x[0]), 0.0);
       },
       {{0, 2}},
       {0, std::log(2.0)},
       {{0, 0.5}}},
  };
}

struct Built {
  Graph graph;
  std::map<std::string, Tensor> feeds;
};

Built Build(const EdgeCase& c, DType dtype) {
  GraphBuilder b(c.name);
  std::vector<Value> xs;
  std::map<std::string, Tensor> feeds;
  std::vector<std::string> wrt;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const std::string name = "x" + std::to_string(i);
    const int64_t n = static_cast<int64_t>(c.inputs[i].size());
    xs.push_back(b.Input(name, dtype, {n}));
    feeds[name] = Tensor::FromDoubles({dtype, {n}}, c.inputs[i]);
    wrt.push_back(name);
  }
  Value y = c.f(xs);
  b.Output("y", y);
  b.Output("s", Sum(y));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return {};
  GradOptions options;
  options.of = "s";
  options.wrt = wrt;
  auto names = AddGradients(&*g, options);
  EXPECT_TRUE(names.ok()) << names.status();
  return {*std::move(g), std::move(feeds)};
}

// NaN matches NaN, infinities must be equal, finite values within `tol`
// relative (absolute near 0).
void ExpectValues(const Tensor& t, const std::vector<double>& expected,
                  double tol, const std::string& what) {
  ASSERT_EQ(t.num_elements(), static_cast<int64_t>(expected.size())) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double got = t.GetDouble(static_cast<int64_t>(i));
    const double want = expected[i];
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << what << "[" << i << "] = " << got;
    } else if (std::isinf(want)) {
      EXPECT_EQ(got, want) << what << "[" << i << "]";
    } else {
      EXPECT_NEAR(got, want, tol * std::max(1.0, std::abs(want)))
          << what << "[" << i << "]";
    }
  }
}

void Check(const EdgeCase& c, DType dtype,
           const std::map<std::string, Tensor>& out, const std::string& how) {
  const double tol = dtype == DType::kF64 ? 1e-12 : 2e-6;
  const std::string what =
      c.name + " " + std::string(DTypeName(dtype)) + " " + how;
  ExpectValues(out.at("y"), c.y, tol, what + " y");
  for (size_t i = 0; i < c.grads.size(); ++i) {
    const std::string grad = "x" + std::to_string(i) + ".grad";
    ASSERT_TRUE(out.count(grad)) << what << ": no " << grad;
    ExpectValues(out.at(grad), c.grads[i], tol, what + " " + grad);
  }
}

void RunCase(const EdgeCase& c) {
  for (DType dtype : {DType::kF64, DType::kF32}) {
    Built built = Build(c, dtype);
    auto interpreted = Interpret(built.graph, built.feeds);
    ASSERT_TRUE(interpreted.ok()) << c.name << ": " << interpreted.status();
    Check(c, dtype, *interpreted, "interpreted");
    auto compiled = CompiledGraph::Compile(built.graph);
    ASSERT_TRUE(compiled.ok()) << c.name << ": " << compiled.status();
    auto run = compiled->Run(built.feeds);
    ASSERT_TRUE(run.ok()) << c.name << ": " << run.status();
    Check(c, dtype, *run, "compiled");
  }
}

class EdgeCaseTest : public ::testing::TestWithParam<EdgeCase> {};

TEST_P(EdgeCaseTest, MatchesPyTorchInterpretedAndCompiled) {
  RunCase(GetParam());
}

std::string CaseName(const ::testing::TestParamInfo<EdgeCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(PyTorch, EdgeCaseTest, ::testing::ValuesIn(Cases()),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Where, EdgeCaseTest, ::testing::ValuesIn(WhereCases()),
                         CaseName);

// Shapes and dtypes at their edges compile, run and differentiate, compiled
// as interpreted: empty tensors, rank-0 scalars, size-1 broadcasting, mixed
// f32/f64 and integer inputs.
TEST(EdgeShapesTest, CompileRunAndDifferentiate) {
  struct Shaped {
    std::string name;
    std::function<void(GraphBuilder&)> build;
    std::vector<std::string> wrt;
    // f64 outputs computed from f32 ones carry the f32 kernels' error
    // (exp within 2 ulp of libm: math_kernels_test).
    double rtol_f64 = 1e-10;
  };
  const std::vector<Shaped> cases = {
      {"empty",
       [](GraphBuilder& b) {
         Value x = b.Input("x", DType::kF32, {0, 3});
         Value y = Exp(x) * 2.0;
         b.Output("rows", Sum(y, {1}));
         b.Output("cols", Sum(y, {0}));
         b.Output("s", Sum(y));
       },
       {"x"}},
      {"rank0",
       [](GraphBuilder& b) {
         Value x = b.Input("x", DType::kF64, {});
         Value w = b.Input("w", DType::kF64, {3});
         b.Output("y", Sin(x) * w);
         b.Output("s", Sum(Sin(x) * w) + x * x);
       },
       {"x", "w"}},
      {"broadcast_size1",
       [](GraphBuilder& b) {
         Value x = b.Input("x", DType::kF32, {4, 1});
         Value w = b.Input("w", DType::kF32, {1, 5});
         b.Output("y", x * w + Tanh(w));
         b.Output("s", Sum(x * w + Tanh(w)));
       },
       {"x", "w"}},
      {"mixed_f32_f64",
       [](GraphBuilder& b) {
         Value x = b.Input("x", DType::kF32, {5});
         Value z = b.Input("z", DType::kF64, {5});
         Value y = Cast(Exp(x), DType::kF64) * z;
         b.Output("y", y);
         b.Output("s", Sum(y));
       },
       {"x", "z"},
       1e-6},
      {"integer_inputs",
       [](GraphBuilder& b) {
         Value x = b.Input("x", DType::kF32, {6});
         Value k = b.Input("k", DType::kI32, {6});
         Value kf = Cast(k, DType::kF32);
         Value y = x * kf + Cast(Gt(kf, 1.0), DType::kF32);
         b.Output("y", y);
         b.Output("s", Sum(y));
       },
       {"x"}},
  };
  for (const Shaped& c : cases) {
    SCOPED_TRACE(c.name);
    GraphBuilder b(c.name);
    c.build(b);
    absl::StatusOr<Graph> g = b.Build();
    ASSERT_TRUE(g.ok()) << g.status();
    GradOptions options;
    options.of = "s";
    options.wrt = c.wrt;
    auto names = AddGradients(&*g, options);
    ASSERT_TRUE(names.ok()) << names.status();
    const auto feeds = testing::RandomFeeds(*g, 7);
    absl::Status same = testing::ExpectCompiledMatchesInterpreter(
        *g, feeds, /*rtol_f32=*/1e-5, c.rtol_f64);
    EXPECT_TRUE(same.ok()) << same;
  }
}

}  // namespace
}  // namespace adc
