// Convolution, pooling and dropout (graph/nn.cc) against direct loops written
// from PyTorch's definitions, and ConvTranspose as the adjoint of Conv.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

Tensor Random(Dims dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Tensor t({DType::kF64, dims});
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, u(rng));
  return t;
}

// Evaluates f(builder, inputs) on tensors.
Tensor Eval(const std::vector<Tensor>& args,
            const std::function<Value(GraphBuilder&, std::vector<Value>)>& f) {
  GraphBuilder b("nn");
  std::vector<Value> xs;
  std::map<std::string, Tensor> feeds;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string name = "x" + std::to_string(k);
    xs.push_back(b.Input(name, args[k].dtype(), args[k].dims()));
    feeds[name] = args[k];
  }
  b.Output("y", f(b, xs));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return Tensor();
  absl::StatusOr<std::map<std::string, Tensor>> out = Interpret(*g, feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? out->at("y") : Tensor();
}

// Direct 2-d convolution (PyTorch's conv2d).
Tensor NaiveConv2d(const Tensor& x, const Tensor& w, int64_t groups,
                   std::vector<int64_t> s, std::vector<int64_t> d,
                   std::vector<int64_t> lo, std::vector<int64_t> hi) {
  const int64_t n = x.dims()[0], c = x.dims()[1], h = x.dims()[2],
                wd = x.dims()[3];
  const int64_t o = w.dims()[0], kh = w.dims()[2], kw = w.dims()[3];
  const int64_t ho = (h + lo[0] + hi[0] - d[0] * (kh - 1) - 1) / s[0] + 1;
  const int64_t wo = (wd + lo[1] + hi[1] - d[1] * (kw - 1) - 1) / s[1] + 1;
  Tensor y({DType::kF64, {n, o, ho, wo}});
  const int64_t cg = c / groups, og = o / groups;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j) {
          double acc = 0;
          const int64_t g = oc / og;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t r = i * s[0] + p * d[0] - lo[0];
                const int64_t t = j * s[1] + q * d[1] - lo[1];
                if (r < 0 || r >= h || t < 0 || t >= wd) continue;
                acc += x.GetDouble(((b * c + g * cg + ic) * h + r) * wd + t) *
                       w.GetDouble(((oc * cg + ic) * kh + p) * kw + q);
              }
          y.SetDouble(((b * o + oc) * ho + i) * wo + j, acc);
        }
  return y;
}

void ExpectNear(const Tensor& a, const Tensor& e) {
  ASSERT_EQ(a.dims(), e.dims());
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    EXPECT_NEAR(a.GetDouble(i), e.GetDouble(i), 1e-12) << i;
  }
}

TEST(NnTest, Conv2dMatchesDirectLoops) {
  const Tensor x = Random({2, 4, 7, 6}, 1), w = Random({6, 2, 3, 2}, 2);
  WindowOptions o;
  o.strides = {2, 1};
  o.dilations = {1, 2};
  o.pads_low = {1, 0};
  o.pads_high = {2, 1};
  ExpectNear(Eval({x, w},
                  [&](GraphBuilder&, std::vector<Value> v) {
                    return Conv(v[0], v[1], std::nullopt, o, 2);
                  }),
             NaiveConv2d(x, w, 2, {2, 1}, {1, 2}, {1, 0}, {2, 1}));
  // SAME (upper): out = ceil(in / stride), the odd padding element high.
  WindowOptions same;
  same.strides = {2, 2};
  same.same = WindowOptions::Same::kUpper;
  const Tensor w1 = Random({3, 4, 3, 3}, 3);
  const Tensor y = Eval({x, w1}, [&](GraphBuilder&, std::vector<Value> v) {
    return Conv(v[0], v[1], std::nullopt, same);
  });
  EXPECT_EQ(y.dims(), (Dims{2, 3, 4, 3}));
  ExpectNear(y, NaiveConv2d(x, w1, 1, {2, 2}, {1, 1}, {1, 0}, {1, 1}));
}

