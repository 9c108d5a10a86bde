// Batching with exact expectations: every instance of the batched graph
// equals the graph run on that instance alone. (Every op's rule is also run
// on the op-gradient table in tests/op_gradients_test.)
#include "passes/vmap.h"

#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/ops/op_util.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"
#include "passes/pass_test_util.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

Tensor Random(TensorType type, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Tensor t(type);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, dist(rng));
  return t;
}

Tensor Ints(DType dtype, Dims dims, std::vector<int64_t> v) {
  return Tensor::FromInts(TensorType{dtype, std::move(dims)}, std::move(v));
}

// Runs Vmap(g) on `batched` feeds (the batched inputs stacked, the others
// shared) and checks every output of every instance against g alone.
void ExpectInstancesMatch(const Graph& g, const VmapOptions& options,
                          const std::map<std::string, Tensor>& feeds) {
  absl::StatusOr<Graph> vg = Vmap(g, options);
  ASSERT_TRUE(vg.ok()) << vg.status();
  auto out = Interpret(*vg, feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t i = 0; i < options.size; ++i) {
    std::map<std::string, Tensor> instance = feeds;
    for (const std::string& name : options.batched) {
      instance[name] = pass_test::InstanceOf(feeds.at(name), i);
    }
    auto expected = Interpret(g, instance);
    ASSERT_TRUE(expected.ok()) << expected.status();
    for (const auto& [name, want] : *expected) {
      const Tensor got = pass_test::InstanceOf(out->at(name), i);
      ASSERT_EQ(got.type(), want.type()) << name;
      for (int64_t j = 0; j < got.num_elements(); ++j) {
        EXPECT_NEAR(got.GetDouble(j), want.GetDouble(j),
                    1e-12 * (1 + std::abs(want.GetDouble(j))))
            << name << " instance " << i << " element " << j;
      }
    }
  }
}

TEST(VmapTest, GatherWithBatchedIndices) {
  // x [2, 5, 3] gathered on axis 1 by indices [2, 2] (negative and
  // out-of-range ones included: they count from the end and clamp).
  for (bool batch_x : {false, true}) {
    SCOPED_TRACE(batch_x ? "x and indices batched" : "indices batched");
    GraphBuilder b;
    Value x = b.Input("x", DType::kF64, {2, 5, 3});
    Value i = b.Input("i", DType::kI64, {2, 2});
    b.Output("y", Gather(x, i, 1) * 2.0);
    Graph g = pass_test::BuildOrFail(b);
    VmapOptions options;
    options.size = 3;
    options.batched = {"i"};
    std::map<std::string, Tensor> feeds = {
        {"x", Random(TensorType{DType::kF64, {2, 5, 3}}, 1)},
        {"i", Ints(DType::kI64, {3, 2, 2},
                   {0, 4, -1, 2, 7, -9, 3, 3, 1, 0, -2, 4})}};
    if (batch_x) {
      options.batched.push_back("x");
      feeds["x"] = Random(TensorType{DType::kF64, {3, 2, 5, 3}}, 2);
    }
    ExpectInstancesMatch(g, options, feeds);
  }
}

TEST(VmapTest, GatherWithSharedIndices) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {4, 3});
  Value i = Constant(b, Ints(DType::kI32, {2}, {3, -1}));
  b.Output("y", Gather(x, i, 0));
  b.Output("z", Gather(x, i, 1));
  Graph g = pass_test::BuildOrFail(b);
  ExpectInstancesMatch(g, {{"x"}, 2, {}},
                       {{"x", Random(TensorType{DType::kF64, {2, 4, 3}}, 3)}});
}

TEST(VmapTest, ScatterAddWithBatchedIndices) {
  // Duplicate indices accumulate; base, updates and indices batched in every
  // combination that includes the indices.
  for (int mask = 0; mask < 4; ++mask) {
    const bool batch_base = mask & 1, batch_updates = mask & 2;
    SCOPED_TRACE(mask);
    GraphBuilder b;
    Value base = b.Input("base", DType::kF64, {2, 4});
    Value i = b.Input("i", DType::kI32, {3});
    Value u = b.Input("u", DType::kF64, {2, 3});
    b.Output("y", ScatterAdd(base, i, u, 1));
    Graph g = pass_test::BuildOrFail(b);
    VmapOptions options;
    options.size = 2;
    options.batched = {"i"};
    std::map<std::string, Tensor> feeds = {
        {"base", Random(TensorType{DType::kF64, {2, 4}}, 4)},
        {"i", Ints(DType::kI32, {2, 3}, {1, 1, -1, 0, 5, 2})},
        {"u", Random(TensorType{DType::kF64, {2, 3}}, 5)}};
    if (batch_base) {
      options.batched.push_back("base");
      feeds["base"] = Random(TensorType{DType::kF64, {2, 2, 4}}, 6);
    }
    if (batch_updates) {
      options.batched.push_back("u");
      feeds["u"] = Random(TensorType{DType::kF64, {2, 2, 3}}, 7);
    }
    ExpectInstancesMatch(g, options, feeds);
  }
}

