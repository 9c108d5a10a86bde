// End-to-end: control flow (cond, while_loop, ForLoop) compiled to native
// code equals the reference interpreter, on every x86-64 feature level this
// CPU runs (bounds-checked below the host's own), and memory-checked
// (Halide's asan feature, run under AddressSanitizer): the tutorial's
// example, loops carrying several dtypes and shapes with remainders modulo
// the vector width, nested constructs, functions that return their inputs
// unchanged (aliasing), zero iterations, and max_iterations exceeded (a
// run-time error naming the loop, after which the artifact runs again).
#include <map>
#include <string>
#include <vector>

#include "codegen/compile.h"
#include "codegen/testing.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/interpreter.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "passes/jacobian.h"

namespace adc {
namespace {

using ::testing::HasSubstr;
using Values = std::vector<Value>;

Graph Build(GraphBuilder& b) {
  absl::StatusOr<Graph> g = b.Build();
  ADC_CHECK_MSG(g.ok(), g.status().ToString());
  return *std::move(g);
}

Tensor Doubles(DType dtype, Dims dims, std::vector<double> values) {
  return Tensor::FromDoubles({dtype, std::move(dims)}, values);
}

// The tutorials' example (graph/control_flow_test.cc): b = 2a; while
// norm(b) < 1000: b = 2b; c = b if sum(b) > 0 else 100 b. The then branch
// returns its operand unchanged.
Values Tutorial(GraphBuilder& b, Value a, const std::string& name) {
  const DType dt = a.dtype();
  Values loop = WhileLoop(
      b,
      [dt](GraphBuilder& fb, const Values& c, const Values&) {
        return Lt(Sqrt(Sum(Square(c[0]))), Scalar(fb, 1000, dt));
      },
      [](GraphBuilder&, const Values& c, const Values&) {
        return Values{2.0 * c[0]};
      },
      {2.0 * a}, /*max_iterations=*/1000, {}, name + ".while");
  return Cond(
      Gt(Sum(loop[0]), Scalar(b, 0, dt)),
      [](GraphBuilder&, const Values& o) { return o; },
      [](GraphBuilder&, const Values& o) { return Values{100.0 * o[0]}; }, loop,
      name + ".cond");
}

// The tutorial on a f64 scalar, and a 2x3 f64 and f32; and a small loop
// whose trip count depends on x_nested, with a cond inside.
Graph TutorialGraph() {
  GraphBuilder b("tutorial");
  Value xn = b.Input("x_nested", DType::kF64, {5});
  Values halved = WhileLoop(
      b,
      [](GraphBuilder& fb, const Values& c, const Values&) {
        return Gt(Max(Abs(c[0])), Scalar(fb, 0.7, DType::kF64));
      },
      [](GraphBuilder& fb, const Values& c, const Values& w) {
        return Cond(
            Gt(Sum(c[0]), Scalar(fb, 0, DType::kF64)),
            [](GraphBuilder&, const Values& o) {
              return Values{0.5 * Sin(o[0]) * o[1]};
            },
            [](GraphBuilder&, const Values& o) {
              return Values{0.5 * Tanh(o[0] * o[1])};
            },
            {c[0], w[0]});
      },
      {xn}, 50, {1.5 + 0.0 * xn}, "halve");
  b.Output("y_nested", halved[0]);
  b.Output("c_scalar",
           Tutorial(b, b.Input("a_scalar", DType::kF64, {}), "scalar")[0]);
  b.Output("c_f64",
           Tutorial(b, b.Input("a_f64", DType::kF64, {2, 3}), "f64")[0]);
  b.Output("c_f32",
           Tutorial(b, b.Input("a_f32", DType::kF32, {2, 3}), "f32")[0]);
  return Build(b);
}

std::vector<std::map<std::string, Tensor>> TutorialFeeds() {
  auto feeds = [](double s, std::vector<double> m) {
    return std::map<std::string, Tensor>{
        {"a_scalar", Doubles(DType::kF64, {}, {s})},
        {"a_f64", Doubles(DType::kF64, {2, 3}, m)},
        {"a_f32", Doubles(DType::kF32, {2, 3}, m)}};
  };
  std::vector<std::map<std::string, Tensor>> all = {
      feeds(0.37, {0.5, -0.25, 1.5, 0.75, -2.0, 0.125}),
      feeds(-1.3, {-0.5, -0.25, 1.5, -0.75, -2.0, 0.125}),
      feeds(1e-3, {-3, -2, -1, -4, -5, -6}), feeds(2000, {3, 2, 1, 4, 5, 6e3})};
  const std::vector<double> xs[] = {{0.3, -0.2, 0.5, 0.1, 0.6},
                                    {3.0, -1.5, 2.5, 0.4, -0.9},
                                    {-4.0, -2.0, 1.0, 0.5, -3.0},
                                    {0.9, 0.8, 0.75, 0.71, 0.72}};
  for (size_t k = 0; k < all.size(); ++k) {
    all[k]["x_nested"] = Doubles(DType::kF64, {5}, xs[k]);
  }
  return all;
}

// A loop carrying an i32 counter, a f32 [17] tensor and a f64 scalar, with
// captured values (a limit, weights, a scale); a ForLoop over [3, 33]; a
// loop swapping two carried values each iteration.
Graph SeveralCarriedGraph() {
  GraphBuilder b("carried");
  Value n = b.Input("n", DType::kI32, {});
  Value x = b.Input("x", DType::kF32, {17});
  Value w = b.Input("w", DType::kF32, {17});
  Value s = b.Input("s", DType::kF64, {});
  Values r = WhileLoop(
      b,
      [](GraphBuilder&, const Values& c, const Values& k) {
        // counter < n and acc < 1e6.
        return Gt(Cast(Lt(c[0], k[0]), DType::kI32) *
                      Cast(Lt(c[2], 1e6), DType::kI32),
                  0.0);
      },
      [](GraphBuilder& fb, const Values& c, const Values& k) {
        Value next = Tanh(c[1] * k[1]) + 0.25;
        return Values{c[0] + Scalar(fb, 1, DType::kI32), next,
                      c[2] + Cast(Sum(next), DType::kF64) * k[2]};
      },
      {Scalar(b, 0, DType::kI32), x, Scalar(b, 1, DType::kF64)},
      /*max_iterations=*/100, {n, w, s}, "carry");
  b.Output("count", r[0]);
  b.Output("x_final", r[1]);
  b.Output("acc", r[2]);
  // The same loop result under a second name, and read again.
  b.Output("x_again", r[1]);
  b.Output("x_scaled", r[1] * 3.0);

  Value m = b.Input("m", DType::kF32, {3, 33});
  Value v = b.Input("v", DType::kF32, {33});
  Values f = ForLoop(
      b, 7,
      [](GraphBuilder&, Value i, const Values& c, const Values& k) {
        return Values{Sin(c[0]) * k[0] + Cast(i, DType::kF32) * 0.01,
                      c[1] + Sum(c[0], {1})};
      },
      {m, Sum(m, {1}) * 0.0}, {v}, "for");
  b.Output("for_m", f[0]);
  b.Output("for_rows", f[1]);

  // Swaps (a, b) -> (b, a + b) three times: the body returns a carried
  // value as another carried value.
  Value p = b.Input("p", DType::kF64, {5});
  Value q = b.Input("q", DType::kF64, {5});
  Values sw = ForLoop(
      b, 3,
      [](GraphBuilder&, Value, const Values& c, const Values&) {
        return Values{c[1], c[0] + c[1]};
      },
      {p, q}, {}, "swap");
  b.Output("swap_a", sw[0]);
  b.Output("swap_b", sw[1]);
  return Build(b);
}

// A while_loop whose body holds a cond and another while_loop (itself
// holding a cond).
Graph NestedGraph() {
  GraphBuilder b("nested");
  Value x = b.Input("x", DType::kF64, {3, 33});
  Value limit = b.Input("limit", DType::kI32, {});
  Values outer = WhileLoop(
      b,
      [](GraphBuilder&, const Values& c, const Values& k) {
        return Lt(c[0], k[0]);
      },
      [](GraphBuilder& fb, const Values& c, const Values& k) {
        Value i = c[0];
        Values branch = Cond(
            Gt(Sum(c[1]), 0.0),
            [](GraphBuilder&, const Values& o) {
              return Values{o[0] * 0.5 - 0.25};
            },
            [](GraphBuilder&, const Values& o) {
              return Values{Abs(o[0]) + 0.5};
            },
            {c[1]}, "pick");
        // Inner loop: j from 0 while j < i: y = y + 0.1 * sin(y), then
        // (for odd j) negate.
        Values inner = WhileLoop(
            fb,
            [](GraphBuilder&, const Values& d, const Values& kk) {
              return Lt(d[0], kk[0]);
            },
            [](GraphBuilder& gb, const Values& d, const Values&) {
              Values flipped = Cond(
                  Eq(d[0], 1.0),
                  [](GraphBuilder&, const Values& o) { return Values{-o[0]}; },
                  [](GraphBuilder&, const Values& o) { return o; }, {d[1]},
                  "flip");
              return Values{d[0] + Scalar(gb, 1, DType::kI32),
                            flipped[0] + 0.1 * Sin(flipped[0])};
            },
            {Scalar(fb, 0, DType::kI32), branch[0]}, /*max_iterations=*/50, {i},
            "inner");
        (void)k;
        return Values{i + Scalar(fb, 1, DType::kI32), inner[1]};
      },
      {Scalar(b, 0, DType::kI32), x}, /*max_iterations=*/20, {limit}, "outer");
  b.Output("steps", outer[0]);
  b.Output("y", outer[1]);
  return Build(b);
}

// Functions that return inputs unchanged: a cond whose branches return
// their operands (swapped in one), a loop body returning a carried value
// and a captured one as they are, and a loop whose result is a graph output
// and the operand of a later construct.
Graph AliasingGraph() {
  GraphBuilder b("aliasing");
  Value flag = b.Input("flag", DType::kBool, {});
  Value u = b.Input("u", DType::kF32, {33});
  Value v = b.Input("v", DType::kF32, {33});
  Values c = Cond(
      flag, [](GraphBuilder&, const Values& o) { return o; },
      [](GraphBuilder&, const Values& o) {
        return Values{o[1], o[0]};
      },
      {u, v}, "pass");
  b.Output("first", c[0]);
  b.Output("second", c[1]);
  // Carried (keep, grow, set): keep stays, grow doubles, set becomes the
  // captured value.
  Values loop = ForLoop(
      b, 4,
      [](GraphBuilder&, Value, const Values& cc, const Values& k) {
        return Values{cc[0], cc[1] * 2.0, k[0]};
      },
      {u, v, v * 0.0}, {u}, "keep");
  b.Output("keep", loop[0]);
  b.Output("grow", loop[1]);
  b.Output("set", loop[2]);
  // A graph input straight to a graph output, beside control flow.
  b.Output("u_out", u);
  // A construct of which one result is never used.
  Values unused = Cond(
      flag,
      [](GraphBuilder&, const Values& o) {
        return Values{o[0] + 1.0, o[0]};
      },
      [](GraphBuilder&, const Values& o) {
        return Values{o[0] - 1.0, o[0]};
      },
      {loop[1]}, "half_used");
  b.Output("half_used", unused[0]);
  return Build(b);
}

// Loops that run zero times, and max_iterations = 0.
Graph ZeroIterationsGraph() {
  GraphBuilder b("zero");
  Value x = b.Input("x", DType::kF32, {17});
  Value go = b.Input("go", DType::kBool, {});
  auto loop = [&](int64_t max_iterations, const std::string& name) {
    return WhileLoop(
        b,
        [](GraphBuilder&, const Values& c, const Values& k) {
          // Holds once if `go`, then never.
          return Select(k[0], Lt(Sum(c[0]), Sum(k[1]) + 0.5), k[0]);
        },
        [](GraphBuilder&, const Values& c, const Values&) {
          return Values{c[0] + 1.0};
        },
        {x}, max_iterations, {go, x}, name)[0];
  };
  b.Output("never", ForLoop(
                        b, 0,
                        [](GraphBuilder&, Value, const Values& c,
                           const Values&) { return Values{c[0] * 2.0}; },
                        {x}, {}, "for0")[0]);
  b.Output("max0", loop(0, "max0"));
  b.Output("max1", loop(1, "max1"));
  return Build(b);
}

// A loop that doubles x until its sum exceeds the limit, at most 5 times.
Graph BoundedGraph() {
  GraphBuilder b("bounded");
  Value x = b.Input("x", DType::kF64, {17});
  Value limit = b.Input("limit", DType::kF64, {});
  Values r = WhileLoop(
      b,
      [](GraphBuilder&, const Values& c, const Values& k) {
        return Lt(Sum(c[0]), k[0]);
      },
      [](GraphBuilder&, const Values& c, const Values&) {
        return Values{c[0] * 2.0};
      },
      {x}, /*max_iterations=*/5, {limit}, "grow");
  b.Output("y", r[0]);
  return Build(b);
}

// Derivative graphs (passes/control_flow_vjp.h): recording loops whose
// tapes are written by scatter_add at a data-dependent row, backward loops
// reading them by gather, conds over the branches' VJPs, the batched JVPs of
// a Hessian (a loop run while any instance continues), and a third
// derivative through a data-dependent loop.
Graph DerivativesGraph() {
  Graph g = TutorialGraph();
  {
    GraphBuilder gb(&g);
    gb.Output("s", Sum(Square(gb.Find("c_f64"))) + Square(gb.Find("c_scalar")));
    Value y = gb.Find("y_nested");
    gb.Output("t", Sum(Sin(y)));
    ADC_CHECK(gb.ok());
  }
  GradOptions options;
  options.of = "s";
  options.wrt = {"a_f64", "a_scalar"};
  ADC_CHECK(AddGradients(&g, options).ok());
  ADC_CHECK(AddHessian(&g, "s", "a_f64").ok());
  std::string of = "t";
  for (int order = 1; order <= 2; ++order) {
    GradOptions o;
    o.of = of;
    o.wrt = {"x_nested"};
    absl::StatusOr<std::vector<std::string>> names = AddGradients(&g, o);
    ADC_CHECK_MSG(names.ok(), names.status().ToString());
    of = (*names)[0];
    if (order == 1) {
      GraphBuilder gb(&g);
      gb.Output("u", Sum(gb.Find(of) * gb.Find(of)));
      of = "u";
    }
  }
  return g;
}

// The x86-64 levels (bounds-checked below the host), then memory-checked.
std::vector<testing::FeatureLevel> Levels() {
  std::vector<testing::FeatureLevel> levels = testing::FeatureLevels();
  levels.push_back({"asan", "host-asan", false});
  return levels;
}

class ControlFlowE2eTest
    : public ::testing::TestWithParam<testing::FeatureLevel> {
 protected:
  void SetUp() override {
    if (GetParam().name == "asan") return;
    const std::string why = testing::WhyNotRunnable(GetParam());
    if (!why.empty())
      GTEST_SKIP() << "level " << GetParam().name << ": " << why;
  }

  void Check(const Graph& g,
             const std::vector<std::map<std::string, Tensor>>& feeds,
             double rtol_f64 = 1e-10) {
    absl::Status s = testing::ExpectCompiledMatchesInterpreter(
        g, feeds, GetParam().options(), 1e-5, rtol_f64);
    EXPECT_TRUE(s.ok()) << g.name() << " on " << GetParam().name << ": " << s;
  }
};

INSTANTIATE_TEST_SUITE_P(
    Levels, ControlFlowE2eTest, ::testing::ValuesIn(Levels()),
    [](const ::testing::TestParamInfo<testing::FeatureLevel>& info) {
      return info.param.name;
    });

TEST_P(ControlFlowE2eTest, Tutorial) {
  Check(TutorialGraph(), TutorialFeeds());
}

TEST_P(ControlFlowE2eTest, Derivatives) {
  Check(DerivativesGraph(), TutorialFeeds(), /*rtol_f64=*/1e-9);
}

TEST_P(ControlFlowE2eTest, SeveralCarriedValuesAndForLoops) {
  const Graph g = SeveralCarriedGraph();
  std::vector<std::map<std::string, Tensor>> feeds;
  for (int n : {0, 3, 40}) {
    std::map<std::string, Tensor> f = testing::RandomFeeds(g, 7 + n);
    f["n"] = Tensor::Scalar(n, DType::kI32);
    feeds.push_back(std::move(f));
  }
  // acc (f64) sums f32 values: their rounding (f32 tanh, the order of a
  // vectorized f32 sum) is f32's, accumulated over 40 iterations.
  Check(g, feeds, /*rtol_f64=*/1e-6);
}

TEST_P(ControlFlowE2eTest, Nested) {
  const Graph g = NestedGraph();
  std::vector<std::map<std::string, Tensor>> feeds;
  for (int limit : {0, 1, 5}) {
    std::map<std::string, Tensor> f = testing::RandomFeeds(g, 11 + limit);
    f["limit"] = Tensor::Scalar(limit, DType::kI32);
    feeds.push_back(std::move(f));
  }
  Check(g, feeds);
}

TEST_P(ControlFlowE2eTest, FunctionsReturningTheirInputs) {
  const Graph g = AliasingGraph();
  std::vector<std::map<std::string, Tensor>> feeds;
  for (bool flag : {true, false}) {
    std::map<std::string, Tensor> f = testing::RandomFeeds(g, 3);
    f["flag"] = Tensor::Scalar(flag ? 1 : 0, DType::kBool);
    feeds.push_back(std::move(f));
  }
  Check(g, feeds);
}

TEST_P(ControlFlowE2eTest, ZeroIterations) {
  const Graph g = ZeroIterationsGraph();
  std::map<std::string, Tensor> f = testing::RandomFeeds(g, 5);
  f["go"] = Tensor::Scalar(0, DType::kBool);
  Check(g, {f});
  // With `go`, max0's loop would run once: more than its max_iterations.
  absl::StatusOr<CompiledGraph> compiled =
      CompiledGraph::Compile(g, GetParam().options());
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  f["go"] = Tensor::Scalar(1, DType::kBool);
  absl::StatusOr<std::map<std::string, Tensor>> out = compiled->Run(f);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(),
              HasSubstr("while_loop 'max0' exceeded max_iterations = 0 "
                        "(its condition still held)"));
}

TEST_P(ControlFlowE2eTest, MaxIterationsExceededFailsTheRunNamingTheLoop) {
  const Graph g = BoundedGraph();
  absl::StatusOr<CompiledGraph> compiled =
      CompiledGraph::Compile(g, GetParam().options());
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  std::map<std::string, Tensor> feeds = {
      {"x",
       Tensor::FromDoubles({DType::kF64, {17}}, std::vector<double>(17, 1.0))},
      {"limit", Tensor::Scalar(1e6, DType::kF64)}};
  // 17 * 2^5 < 1e6: a sixth iteration would be needed.
  absl::StatusOr<std::map<std::string, Tensor>> out = compiled->Run(feeds);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(),
              HasSubstr("while_loop 'grow' exceeded max_iterations = 5 "
                        "(its condition still held)"));
  // The interpreter says the same.
  absl::StatusOr<std::map<std::string, Tensor>> interpreted =
      Interpret(g, feeds);
  ASSERT_FALSE(interpreted.ok());
  EXPECT_THAT(interpreted.status().message(),
              HasSubstr("while_loop 'grow' exceeded max_iterations = 5"));
  // The same artifact then runs: exactly 5 iterations, and fewer.
  for (double limit : {17.0 * 16 + 1, 100.0, 1.0}) {
    feeds["limit"] = Tensor::Scalar(limit, DType::kF64);
    out = compiled->Run(feeds);
    ASSERT_TRUE(out.ok()) << out.status();
    absl::StatusOr<std::map<std::string, Tensor>> want = Interpret(g, feeds);
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_EQ(out->at("y").doubles(), want->at("y").doubles()) << limit;
  }
  // Fails again, then runs again.
  feeds["limit"] = Tensor::Scalar(1e6, DType::kF64);
  EXPECT_FALSE(compiled->Run(feeds).ok());
  feeds["limit"] = Tensor::Scalar(0, DType::kF64);
  out = compiled->Run(feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y").doubles(), std::vector<double>(17, 1.0));
}

// The fusion plan of a graph with control flow: constructs are stages of
// their own, their operands materialized, and each function's plan follows.
TEST(ControlFlowPlanTest, DescribesConstructsAndFunctions) {
  absl::StatusOr<std::string> plan = DescribeFusionPlan(NestedGraph());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(*plan, HasSubstr("'outer.1' (while_loop): control flow"));
  EXPECT_THAT(*plan, HasSubstr("function 'outer.body'"));
  EXPECT_THAT(*plan, HasSubstr("(cond): control flow"));
  EXPECT_THAT(*plan, HasSubstr("function 'inner.body'"));
}

}  // namespace
}  // namespace adc
