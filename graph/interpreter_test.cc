// The reference interpreter: kernel values per op family (including integer
// semantics and NaN propagation), feeding errors and parameter overrides.
#include "graph/interpreter.h"

#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "gtest/gtest.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();

Tensor F(Dims dims, std::vector<double> v, DType dtype = DType::kF64) {
  return Tensor::FromDoubles(TensorType{dtype, std::move(dims)}, std::move(v));
}
Tensor I(Dims dims, std::vector<int64_t> v, DType dtype = DType::kI32) {
  return Tensor::FromInts(TensorType{dtype, std::move(dims)}, std::move(v));
}

// Builds y = f(x) for an input x like `x0` and evaluates it.
Tensor Eval(const std::function<Value(Value)>& f, const Tensor& x0) {
  GraphBuilder b;
  Value x = b.Input("x", x0.dtype(), x0.dims());
  b.Output("y", f(x));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return Tensor();
  auto out = Interpret(*g, {{"x", x0}});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? out->at("y") : Tensor();
}

// y = f(a, b).
Tensor Eval2(const std::function<Value(Value, Value)>& f, const Tensor& a0,
             const Tensor& b0) {
  GraphBuilder b;
  Value a = b.Input("a", a0.dtype(), a0.dims());
  Value c = b.Input("b", b0.dtype(), b0.dims());
  b.Output("y", f(a, c));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return Tensor();
  auto out = Interpret(*g, {{"a", a0}, {"b", b0}});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? out->at("y") : Tensor();
}

// --- Element-wise floating point --------------------------------------------

TEST(InterpreterTest, UnaryFloat) {
  const Tensor x = F({4}, {-2, -0.5, 0.5, 2});
  EXPECT_EQ(Eval([](Value v) { return Abs(v); }, x), F({4}, {2, 0.5, 0.5, 2}));
  EXPECT_EQ(Eval([](Value v) { return -v; }, x), F({4}, {2, 0.5, -0.5, -2}));
  EXPECT_EQ(Eval([](Value v) { return Sign(v); }, x), F({4}, {-1, -1, 1, 1}));
  EXPECT_EQ(
      Eval([](Value v) { return Exp(v); }, x),
      F({4}, {std::exp(-2.0), std::exp(-0.5), std::exp(0.5), std::exp(2.0)}));
  EXPECT_EQ(Eval([](Value v) { return Tanh(v); }, x),
            F({4}, {std::tanh(-2.0), std::tanh(-0.5), std::tanh(0.5),
                    std::tanh(2.0)}));
  EXPECT_EQ(
      Eval([](Value v) { return Erf(v); }, x),
      F({4}, {std::erf(-2.0), std::erf(-0.5), std::erf(0.5), std::erf(2.0)}));
  // Outside the domain: NaN and infinities, as IEEE says.
  const Tensor y = Eval([](Value v) { return Log(v); }, F({3}, {-1, 0, 1}));
  EXPECT_TRUE(std::isnan(y.GetDouble(0)));
  EXPECT_EQ(y.GetDouble(1), -kInf);
  EXPECT_EQ(y.GetDouble(2), 0);
  EXPECT_TRUE(std::isnan(
      Eval([](Value v) { return Sqrt(v); }, F({1}, {-1})).GetDouble(0)));
  // sign keeps 0, -0 and NaN.
  const Tensor s =
      Eval([](Value v) { return Sign(v); }, F({3}, {0.0, -0.0, kNaN}));
  EXPECT_EQ(s.GetDouble(0), 0);
  EXPECT_TRUE(std::signbit(s.GetDouble(1)));
  EXPECT_TRUE(std::isnan(s.GetDouble(2)));
}

TEST(InterpreterTest, SigmoidIsStable) {
  const Tensor y =
      Eval([](Value v) { return Sigmoid(v); }, F({4}, {-1000, -40, 0, 1000}));
  EXPECT_EQ(y.GetDouble(0), 0);
  EXPECT_NEAR(y.GetDouble(1), std::exp(-40.0), 1e-30);
  EXPECT_EQ(y.GetDouble(2), 0.5);
  EXPECT_EQ(y.GetDouble(3), 1);
}