TEST(VmapTest, ScatterAddOnAMiddleAxisWithBatchedIndices) {
  // base [2, 5, 3] scattered on axis 1 by indices [2, 2]: axes before and
  // after the scattered one, every operand batched.
  GraphBuilder b;
  Value base = b.Input("base", DType::kF64, {2, 5, 3});
  Value i = b.Input("i", DType::kI64, {2, 2});
  Value u = b.Input("u", DType::kF64, {2, 2, 2, 3});
  b.Output("y", ScatterAdd(base, i, u, 1));
  Graph g = pass_test::BuildOrFail(b);
  ExpectInstancesMatch(
      g, {{"base", "i", "u"}, 3, {}},
      {{"base", Random(TensorType{DType::kF64, {3, 2, 5, 3}}, 41)},
       {"i",
        Ints(DType::kI64, {3, 2, 2}, {0, 4, -1, 4, 7, -9, 3, 3, 1, 1, -2, 0})},
       {"u", Random(TensorType{DType::kF64, {3, 2, 2, 2, 3}}, 42)}});
}

TEST(VmapTest, MatMulBatchedOnEitherSide) {
  GraphBuilder b;
  Value a = b.Input("a", DType::kF64, {2, 3});
  Value w = b.Input("w", DType::kF64, {3, 4});
  Value a3 = b.Input("a3", DType::kF64, {5, 2, 3});
  b.Output("aw", MatMul(a, w));
  b.Output("a3w", MatMul(a3, BroadcastTo(w, {5, 3, 4})));
  Graph g = pass_test::BuildOrFail(b);
  const std::map<std::string, Tensor> shared = {
      {"a", Random(TensorType{DType::kF64, {2, 3}}, 8)},
      {"w", Random(TensorType{DType::kF64, {3, 4}}, 9)},
      {"a3", Random(TensorType{DType::kF64, {5, 2, 3}}, 10)}};
  for (const std::vector<std::string>& batched :
       std::vector<std::vector<std::string>>{
           {"a"}, {"w"}, {"a", "w"}, {"a3"}, {"a3", "w"}}) {
    SCOPED_TRACE(batched[0] + (batched.size() > 1 ? "," + batched[1] : ""));
    std::map<std::string, Tensor> feeds = shared;
    for (const std::string& name : batched) {
      const Tensor& t = shared.at(name);
      feeds[name] = Random(TensorType{DType::kF64, ops::WithBatch(4, t.dims())},
                           11 + name.size());
    }
    ExpectInstancesMatch(g, {batched, 4, {}}, feeds);
  }
}

// The per-example gradients: the gradients of a small MLP's loss
// for k examples in one batched graph equal k separate runs.
TEST(VmapTest, PerExampleGradientsOfAnMlp) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {1, 4});
  Value label = b.Input("label", DType::kI32, {1});
  Value w1 = b.Parameter("w1", Random(TensorType{DType::kF64, {8, 4}}, 20));
  Value b1 = b.Parameter("b1", Random(TensorType{DType::kF64, {8}}, 21));
  Value w2 = b.Parameter("w2", Random(TensorType{DType::kF64, {3, 8}}, 22));
  Value logits = Linear(Tanh(Linear(x, w1, b1)), w2);
  b.Output("loss", CrossEntropy(logits, label));
  Graph g = pass_test::BuildOrFail(b);
  GradOptions grad;
  grad.of = "loss";
  grad.wrt = {"w1", "b1", "w2"};
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  constexpr int64_t k = 5;
  ExpectInstancesMatch(g, {{"x", "label"}, k, {}},
                       {{"x", Random(TensorType{DType::kF64, {k, 1, 4}}, 23)},
                        {"label", Ints(DType::kI32, {k, 1}, {0, 2, 1, 1, 0})}});
}

