// The shape-only decisions of the reduction, scan and reshape lowerings:
// which axis is vectorized, how the work is split, and reshape's index map.
// (Their generated code is compared with the interpreter, on every feature
// level and every remainder modulo the vector width, in ops_e2e_test.)
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen/limits.h"
#include "codegen/lowering.h"
#include "codegen/testing.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "gtest/gtest.h"

namespace adc::codegen::lowering {
namespace {

// A graph whose output "y" is `op` applied to an input of `dims`.
struct OneOp {
  Graph graph;
  ValueId y;
};

template <typename F>
OneOp Build(DType dtype, const Dims& dims, F op) {
  GraphBuilder b;
  Value x = b.Input("x", dtype, dims);
  b.Output("y", op(x));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  OneOp r{*std::move(g), -1};
  r.y = r.graph.outputs()[0].value;
  return r;
}

TEST(PlanReductionTest, LanesOverAContiguousReducedAxis) {
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    const Halide::Target target = level.halide_target();
    const int vec = target.natural_vector_size(Halide::Float(32));
    SCOPED_TRACE(level.name);
    // Rows of 2 vectors and more, ragged or not: lanes over the row.
    for (int64_t n : {int64_t{2} * vec, int64_t{2} * vec + 1, int64_t{1000}}) {
      OneOp r =
          Build(DType::kF32, {64, n}, [](Value x) { return Max(x, {1}); });
      const ReductionPlan p = PlanReduction(r.graph, r.y, target, false);
      EXPECT_TRUE(p.lanes) << n;
      EXPECT_FALSE(p.vector_out);
      EXPECT_EQ(p.vec, vec);
      // Long rows: four vectors of lanes (four chains of adds).
      EXPECT_EQ(p.width, n >= 16 * vec ? 4 * vec : vec) << n;
      EXPECT_EQ(p.extent, n);
      // The padded axis covers the row, with less than one vector per chunk
      // of padding.
      EXPECT_GE(p.chunks * p.blocks * p.width, n);
      EXPECT_LT((p.blocks - 1) * p.width, (n + p.chunks - 1) / p.chunks);
    }
    // A row shorter than two vectors is reduced serially.
    OneOp short_rows = Build(DType::kF32, {512, 2 * int64_t{vec} - 1},
                             [](Value x) { return Max(x, {1}); });
    EXPECT_FALSE(
        PlanReduction(short_rows.graph, short_rows.y, target, false).lanes);
  }
}

TEST(PlanReductionTest, AFlatInputFusesTheTrailingReducedAxesIntoTheLanes) {
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    const Halide::Target target = level.halide_target();
    SCOPED_TRACE(level.name);
    // A bias's gradient: [64, 64, 11, 11] over N, H and W. Read flat, the
    // lanes run over H W (121); otherwise over W alone (or not at all: 11
    // is shorter than two vectors of the f64 sum but on SSE).
    OneOp bias = Build(DType::kF32, {64, 64, 11, 11}, [](Value x) {
      return Sum(x, {0, 2, 3});
    });
    const ReductionPlan flat = PlanReduction(bias.graph, bias.y, target, true);
    EXPECT_TRUE(flat.lanes);
    EXPECT_EQ(flat.lane_axes, 2);
    EXPECT_EQ(flat.extent, 121);
    const ReductionPlan by_axis =
        PlanReduction(bias.graph, bias.y, target, false);
    EXPECT_EQ(by_axis.lanes, 11 >= 2 * by_axis.vec);
    if (by_axis.lanes) {
      EXPECT_EQ(by_axis.extent, 11);
    }
    // Only the trailing run of reduced axes: axis 1 is kept.
    OneOp gap = Build(DType::kF32, {4, 8, 6, 16}, [](Value x) {
      return Sum(x, {0, 2, 3});
    });
    const ReductionPlan g = PlanReduction(gap.graph, gap.y, target, true);
    EXPECT_EQ(g.lane_axes, 2);
    EXPECT_EQ(g.extent, 96);
    // Every axis: one lanes' axis over the whole tensor.
    OneOp all =
        Build(DType::kF32, {4, 8, 6, 16}, [](Value x) { return Sum(x); });
    const ReductionPlan a = PlanReduction(all.graph, all.y, target, true);
    EXPECT_EQ(a.lane_axes, 4);
    EXPECT_EQ(a.extent, 4 * 8 * 6 * 16);
  }
}