TEST(NnTest, ConvTransposeIsTheAdjointOfConv) {
  // <Conv(z, w), x> = <z, ConvTranspose(x, w)> with the same options.
  WindowOptions o;
  o.strides = {2, 3};
  o.dilations = {2, 1};
  o.pads_low = {1, 2};
  o.pads_high = {0, 1};
  const Tensor w = Random({4, 3, 2, 3}, 4);  // conv: 3*2 -> ... groups 2
  const int64_t groups = 2;
  const Tensor z = Random({2, 6, 9, 11}, 5);
  // Conv(z, w') with w' [4, 3, ...]: 6 channels in 2 groups -> 4 channels.
  const Tensor cz = Eval({z, w}, [&](GraphBuilder&, std::vector<Value> v) {
    return Conv(v[0], v[1], std::nullopt, o, groups);
  });
  const Tensor x = Random(cz.dims(), 6);
  // The transpose maps 4 channels back to 6: weights [4, 6 / 2, ...] =
  // the same w. output_padding recovers z's size.
  const int64_t h_back = (cz.dims()[2] - 1) * 2 - 1 + 2 * 1 + 1;
  const int64_t w_back = (cz.dims()[3] - 1) * 3 - 3 + 1 * 2 + 1;
  const Tensor tx = Eval({x, w}, [&](GraphBuilder&, std::vector<Value> v) {
    return ConvTranspose(v[0], v[1], std::nullopt, o, groups,
                         {9 - h_back, 11 - w_back});
  });
  ASSERT_EQ(tx.dims(), z.dims());
  double left = 0, right = 0;
  for (int64_t i = 0; i < cz.num_elements(); ++i) {
    left += cz.GetDouble(i) * x.GetDouble(i);
  }
  for (int64_t i = 0; i < z.num_elements(); ++i) {
    right += z.GetDouble(i) * tx.GetDouble(i);
  }
  EXPECT_NEAR(left, right, 1e-11 * (1 + std::abs(left)));
}

// Direct pooling (PyTorch's max_pool2d / avg_pool2d) on one [N, C, H, W].
Tensor NaivePool(const Tensor& x, bool max, int64_t k, int64_t s, int64_t pad,
                 int64_t dil, bool ceil_mode, bool include_pad) {
  const int64_t n = x.dims()[0] * x.dims()[1], h = x.dims()[2], w = x.dims()[3];
  auto out_size = [&](int64_t in) {
    const int64_t span = dil * (k - 1) + 1;
    int64_t o = (in + 2 * pad - span + (ceil_mode ? s - 1 : 0)) / s + 1;
    if (ceil_mode && (o - 1) * s >= in + pad) --o;
    return o;
  };
  const int64_t ho = out_size(h), wo = out_size(w);
  Tensor y({DType::kF64, {x.dims()[0], x.dims()[1], ho, wo}});
  for (int64_t c = 0; c < n; ++c)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) {
        double acc = max ? -std::numeric_limits<double>::infinity() : 0;
        const int64_t hs = i * s - pad, ws = j * s - pad;
        const int64_t he = std::min(hs + dil * (k - 1) + 1, h + pad);
        const int64_t we = std::min(ws + dil * (k - 1) + 1, w + pad);
        const double divisor =
            include_pad ? static_cast<double>((he - hs) * (we - ws))
                        : static_cast<double>(
                              (std::min(he, h) - std::max<int64_t>(hs, 0)) *
                              (std::min(we, w) - std::max<int64_t>(ws, 0)));
        for (int64_t p = 0; p < k; ++p)
          for (int64_t q = 0; q < k; ++q) {
            const int64_t r = hs + p * dil, t = ws + q * dil;
            if (r < 0 || r >= h || t < 0 || t >= w) continue;
            const double v = x.GetDouble((c * h + r) * w + t);
            acc = max ? std::max(acc, v) : acc + v;
          }
        y.SetDouble((c * ho + i) * wo + j, max ? acc : acc / divisor);
      }
  return y;
}

TEST(NnTest, PoolingMatchesDirectLoops) {
  const Tensor x = Random({2, 3, 9, 8}, 7);
  for (bool ceil_mode : {false, true}) {
    for (int64_t pad : {0, 1}) {
      SCOPED_TRACE(::testing::Message()
                   << "ceil " << ceil_mode << " pad " << pad);
      WindowOptions o;
      o.strides = {2, 2};
      o.pads_low = o.pads_high = {pad, pad};
      o.ceil_mode = ceil_mode;
      for (int64_t dil : {1, 2}) {
        WindowOptions od = o;
        od.dilations = {dil, dil};
        ExpectNear(Eval({x},
                        [&](GraphBuilder&, std::vector<Value> v) {
                          return MaxPool(v[0], {3, 3}, od);
                        }),
                   NaivePool(x, true, 3, 2, pad, dil, ceil_mode, false));
      }
      for (bool include : {false, true}) {
        WindowOptions oa = o;
        oa.count_include_pad = include;
        ExpectNear(Eval({x},
                        [&](GraphBuilder&, std::vector<Value> v) {
                          return AvgPool(v[0], {3, 3}, oa);
                        }),
                   NaivePool(x, false, 3, 2, pad, 1, ceil_mode, include));
      }
    }
  }
}