TEST(InterpreterTest, F32ResultsAreRoundedPerOp) {
  const Tensor y =
      Eval([](Value v) { return 1.0 / v; }, F({1}, {3}, DType::kF32));
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(y.GetDouble(0), static_cast<double>(1.0f / 3.0f));
  // 2^24 + 1 is not an f32.
  const Tensor z =
      Eval([](Value v) { return v + 1.0; }, F({1}, {16777216}, DType::kF32));
  EXPECT_EQ(z.GetDouble(0), 16777216);
}

TEST(InterpreterTest, BinaryFloat) {
  const Tensor a = F({4}, {1, -2, 3, 0});
  const Tensor b = F({4}, {2, 4, -0.5, 0});
  EXPECT_EQ(Eval2([](Value x, Value y) { return x - y; }, a, b),
            F({4}, {-1, -6, 3.5, 0}));
  const Tensor q = Eval2([](Value x, Value y) { return x / y; }, a, b);
  EXPECT_EQ(q.GetDouble(0), 0.5);
  EXPECT_TRUE(std::isnan(q.GetDouble(3)));  // 0 / 0.
  EXPECT_EQ(Eval2([](Value x, Value y) { return Pow(x, y); }, F({2}, {2, 9}),
                  F({2}, {3, 0.5})),
            F({2}, {8, 3}));
  // mul_no_nan: 0 wherever the second operand is 0, even for inf and NaN.
  EXPECT_EQ(Eval2([](Value x, Value y) { return MulNoNan(x, y); },
                  F({3}, {kInf, kNaN, 2}), F({3}, {0, 0, 3})),
            F({3}, {0, 0, 6}));
}

TEST(InterpreterTest, MaximumAndMinimumPropagateNaN) {
  const Tensor a = F({4}, {kNaN, 1, 2, -0.5});
  const Tensor b = F({4}, {1, kNaN, 3, -1});
  const Tensor mx = Eval2([](Value x, Value y) { return Maximum(x, y); }, a, b);
  EXPECT_TRUE(std::isnan(mx.GetDouble(0)));
  EXPECT_TRUE(std::isnan(mx.GetDouble(1)));
  EXPECT_EQ(mx.GetDouble(2), 3);
  EXPECT_EQ(mx.GetDouble(3), -0.5);
  const Tensor mn = Eval2([](Value x, Value y) { return Minimum(x, y); }, a, b);
  EXPECT_TRUE(std::isnan(mn.GetDouble(0)));
  EXPECT_TRUE(std::isnan(mn.GetDouble(1)));
  EXPECT_EQ(mn.GetDouble(2), 2);
  EXPECT_EQ(mn.GetDouble(3), -1);
}

TEST(InterpreterTest, ComparisonsAndSelect) {
  const Tensor a = F({4}, {1, 2, kNaN, -0.0});
  const Tensor b = F({4}, {2, 2, kNaN, 0.0});
  EXPECT_EQ(Eval2([](Value x, Value y) { return Lt(x, y); }, a, b),
            I({4}, {1, 0, 0, 0}, DType::kBool));
  EXPECT_EQ(Eval2([](Value x, Value y) { return Le(x, y); }, a, b),
            I({4}, {1, 1, 0, 1}, DType::kBool));
  EXPECT_EQ(Eval2([](Value x, Value y) { return Eq(x, y); }, a, b),
            I({4}, {0, 1, 0, 1}, DType::kBool));
  EXPECT_EQ(Eval2([](Value x, Value y) { return Ne(x, y); }, a, b),
            I({4}, {1, 0, 1, 0}, DType::kBool));
  EXPECT_EQ(Eval2([](Value x, Value y) { return Ge(x, y); }, a, b),
            I({4}, {0, 1, 0, 1}, DType::kBool));
  EXPECT_EQ(Eval2([](Value x, Value y) { return Gt(x, y); }, a, b),
            I({4}, {0, 0, 0, 0}, DType::kBool));
  EXPECT_EQ(Eval2([](Value x, Value y) { return Select(Gt(x, 1.5), x, y); },
                  F({3}, {1, 2, 3}), F({3}, {-1, -2, -3})),
            F({3}, {-1, 2, 3}));
}

