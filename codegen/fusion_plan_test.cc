// The fusion plan's decisions on small text graphs: which values are
// materialized, why, and in which stage.
#include "codegen/fusion_plan.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"

namespace adc::codegen {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// A graph from text: `inputs` and `nodes` are GraphDef text (see
// graph/graph.proto).
Graph Parse(const std::string& body) {
  absl::StatusOr<Graph> g =
      GraphFromText(absl::StrCat("version: 1\nname: \"t\"\n", body));
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

// A node with one input and one ints attribute, as GraphDef text.
std::string WithInts(const std::string& name, const std::string& op,
                     const std::string& input, const std::string& attr,
                     const std::vector<int64_t>& values) {
  std::string ints;
  for (int64_t v : values) absl::StrAppend(&ints, " values: ", v);
  return absl::StrCat("nodes { name: \"", name, "\" op: \"", op,
                      "\" inputs: \"", input, "\" attrs { key: \"", attr,
                      "\" value { ints {", ints, " } } } }\n");
}

// Materialized values by name, with their reasons.
std::map<std::string, std::string> Materialized(const Graph& g) {
  const Plan plan = MakePlan(g);
  std::map<std::string, std::string> out;
  for (ValueId v = 0; v < g.num_nodes(); ++v) {
    if (!plan.why[v].empty()) out[g.node(v).name] = plan.why[v];
  }
  return out;
}

constexpr char kVec[] =
    "inputs { name: \"x\" type { dtype: F32 shape { dims: 1000 } } }\n";
constexpr char kMat[] =
    "inputs { name: \"a\" type { dtype: F32 shape { dims: 64 dims: 32 } } }\n"
    "inputs { name: \"b\" type { dtype: F32 shape { dims: 32 dims: 48 } } "
    "}\n";

TEST(FusionPlanTest, ElementwiseChainIsFusedIntoItsOutput) {
  const Graph g = Parse(absl::StrCat(kVec, R"pb(
    nodes { name: "e" op: "exp" inputs: "x" }
    nodes { name: "t" op: "tanh" inputs: "e" }
    nodes { name: "y" op: "mul" inputs: "t" inputs: "x" }
    outputs { name: "y" value: "y" }
  )pb"));
  EXPECT_THAT(Materialized(g), ElementsAre(Pair("y", "output")));
}

TEST(FusionPlanTest, InputsAndIndexRemappingOfThemAreNeverMaterialized) {
  const Graph g = Parse(
      absl::StrCat(kMat, WithInts("at", "transpose", "a", "perm", {1, 0}), R"pb(
        outputs { name: "a" value: "a" }
        outputs { name: "at" value: "at" }
      )pb"));
  EXPECT_THAT(Materialized(g), IsEmpty());
}

TEST(FusionPlanTest, ReductionIsMaterializedAndItsOperandFused) {
  const Graph g = Parse(
      absl::StrCat(kVec, R"pb(
                     nodes { name: "sq" op: "mul" inputs: "x" inputs: "x" }
                   )pb",
                   WithInts("s", "reduce_sum", "sq", "axes", {0}), R"pb(
        nodes { name: "y" op: "sqrt" inputs: "s" }
        outputs { name: "y" value: "y" }
      )pb"));
  EXPECT_THAT(Materialized(g),
              ElementsAre(Pair("s", "reduction"), Pair("y", "output")));
}

TEST(FusionPlanTest, SharedValueIsRecomputedWhenCheapAndStoredWhenNot) {
  // n = -x and c = x * 3 are cheap: recomputed in each consumer. The chain
  // of transcendentals costs more than kRecomputeBudget per element.
  const Graph g = Parse(
      absl::StrCat(kVec, R"pb(
                     nodes { name: "n" op: "neg" inputs: "x" }
                     nodes { name: "c" op: "add" inputs: "n" inputs: "x" }
                     nodes { name: "e1" op: "exp" inputs: "c" }
                     nodes { name: "e2" op: "tanh" inputs: "e1" }
                     nodes { name: "e3" op: "sin" inputs: "e2" }
                     nodes { name: "p" op: "mul" inputs: "c" inputs: "n" }
                     nodes { name: "q" op: "mul" inputs: "e3" inputs: "e3" }
                     nodes { name: "y" op: "add" inputs: "p" inputs: "q" }
                     nodes { name: "z" op: "sub" inputs: "p" inputs: "c" }
                     outputs { name: "y" value: "y" }
                     outputs { name: "z" value: "z" }
                   )pb",
                   WithInts("s", "reduce_sum", "e3", "axes", {0}),
                   R"pb(
                     outputs { name: "s" value: "s" }
                   )pb"));
  // e3 also feeds a reduction (another loop nest): stored.
  EXPECT_THAT(
      Materialized(g),
      ElementsAre(Pair("e3", "used more than once"), Pair("s", "reduction"),
                  Pair("y", "output"), Pair("z", "output")));
}

// A shared value whose uses all lead, through inlined element-wise ops, to
// outputs of its shape is computed once in their common loop nest (the
// lowering's output tuple), not stored.
TEST(FusionPlanTest, SharedValueFeedingOnlyOutputsOfItsShapeIsFused) {
  const std::string chain = R"pb(
    nodes { name: "e1" op: "exp" inputs: "x" }
    nodes { name: "e2" op: "tanh" inputs: "e1" }
    nodes { name: "e3" op: "sin" inputs: "e2" }
    nodes { name: "q" op: "mul" inputs: "e3" inputs: "e3" }
    nodes { name: "y" op: "add" inputs: "q" inputs: "x" }
    nodes { name: "z" op: "sub" inputs: "e3" inputs: "x" }
    outputs { name: "y" value: "y" }
    outputs { name: "z" value: "z" }
  )pb";
  EXPECT_THAT(Materialized(Parse(absl::StrCat(kVec, chain))),
              ElementsAre(Pair("y", "output"), Pair("z", "output")));
  // The same, but y is also read by another node (so y is written by a loop
  // of its own, which z's does not share): e3 is stored.
  EXPECT_THAT(
      Materialized(Parse(absl::StrCat(kVec, chain, R"pb(
        nodes { name: "w" op: "mul" inputs: "y" inputs: "y" }
        outputs { name: "w" value: "w" }
      )pb"))),
      ElementsAre(Pair("e3", "used more than once"), Pair("w", "output"),
                  Pair("y", "output"), Pair("z", "output")));
}

TEST(FusionPlanTest, MatMulOperandsAreMaterializedThroughTransposes) {
  // b's operand is read in place through its transpose: what the transpose
  // reads (tb = tanh(bt)) is materialized, not the transpose.
  const Graph g = Parse(
      absl::StrCat(kMat, R"pb(
                     nodes { name: "ea" op: "exp" inputs: "a" }
                   )pb",
                   WithInts("bt", "transpose", "b", "perm", {1, 0}), R"pb(
                     nodes { name: "tb" op: "tanh" inputs: "bt" }
                   )pb",
                   WithInts("tbt", "transpose", "tb", "perm", {1, 0}), R"pb(
        nodes { name: "c" op: "matmul" inputs: "ea" inputs: "tbt" }
        outputs { name: "c" value: "c" }
      )pb"));
  EXPECT_THAT(Materialized(g),
              ElementsAre(Pair("c", "matmul"), Pair("ea", "matmul operand"),
                          Pair("tb", "matmul operand")));
}

TEST(FusionPlanTest, GrowingBroadcastMaterializesItsOperand) {
  const Graph g = Parse(absl::StrCat(
      kVec, WithInts("s", "reshape", "x", "shape", {1, 1000}), R"pb(
        nodes { name: "e" op: "exp" inputs: "s" }
      )pb",
      WithInts("bc", "broadcast_to", "e", "shape", {64, 1000}), R"pb(
        nodes { name: "y" op: "neg" inputs: "bc" }
        outputs { name: "y" value: "y" }
      )pb"));
  EXPECT_THAT(Materialized(g),
              ElementsAre(Pair("e", "broadcast operand"), Pair("y", "output")));
}

// A pad that dilates (the gradient of a strided slice) would evaluate an
// inline operand for every output element, holes included; one that adds a
// border a few elements wide keeps it inline.
TEST(FusionPlanTest, DilatingPadMaterializesItsOperand) {
  auto pad = [](const std::string& name, const std::string& input, int64_t low,
                int64_t interior) {
    return absl::StrCat(
        "nodes { name: \"", name, "\" op: \"pad\" inputs: \"", input,
        "\" attrs { key: \"low\" value { ints { values: ", low,
        " } } } attrs { key: \"high\" value { ints { values: 0 } } } ",
        "attrs { key: \"interior\" value { ints { values: ", interior,
        " } } } }\n");
  };
  const Graph g = Parse(
      absl::StrCat(kVec, R"pb(
                     nodes { name: "e" op: "exp" inputs: "x" }
                     nodes { name: "t" op: "tanh" inputs: "x" }
                   )pb",
                   pad("dilated", "e", 1, 1), pad("border", "t", 3, 0), R"pb(
        nodes { name: "y" op: "neg" inputs: "dilated" }
        nodes { name: "z" op: "neg" inputs: "border" }
        outputs { name: "y" value: "y" }
        outputs { name: "z" value: "z" }
      )pb"));
  EXPECT_THAT(Materialized(g),
              ElementsAre(Pair("e", "pad operand"), Pair("y", "output"),
                          Pair("z", "output")));
}

// A max pool's gradient (2x2/2, after a ReLU: the small CNN's) is a sum
// of pads dilating both axes, computed in loops split into their phases
// (Lowering::PadPhases), where each element evaluates only the pads that
// land on it: the pads' operands stay inline when every loop that reads
// the sum is such a loop (a stored value's: the ReLU that is the conv's
// operand; the sum itself when two users make it stored, as ResNet-18's
// batch norm sums do), and are stored when a reduction reads the sum
// inline.
TEST(FusionPlanTest, DilatingPadsReadInPhasedLoopsKeepTheirOperandsInline) {
  enum Readers { kConv, kConvAndSum, kSum };
  for (const Readers readers : {kConv, kConvAndSum, kSum}) {
    GraphBuilder b("pool_grad");
    Value x = b.Input("x", DType::kF32, {2, 3, 8, 9});
    Value dy = b.Input("dy", DType::kF32, {2, 3, 8, 9});
    Value sum;
    for (int64_t p = 0; p < 4; ++p) {
      const std::vector<int64_t> low = {0, 0, p / 2, p % 2};
      const std::vector<int64_t> high = {0, 0, 1 - p / 2, 1 - p % 2};
      Value masked = b.Named(Select(Gt(x, 0.5 * p), dy, ZerosLike(dy)),
                             absl::StrCat("m", p));
      Value pad = Pad(masked, low, high, 0, {0, 0, 1, 1});
      sum = p == 0 ? pad : sum + pad;
    }
    if (readers != kSum) {
      Value w = b.Input("w", DType::kF32, {4, 3, 3, 3});
      b.Output("c", b.Named(Conv(Relu(sum), w), "c"));
    }
    if (readers != kConv) b.Output("s", b.Named(Sum(sum), "s"));
    absl::StatusOr<Graph> built = b.Build();
    ASSERT_TRUE(built.ok()) << built.status();
    const std::map<std::string, std::string> stored = Materialized(*built);
    int pad_operands = 0;
    for (const auto& [name, why] : stored) pad_operands += why == "pad operand";
    EXPECT_EQ(pad_operands, readers == kSum ? 4 : 0)
        << readers << ": " << ::testing::PrintToString(stored);
  }
}

// The gradient of a 2x2 max pool with stride 2 is a sum of four pads
// dilating both axes; read by two reductions (batch norm's backward sums),
// the sum is stored once rather than recomputed by each, while the same
// sum of pads that only add borders stays inline.
TEST(FusionPlanTest, SharedSumOfDilatingPadsIsMaterialized) {
  for (const bool dilating : {true, false}) {
    GraphBuilder b("pool_grad");
    Value x = b.Input("x", DType::kF32, {8, 9});
    Value sum;
    for (int64_t p = 0; p < 4; ++p) {
      const std::vector<int64_t> low = {p / 2, p % 2};
      const std::vector<int64_t> high = {1 - p / 2, 1 - p % 2};
      Value pad = dilating ? Pad(x, low, high, 0, {1, 1}) : Pad(x, low, high);
      if (p == 0) {
        sum = pad;
      } else {
        sum = p == 3 ? b.Named(sum + pad, "sum") : sum + pad;
      }
    }
    b.Output("a", b.Named(Sum(sum, {0}), "a"));
    b.Output("b", b.Named(Sum(sum * sum, {1}), "b"));
    absl::StatusOr<Graph> built = b.Build();
    ASSERT_TRUE(built.ok()) << built.status();
    if (dilating) {
      EXPECT_THAT(Materialized(*built),
                  ElementsAre(Pair("a", "reduction"), Pair("b", "reduction"),
                              Pair("sum", "used more than once")));
    } else {
      EXPECT_THAT(Materialized(*built),
                  ElementsAre(Pair("a", "reduction"), Pair("b", "reduction")));
    }
  }
}

TEST(FusionPlanTest, UnusedValuesAreNotNeeded) {
  const Graph g = Parse(
      absl::StrCat(kVec, WithInts("dead", "reduce_sum", "x", "axes", {0}), R"pb(
        nodes { name: "y" op: "exp" inputs: "x" }
        outputs { name: "y" value: "y" }
      )pb"));
  const Plan plan = MakePlan(g);
  EXPECT_FALSE(plan.needed[g.Find("dead").value()]);
  EXPECT_THAT(Materialized(g), ElementsAre(Pair("y", "output")));
}

TEST(FusionPlanTest, StagesHoldAtMostMaxFuncsPerStage) {
  // 2 * kMaxFuncsPerStage + 1 outputs: three stages, in id order.
  std::string body = kVec;
  const int n = 2 * kMaxFuncsPerStage + 1;
  for (int k = 0; k < n; ++k) {
    absl::StrAppend(&body, "nodes { name: \"e", k,
                    "\" op: \"exp\" inputs: \"x\" }\n", "outputs { name: \"e",
                    k, "\" value: \"e", k, "\" }\n");
  }
  const Graph g = Parse(body);
  const Plan plan = MakePlan(g);
  EXPECT_EQ(plan.num_stages, 3);
  EXPECT_EQ(plan.stage[g.Find("e0").value()], 0);
  EXPECT_EQ(
      plan.stage[g.Find(absl::StrCat("e", kMaxFuncsPerStage - 1)).value()], 0);
  EXPECT_EQ(plan.stage[g.Find(absl::StrCat("e", kMaxFuncsPerStage)).value()],
            1);
  EXPECT_EQ(plan.stage[g.Find(absl::StrCat("e", n - 1)).value()], 2);
  EXPECT_EQ(plan.stage[g.Find("x").value()], -1);
}

TEST(FusionPlanTest, LongChainsAreCutWhereTheirInlineCostPassesTheLimit) {
  // sin costs 20 inline and x 1: s_k costs 21 + 20 k, over kMaxInlineCost
  // (256) at s12; after a cut the count starts again.
  static_assert(kMaxInlineCost == 256);
  std::string body = kVec;
  std::string prev = "x";
  for (int k = 0; k < 40; ++k) {
    const std::string name = absl::StrCat("s", k);
    absl::StrAppend(&body, "nodes { name: \"", name,
                    "\" op: \"sin\" inputs: \"", prev, "\" }\n");
    prev = name;
  }
  absl::StrAppend(&body, "outputs { name: \"y\" value: \"s39\" }\n");
  EXPECT_THAT(Materialized(Parse(body)),
              ElementsAre(Pair("s12", "inline expression too large"),
                          Pair("s25", "inline expression too large"),
                          Pair("s38", "inline expression too large"),
                          Pair("s39", "output")));
}

TEST(FusionPlanTest, PlanToStringListsMaterializedValues) {
  const Graph g = Parse(
      absl::StrCat(kVec, WithInts("s", "reduce_max", "x", "axes", {0}), R"pb(
        nodes { name: "y" op: "sqrt" inputs: "s" }
        outputs { name: "y" value: "y" }
      )pb"));
  EXPECT_EQ(PlanToString(g, MakePlan(g)),
            "stage 0: 's' (reduce_max): reduction\n"
            "stage 0: 'y' (sqrt): output\n");
}

TEST(FusionPlanTest, ControlFlowIsAStageOfItsOwnWithMaterializedOperands) {
  GraphBuilder b("cf");
  Value x = b.Input("x", DType::kF32, {1000});
  Value e = b.Named(Exp(x), "e");
  Value zero = b.Named(Scalar(b, 0), "zero");
  std::vector<Value> r = WhileLoop(
      b,
      [](GraphBuilder&, const std::vector<Value>& c,
         const std::vector<Value>&) { return Lt(c[1], 10.0); },
      [](GraphBuilder&, const std::vector<Value>& c,
         const std::vector<Value>& k) {
        return std::vector<Value>{c[0] * k[0], c[1] + 1.0};
      },
      {e, zero}, /*max_iterations=*/10, {x}, "w");
  b.Output("y", b.Named(Exp(r[0]), "y"));
  b.Output("n", r[1]);
  absl::StatusOr<Graph> built = b.Build();
  ASSERT_TRUE(built.ok()) << built.status();
  const Graph& g = *built;
  // The loop reads its operands from buffers, even a cheap constant; the
  // input is one already. Values after it are a stage of their own.
  EXPECT_THAT(
      Materialized(g),
      ElementsAre(Pair("e", "control-flow operand"),
                  Pair("w.0", "control flow"), Pair("w.1", "control flow"),
                  Pair("y", "output"), Pair("zero", "control-flow operand")));
  const Plan plan = MakePlan(g);
  ASSERT_EQ(plan.num_stages, 3);
  const ValueId loop = g.Find("w.0").value();
  EXPECT_EQ(plan.control, (std::vector<ValueId>{-1, loop, -1}));
  EXPECT_EQ(plan.stage[g.Find("e").value()], 0);
  EXPECT_EQ(plan.stage[g.Find("w.1").value()], 1);
  EXPECT_EQ(plan.stage[loop], 1);
  EXPECT_EQ(plan.stage[g.Find("y").value()], 2);
}

TEST(FusionPlanTest, LastStageIsAPipeline) {
  // A graph whose only value is a construct's result still ends with a
  // pipeline stage (which writes outputs that are graph arguments).
  GraphBuilder b("cf");
  Value x = b.Input("x", DType::kF32, {4});
  std::vector<Value> r = Cond(
      Gt(Sum(x), 0.0),
      [](GraphBuilder&, const std::vector<Value>& o) { return o; },
      [](GraphBuilder&, const std::vector<Value>& o) {
        return std::vector<Value>{-o[0]};
      },
      {x}, "c");
  b.Output("y", r[0]);
  b.Output("x_out", x);
  absl::StatusOr<Graph> built = b.Build();
  ASSERT_TRUE(built.ok()) << built.status();
  const Plan plan = MakePlan(*built);
  EXPECT_EQ(plan.control,
            (std::vector<ValueId>{-1, built->Find("c").value(), -1}));
}

}  // namespace
}  // namespace adc::codegen
