#include "codegen/bounds_check.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace adc::codegen {
namespace {

struct Report {
  std::string buffer;
  int first, last, elements;
};
std::vector<Report> reports;

// Stands in for the artifact's adc_bounds_error (which aborts): records the
// report and lets the access go ahead (the test's buffers have room).
int RecordBoundsError(const char* buffer, int first, int last, int elements) {
  reports.push_back({buffer, first, last, elements});
  return 0;
}

// f(x) = in(x + shift) * 2 over 8 elements of an input declared to hold 8
// (its memory holds 16, so an access past the end is safe here), compiled
// without Halide's assertions, as adc compiles, with the pass.
std::vector<Report> RunShifted(int shift, bool vectorize) {
  reports.clear();
  Halide::ImageParam in(Halide::Float(32), 1, "in_0");
  in.dim(0).set_bounds(0, 8);
  Halide::Var x("x");
  Halide::Func f("f");
  f(x) = in(x + shift) * 2.0f;
  f.output_buffer().dim(0).set_bounds(0, 8);
  if (vectorize) f.vectorize(x, 8);
  Halide::Pipeline p(f);
  auto* pass = new BoundsCheck();
  p.add_custom_lowering_pass(pass, [pass] { delete pass; });
  p.set_jit_externs(
      {{"adc_bounds_error", Halide::JITExtern(RecordBoundsError)}});
  Halide::Buffer<float> storage(16);
  storage.fill(1.0f);
  Halide::Buffer<float> view = storage;  // Shares the storage.
  view.crop(0, 0, 8);
  in.set(view);
  Halide::Buffer<float> out(8);
  p.realize(out, Halide::get_jit_target_from_environment()
                     .with_feature(Halide::Target::NoAsserts)
                     .with_feature(Halide::Target::NoBoundsQuery));
  return reports;
}

TEST(BoundsCheckTest, InBoundsAccessesPass) {
  EXPECT_TRUE(RunShifted(0, false).empty());
  EXPECT_TRUE(RunShifted(0, true).empty());
}

TEST(BoundsCheckTest, ScalarLoadPastTheEnd) {
  std::vector<Report> r = RunShifted(1, false);
  ASSERT_EQ(r.size(), 1u);  // x = 7 reads in[8].
  EXPECT_EQ(r[0].buffer, "in_0");
  EXPECT_EQ(r[0].first, 8);
  EXPECT_EQ(r[0].last, 8);
  EXPECT_EQ(r[0].elements, 8);
}

TEST(BoundsCheckTest, VectorLoadPastTheEnd) {
  std::vector<Report> r = RunShifted(3, true);
  ASSERT_EQ(r.size(), 1u);  // One vector: in[3..10].
  EXPECT_EQ(r[0].first, 3);
  EXPECT_EQ(r[0].last, 10);
}

TEST(BoundsCheckTest, LoadBeforeTheStart) {
  std::vector<Report> r = RunShifted(-2, false);
  ASSERT_EQ(r.size(), 2u);  // x = 0 and 1 read in[-2] and in[-1].
  EXPECT_EQ(r[0].first, -2);
  EXPECT_EQ(r[1].first, -1);
}

}  // namespace
}  // namespace adc::codegen