TEST(NnTest, MaxPoolGradientGoesToTheFirstMaximum) {
  GraphBuilder b("ties");
  Value x = b.Input("x", DType::kF64, {1, 1, 2, 2});
  b.Output("y", Sum(MaxPool(x, {2, 2})));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok());
  GradOptions options;
  options.of = "y";
  ASSERT_TRUE(AddGradients(&*g, options).ok());
  absl::StatusOr<std::map<std::string, Tensor>> out = Interpret(
      *g,
      {{"x", Tensor::FromDoubles({DType::kF64, {1, 1, 2, 2}}, {1, 3, 3, 3})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y").GetDouble(0), 3);
  // Three elements tie for the maximum: the first (row-major) gets it all.
  EXPECT_EQ(out->at("x.grad").doubles(), (std::vector<double>{0, 1, 0, 0}));
}

TEST(NnTest, BadShapesAreErrors) {
  GraphBuilder b("bad");
  Value x = b.Input("x", DType::kF32, {1, 3, 4, 4});
  Value w = b.Input("w", DType::kF32, {2, 2, 3, 3});
  Conv(x, w);
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("groups 1 do not match"));
  GraphBuilder b2("bad2");
  MaxPool(b2.Input("x", DType::kF32, {1, 1, 2, 2}), {3, 3});
  g = b2.Build();
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("does not fit"));
}

TEST(NnTest, BatchNormTrainingFollowsPyTorch) {
  // x [4, 2]: per channel, batch mean and biased variance normalize; the
  // running statistics move by momentum 0.1 toward the mean and the
  // unbiased variance.
  const Tensor x =
      Tensor::FromDoubles({DType::kF64, {4, 2}}, {1, 10, 2, 20, 3, 30, 6, 40});
  const Tensor out = Eval({x}, [](GraphBuilder& b, std::vector<Value> v) {
    Value ones = Full(b, TensorType{DType::kF64, {2}}, 1.0);
    Value zeros = Full(b, TensorType{DType::kF64, {2}}, 0.0);
    BatchNormOutputs r = BatchNorm(v[0], ones, zeros, zeros, ones, true);
    return Concat({Reshape(r.y, {8}), r.running_mean, r.running_var}, 0);
  });
  const double m0 = 3, v0 = (4 + 1 + 0 + 9) / 4.0;  // Channel 0.
  const double m1 = 25, v1 = (225 + 25 + 25 + 225) / 4.0;
  EXPECT_NEAR(out.GetDouble(0), (1 - m0) / std::sqrt(v0 + 1e-5), 1e-12);
  EXPECT_NEAR(out.GetDouble(7), (40 - m1) / std::sqrt(v1 + 1e-5), 1e-12);
  EXPECT_NEAR(out.GetDouble(8), 0.1 * m0, 1e-12);
  EXPECT_NEAR(out.GetDouble(9), 0.1 * m1, 1e-12);
  EXPECT_NEAR(out.GetDouble(10), 0.9 + 0.1 * v0 * 4 / 3, 1e-12);
  EXPECT_NEAR(out.GetDouble(11), 0.9 + 0.1 * v1 * 4 / 3, 1e-12);
}

Tensor I64Scalar(int64_t v) {
  return Tensor::FromInts(TensorType{DType::kI64, {}}, {v});
}

TEST(RandomTest, SplitMix64ReferenceOutputs) {
  // Vigna's splitmix64.c seeded with 1234567 gives these first five outputs;
  // random_uniform(seed, i) is output i + 1, its top 53 (f64) or 24 (f32)
  // bits scaled to [0, 1).
  const std::vector<uint64_t> reference = {
      6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
      4593380528125082431ull, 16408922859458223821ull};
  for (DType dtype : {DType::kF64, DType::kF32}) {
    const Tensor u =
        Eval({I64Scalar(1234567)}, [&](GraphBuilder&, std::vector<Value> v) {
          return Cast(RandomUniform(v[0], {5}, dtype), DType::kF64);
        });
    const int bits = dtype == DType::kF64 ? 53 : 24;
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(
          u.GetDouble(i),
          std::ldexp(static_cast<double>(reference[i] >> (64 - bits)), -bits))
          << DTypeName(dtype) << " element " << i;
    }
  }
}