TEST(VmapTest, BatchedSeedGivesTheRowsOfTheJacobian) {
  // y = x^2 (x of 3): vmapping the VJP over the one-hot seeds gives the
  // Jacobian diag(2x); the tutorials' weighted seed v = [1, 0.8, 1.8] at
  // x = [1, 2, -2] gives [2, 3.2, -7.2].
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("y", x * x);
  Graph g = pass_test::BuildOrFail(b);
  GradOptions grad;
  grad.of = "y";
  grad.seed = "v";
  ASSERT_TRUE(AddGradients(&g, grad).ok());
  absl::StatusOr<Graph> vg = Vmap(g, {{"v"}, 4, {"y"}});
  ASSERT_TRUE(vg.ok()) << vg.status();
  EXPECT_EQ(vg->type(*vg->FindOutput("y")).dims, Dims({3}));
  auto out = Interpret(
      *vg,
      {{"x", Tensor::FromDoubles(TensorType{DType::kF64, {3}}, {1, 2, -2})},
       {"v", Tensor::FromDoubles(TensorType{DType::kF64, {4, 3}},
                                 {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0.8, 1.8})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("x.grad"),
            Tensor::FromDoubles(TensorType{DType::kF64, {4, 3}},
                                {2, 0, 0, 0, 4, 0, 0, 0, -4, 2, 3.2, -7.2}));
}

TEST(VmapTest, ComposesWithGradients) {
  // grad of sum over the batch = the stacked per-instance gradients.
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("f", Sum(Sin(x) * x));
  Graph g = pass_test::BuildOrFail(b);
  absl::StatusOr<Graph> vg = Vmap(g, {{"x"}, 2, {}});
  ASSERT_TRUE(vg.ok()) << vg.status();
  GradOptions grad;
  grad.of = "f";
  grad.seed = "ones";
  ASSERT_TRUE(AddGradients(&*vg, grad).ok());
  const Tensor xs = Random(TensorType{DType::kF64, {2, 3}}, 30);
  auto out = Interpret(*vg, {{"x", xs}});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t i = 0; i < 6; ++i) {
    const double v = xs.GetDouble(i);
    EXPECT_NEAR(out->at("x.grad").GetDouble(i), std::cos(v) * v + std::sin(v),
                1e-14);
  }
}

TEST(VmapTest, UnbatchedOutputsAreBroadcastUnlessKept) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  Value p = b.Parameter("p", Random(TensorType{DType::kF64, {2}}, 31));
  b.Output("y", x + p);
  b.Output("q", p * 2.0);
  b.Output("r", p * 3.0);
  Graph g = pass_test::BuildOrFail(b);
  absl::StatusOr<Graph> vg = Vmap(g, {{"x"}, 3, {"r"}});
  ASSERT_TRUE(vg.ok()) << vg.status();
  EXPECT_EQ(vg->type(*vg->FindOutput("y")).dims, Dims({3, 2}));
  EXPECT_EQ(vg->type(*vg->FindOutput("q")).dims, Dims({3, 2}));
  EXPECT_EQ(vg->type(*vg->FindOutput("r")).dims, Dims({2}));
  EXPECT_EQ(vg->type(*vg->Find("p")).dims, Dims({2}));
}

TEST(VmapTest, IdentityOpsKeepTheNamesOfExistingValues) {
  // reshape to the same shape: the rule returns its operand, which keeps its
  // own name (the input stays "x").
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {3});
  b.Output("y", Reshape(x, {3}) * 2.0);
  Graph g = pass_test::BuildOrFail(b);
  absl::StatusOr<Graph> vg = Vmap(g, {{"x"}, 2, {}});
  ASSERT_TRUE(vg.ok()) << vg.status();
  ASSERT_TRUE(vg->Find("x").has_value());
  EXPECT_EQ(vg->node(*vg->Find("x")).op, OpKind::kInput);
  ExpectInstancesMatch(g, {{"x"}, 2, {}},
                       {{"x", Random(TensorType{DType::kF64, {2, 3}}, 40)}});
}

TEST(VmapTest, Errors) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF64, {2});
  Value p = b.Parameter("p", Random(TensorType{DType::kF64, {2}}, 32));
  b.Output("y", x * p);
  Graph g = pass_test::BuildOrFail(b);
  auto error = [&](VmapOptions o) {
    absl::StatusOr<Graph> r = Vmap(g, o);
    EXPECT_FALSE(r.ok());
    return std::string(r.status().message());
  };
  EXPECT_THAT(error({{"x"}, 0, {}}), HasSubstr("at least 1, got 0"));
  EXPECT_THAT(error({{}, 2, {}}), HasSubstr("no input to batch"));
  EXPECT_THAT(error({{"nope"}, 2, {}}), HasSubstr("no input named 'nope'"));
  EXPECT_THAT(error({{"p"}, 2, {}}), HasSubstr("'p' is not an input"));
  EXPECT_THAT(error({{"x", "x"}, 2, {}}), HasSubstr("listed twice"));
  EXPECT_THAT(error({{"x"}, 2, {"z"}}), HasSubstr("no output named 'z'"));
  EXPECT_THAT(error({{"x"}, int64_t{1} << 40, {}}),
              HasSubstr("instances of 'x' (f64[2]) would exceed"));
}

}  // namespace
}  // namespace adc