// --- Integer semantics ------------------------------------------------------

TEST(InterpreterTest, IntegersWrapAround) {
  const Tensor a = I({3}, {kI32Max, kI32Min, 65536});
  const Tensor b = I({3}, {1, -1, 65536});
  EXPECT_EQ(Eval2([](Value x, Value y) { return x + y; }, a, b),
            I({3}, {kI32Min, kI32Max, 131072}));
  EXPECT_EQ(Eval2([](Value x, Value y) { return x * y; }, a, b),
            I({3}, {kI32Max, kI32Min, 0}));
  EXPECT_EQ(Eval([](Value x) { return -x; }, a),
            I({3}, {-kI32Max, kI32Min, -65536}));
  EXPECT_EQ(Eval([](Value x) { return Abs(x); }, a),
            I({3}, {kI32Max, kI32Min, 65536}));
  const Tensor l = I({2}, {kI64Max, kI64Min}, DType::kI64);
  EXPECT_EQ(Eval([](Value x) { return x + 1; }, l),
            I({2}, {kI64Min, kI64Min + 1}, DType::kI64));
  EXPECT_EQ(Eval([](Value x) { return x - 1; }, l),
            I({2}, {kI64Max - 1, kI64Max}, DType::kI64));
  EXPECT_EQ(Eval([](Value x) { return Sum(x); }, I({3}, {kI32Max, 1, 1})),
            I({}, {kI32Min + 1}));
  EXPECT_EQ(Eval([](Value x) { return Prod(x); }, I({2}, {65536, 65537})),
            I({}, {65536}));
  EXPECT_EQ(Eval([](Value x) { return CumSum(x, 0); }, I({2}, {kI32Max, 1})),
            I({2}, {kI32Max, kI32Min}));
  EXPECT_EQ(Eval([](Value x) { return CumSum(x, 0); },
                 I({2}, {kI64Max, 1}, DType::kI64)),
            I({2}, {kI64Max, kI64Min}, DType::kI64));
  EXPECT_EQ(Eval([](Value x) { return MatMul(x, x); }, I({2}, {65536, 65536})),
            I({}, {0}));
}

TEST(InterpreterTest, IntegerDivisionTruncatesTowardZero) {
  const Tensor a = I({8}, {7, -7, 7, -7, 5, 0, kI32Min, -1});
  const Tensor b = I({8}, {2, 2, -2, -2, 0, 0, -1, 3});
  EXPECT_EQ(Eval2([](Value x, Value y) { return x / y; }, a, b),
            I({8}, {3, -3, -3, 3, 0, 0, kI32Min, 0}));
  const Tensor l = I({3}, {kI64Min, kI64Min, 9}, DType::kI64);
  const Tensor m = I({3}, {-1, 0, -4}, DType::kI64);
  EXPECT_EQ(Eval2([](Value x, Value y) { return x / y; }, l, m),
            I({3}, {kI64Min, 0, -2}, DType::kI64));
}

TEST(InterpreterTest, IntegerComparisonsAndExtrema) {
  const Tensor a = I({3}, {kI64Min, 0, kI64Max}, DType::kI64);
  const Tensor b = I({3}, {kI64Max, 0, kI64Min}, DType::kI64);
  EXPECT_EQ(Eval2([](Value x, Value y) { return Lt(x, y); }, a, b),
            I({3}, {1, 0, 0}, DType::kBool));
  EXPECT_EQ(Eval2([](Value x, Value y) { return Maximum(x, y); }, a, b),
            I({3}, {kI64Max, 0, kI64Max}, DType::kI64));
  EXPECT_EQ(Eval([](Value x) { return Max(x); }, a),
            I({}, {kI64Max}, DType::kI64));
  EXPECT_EQ(Eval([](Value x) { return Min(x); }, a),
            I({}, {kI64Min}, DType::kI64));
  EXPECT_EQ(Eval([](Value x) { return Sign(x); }, a),
            I({3}, {-1, 0, 1}, DType::kI64));
}