TEST(RandomTest, UniformStatisticsSeedsAndStreams) {
  // 2^16 numbers: mean 1/2 and variance 1/12 within 5 standard errors,
  // every one in [0, 1); another stream or seed gives other numbers
  // (fewer than 0.1% equal), the same ones the same numbers; an i32 seed
  // equals the i64 one.
  const int64_t n = 1 << 16;
  auto draw = [&](int64_t seed, int64_t stream, DType seed_type) {
    Tensor s = Tensor::FromInts(TensorType{seed_type, {}}, {seed});
    return Eval({s}, [&](GraphBuilder&, std::vector<Value> v) {
      return RandomUniform(v[0], {16, n / 16}, DType::kF64, stream);
    });
  };
  const Tensor a = draw(42, 0, DType::kI64);
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double u = a.GetDouble(i);
    ASSERT_TRUE(u >= 0 && u < 1) << u;
    sum += u;
    sq += (u - 0.5) * (u - 0.5);
  }
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sq / n, 1.0 / 12, 5 * std::sqrt(1.0 / 180 / n));
  auto equal = [&](const Tensor& x, const Tensor& y) {
    int64_t same = 0;
    for (int64_t i = 0; i < n; ++i) same += x.GetDouble(i) == y.GetDouble(i);
    return same;
  };
  EXPECT_EQ(equal(a, draw(42, 0, DType::kI64)), n);
  EXPECT_EQ(equal(a, draw(42, 0, DType::kI32)), n);
  EXPECT_LT(equal(a, draw(42, 1, DType::kI64)), n / 1000);
  EXPECT_LT(equal(a, draw(43, 0, DType::kI64)), n / 1000);
  EXPECT_LT(equal(a, draw(-42, 0, DType::kI64)), n / 1000);
}

TEST(RandomTest, DropoutKeepsScalesAndRoutesTheGradient) {
  // x = 1..n: y is x / (1 - p) where kept, 0 elsewhere, kept with
  // probability 1 - p (within 5 standard errors); the mask output agrees;
  // the gradient of sum(y) is mask / (1 - p); p = 0 is the identity.
  const int64_t n = 4096;
  const double p = 0.3;
  Tensor x({DType::kF64, {n}});
  for (int64_t i = 0; i < n; ++i) x.SetDouble(i, i + 1);
  GraphBuilder b("dropout");
  Value xv = b.Input("x", DType::kF64, {n});
  Value seed = b.Input("seed", DType::kI64, {});
  Value mask;
  Value y = Dropout(xv, p, seed, 0, &mask);
  b.Output("y", y);
  b.Output("mask", mask);
  b.Output("s", Sum(y));
  b.Output("identity", Dropout(xv, 0, seed));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  GradOptions options;
  options.of = "s";
  options.wrt = {"x"};
  ASSERT_TRUE(AddGradients(&*g, options).ok());
  std::vector<Tensor> masks;
  for (int64_t s : {1, 2}) {
    auto out = Interpret(*g, {{"x", x}, {"seed", I64Scalar(s)}});
    ASSERT_TRUE(out.ok()) << out.status();
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      const bool m = out->at("mask").GetInt(i) != 0;
      kept += m;
      const double scale = m ? 1 / (1 - p) : 0.0;
      ASSERT_EQ(out->at("y").GetDouble(i), (i + 1) * scale) << i;
      ASSERT_EQ(out->at("x.grad").GetDouble(i), scale) << i;
      ASSERT_EQ(out->at("identity").GetDouble(i), i + 1);
    }
    EXPECT_NEAR(kept, n * (1 - p), 5 * std::sqrt(n * p * (1 - p)));
    masks.push_back(out->at("mask"));
  }
  // Another seed, another mask: independent masks differ in 2 p (1 - p) of
  // the elements.
  int64_t differ = 0;
  for (int64_t i = 0; i < n; ++i) {
    differ += masks[0].GetInt(i) != masks[1].GetInt(i);
  }
  EXPECT_NEAR(differ, n * 2 * p * (1 - p), 5 * std::sqrt(n * 0.25));
}

TEST(RandomTest, BadArgumentsAreErrors) {
  GraphBuilder b("bad");
  Value x = b.Input("x", DType::kF32, {4});
  Dropout(x, 1.5, b.Input("seed", DType::kI64, {}));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("dropout: p = 1.5"));
  GraphBuilder b2("bad2");
  RandomUniform(b2.Input("seed", DType::kF32, {}), {3});
  g = b2.Build();
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("integer scalar seed"));
}

}  // namespace
}  // namespace adc