TEST(PlanReductionTest, FewOutputsFromALongAxisSplitIntoChunks) {
  const Halide::Target target = testing::FeatureLevels()[0].halide_target();
  OneOp r = Build(DType::kF32, {1 << 20}, [](Value x) { return Sum(x); });
  const ReductionPlan p = PlanReduction(r.graph, r.y, target, false);
  ASSERT_TRUE(p.lanes);
  EXPECT_GT(p.chunks, 1);
  EXPECT_LE(p.chunks, 64);
  EXPECT_FALSE(p.parallel_out) << "one output";
}

TEST(PlanReductionTest, NonLastAxisVectorizesTheKeptLastAxisInWholeVectors) {
  // The case of issue 6: max over axis 0 of [16, 17] and [33, 65]. The plan
  // vectorizes the kept last axis (rounded up to whole vectors: the schedule
  // pads the accumulator and clamps the reads, never a guarded tail).
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    const Halide::Target target = level.halide_target();
    SCOPED_TRACE(level.name);
    for (const Dims& dims : std::vector<Dims>{{16, 17}, {33, 65}}) {
      for (DType dt : {DType::kF32, DType::kF64}) {
        OneOp r = Build(dt, dims, [](Value x) { return Max(x, {0}); });
        const ReductionPlan p = PlanReduction(r.graph, r.y, target, false);
        EXPECT_FALSE(p.lanes);
        EXPECT_TRUE(p.vector_out) << dims[1];
        EXPECT_EQ(p.vec, target.natural_vector_size(dt == DType::kF32
                                                        ? Halide::Float(32)
                                                        : Halide::Float(64)));
      }
    }
    // Narrower than one vector, or too little work: serial.
    OneOp narrow =
        Build(DType::kF32, {4096, 3}, [](Value x) { return Max(x, {0}); });
    EXPECT_FALSE(
        PlanReduction(narrow.graph, narrow.y, target, false).vector_out);
    OneOp small =
        Build(DType::kF32, {2, 64}, [](Value x) { return Max(x, {0}); });
    EXPECT_FALSE(PlanReduction(small.graph, small.y, target, false).vector_out);
  }
}

TEST(PlanReductionTest, F32SumsVectorizeOverTheirF64Accumulator) {
  // f32 sums accumulate in f64 (half the lanes); max, and integer sums, in
  // their own type.
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    const Halide::Target target = level.halide_target();
    SCOPED_TRACE(level.name);
    OneOp sum =
        Build(DType::kF32, {64, 64}, [](Value x) { return Sum(x, {1}); });
    OneOp max =
        Build(DType::kF32, {64, 64}, [](Value x) { return Max(x, {1}); });
    OneOp isum =
        Build(DType::kI32, {64, 64}, [](Value x) { return Sum(x, {1}); });
    EXPECT_EQ(PlanReduction(sum.graph, sum.y, target, false).vec,
              target.natural_vector_size(Halide::Float(64)));
    EXPECT_EQ(PlanReduction(max.graph, max.y, target, false).vec,
              target.natural_vector_size(Halide::Float(32)));
    EXPECT_EQ(PlanReduction(isum.graph, isum.y, target, false).vec,
              target.natural_vector_size(Halide::Int(32)));
  }
}

TEST(ScanVectorizedTest, OnlyAcrossAWideNonScanLastAxis) {
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    const Halide::Target target = level.halide_target();
    const int64_t vec = target.natural_vector_size(Halide::Float(64));
    SCOPED_TRACE(level.name);
    auto vectorized = [&](const Dims& dims, int64_t axis) {
      OneOp r =
          Build(DType::kF32, dims, [axis](Value x) { return CumSum(x, axis); });
      return ScanVectorized(r.graph, r.y, target);
    };
    EXPECT_TRUE(vectorized({10, vec}, 0));
    EXPECT_TRUE(vectorized({10, 3 * vec + 1}, 0));
    EXPECT_FALSE(vectorized({10, vec - 1}, 0)) << "narrower than a vector";
    EXPECT_FALSE(vectorized({10, 64}, 1)) << "the scan axis is sequential";
    EXPECT_FALSE(vectorized({64}, 0));
  }
}

// reshape's source index for output index `o`, as integers.
std::vector<int64_t> Source(const Dims& in, const Dims& out,
                            const std::vector<int>& o) {
  Index index;
  for (int k : o) index.push_back(Expr(k));
  std::vector<int64_t> result;
  for (const Expr& e : ReshapeSource(in, out, index)) {
    const Expr s = Halide::Internal::simplify(e);
    const int64_t* k = Halide::Internal::as_const_int(s);
    EXPECT_NE(k, nullptr) << s;
    result.push_back(k ? *k : -1);
  }
  return result;
}

