// Property tests of the optimization pipeline on real graphs: the core
// examples, an MLP built with the builder (Linear, Tanh, LogSoftmax,
// CrossEntropy) and their first- and second-order gradient graphs. For each:
// the optimized graph passes the verifier after every pass, computes
// bit-identical outputs (f32 and f64, random and special values), has fewer
// nodes, and can still be differentiated.
#include "passes/pipeline.h"

#include <cmath>
#include <iostream>
#include <random>

#include "absl/strings/str_format.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"
#include "models/seeds/seeds.h"
#include "passes/autodiff.h"
#include "passes/pass_test_util.h"

namespace adc {
namespace {

Graph Mlp(DType dtype) {
  GraphBuilder b("mlp");
  Value x = b.Input("x", dtype, {4, 3});
  Value labels = b.Input("labels", DType::kI32, {4});
  auto param = [&](const char* name, Dims dims, double scale) {
    Tensor t(TensorType{dtype, dims});
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      t.SetDouble(i, scale * std::sin(1.0 + 0.7 * i));
    }
    return b.Parameter(name, t);
  };
  Value w1 = param("w1", {5, 3}, 0.5);
  Value b1 = param("b1", {5}, 0.1);
  Value w2 = param("w2", {2, 5}, 0.5);
  Value b2 = param("b2", {2}, 0.1);
  Value logits = Linear(Tanh(Linear(x, w1, b1)), w2, b2);
  b.Output("logp", LogSoftmax(logits));
  b.Output("loss", CrossEntropy(logits, labels));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

struct Example {
  std::string name;
  Graph graph;
  std::string of;  // The scalar to differentiate.
};

std::vector<Example> ForwardExamples(DType dtype) {
  std::vector<Example> examples;
  examples.push_back({"scalar", seeds::Scalar(dtype), "y"});
  examples.push_back({"composite", seeds::Composite(dtype), "f"});
  examples.push_back({"MLP", Mlp(dtype), "loss"});
  return examples;
}

// Gradients of `of`, then of the sum of the first gradient (a Hessian-vector
// product with a vector of ones).
Graph Grad(Graph g, const std::string& of) {
  auto names = AddGradients(&g, {.of = of});
  EXPECT_TRUE(names.ok()) << names.status();
  return g;
}
Graph Grad2(Graph g, const std::string& of) {
  auto first = AddGradients(&g, {.of = of});
  EXPECT_TRUE(first.ok()) << first.status();
  auto second = AddGradients(&g, {.of = first->front(), .seed = "ones"});
  EXPECT_TRUE(second.ok()) << second.status();
  return g;
}

// Optimizes a copy of `g` with verification after every pass.
Graph Optimize(const Graph& g, OptimizationOptions options = {}) {
  options.verify_after_each_pass = true;
  Graph out = g;
  std::unique_ptr<PassPipeline> pipeline = OptimizationPipeline(options);
  absl::StatusOr<bool> changed = pipeline->Run(&out);
  EXPECT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(Verify(out).ok());
  return out;
}

int CountNonLeaf(const Graph& g) {
  int n = 0;
  for (const Node& node : g.nodes()) n += !node.inputs.empty();
  return n;
}

void Report(const std::string& what, const Graph& before, const Graph& after) {
  const std::string line = absl::StrFormat(
      "%-28s %4d -> %4d nodes (%4d -> %4d computing)", what, before.num_nodes(),
      after.num_nodes(), CountNonLeaf(before), CountNonLeaf(after));
  std::cout << line << "\n";
  ::testing::Test::RecordProperty(what, line);
}

class PipelineTest : public ::testing::TestWithParam<DType> {};

TEST_P(PipelineTest, OptimizedGraphsComputeTheSameBits) {
  const DType dtype = GetParam();
  for (Example& ex : ForwardExamples(dtype)) {
    const std::string tag = absl::StrCat(ex.name, " ", DTypeName(dtype));
    const Graph graphs[] = {ex.graph, Grad(ex.graph, ex.of),
                            Grad2(ex.graph, ex.of)};
    const char* kinds[] = {"graph", "grad graph", "grad2 graph"};
    for (int k = 0; k < 3; ++k) {
      SCOPED_TRACE(absl::StrCat(tag, " ", kinds[k]));
      const Graph optimized = Optimize(graphs[k]);
      Report(absl::StrCat(tag, " ", kinds[k]), graphs[k], optimized);
      EXPECT_LE(optimized.num_nodes(), graphs[k].num_nodes());
      if (k > 0) {
        EXPECT_LT(optimized.num_nodes(), graphs[k].num_nodes());
      }
      // The signature and the outputs' names are kept.
      EXPECT_EQ(optimized.inputs().size(), graphs[k].inputs().size());
      EXPECT_EQ(optimized.parameters().size(), graphs[k].parameters().size());
      ASSERT_EQ(optimized.outputs().size(), graphs[k].outputs().size());
      for (size_t i = 0; i < optimized.outputs().size(); ++i) {
        EXPECT_EQ(optimized.outputs()[i].name, graphs[k].outputs()[i].name);
        EXPECT_EQ(optimized.outputs()[i].is_gradient,
                  graphs[k].outputs()[i].is_gradient);
      }
      pass_test::ExpectSameOutputs(graphs[k], optimized, 8);
    }
  }
}

TEST_P(PipelineTest, OptimizedGraphsCanStillBeDifferentiated) {
  const DType dtype = GetParam();
  for (Example& ex : ForwardExamples(dtype)) {
    SCOPED_TRACE(ex.name);
    // grad(optimize(f)) vs grad(f), and grad(optimize(grad(f))) vs grad2(f).
    const Graph grad_of_optimized = Grad(Optimize(ex.graph), ex.of);
    const Graph grad = Grad(ex.graph, ex.of);
    const std::string first_grad =
        grad.outputs()[ex.graph.outputs().size()].name;
    Graph grad2_of_optimized = Optimize(grad);
    auto second =
        AddGradients(&grad2_of_optimized, {.of = first_grad, .seed = "ones"});
    ASSERT_TRUE(second.ok()) << second.status();
    const Graph grad2 = Grad2(ex.graph, ex.of);
    const double tol = dtype == DType::kF64 ? 1e-13 : 1e-6;
    int identical = 0, total = 0;
    for (int round = 0; round < 4; ++round) {
      const auto feeds = pass_test::RandomFeeds(ex.graph, round);
      for (const auto& [want_graph, got_graph] :
           {std::pair<const Graph*, const Graph*>{&grad, &grad_of_optimized},
            {&grad2, &grad2_of_optimized}}) {
        auto want = Interpret(*want_graph, feeds);
        auto got = Interpret(*got_graph, feeds);
        ASSERT_TRUE(want.ok()) << want.status();
        ASSERT_TRUE(got.ok()) << got.status();
        for (const auto& [name, value] : *want) {
          ASSERT_TRUE(got->count(name)) << name;
          const Tensor& other = got->at(name);
          ++total;
          if (pass_test::BitIdentical(value, other)) {
            ++identical;
            continue;
          }
          for (int64_t i = 0; i < value.num_elements(); ++i) {
            const double a = value.GetDouble(i), b = other.GetDouble(i);
            EXPECT_NEAR(a, b, tol * std::max(1.0, std::abs(a)))
                << name << "[" << i << "]";
          }
        }
      }
    }
    std::cout << ex.name << " " << DTypeName(dtype)
              << ": gradients of optimized graphs bit-identical in "
              << identical << " of " << total << " outputs\n";
  }
}

TEST_P(PipelineTest, ReachesAFixedPoint) {
  Graph g = Optimize(Grad2(Mlp(GetParam()), "loss"));
  const std::string before = GraphToText(g);
  std::unique_ptr<PassPipeline> pipeline =
      OptimizationPipeline({.verify_after_each_pass = true});
  absl::StatusOr<bool> changed = pipeline->Run(&g);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_FALSE(*changed);
  EXPECT_EQ(GraphToText(g), before);
}

INSTANTIATE_TEST_SUITE_P(DTypes, PipelineTest,
                         ::testing::Values(DType::kF32, DType::kF64),
                         [](const auto& info) {
                           return std::string(DTypeName(info.param));
                         });

TEST(PipelineTest, StatsNameEachPassPerRound) {
  Graph g = Grad(Mlp(DType::kF32), "loss");
  std::unique_ptr<PassPipeline> pipeline = OptimizationPipeline();
  ASSERT_TRUE(pipeline->Run(&g).ok());
  const std::vector<PassStats>& stats = pipeline->stats();
  ASSERT_GE(stats.size(), 8u);
  EXPECT_EQ(stats[0].name, "simplify/1");
  EXPECT_EQ(stats[1].name, "constant_folding/1");
  EXPECT_EQ(stats[2].name, "cse/1");
  EXPECT_EQ(stats[3].name, "dce/1");
  EXPECT_EQ(stats[4].name, "simplify/2");
  // Rounds after the fixed point do not run.
  EXPECT_FALSE(stats.back().changed);
  EXPECT_EQ(stats.back().nodes_before, stats.back().nodes_after);
}

TEST(PipelineTest, StopGradientIsKeptUnlessAskedOtherwise) {
  Graph g = Grad(Mlp(DType::kF64), "loss");  // LogSoftmax stops its max.
  const Graph kept = Optimize(g);
  EXPECT_GT(pass_test::CountOp(kept, OpKind::kStopGradient), 0);
  const Graph removed = Optimize(g, {.keep_stop_gradient = false});
  EXPECT_EQ(pass_test::CountOp(removed, OpKind::kStopGradient), 0);
  pass_test::ExpectSameOutputs(g, removed);
}

TEST(PipelineTest, RandomGraphsKeepTheirBits) {
  std::mt19937 rng(2024);
  int before = 0, after = 0;
  std::map<int, int> rounds_needed;
  for (int i = 0; i < 1000; ++i) {
    SCOPED_TRACE(absl::StrCat("random graph ", i));
    const Graph g = pass_test::RandomGraph(rng);
    Graph optimized = g;
    std::unique_ptr<PassPipeline> pipeline =
        OptimizationPipeline({.verify_after_each_pass = true});
    ASSERT_TRUE(pipeline->Run(&optimized).ok());
    // The last round that changed the graph (4 passes per round).
    int last = 0;
    for (size_t k = 0; k < pipeline->stats().size(); ++k) {
      if (pipeline->stats()[k].changed) last = k / 4 + 1;
    }
    ++rounds_needed[last];
    before += g.num_nodes();
    after += optimized.num_nodes();
    pass_test::ExpectSameOutputs(g, optimized, 10, /*special_fraction=*/0.5);
    if (::testing::Test::HasFailure()) {
      std::cout << GraphToText(g);
      break;
    }
  }
  std::cout << "random graphs: " << before << " -> " << after << " nodes\n";
  for (const auto& [rounds, count] : rounds_needed) {
    std::cout << "  " << count << " graphs changed in " << rounds
              << " rounds\n";
  }
}

TEST(PipelineTest, DeepSecondOrderGraphShrinks) {
  // A deep MLP: 40 layers, then its gradient.
  GraphBuilder b("deep");
  Value h = b.Input("x", DType::kF32, {8, 16});
  for (int layer = 0; layer < 40; ++layer) {
    Tensor w = Tensor::Filled(TensorType{DType::kF32, {16, 16}}, 0.01 * layer);
    Tensor bias = Tensor::Filled(TensorType{DType::kF32, {16}}, 0.1);
    h = Tanh(Linear(h, b.Parameter(absl::StrCat("w", layer), w),
                    b.Parameter(absl::StrCat("b", layer), bias)));
  }
  b.Output("loss", Mean(h * h));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  Graph grad2 = Grad2(*std::move(g), "loss");
  const Graph optimized = Optimize(grad2);
  Report("deep MLP f32 grad2 graph", grad2, optimized);
  EXPECT_LT(optimized.num_nodes(), grad2.num_nodes());
  pass_test::ExpectSameOutputs(grad2, optimized, 2);
}

}  // namespace
}  // namespace adc