TEST(InterpreterTest, Casts) {
  const Tensor x = F({7}, {2.7, -2.7, 0.5, kNaN, 1e20, -kInf, 3e9});
  EXPECT_EQ(Eval([](Value v) { return Cast(v, DType::kI32); }, x),
            I({7}, {2, -2, 0, 0, 0, 0, 0}));
  EXPECT_EQ(Eval([](Value v) { return Cast(v, DType::kI64); }, x),
            I({7}, {2, -2, 0, 0, 0, 0, 3000000000}, DType::kI64));
  EXPECT_EQ(Eval([](Value v) { return Cast(v, DType::kBool); }, x),
            I({7}, {1, 1, 1, 1, 1, 1, 1}, DType::kBool));
  EXPECT_EQ(
      Eval([](Value v) { return Cast(v, DType::kBool); }, F({2}, {0.0, -0.0})),
      I({2}, {0, 0}, DType::kBool));
  EXPECT_EQ(Eval([](Value v) { return Cast(v, DType::kI32); },
                 I({2}, {kI32Max + 1, -1}, DType::kI64)),
            I({2}, {kI32Min, -1}));
  EXPECT_EQ(Eval([](Value v) { return Cast(v, DType::kF32); }, F({1}, {0.1})),
            F({1}, {static_cast<double>(0.1f)}, DType::kF32));
  EXPECT_EQ(Eval([](Value v) { return Cast(v, DType::kF64); },
                 I({2}, {1, 0}, DType::kBool)),
            F({2}, {1, 0}));
}

// --- Data movement ----------------------------------------------------------

TEST(InterpreterTest, GatherNegativeAndClampedIndices) {
  const Tensor x = F({4}, {10, 20, 30, 40});
  GraphBuilder b;
  Value xv = b.Input("x", DType::kF64, {4});
  Value idx = b.Input("i", DType::kI64, {2, 3});
  b.Output("y", Gather(xv, idx));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  auto out = Interpret(
      *g,
      {{"x", x}, {"i", I({2, 3}, {-1, 0, 5, -7, 2, kI64Max}, DType::kI64)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y"), F({2, 3}, {40, 10, 40, 10, 30, 40}));
}

TEST(InterpreterTest, GatherAndScatterAddOnAnInnerAxis) {
  const Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Gather(v, Constant(*v.builder(), I({2}, {2, -3})), 1);
                },
                x),
            F({2, 2}, {3, 1, 6, 4}));
  // Duplicates accumulate; negative indices count from the end.
  EXPECT_EQ(Eval(
                [](Value v) {
                  GraphBuilder& b = *v.builder();
                  return ScatterAdd(
                      v, Constant(b, I({3}, {0, -3, 2})),
                      Constant(b, F({2, 3}, {10, 20, 30, 40, 50, 60})), 1);
                },
                x),
            F({2, 3}, {31, 2, 33, 94, 5, 66}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  GraphBuilder& b = *v.builder();
                  return ScatterAdd(v, Constant(b, I({1}, {9})),
                                    Constant(b, F({1, 3}, {1, 1, 1})), 0);
                },
                x),
            F({2, 3}, {1, 2, 3, 5, 6, 7}));
}

TEST(InterpreterTest, PadWithInterior) {
  EXPECT_EQ(
      Eval([](Value v) { return Pad(v, {1}, {2}, 9, {1}); }, F({3}, {1, 2, 3})),
      F({8}, {9, 1, 9, 2, 9, 3, 9, 9}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Pad(v, {0, 1}, {1, 0}, 0, {1, 0});
                },
                F({2, 2}, {1, 2, 3, 4})),
            F({4, 3}, {0, 1, 2,  //
                       0, 0, 0,  //
                       0, 3, 4,  //
                       0, 0, 0}));
  // Negative amounts crop.
  EXPECT_EQ(
      Eval([](Value v) { return Pad(v, {-1}, {-2}); }, F({5}, {1, 2, 3, 4, 5})),
      F({2}, {2, 3}));
  EXPECT_EQ(
      Eval([](Value v) { return Pad(v, {-1}, {1}, 7); }, I({3}, {1, 2, 3})),
      I({3}, {2, 3, 7}));
}