// Row-major flat index.
int64_t Flat(const Dims& dims, const std::vector<int64_t>& index) {
  int64_t f = 0;
  for (size_t d = 0; d < dims.size(); ++d) f = f * dims[d] + index[d];
  return f;
}

TEST(ReshapeSourceTest, MapsEveryElementToTheSameFlatIndex) {
  const std::vector<std::pair<Dims, Dims>> cases = {
      {{6}, {2, 3}},       {{2, 3}, {6}},       {{2, 3, 4}, {6, 4}},
      {{2, 3, 4}, {4, 6}}, {{4, 6}, {2, 3, 4}}, {{1, 6, 1}, {3, 1, 2}},
      {{2, 1, 3}, {3, 2}}, {{12}, {2, 2, 3}},   {{2, 6}, {3, 4}},
      {{5}, {1, 5, 1}},    {{1}, {}},           {{}, {1, 1}},
  };
  for (const auto& [in, out] : cases) {
    SCOPED_TRACE(::testing::PrintToString(in) + " -> " +
                 ::testing::PrintToString(out));
    const int64_t n = NumElements(out);
    for (int64_t f = 0; f < n; ++f) {
      std::vector<int> o(out.size());
      int64_t rest = f;
      for (size_t d = out.size(); d-- > 0;) {
        o[d] = static_cast<int>(rest % out[d]);
        rest /= out[d];
      }
      const std::vector<int64_t> src = Source(in, out, o);
      ASSERT_EQ(src.size(), in.size());
      for (size_t d = 0; d < in.size(); ++d) {
        EXPECT_GE(src[d], 0);
        EXPECT_LT(src[d], in[d]);
      }
      EXPECT_EQ(Flat(in, src), f);
    }
  }
}

// Three stages of kMaxFuncsPerStage outputs each, sin(a * c) - b for
// constants c: stage 0 reads x and y, stage 1 z and w with the same
// constants (the same function of other buffers), stage 2 x and y with
// other constants.
Graph ThreeStages() {
  GraphBuilder b("stages");
  Value x = b.Input("x", DType::kF32, {37});
  Value y = b.Input("y", DType::kF32, {37});
  Value z = b.Input("z", DType::kF32, {37});
  Value w = b.Input("w", DType::kF32, {37});
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < kMaxFuncsPerStage; ++i) {
      const double c = (s == 2 ? 0.25 : 0.5) + i;
      b.Output(absl::StrCat("o", s, "_", i),
               s == 1 ? Sin(z * c) - w : Sin(x * c) - y);
    }
  }
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

TEST(StageShapeTest, StagesComputingTheSameFunctionHaveOneShape) {
  const Graph g = ThreeStages();
  absl::StatusOr<LoweredGraph> lowered =
      LowerGraph(g, Halide::get_host_target(), LowerLimits{});
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ASSERT_EQ(lowered->stages.size(), 3u);
  const std::vector<LoweredStage>& st = lowered->stages;
  // Stage 1 computes sin(z * c) - w as stage 0 computes sin(x * c) - y.
  EXPECT_TRUE(SameShape(st[0], st[1]));
  // The same ops and wiring, other constants.
  EXPECT_EQ(st[0].shape, st[2].shape);
  EXPECT_FALSE(SameShape(st[0], st[2]));
  // Compiled: stage 1 calls stage 0's code, stage 2 has its own.
  absl::Status s =
      testing::ExpectCompiledMatchesInterpreter(g, testing::RandomFeeds(g, 5));
  EXPECT_TRUE(s.ok()) << s;
}

TEST(StageShapeTest, OperandOrderIsPartOfTheShape) {
  // Stage 1 computes y - e where stage 0 computes e - y: the same ops, the
  // subtraction's operands wired the other way round.
  GraphBuilder b("order");
  Value x = b.Input("x", DType::kF32, {37});
  Value y = b.Input("y", DType::kF32, {37});
  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < kMaxFuncsPerStage; ++i) {
      Value e = Exp(x * (0.5 + i));
      b.Output(absl::StrCat("o", s, "_", i), s == 0 ? e - y : y - e);
    }
  }
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<LoweredGraph> lowered =
      LowerGraph(*g, Halide::get_host_target(), LowerLimits{});
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ASSERT_EQ(lowered->stages.size(), 2u);
  EXPECT_NE(lowered->stages[0].shape, lowered->stages[1].shape);
  absl::Status s = testing::ExpectCompiledMatchesInterpreter(
      *g, testing::RandomFeeds(*g, 6));
  EXPECT_TRUE(s.ok()) << s;
}

