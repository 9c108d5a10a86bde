// The matmul register block fits the vector registers of every x86-64
// feature level (16 with SSE and AVX2, 32 with AVX-512): rows x vectors
// accumulators, the vectors of b loaded per step and one broadcast of a.
#include <string>
#include <vector>

#include "codegen/lowering.h"
#include "codegen/testing.h"
#include "gtest/gtest.h"

namespace adc::codegen::lowering {
namespace {

TEST(PlanMatMulTest, BlockFitsTheRegistersOfEveryLevel) {
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    const Halide::Target target = level.halide_target();
    const int registers = target.has_feature(Halide::Target::AVX512) ? 32 : 16;
    for (Halide::Type t : {Halide::Float(32), Halide::Float(64)}) {
      const int vec = target.natural_vector_size(t);
      for (int64_t m : std::vector<int64_t>{1, 3, 6, 7, 256}) {
        for (int64_t n : std::vector<int64_t>{
                 1, int64_t{vec} - 1, int64_t{vec}, 2 * int64_t{vec},
                 3 * int64_t{vec} + 1, 4 * int64_t{vec} - vec / 4, 512}) {
          if (n < 1) continue;
          SCOPED_TRACE(level.name + " " + (t.bits() == 32 ? "f32 " : "f64 ") +
                       std::to_string(m) + "x" + std::to_string(n));
          const MatMulBlock b = PlanMatMul(m, n, target, t);
          if (n < vec) {
            EXPECT_EQ(b.cols, 0) << "narrower than one vector";
            continue;
          }
          ASSERT_GT(b.cols, 0);
          EXPECT_EQ(b.cols % vec, 0);
          // At most the vectors n needs, and at most a quarter of n of
          // padding.
          EXPECT_LE(b.cols, (n + vec - 1) / vec * vec);
          EXPECT_LE((b.cols - std::min<int64_t>(b.cols, n)) * 4, n);
          EXPECT_GE(b.rows, 1);
          EXPECT_LE(b.rows, m);
          const int vectors = b.cols / vec;
          EXPECT_LE(b.rows * vectors + vectors + 1, registers);
        }
      }
    }
  }
}

TEST(PlanMatMulTest, WideProductsUseTheMeasuredBlocks) {
  // AVX-512: 6 rows x 4 vectors; SSE and AVX2: 6 rows x 2 vectors.
  for (const testing::FeatureLevel& level : testing::FeatureLevels()) {
    if (level.target == "host") continue;
    SCOPED_TRACE(level.name);
    const Halide::Target target = level.halide_target();
    const int vec = target.natural_vector_size(Halide::Float(32));
    const MatMulBlock b = PlanMatMul(256, 512, target, Halide::Float(32));
    EXPECT_EQ(b.rows, 6);
    EXPECT_EQ(b.cols,
              (target.has_feature(Halide::Target::AVX512) ? 4 : 2) * vec);
  }
}

}  // namespace
}  // namespace adc::codegen::lowering