TEST(InterpreterTest, SliceWithNegativeStrides) {
  std::vector<double> ten(10);
  for (int i = 0; i < 10; ++i) ten[i] = i;
  const Tensor x = F({10}, ten);
  EXPECT_EQ(Eval([](Value v) { return Slice(v, {8}, {-1}, {-3}); }, x),
            F({3}, {8, 5, 2}));
  EXPECT_EQ(Eval([](Value v) { return Slice(v, {9}, {-1}, {-1}); }, x),
            F({10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(Eval([](Value v) { return Slice(v, {1}, {8}, {3}); }, x),
            F({3}, {1, 4, 7}));
  EXPECT_EQ(Eval([](Value v) { return Slice(v, {4}, {4}, {1}); }, x),
            F({0}, {}));
  // NumPy x[::-2], x[-2:2:-3], x[7:100].
  EXPECT_EQ(Eval(
                [](Value v) {
                  return SliceAxis(v, 0, std::nullopt, std::nullopt, -2);
                },
                x),
            F({5}, {9, 7, 5, 3, 1}));
  EXPECT_EQ(Eval([](Value v) { return SliceAxis(v, 0, -2, 2, -3); }, x),
            F({2}, {8, 5}));
  EXPECT_EQ(Eval([](Value v) { return SliceAxis(v, 0, 7, 100); }, x),
            F({3}, {7, 8, 9}));
  EXPECT_EQ(Eval([](Value v) { return SliceAxis(v, 0, -100, 2); }, x),
            F({2}, {0, 1}));
  const Tensor m = F({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Slice(v, {2, 0}, {-1, 3}, {-2, 2});
                },
                m),
            F({2, 2}, {7, 9, 1, 3}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Reverse(v, {0, 1});
                },
                m),
            F({3, 3}, {9, 8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(Eval([](Value v) { return Index(v, -1, 1); }, m),
            F({3}, {3, 6, 9}));
}

TEST(InterpreterTest, CumSumVariants) {
  const Tensor x = F({4}, {1, 2, 3, 4});
  EXPECT_EQ(Eval([](Value v) { return CumSum(v, 0); }, x),
            F({4}, {1, 3, 6, 10}));
  EXPECT_EQ(Eval([](Value v) { return CumSum(v, 0, true); }, x),
            F({4}, {0, 1, 3, 6}));
  EXPECT_EQ(Eval([](Value v) { return CumSum(v, 0, false, true); }, x),
            F({4}, {10, 9, 7, 4}));
  EXPECT_EQ(Eval([](Value v) { return CumSum(v, 0, true, true); }, x),
            F({4}, {9, 7, 4, 0}));
  const Tensor m = F({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(Eval([](Value v) { return CumSum(v, 1); }, m),
            F({2, 3}, {1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(Eval([](Value v) { return CumSum(v, -2, false, true); }, m),
            F({2, 3}, {5, 7, 9, 4, 5, 6}));
}

TEST(InterpreterTest, ShapeOps) {
  const Tensor m = F({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(Eval([](Value v) { return Transpose(v); }, m),
            F({3, 2}, {1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Reshape(v, {3, 2});
                },
                m),
            F({3, 2}, {1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return BroadcastTo(v, {2, 2, 3});
                },
                m),
            F({2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return BroadcastTo(Reshape(v, {2, 1, 3}), {2, 2, 3});
                },
                m),
            F({2, 2, 3}, {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Concat({v, v * 10.0}, 1);
                },
                m),
            F({2, 6}, {1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Concat({v, Slice(v, {0, 0}, {1, 3})}, 0);
                },
                m),
            F({3, 3}, {1, 2, 3, 4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Iota(*v.builder(), DType::kI32, {2, 3}, 1);
                },
                m),
            I({2, 3}, {0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Arange(*v.builder(), 1, -1, -0.5, DType::kF64);
                },
                m),
            F({4}, {1, 0.5, 0, -0.5}));
}

TEST(InterpreterTest, MatMul) {
  const Tensor a = F({2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0});
  const Tensor b = F({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(Eval2([](Value x, Value y) { return MatMul(x, y); }, a, b),
            F({2, 2, 2}, {22, 28, 49, 64, 1, 2, 3, 4}));
  EXPECT_EQ(Eval2([](Value x, Value y) { return Dot(x, y); }, F({3}, {1, 2, 3}),
                  F({3}, {4, 5, 6})),
            F({}, {32}));
}

// --- Reductions -------------------------------------------------------------

TEST(InterpreterTest, ReductionsWithKeepDims) {
  const Tensor m = F({2, 3}, {1, -2, 3, 4, 5, -6});
  EXPECT_EQ(Eval([](Value v) { return Sum(v, {1}, true); }, m),
            F({2, 1}, {2, 3}));
  EXPECT_EQ(Eval([](Value v) { return Sum(v, {0}); }, m), F({3}, {5, 3, -3}));
  EXPECT_EQ(Eval(
                [](Value v) {
                  return Sum(v, {0, 1}, true);
                },
                m),
            F({1, 1}, {5}));
  EXPECT_EQ(Eval([](Value v) { return Max(v, {-1}, true); }, m),
            F({2, 1}, {3, 5}));
  EXPECT_EQ(Eval([](Value v) { return Min(v, {0}, true); }, m),
            F({1, 3}, {1, -2, -6}));
  EXPECT_EQ(Eval([](Value v) { return Prod(v, {1}); }, m), F({2}, {-6, -120}));
  EXPECT_EQ(Eval([](Value v) { return Mean(v, {0}, true); }, m),
            F({1, 3}, {2.5, 1.5, -1.5}));
  EXPECT_EQ(Eval([](Value v) { return Max(v); }, m), F({}, {5}));
  // Over an empty axis: the identity of the reduction.
  const Tensor e = F({0, 2}, {});
  EXPECT_EQ(Eval([](Value v) { return Sum(v, {0}); }, e), F({2}, {0, 0}));
  EXPECT_EQ(Eval([](Value v) { return Prod(v, {0}); }, e), F({2}, {1, 1}));
  EXPECT_EQ(Eval([](Value v) { return Max(v, {0}); }, e),
            F({2}, {-kInf, -kInf}));
}

TEST(InterpreterTest, ReduceMaxAndMinPropagateNaN) {
  const Tensor m = F({2, 3}, {1, kNaN, 3, 4, 5, 6});
  const Tensor mx = Eval([](Value v) { return Max(v, {1}); }, m);
  EXPECT_TRUE(std::isnan(mx.GetDouble(0)));
  EXPECT_EQ(mx.GetDouble(1), 6);
  const Tensor mn = Eval([](Value v) { return Min(v, {1}); }, m);
  EXPECT_TRUE(std::isnan(mn.GetDouble(0)));
  EXPECT_EQ(mn.GetDouble(1), 4);
  // NaN first or last: still NaN.
  EXPECT_TRUE(std::isnan(
      Eval([](Value v) { return Max(v); }, F({3}, {kNaN, 1, 2})).GetDouble(0)));
  EXPECT_TRUE(std::isnan(
      Eval([](Value v) { return Max(v); }, F({3}, {1, 2, kNaN})).GetDouble(0)));
  EXPECT_TRUE(
      std::isnan(Eval([](Value v) { return Sum(v); }, F({2}, {kInf, -kInf}))
                     .GetDouble(0)));
}

// --- Feeds and parameters ---------------------------------------------------

class FeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GraphBuilder b;
    Value x = b.Input("x", DType::kF32, {2});
    b.Input("unused", DType::kF32, {});
    Value w = b.Parameter("w", F({2}, {10, 20}, DType::kF32));
    b.Output("y", x * w);
    b.Output("w_out", w);
    absl::StatusOr<Graph> g = b.Build();
    ASSERT_TRUE(g.ok()) << g.status();
    graph_ = *std::move(g);
  }
  std::string Error(const std::map<std::string, Tensor>& feeds) {
    auto out = Interpret(graph_, feeds);
    EXPECT_FALSE(out.ok());
    return out.ok() ? "" : std::string(out.status().message());
  }
  Graph graph_;
};

TEST_F(FeedTest, StoredParameterValues) {
  auto out = Interpret(graph_, {{"x", F({2}, {1, 2}, DType::kF32)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y"), F({2}, {10, 40}, DType::kF32));
  EXPECT_EQ(out->at("w_out"), F({2}, {10, 20}, DType::kF32));
}

TEST_F(FeedTest, ParameterOverride) {
  auto out = Interpret(graph_, {{"x", F({2}, {1, 2}, DType::kF32)},
                                {"w", F({2}, {-1, 0.5}, DType::kF32)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y"), F({2}, {-1, 1}, DType::kF32));
  EXPECT_EQ(out->at("w_out"), F({2}, {-1, 0.5}, DType::kF32));
  // The stored value is unchanged.
  EXPECT_EQ(graph_.node(*graph_.Find("w")).attrs.GetTensor("value"),
            F({2}, {10, 20}, DType::kF32));
}

TEST_F(FeedTest, MissingInput) {
  EXPECT_EQ(Error({}), "input 'x' (f32[2]) was not fed");
  EXPECT_EQ(Error({{"w", F({2}, {1, 1}, DType::kF32)}}),
            "input 'x' (f32[2]) was not fed");
}

TEST_F(FeedTest, WrongType) {
  EXPECT_EQ(Error({{"x", F({2}, {1, 2}, DType::kF64)}}),
            "feed 'x' is f64[2] but the graph expects f32[2]");
  EXPECT_EQ(Error({{"x", F({3}, {1, 2, 3}, DType::kF32)}}),
            "feed 'x' is f32[3] but the graph expects f32[2]");
  EXPECT_EQ(Error({{"x", F({2}, {1, 2}, DType::kF32)},
                   {"w", F({1, 2}, {1, 2}, DType::kF32)}}),
            "feed 'w' is f32[1,2] but the graph expects f32[2]");
}

TEST_F(FeedTest, UnknownFeedName) {
  EXPECT_EQ(Error({{"x", F({2}, {1, 2}, DType::kF32)}, {"zz", F({}, {1})}}),
            "feed 'zz' is not an input or parameter of the graph");
  // Intermediate values cannot be fed.
  EXPECT_EQ(Error({{"x", F({2}, {1, 2}, DType::kF32)},
                   {"mul", F({2}, {1, 2}, DType::kF32)}}),
            "feed 'mul' is not an input or parameter of the graph");
  // Output names are not value names.
  EXPECT_EQ(Error({{"x", F({2}, {1, 2}, DType::kF32)},
                   {"y", F({2}, {1, 2}, DType::kF32)}}),
            "feed 'y' is not an input or parameter of the graph");
}

TEST_F(FeedTest, InterpretAllEvaluatesOnlyWhatOutputsNeed) {
  absl::StatusOr<std::vector<Tensor>> values =
      InterpretAll(graph_, {{"x", F({2}, {1, 2}, DType::kF32)}});
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(static_cast<int>(values->size()), graph_.num_nodes());
  // No value (an empty Tensor) for what no output needs.
  const Tensor& unused = (*values)[*graph_.Find("unused")];
  EXPECT_TRUE(unused.doubles().empty() && unused.ints().empty());
  EXPECT_EQ((*values)[*graph_.Find("mul")], F({2}, {10, 40}, DType::kF32));
}

// --- On-demand evaluation ---------------------------------------------------

TEST(ValueEvaluatorTest, EvaluatesValuesOfAGrowingGraphOnce) {
  GraphBuilder b;
  Value w = b.Parameter("w", F({2}, {1, 2}));
  int asked = 0;
  ValueEvaluator eval(b.graph(), [&](const Node&) {
    ++asked;
    return absl::OkStatus();
  });
  Value y = w * 3.0;
  absl::StatusOr<Tensor> ty = eval.Evaluate(y.id());
  ASSERT_TRUE(ty.ok()) << ty.status();
  EXPECT_EQ(*ty, F({2}, {3, 6}));
  // A node added after the first call; what was computed is not asked again.
  const int before = asked;
  Value z = y + w;
  absl::StatusOr<Tensor> tz = eval.Evaluate(z.id());
  ASSERT_TRUE(tz.ok()) << tz.status();
  EXPECT_EQ(*tz, F({2}, {4, 8}));
  EXPECT_EQ(asked, before + 1);
}

TEST(ValueEvaluatorTest, BlockedNodesAndKernelErrors) {
  GraphBuilder b;
  Value q = b.Input("q", DType::kF64, {2});
  Value p = b.Input("p", DType::kF64, {2});
  Value sum = p + q;
  Value big = BroadcastTo(p, {3, 2});
  ASSERT_TRUE(b.ok()) << b.status();
  ValueEvaluator eval(b.graph(), [](const Node& node) {
    if (node.op == OpKind::kInput) {
      return absl::FailedPreconditionError(
          absl::StrCat("input '", node.name, "'"));
    }
    if (node.type.num_elements() > 4) {
      return absl::FailedPreconditionError("too large");
    }
    return absl::OkStatus();
  });
  // The first input that fails, in input order (not id order).
  EXPECT_EQ(eval.Evaluate(sum.id()).status().message(), "input 'p'");
  // A blocked node's inputs are not evaluated.
  EXPECT_EQ(eval.Evaluate(big.id()).status().message(), "too large");
  // Unblocked, an input's kernel says it was not fed: NodeError by default,
  // else as mapped.
  EXPECT_EQ(ValueEvaluator(b.graph()).Evaluate(sum.id()).status().message(),
            "node 'p' (input): input 'p' was not fed");
  ValueEvaluator mapped(
      b.graph(), nullptr, [](const Node& node, const absl::Status& error) {
        return absl::FailedPreconditionError(
            absl::StrCat("at ", node.name, ": ", error.message()));
      });
  absl::Status status = mapped.Evaluate(big.id()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "at p: input 'p' was not fed");
}

// A value larger than memory (or ADC_MAX_TENSOR_BYTES) is refused by its
// declared type, naming the node, before anything is allocated for it.
TEST(InterpreterLimitsTest, HugeValuesAreRefusedByName) {
  GraphBuilder b("huge");
  Value x = b.Input("x", DType::kF32, {});
  Value big = BroadcastTo(x, {int64_t{1} << 20, int64_t{1} << 20});
  b.Output("s", Sum(big));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  const std::string big_name = g->node(big.id()).name;
  absl::StatusOr<std::map<std::string, Tensor>> out =
      Interpret(*g, {{"x", Tensor::Scalar(1, DType::kF32)}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(out.status().message(),
              ::testing::AllOf(::testing::HasSubstr(big_name),
                               ::testing::HasSubstr("4398046511104 bytes"),
                               ::testing::HasSubstr("ADC_MAX_TENSOR_BYTES")));

  // The limit is settable: 16 bytes refuses a 5-element f32 value.
  GraphBuilder s("small");
  Value y = s.Input("y", DType::kF32, {5});
  s.Output("z", Exp(y));
  absl::StatusOr<Graph> small = s.Build();
  ASSERT_TRUE(small.ok());
  const std::map<std::string, Tensor> feeds = {
      {"y", Tensor::FromDoubles({DType::kF32, {5}}, {1, 2, 3, 4, 5})}};
  ASSERT_TRUE(Interpret(*small, feeds).ok());
  setenv("ADC_MAX_TENSOR_BYTES", "16", 1);
  absl::StatusOr<std::map<std::string, Tensor>> refused =
      Interpret(*small, feeds);
  unsetenv("ADC_MAX_TENSOR_BYTES");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("limit of 16"));
}

}  // namespace
}  // namespace adc