// Element-wise outputs of one shape are one Tuple-valued Func (one loop
// nest), whatever their dtypes; an output of another shape, and one that
// another output reads, have loops of their own. Compiled on every feature
// level this CPU runs (bounds-checked ones included), shapes with remainders
// modulo every vector width, against the interpreter.
TEST(OutputTupleTest, SameShapeElementwiseOutputsShareOneLoopNest) {
  for (const Dims& dims : std::vector<Dims>{{37}, {3, 5, 19}}) {
    GraphBuilder b("tuple");
    Value x = b.Input("x", DType::kF32, dims);
    Value y = b.Input("y", DType::kF32, dims);
    Value shared = Exp(Sin(x) * Tanh(y));
    b.Output("a", shared + y);
    b.Output("c", Cast(shared, DType::kF64) * 2.0);
    b.Output("m", Lt(shared, x));
    b.Output("s", Sum(shared));
    Value d = Sigmoid(x) * y;
    b.Output("d", d);
    b.Output("e", d * x);
    absl::StatusOr<Graph> g = b.Build();
    ASSERT_TRUE(g.ok()) << g.status();
    absl::StatusOr<LoweredGraph> lowered =
        LowerGraph(*g, Halide::get_host_target(), LowerLimits{});
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    ASSERT_EQ(lowered->stages.size(), 1u);
    const LoweredStage& stage = lowered->stages[0];
    // a, c, m and e in one tuple; d (read by e) and s on their own.
    std::vector<int> tuple_sizes;
    for (const Halide::Func& f : stage.pipeline.outputs()) {
      tuple_sizes.push_back(f.outputs());
    }
    EXPECT_THAT(tuple_sizes, ::testing::UnorderedElementsAre(4, 1, 1));
    ASSERT_EQ(stage.outputs.size(), 6u);
    for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
      if (!testing::WhyNotRunnable(level).empty()) continue;
      const CompileOptions options = level.options();
      SCOPED_TRACE(options.target);
      absl::Status s = testing::ExpectCompiledMatchesInterpreter(
          *g, {testing::RandomFeeds(*g, 7)}, options, /*rtol_f32=*/1e-5,
          /*rtol_f64=*/1e-6);  // c is an f32 value (within an ulp) in f64.
      EXPECT_TRUE(s.ok()) << s;
    }
  }
}

// A product is summed with strict float arithmetic (no FMA contraction)
// only when LLVM could see a constant in an operand: one read inline from a
// constant leaf. An operand the plan stores (a ReLU's select with 0, a
// "matmul operand") is a buffer; the small CNN's products ran as separate
// multiplies and adds when this looked through stored values.
TEST(ReadsConstantTest, StopsAtValuesThePlanStores) {
  GraphBuilder b("strict");
  Value x = b.Input("x", DType::kF32, {8, 16});
  Value w = b.Input("w", DType::kF32, {16, 32});
  Value relu = Select(Gt(x, 0.0), x, ZerosLike(x));
  Value k = Constant(b, Tensor::FromDoubles(TensorType{DType::kF32, {16, 2}},
                                            std::vector<double>(32, 0.5)));
  b.Output("y", MatMul(relu, w));
  b.Output("z", MatMul(x, k));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  const Plan plan = MakePlan(*g);
  const ValueId y = g->outputs()[0].value, z = g->outputs()[1].value;
  const ValueId stored = g->node(y).inputs[0];
  EXPECT_EQ(plan.why[stored], "matmul operand");
  EXPECT_FALSE(ReadsConstant(*g, plan, stored));
  EXPECT_FALSE(ReadsConstant(*g, plan, g->node(y).inputs[1]));
  EXPECT_TRUE(ReadsConstant(*g, plan, g->node(z).inputs[1]));
}

// A convolution "y" of x [dims] by w [o, c, k, k] with padding k / 2.
OneOp ConvOf(const Dims& x_dims, int64_t o, int64_t k, int64_t stride) {
  return Build(DType::kF32, x_dims, [&](Value x) {
    WindowOptions w;
    w.strides = {stride, stride};
    w.pads_low = w.pads_high = {k / 2, k / 2};
    Value kernel = x.builder()->Input("w", DType::kF32, {o, x_dims[1], k, k});
    return Conv(x, kernel, std::nullopt, w);
  });
}

