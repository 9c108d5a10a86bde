// Derivatives through control flow: reverse mode through cond (the branch
// taken) and while_loop (recorded iterations run backwards), to second and
// third order, checked against finite differences in f64 and closed forms;
// forward mode and batching of both constructs.
#include "graph/control_flow.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "passes/forward_mode.h"
#include "passes/jacobian.h"
#include "passes/pass_test_util.h"
#include "passes/vmap.h"
#include "tools/grad_check.h"

namespace adc {
namespace {

using pass_test::BuildOrFail;
using pass_test::EvalOrFail;
using ::testing::HasSubstr;

using Values = std::vector<Value>;

// The tutorials' example: b = 2a; while norm(b) < 1000: b = 2b;
// c = b if sum(b) > 0 else 100 b.
// (At most 100 iterations: 2^100 |a| >= 1000 for any |a| >= 1e-27.)
Graph Tutorial(Dims dims) {
  GraphBuilder b("tutorial");
  Value a = b.Input("a", DType::kF64, dims);
  Values loop = WhileLoop(
      b,
      [](GraphBuilder& fb, const Values& c, const Values&) {
        return Lt(Sqrt(Sum(Square(c[0]))), Scalar(fb, 1000, DType::kF64));
      },
      [](GraphBuilder&, const Values& c, const Values&) {
        return Values{2.0 * c[0]};
      },
      {2.0 * a}, /*max_iterations=*/100);
  Values c = Cond(
      Gt(Sum(loop[0]), Scalar(b, 0, DType::kF64)),
      [](GraphBuilder&, const Values& o) { return o; },
      [](GraphBuilder&, const Values& o) { return Values{100.0 * o[0]}; },
      loop);
  b.Output("c", c[0]);
  return BuildOrFail(b);
}

TEST(ControlFlowGradTest, TutorialGradientIsCOverA) {
  for (const std::vector<double>& a :
       {std::vector<double>{0.37}, std::vector<double>{-1.3},
        std::vector<double>{0.5, -0.25, 1.5, 0.75, -2.0, 0.125},
        std::vector<double>{-0.5, -0.25, 1.5, -0.75, -2.0, 0.125}}) {
    const Dims dims = a.size() == 1 ? Dims{} : Dims{2, 3};
    Graph g = Tutorial(dims);
    GradOptions options;
    options.of = "c";
    options.wrt = {"a"};
    options.seed = "ones";
    ASSERT_TRUE(AddGradients(&g, options).ok());
    ASSERT_TRUE(Verify(g).ok()) << Verify(g);
    const std::map<std::string, Tensor> out =
        EvalOrFail(g, {{"a", Tensor::FromDoubles({DType::kF64, dims}, a)}});
    const Tensor& c = out.at("c");
    const Tensor& grad = out.at("a.grad");
    for (size_t i = 0; i < a.size(); ++i) {
      // c = 2^k a (times 100 when sum(c) <= 0): dc_i/da_i = c_i / a_i.
      EXPECT_NEAR(grad.GetDouble(i), c.GetDouble(i) / a[i],
                  1e-13 * std::abs(grad.GetDouble(i)))
          << i;
      // The multiplier is a power of 2, or 100 times one.
      const double m = std::abs(grad.GetDouble(i));
      auto power_of_2 = [](double v) {
        return v > 0 && std::exp2(std::round(std::log2(v))) == v;
      };
      EXPECT_TRUE(power_of_2(m) || power_of_2(m / 100))
          << "an exact power of 2, or 100 times one";
    }
  }
}

// Checks first and second derivatives of `of` against central finite
// differences in f64.
void ExpectGradientsMatchFiniteDifferences(
    const Graph& g, const std::string& of,
    const std::map<std::string, Tensor>& feeds) {
  for (int order : {1, 2}) {
    SCOPED_TRACE(order == 1 ? "gradient" : "gradient of gradient");
    GradCheckOptions options;
    absl::StatusOr<GradCheckReport> report =
        CheckGradients(g, of, feeds, {}, options, order);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->ok()) << ReportToStatus(*report);
  }
}

TEST(ControlFlowGradTest, WhileLoopWithCapturedWeightsAndACounter) {
  // x <- tanh(W x + b) until sum(x^2) < 0.05 or 20 iterations: a loop with
  // an i32 counter, captured W and b, and a data-dependent trip count.
  GraphBuilder b("rnn");
  Value x = b.Input("x", DType::kF64, {4});
  Value w = b.Input("w", DType::kF64, {4, 4});
  Value bias = b.Input("bias", DType::kF64, {4});
  Values r = WhileLoop(
      b,
      [](GraphBuilder& fb, const Values& c, const Values&) {
        // sum(x^2) (20 - i) > 0.05: data-dependent, and false at i = 20.
        Value left = Cast(Scalar(fb, 20, DType::kI32) - c[0], DType::kF64);
        return Gt(Sum(Square(c[1])) * left, Scalar(fb, 0.05, DType::kF64));
      },
      [](GraphBuilder& fb, const Values& c, const Values& p) {
        return Values{c[0] + Scalar(fb, 1, DType::kI32),
                      Tanh(MatMul(p[0], c[1]) + p[1])};
      },
      {Scalar(b, 0, DType::kI32), x}, 100, {w, bias}, "rnn");
  b.Output("y", Sum(r[1] * r[1] * r[1]) + Cast(r[0], DType::kF64));
  const Graph g = BuildOrFail(b);
  std::map<std::string, Tensor> feeds = pass_test::RandomFeeds(g, 7);
  // Moderate weights: the trip count is several iterations, away from the
  // threshold.
  ExpectGradientsMatchFiniteDifferences(g, "y", feeds);
}

TEST(ControlFlowGradTest, TutorialMatchesFiniteDifferences) {
  Graph g = Tutorial({2, 3});
  GraphBuilder gb(&g);
  Value c = gb.Find("c");
  gb.Output("s", Sum(c * c));
  ASSERT_TRUE(gb.ok()) << gb.status();
  for (unsigned seed : {1u, 2u, 3u}) {
    ExpectGradientsMatchFiniteDifferences(g, "s",
                                          pass_test::RandomFeeds(g, seed));
  }
}

TEST(ControlFlowGradTest, CondDifferentiatesTheBranchTaken) {
  // Two results: sin(x) w, w^2 if sum(x) > 0 else exp(x) / w, sin(w).
  GraphBuilder b("cond");
  Value x = b.Input("x", DType::kF64, {5});
  Value w = b.Input("w", DType::kF64, {});
  Values r = Cond(
      Gt(Sum(x), Scalar(b, 0, DType::kF64)),
      [](GraphBuilder&, const Values& o) {
        return Values{Sin(o[0]) * o[1], o[1] * o[1]};
      },
      [](GraphBuilder&, const Values& o) {
        return Values{Exp(o[0]) / o[1], Sin(o[1])};
      },
      {x, w});
  b.Output("y", Sum(r[0] * r[0]) + r[1]);
  const Graph g = BuildOrFail(b);
  for (double shift : {0.7, -0.7}) {
    std::map<std::string, Tensor> feeds = pass_test::RandomFeeds(g, 3);
    for (double& v : feeds["x"].mutable_doubles()) v += shift;
    feeds["w"] = Tensor::Scalar(1.3, DType::kF64);
    ExpectGradientsMatchFiniteDifferences(g, "y", feeds);
  }
  // The gradient is a cond on the same predicate, over the branches' VJPs.
  Graph grad = g;
  GradOptions options;
  options.of = "y";
  ASSERT_TRUE(AddGradients(&grad, options).ok());
  EXPECT_EQ(Constructs(grad).size(), 2u);
}

TEST(ControlFlowGradTest, ThirdDerivativeThroughADataDependentLoop) {
  // y = a^n with n the first power with a^n >= 50 (a = 1.5: n = 10):
  // y''' = n (n - 1) (n - 2) a^(n - 3).
  GraphBuilder b("power");
  Value a = b.Input("a", DType::kF64, {});
  Values r = WhileLoop(
      b,
      [](GraphBuilder& fb, const Values& c, const Values&) {
        return Lt(c[0], Scalar(fb, 50, DType::kF64));
      },
      [](GraphBuilder&, const Values& c, const Values& p) {
        return Values{c[0] * p[0]};
      },
      {a}, 64, {a});
  b.Output("y", r[0]);
  Graph g = BuildOrFail(b);
  std::string of = "y";
  for (int order = 1; order <= 3; ++order) {
    GradOptions options;
    options.of = of;
    options.wrt = {"a"};
    absl::StatusOr<std::vector<std::string>> names = AddGradients(&g, options);
    ASSERT_TRUE(names.ok()) << names.status();
    of = (*names)[0];
  }
  ASSERT_TRUE(Verify(g).ok()) << Verify(g);
  // Only what the VJPs read is recorded, in tapes of one row per iteration:
  // no tape of tapes (the state is a scalar, so no value has rank 2).
  for (const std::string& name : g.function_names()) {
    for (const Node& node : g.function(name)->nodes()) {
      EXPECT_LE(node.type.rank(), 1) << name << ": " << node.name;
    }
  }
  const double a0 = 1.5;
  const int n = 10;
  ASSERT_LT(std::pow(a0, n - 1), 50);
  ASSERT_GE(std::pow(a0, n), 50);
  const std::map<std::string, Tensor> out =
      EvalOrFail(g, {{"a", Tensor::Scalar(a0, DType::kF64)}});
  EXPECT_DOUBLE_EQ(out.at("y").GetDouble(0), std::pow(a0, n));
  EXPECT_NEAR(out.at("a.grad").GetDouble(0), n * std::pow(a0, n - 1), 1e-10);
  EXPECT_NEAR(out.at("a.grad2").GetDouble(0), n * (n - 1) * std::pow(a0, n - 2),
              1e-9);
  EXPECT_NEAR(out.at("a.grad3").GetDouble(0),
              n * (n - 1) * (n - 2) * std::pow(a0, n - 3), 1e-8);
}

// for i in 0..3: x = cond(sum(x') > 0, x' w + i, sin(x')) where x' is x
// halved while max |x| > 2 (a while loop inside the for loop's body).
Graph Nested() {
  GraphBuilder b("nested");
  Value x = b.Input("x", DType::kF64, {3});
  Value w = b.Input("w", DType::kF64, {3});
  Values r = ForLoop(
      b, 4,
      [](GraphBuilder& fb, Value i, const Values& c, const Values& p) {
        Values inner = WhileLoop(
            fb,
            [](GraphBuilder& gb, const Values& s, const Values&) {
              return Gt(Max(Abs(s[0])), Scalar(gb, 2, DType::kF64));
            },
            [](GraphBuilder&, const Values& s, const Values&) {
              return Values{0.5 * s[0]};
            },
            c, 100);
        return Cond(
            Gt(Sum(inner[0]), Scalar(fb, 0, DType::kF64)),
            [](GraphBuilder&, const Values& o) {
              return Values{o[0] * o[1] + Cast(o[2], DType::kF64)};
            },
            [](GraphBuilder&, const Values& o) { return Values{Sin(o[0])}; },
            {inner[0], p[0], i});
      },
      {x}, {w});
  b.Output("y", Sum(r[0] * r[0]));
  return BuildOrFail(b);
}

TEST(ControlFlowGradTest, ForLoopAndNestedConstructs) {
  const Graph g = Nested();
  for (unsigned seed : {5u, 6u}) {
    std::map<std::string, Tensor> feeds = pass_test::RandomFeeds(g, seed);
    for (double& v : feeds["w"].mutable_doubles()) v = 1.5 + v;
    ExpectGradientsMatchFiniteDifferences(g, "y", feeds);
  }
}

// The graphs above with a scalar output "y" and f64 inputs, and feeds.
std::vector<std::pair<Graph, std::map<std::string, Tensor>>> Cases() {
  std::vector<std::pair<Graph, std::map<std::string, Tensor>>> cases;
  {
    Graph g = Tutorial({2, 3});
    GraphBuilder gb(&g);
    gb.Output("y", Sum(Sin(gb.Find("c"))));
    cases.emplace_back(g, pass_test::RandomFeeds(g, 11));
  }
  {
    Graph g = Nested();
    std::map<std::string, Tensor> feeds = pass_test::RandomFeeds(g, 5);
    for (double& v : feeds["w"].mutable_doubles()) v = 1.5 + v;
    cases.emplace_back(g, feeds);
  }
  return cases;
}

// <JVP(t), 1> = <t, grad> for a scalar y, and forward over reverse (the
// JVP of the gradient, H t) equals reverse over reverse (the gradient of
// <grad, t>).
TEST(ControlFlowForwardModeTest, JvpAgreesWithVjpToSecondOrder) {
  for (auto& [graph, feeds] : Cases()) {
    SCOPED_TRACE(graph.name());
    std::vector<std::string> wrt;
    for (ValueId id : graph.inputs()) wrt.push_back(graph.node(id).name);
    Graph g = graph;
    GradOptions grad;
    grad.of = "y";
    grad.wrt = wrt;
    absl::StatusOr<std::vector<std::string>> grads = AddGradients(&g, grad);
    ASSERT_TRUE(grads.ok()) << grads.status();
    // Forward over reverse: the JVP of y and of every gradient.
    Graph fwd = g;
    JvpOptions jvp;
    jvp.of = {"y"};
    jvp.of.insert(jvp.of.end(), grads->begin(), grads->end());
    jvp.wrt = wrt;
    absl::StatusOr<JvpResult> r = AddJvp(&fwd, jvp);
    ASSERT_TRUE(r.ok()) << r.status();
    // Reverse over reverse: the gradient of <grad, t>.
    Graph rev = g;
    GraphBuilder rb(&rev);
    Value dot;
    std::map<std::string, Tensor> all = feeds;
    for (size_t k = 0; k < wrt.size(); ++k) {
      const TensorType& type = rev.type(*rev.Find(wrt[k]));
      Value t = rb.Input(wrt[k] + ".tangent", type.dtype, type.dims);
      Value term = Sum(rb.Find((*grads)[k]) * t);
      dot = dot.valid() ? dot + term : term;
      Tensor tv(type);
      for (int64_t i = 0; i < tv.num_elements(); ++i) {
        tv.SetDouble(i, std::sin(1.0 + 3.0 * i + k));
      }
      all[wrt[k] + ".tangent"] = tv;
    }
    rb.Output("dot", dot);
    GradOptions second;
    second.of = "dot";
    second.wrt = wrt;
    absl::StatusOr<std::vector<std::string>> hvp = AddGradients(&rev, second);
    ASSERT_TRUE(hvp.ok()) << hvp.status();
    const std::map<std::string, Tensor> f = EvalOrFail(fwd, all);
    const std::map<std::string, Tensor> v = EvalOrFail(rev, all);
    EXPECT_NEAR(f.at(r->outputs[0]).GetDouble(0), v.at("dot").GetDouble(0),
                1e-9 * (1 + std::abs(v.at("dot").GetDouble(0))));
    for (size_t k = 0; k < wrt.size(); ++k) {
      const Tensor& a = f.at(r->outputs[1 + k]);
      const Tensor& e = v.at((*hvp)[k]);
      for (int64_t i = 0; i < a.num_elements(); ++i) {
        EXPECT_NEAR(a.GetDouble(i), e.GetDouble(i),
                    1e-8 * (1 + std::abs(e.GetDouble(i))))
            << wrt[k] << "[" << i << "]";
      }
    }
  }
}

// Vmap(g) on stacked inputs equals g on each instance, for each way of
// choosing the batched inputs.
void ExpectBatchedMatchesInstances(const Graph& g,
                                   const std::vector<std::string>& batched,
                                   const std::map<std::string, Tensor>& feeds,
                                   int64_t size) {
  SCOPED_TRACE(g.name() + " batched over " + batched[0]);
  VmapOptions options;
  options.batched = batched;
  options.size = size;
  absl::StatusOr<Graph> v = Vmap(g, options);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(Verify(*v).ok()) << Verify(*v);
  // Instance i: feeds of batched inputs scaled by (1 + i) and shifted.
  std::map<std::string, Tensor> stacked = feeds;
  std::vector<std::map<std::string, Tensor>> instances(size, feeds);
  for (const std::string& name : batched) {
    const Tensor& f = feeds.at(name);
    Tensor t({f.dtype(), [&] {
                Dims d = f.dims();
                d.insert(d.begin(), size);
                return d;
              }()});
    for (int64_t i = 0; i < size; ++i) {
      Tensor inst = f;
      for (int64_t e = 0; e < f.num_elements(); ++e) {
        const double x = f.GetDouble(e) * (1 + 0.7 * i) - 0.4 * i;
        inst.SetDouble(e, x);
        t.SetDouble(i * f.num_elements() + e, x);
      }
      instances[i][name] = inst;
    }
    stacked[name] = t;
  }
  const std::map<std::string, Tensor> out = EvalOrFail(*v, stacked);
  for (int64_t i = 0; i < size; ++i) {
    const std::map<std::string, Tensor> one = EvalOrFail(g, instances[i]);
    for (const auto& [name, value] : one) {
      EXPECT_EQ(pass_test::InstanceOf(out.at(name), i), value)
          << name << " instance " << i;
    }
  }
}

TEST(ControlFlowVmapTest, BatchedConstructsMatchEveryInstance) {
  {
    // Scalar a: the predicates of both the loop and the cond are batched
    // (instances take different trip counts and branches).
    Graph g = Tutorial({});
    ExpectBatchedMatchesInstances(g, {"a"},
                                  {{"a", Tensor::Scalar(0.3, DType::kF64)}}, 5);
    // ... and its gradient: per-instance gradients in one graph.
    GradOptions options;
    options.of = "c";
    ASSERT_TRUE(AddGradients(&g, options).ok());
    ExpectBatchedMatchesInstances(g, {"a"},
                                  {{"a", Tensor::Scalar(0.3, DType::kF64)}}, 5);
  }
  {
    // The for loop keeps its unbatched counter and trip count.
    const Graph g = Nested();
    std::map<std::string, Tensor> feeds = pass_test::RandomFeeds(g, 5);
    for (double& v : feeds["w"].mutable_doubles()) v = 1.5 + v;
    ExpectBatchedMatchesInstances(g, {"x"}, feeds, 3);
    ExpectBatchedMatchesInstances(g, {"w"}, feeds, 3);
    ExpectBatchedMatchesInstances(g, {"x", "w"}, feeds, 2);
  }
}

TEST(ControlFlowVmapTest, JacobianOfTheTutorialIsDiagonalCOverA) {
  for (JacobianMode mode : {JacobianMode::kReverse, JacobianMode::kForward}) {
    Graph g = Tutorial({2, 3});
    JacobianOptions options;
    options.of = "c";
    options.wrt = {"a"};
    options.mode = mode;
    absl::StatusOr<std::vector<std::string>> names = AddJacobian(&g, options);
    ASSERT_TRUE(names.ok()) << names.status();
    const std::vector<double> a = {-0.5, -0.25, 1.5, -0.75, -2.0, 0.125};
    const std::map<std::string, Tensor> out =
        EvalOrFail(g, {{"a", Tensor::FromDoubles({DType::kF64, {2, 3}}, a)}});
    const Tensor& j = out.at((*names)[0]);
    ASSERT_EQ(j.dims(), (Dims{2, 3, 2, 3}));
    for (int64_t r = 0; r < 6; ++r) {
      for (int64_t col = 0; col < 6; ++col) {
        EXPECT_EQ(j.GetDouble(r * 6 + col),
                  r == col ? out.at("c").GetDouble(r) / a[r] : 0.0)
            << r << "," << col;
      }
    }
  }
}

TEST(ControlFlowVmapTest, HessianThroughTheLoopIsDiagonal) {
  // s = sum(c^2) with c = m a (m piecewise constant): H = diag(2 m^2), by
  // forward over reverse (vmap of the JVP of the recorded loops).
  Graph g = Tutorial({2, 3});
  GraphBuilder gb(&g);
  Value c = gb.Find("c");
  gb.Output("s", Sum(c * c));
  ASSERT_TRUE(gb.ok()) << gb.status();
  absl::StatusOr<std::string> h = AddHessian(&g, "s", "a");
  ASSERT_TRUE(h.ok()) << h.status();
  const std::vector<double> a = {0.5, -0.25, 1.5, 0.75, -2.0, 0.125};
  const std::map<std::string, Tensor> out =
      EvalOrFail(g, {{"a", Tensor::FromDoubles({DType::kF64, {2, 3}}, a)}});
  const Tensor& hessian = out.at(*h);
  for (int64_t r = 0; r < 6; ++r) {
    const double m = out.at("c").GetDouble(r) / a[r];
    for (int64_t col = 0; col < 6; ++col) {
      EXPECT_EQ(hessian.GetDouble(r * 6 + col), r == col ? 2 * m * m : 0.0)
          << r << "," << col;
    }
  }
}

}  // namespace
}  // namespace adc
