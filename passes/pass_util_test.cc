#include "passes/pass_util.h"

#include <cmath>

#include "gtest/gtest.h"
#include "passes/pass_test_util.h"

namespace adc::passes {
namespace {

Tensor Vec(std::vector<double> v, DType dtype = DType::kF64) {
  const int64_t n = v.size();
  return Tensor::FromDoubles(TensorType{dtype, {n}}, std::move(v));
}

TEST(PassUtilTest, IdenticalTensorsComparesBits) {
  EXPECT_TRUE(IdenticalTensors(Vec({1, NAN}), Vec({1, -NAN})));
  // Tensor::operator== is numeric: -0 == +0. Passes must not merge them.
  EXPECT_EQ(Vec({0.0}), Vec({-0.0}));
  EXPECT_FALSE(IdenticalTensors(Vec({0.0}), Vec({-0.0})));
  EXPECT_FALSE(IdenticalTensors(Vec({1}), Vec({1}, DType::kF32)));
  Attrs a, b;
  a.Set("value", 0.0);
  b.Set("value", -0.0);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(IdenticalAttrs(a, b));
  EXPECT_NE(HashAttrs(a), HashAttrs(b));
}

TEST(PassUtilTest, IsUniform) {
  EXPECT_TRUE(IsUniform(Vec({2, 2, 2})));
  EXPECT_TRUE(IsUniform(Vec({NAN, NAN})));
  EXPECT_FALSE(IsUniform(Vec({0.0, -0.0})));
  EXPECT_FALSE(IsUniform(Vec({})));
}

TEST(PassUtilTest, RecognizesSplats) {
  using pass_test::Constant;
  using pass_test::Input;
  using pass_test::IntsAttr;
  using pass_test::Node;
  using pass_test::Output;
  Graph g = pass_test::Parse(
      Input("x", "F32") + pass_test::Splat("s", "F32", -0.0, {2, 3}) +
      Constant("c", "F32", {2}, {4, 4}) + Constant("v", "F32", {2}, {4, 5}) +
      Node("bx", "broadcast_to", {"x"}, IntsAttr("shape", {2})) +
      Constant("one", "F32", {1, 1}, {7}) +
      Node("b1", "broadcast_to", {"one"}, IntsAttr("shape", {3, 3})) +
      Output("s", "s") + Output("c", "c") + Output("v", "v") +
      Output("bx", "bx") + Output("b1", "b1"));
  auto id = [&](const char* name) { return *g.Find(name); };
  std::optional<Tensor> s = SplatValue(g, id("s"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->type(), (TensorType{DType::kF32, {}}));
  EXPECT_TRUE(std::signbit(s->doubles()[0]));
  EXPECT_TRUE(IsSplatOf(g, id("s"), -0.0));
  EXPECT_FALSE(IsSplatOf(g, id("s"), 0.0));
  EXPECT_TRUE(IsSplatOf(g, id("c"), 4));
  EXPECT_FALSE(SplatValue(g, id("v")).has_value());
  EXPECT_TRUE(AllElements(g, id("v"), [](double v) { return v > 3; }));
  EXPECT_FALSE(SplatValue(g, id("bx")).has_value());
  EXPECT_FALSE(AllElements(g, id("bx"), [](double) { return true; }));
  EXPECT_TRUE(IsSplatOf(g, id("b1"), 7));
}

}  // namespace
}  // namespace adc::passes