// Weight gradients by planes with few outputs and a long sum are dot
// products; more outputs, or a short sum, are register-tiled products.
TEST(PlanConvTest, FewOutputsFromALongSumAreDotProducts) {
  const LowerLimits limits;
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    const Halide::Target target = level.halide_target();
    const Halide::Type f32 = Halide::Float(32);
    const int vec = target.natural_vector_size(f32);
    SCOPED_TRACE(level.name);
    // The small CNN's first layer (1 -> 32 channels, 3x3, batch 64, 28x28):
    // its weight gradient sums 64 x 28 x 28 terms for 9 x 32 outputs.
    const int64_t k = 64 * 28 * 28;
    const DotPlan dot = PlanDot(9, 32, k, target, f32);
    ASSERT_GT(dot.chunks, 0);
    EXPECT_EQ(dot.vec, vec);
    EXPECT_GE(dot.padded_k(), k);
    EXPECT_LT(dot.padded_k(), k + dot.chunks * vec);
    EXPECT_GT(dot.chunks, 1) << "parallel over chunks of the sum";
    EXPECT_EQ(dot.rows * dot.cols + dot.rows + 1, vec == 16 ? 28 : 16)
        << "the accumulators fit the registers";
    // Its second layer's (288 x 64 outputs) and a short sum are not.
    EXPECT_EQ(PlanDot(288, 64, 64 * 13 * 13, target, f32).chunks, 0);
    EXPECT_EQ(PlanDot(9, 32, 100 * vec, target, f32).chunks, 0);
    // ops_e2e's conv2d_weights_dot: by planes on every level, as a dot
    // product (2 x 2 x 2 rows, 19 columns, 4 x 40 x 37 terms).
    OneOp c = Build(DType::kF32, {2, 4, 40, 37}, [](Value x) {
      Value w = x.builder()->Input("w", DType::kF32, {19, 4, 39, 36});
      return Conv(x, w);
    });
    EXPECT_EQ(PlanConv(c.graph, c.y, target, limits.max_conv_window_elements),
              ConvMethod::kWeightsByPlanes);
    EXPECT_GT(PlanDot(8, 19, 4 * 40 * 37, target, f32).chunks, 0);
  }
}

// ResNet-18's convolutions (batch 4): by rows or by planes, whichever
// computes fewer columns, rows when they tie.
TEST(PlanConvTest, FewerColumnsOfRowsOrPlanes) {
  const LowerLimits limits;
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    const Halide::Target target = level.halide_target();
    const int vec = target.natural_vector_size(Halide::Float(32));
    SCOPED_TRACE(level.name);
    auto plan = [&](const OneOp& c) {
      return PlanConv(c.graph, c.y, target, limits.max_conv_window_elements);
    };
    // 56 wide: rows of 64 columns (AVX-512: 4 vectors; AVX2: 4 panels of
    // 2) against 3264 (3248) per image by planes; with 4 lanes, rows of 7
    // panels of 8, no padding.
    EXPECT_EQ(plan(ConvOf({4, 64, 56, 56}, 64, 3, 1)),
              vec >= 8 ? ConvMethod::kByPlanes : ConvMethod::kByRows);
    // 28 wide: by planes, 29x29 (rows share their zero padding), 841
    // positions per image, 848 columns on AVX-512 (panels of 64) against
    // rows of 32 columns, 896 per image (on 30x30 planes, 900 positions,
    // rows had won there).
    EXPECT_EQ(plan(ConvOf({4, 128, 28, 28}, 128, 3, 1)), ConvMethod::kByPlanes);
    // Strided: rows only.
    EXPECT_EQ(plan(ConvOf({4, 64, 56, 56}, 128, 3, 2)), ConvMethod::kByRows);
    // 7x7: per image by planes (64 columns each); shorter than a vector,
    // except of 4 lanes: rows of 8 columns, 56 per image.
    EXPECT_EQ(plan(ConvOf({4, 512, 7, 7}, 512, 3, 1)),
              vec == 4 ? ConvMethod::kByRows : ConvMethod::kByPlanes);
    // A 1x1 convolution with stride 2 to 7x7: flattened columns (by rows
    // of 8 with 4 lanes).
    EXPECT_EQ(plan(ConvOf({4, 256, 14, 14}, 512, 1, 2)),
              vec == 4 ? ConvMethod::kByRows : ConvMethod::kFlattened);
  }
}

}  // namespace
}  // namespace adc::codegen::lowering
