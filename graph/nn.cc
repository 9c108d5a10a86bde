// Convolution, pooling and normalization layers (graph/builder.h).
//
// Convolutions are the conv primitive (graph/ops/linalg.cc). A pooling op
// visits, for every kernel position k (a multi-index over the kernel), the
// strided slice of the padded input that position sees:
//   slice_k[n, c, o...] = xp[n, c, o * stride + k * dilation]
// Max pooling keeps the running maximum (a select, so the gradient goes to
// the first maximum); average pooling sums them and divides by a count
// built the same way from ones.
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/builder.h"
#include "graph/check.h"

namespace adc {
namespace {

// The geometry of a window op over the trailing `spatial` axes.
struct Window {
  int spatial = 0;
  std::vector<int64_t> in, kernel, stride, dilation, low, high, out;
};

// Fills in defaults and output sizes; records an error in b and returns
// nullopt on bad options.
std::optional<Window> MakeWindow(GraphBuilder& b, const std::string& op,
                                 const Dims& x_dims,
                                 const std::vector<int64_t>& kernel,
                                 const WindowOptions& o, bool pooling) {
  Window w;
  w.spatial = static_cast<int>(kernel.size());
  auto fail = [&](const std::string& why) {
    b.Fail(absl::InvalidArgumentError(absl::StrCat(op, ": ", why)));
    return std::nullopt;
  };
  if (w.spatial == 0 || static_cast<int>(x_dims.size()) != w.spatial + 2) {
    return fail(absl::StrCat("input of shape ", DimsToString(x_dims),
                             " for a kernel of ", w.spatial,
                             " spatial axes (expected [N, C, spatial...])"));
  }
  auto per_axis = [&](const std::vector<int64_t>& v, int64_t fallback,
                      const char* what, std::vector<int64_t>* out) {
    if (v.empty()) {
      out->assign(w.spatial, fallback);
      return true;
    }
    if (static_cast<int>(v.size()) != w.spatial) {
      fail(absl::StrCat(what, " has ", v.size(), " values for ", w.spatial,
                        " spatial axes"));
      return false;
    }
    *out = v;
    return true;
  };
  if (!per_axis(o.strides, 1, "strides", &w.stride) ||
      !per_axis(o.dilations, 1, "dilations", &w.dilation) ||
      !per_axis(o.pads_low, 0, "pads_low", &w.low) ||
      !per_axis(o.pads_high, 0, "pads_high", &w.high)) {
    return std::nullopt;
  }
  w.kernel = kernel;
  for (int a = 0; a < w.spatial; ++a) {
    w.in.push_back(x_dims[2 + a]);
    if (w.kernel[a] < 1 || w.stride[a] < 1 || w.dilation[a] < 1 ||
        w.low[a] < 0 || w.high[a] < 0) {
      return fail(absl::StrCat("kernel ", DimsToString(w.kernel), ", strides ",
                               DimsToString(w.stride), ", dilations ",
                               DimsToString(w.dilation),
                               ": sizes must be >= 1 and pads >= 0"));
    }
    const int64_t span = w.dilation[a] * (w.kernel[a] - 1) + 1;
    if (o.same != WindowOptions::Same::kNo) {
      const int64_t out = (w.in[a] + w.stride[a] - 1) / w.stride[a];
      const int64_t total =
          std::max<int64_t>(0, (out - 1) * w.stride[a] + span - w.in[a]);
      w.low[a] =
          o.same == WindowOptions::Same::kUpper ? total / 2 : total - total / 2;
      w.high[a] = total - w.low[a];
    }
    const int64_t padded = w.in[a] + w.low[a] + w.high[a];
    if (padded < span) {
      return fail(
          absl::StrCat("a window of ", span, " elements on spatial axis ", a,
                       " does not fit ", padded, " (input and padding)"));
    }
    int64_t out = (padded - span) / w.stride[a] + 1;
    if (pooling && o.ceil_mode) {
      out = (padded - span + w.stride[a] - 1) / w.stride[a] + 1;
      // The last window must start inside the input or its low padding.
      if ((out - 1) * w.stride[a] >= w.in[a] + w.low[a]) --out;
    }
    w.out.push_back(out);
  }
  return w;
}

// Calls f(position index, kernel multi-index) for every kernel position in
// row-major order.
void ForEachPosition(
    const std::vector<int64_t>& kernel,
    const std::function<void(int64_t, const std::vector<int64_t>&)>& f) {
  std::vector<int64_t> k(kernel.size(), 0);
  for (int64_t index = 0;; ++index) {
    f(index, k);
    int a = static_cast<int>(kernel.size()) - 1;
    while (a >= 0 && ++k[a] == kernel[a]) k[a--] = 0;
    if (a < 0) return;
  }
}

// xp padded by the window's pads plus `extra_high` per axis, with `value`.
Value PadWindow(Value x, const Window& w, double value,
                const std::vector<int64_t>& extra_high = {}) {
  std::vector<int64_t> low = {0, 0}, high = {0, 0};
  for (int a = 0; a < w.spatial; ++a) {
    low.push_back(w.low[a]);
    high.push_back(w.high[a] + (extra_high.empty() ? 0 : extra_high[a]));
  }
  return Pad(x, low, high, value);
}

// The elements kernel position k sees: [N, C, out...].
Value WindowSlice(Value xp, const Window& w, const std::vector<int64_t>& k) {
  std::vector<int64_t> start = {0, 0}, limit = {xp.dims()[0], xp.dims()[1]},
                       stride = {1, 1};
  for (int a = 0; a < w.spatial; ++a) {
    start.push_back(k[a] * w.dilation[a]);
    limit.push_back(start.back() + (w.out[a] - 1) * w.stride[a] + 1);
    stride.push_back(w.stride[a]);
  }
  return Slice(xp, start, limit, stride);
}

// Ceil mode's windows may run past the padded input: extra high padding.
std::vector<int64_t> CeilExtra(const Window& w) {
  std::vector<int64_t> extra;
  for (int a = 0; a < w.spatial; ++a) {
    const int64_t needed =
        (w.out[a] - 1) * w.stride[a] + w.dilation[a] * (w.kernel[a] - 1) + 1;
    extra.push_back(
        std::max<int64_t>(0, needed - (w.in[a] + w.low[a] + w.high[a])));
  }
  return extra;
}

}  // namespace

Value ConvGeneral(Value x, Value w, const ConvGeometry& geometry) {
  if (!x.valid() || !w.valid()) return Value();
  Attrs attrs;
  attrs.Set("strides", geometry.strides);
  attrs.Set("pads_low", geometry.pads_low);
  attrs.Set("pads_high", geometry.pads_high);
  attrs.Set("lhs_dilation", geometry.lhs_dilation);
  attrs.Set("rhs_dilation", geometry.rhs_dilation);
  attrs.Set("groups", geometry.groups);
  return x.builder()->AddOp(OpKind::kConv, {x, w}, std::move(attrs));
}

namespace {

// y + bias as [1, O, 1...].
Value AddBias(Value y, std::optional<Value> bias) {
  if (!bias || !y.valid()) return y;
  Dims bdims(y.rank(), 1);
  bdims[1] = y.dims()[1];
  return y + Reshape(*bias, bdims);
}

}  // namespace

Value Conv(Value x, Value w, std::optional<Value> bias,
           const WindowOptions& options, int64_t groups) {
  if (!x.valid() || !w.valid()) return Value();
  GraphBuilder& b = *x.builder();
  if (w.rank() < 3) {
    return b.Fail(absl::InvalidArgumentError(absl::StrCat(
        "conv: weights of shape ", DimsToString(w.dims()),
        " (expected [out_channels, in_channels / groups, kernel...])")));
  }
  const std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  std::optional<Window> win =
      MakeWindow(b, "conv", x.dims(), kernel, options, false);
  if (!win) return Value();
  ConvGeometry g;
  g.strides = win->stride;
  g.pads_low = win->low;
  g.pads_high = win->high;
  g.lhs_dilation.assign(win->spatial, 1);
  g.rhs_dilation = win->dilation;
  g.groups = groups;
  return AddBias(ConvGeneral(x, w, g), bias);
}

Value ConvTranspose(Value x, Value w, std::optional<Value> bias,
                    const WindowOptions& options, int64_t groups,
                    std::vector<int64_t> output_padding) {
  if (!x.valid() || !w.valid()) return Value();
  GraphBuilder& b = *x.builder();
  const int spatial = x.rank() - 2;
  if (w.rank() != x.rank() || spatial < 1 || groups < 1 ||
      w.dims()[0] != x.dims()[1] || x.dims()[1] % groups != 0) {
    return b.Fail(absl::InvalidArgumentError(
        absl::StrCat("conv_transpose: input ", DimsToString(x.dims()),
                     ", weights ", DimsToString(w.dims()), ", groups ", groups,
                     " (weights are [in_channels, out / groups, kernel...])")));
  }
  if (options.same != WindowOptions::Same::kNo) {
    return b.Fail(absl::InvalidArgumentError(
        "conv_transpose: give explicit pads (SAME is not supported)"));
  }
  auto or_fill = [&](std::vector<int64_t> v, int64_t fill) {
    if (v.empty()) v.assign(spatial, fill);
    return v;
  };
  const std::vector<int64_t> stride = or_fill(options.strides, 1);
  const std::vector<int64_t> dilation = or_fill(options.dilations, 1);
  const std::vector<int64_t> low = or_fill(options.pads_low, 0);
  const std::vector<int64_t> high = or_fill(options.pads_high, 0);
  output_padding = or_fill(output_padding, 0);
  for (const std::vector<int64_t>* v :
       {&stride, &dilation, &low, &high,
        static_cast<const std::vector<int64_t>*>(&output_padding)}) {
    if (static_cast<int>(v->size()) != spatial) {
      return b.Fail(absl::InvalidArgumentError(
          "conv_transpose: one value per spatial axis expected"));
    }
  }
  // The input dilated by the stride and padded by dilation (k - 1) - pad
  // (negative: cropped), convolved with the flipped kernel, channels swapped
  // within each group.
  ConvGeometry g;
  g.groups = groups;
  g.lhs_dilation = stride;
  g.rhs_dilation = dilation;
  g.strides.assign(spatial, 1);
  for (int a = 0; a < spatial; ++a) {
    const int64_t span = dilation[a] * (w.dims()[2 + a] - 1);
    g.pads_low.push_back(span - low[a]);
    g.pads_high.push_back(span - high[a] + output_padding[a]);
  }
  const int64_t cin = w.dims()[0], og = w.dims()[1];
  Dims gdims = {groups, cin / groups, og};
  gdims.insert(gdims.end(), w.dims().begin() + 2, w.dims().end());
  std::vector<int64_t> perm = {0, 2, 1};
  for (int a = 0; a < spatial; ++a) perm.push_back(3 + a);
  std::vector<int64_t> flip;
  for (int a = 0; a < spatial; ++a) flip.push_back(3 + a);
  Value wt = Transpose(Reverse(Reshape(w, gdims), flip), perm);
  Dims wdims = {groups * og, cin / groups};
  wdims.insert(wdims.end(), w.dims().begin() + 2, w.dims().end());
  return AddBias(ConvGeneral(x, Reshape(wt, wdims), g), bias);
}

Value MaxPool(Value x, std::vector<int64_t> kernel,
              const WindowOptions& options) {
  if (!x.valid()) return Value();
  std::optional<Window> win =
      MakeWindow(*x.builder(), "max_pool", x.dims(), kernel, options, true);
  if (!win) return Value();
  Value xp = PadWindow(x, *win, -std::numeric_limits<double>::infinity(),
                       CeilExtra(*win));
  Value m;
  ForEachPosition(kernel, [&](int64_t, const std::vector<int64_t>& k) {
    Value s = WindowSlice(xp, *win, k);
    // A later element wins only if larger: ties keep the first.
    m = m.valid() ? Select(Gt(s, m), s, m) : s;
  });
  return m;
}

Value AvgPool(Value x, std::vector<int64_t> kernel,
              const WindowOptions& options) {
  if (!x.valid()) return Value();
  GraphBuilder& b = *x.builder();
  std::optional<Window> win =
      MakeWindow(b, "avg_pool", x.dims(), kernel, options, true);
  if (!win) return Value();
  const std::vector<int64_t> extra = CeilExtra(*win);
  Value xp = PadWindow(x, *win, 0.0, extra);
  // The divisor per output element: how many of its window's elements are
  // input (or padding, with count_include_pad; never ceil mode's extra).
  Dims one = {1, 1};
  one.insert(one.end(), win->in.begin(), win->in.end());
  Value ones = Full(b, TensorType{x.dtype(), one}, 1.0);
  Value counted;
  if (options.count_include_pad) {
    std::vector<int64_t> lo(x.rank(), 0), hi = {0, 0};
    hi.insert(hi.end(), extra.begin(), extra.end());
    counted = Pad(PadWindow(ones, *win, 1.0), lo, hi, 0.0);
  } else {
    counted = PadWindow(ones, *win, 0.0, extra);
  }
  Value sum, count;
  ForEachPosition(kernel, [&](int64_t, const std::vector<int64_t>& k) {
    Value s = WindowSlice(xp, *win, k), c = WindowSlice(counted, *win, k);
    sum = sum.valid() ? sum + s : s;
    count = count.valid() ? count + c : c;
  });
  return sum / count;
}

// y = x * (mask / (1 - p)) with mask = u >= p for u uniform in [0, 1):
// P(kept) = 1 - p. (A composition: the gradient, dy * mask / (1 - p), comes
// from mul's rule.)
Value Dropout(Value x, double p, Value seed, int64_t stream, Value* mask) {
  if (!x.valid() || !seed.valid()) return Value();
  GraphBuilder& b = *x.builder();
  if (!IsFloat(x.dtype()) || !(p >= 0 && p <= 1)) {
    return b.Fail(absl::InvalidArgumentError(
        absl::StrCat("dropout: p = ", p, " on ", x.type().ToString(),
                     " (expected 0 <= p <= 1 on a float tensor)")));
  }
  if (p == 0) {
    if (mask) *mask = Full(b, TensorType{DType::kBool, x.dims()}, 1);
    return x;
  }
  Value keep = Ge(RandomUniform(seed, x.dims(), x.dtype(), stream), p);
  if (!keep.valid()) return Value();
  if (mask) *mask = keep;
  // PyTorch divides by 1 - p in the tensor's dtype: 1.0f / float(1 - p).
  const double scale = p == 1 ? 0.0
                       : x.dtype() == DType::kF32
                           ? 1.0f / static_cast<float>(1.0 - p)
                           : 1.0 / (1.0 - p);
  return x * (Cast(keep, x.dtype()) * Scalar(b, scale, x.dtype()));
}

Value DropoutSeed(GraphBuilder& b, int64_t initial, bool* added) {
  constexpr absl::string_view kName = "dropout_seed";
  const TensorType type{DType::kI64, {}};
  if (added) *added = false;
  if (std::optional<ValueId> id = b.graph()->FindOutputOrValue(kName)) {
    Value seed = b.Wrap(*id);
    if (seed.type() != type) {
      return b.Fail(absl::InvalidArgumentError(absl::StrCat(
          "the graph's value 'dropout_seed' is ", seed.type().ToString(),
          "; dropout needs that name for its i64 scalar seed")));
    }
    return seed;
  }
  if (added) *added = true;
  return b.Parameter(kName, Tensor::FromInts(type, {initial}));
}

Value GlobalAvgPool(Value x) {
  if (!x.valid()) return Value();
  std::vector<int64_t> axes;
  for (int a = 2; a < x.rank(); ++a) axes.push_back(a);
  return Mean(x, axes, /*keepdims=*/true);
}

Value GlobalMaxPool(Value x) {
  if (!x.valid()) return Value();
  std::vector<int64_t> axes;
  for (int a = 2; a < x.rank(); ++a) axes.push_back(a);
  return Max(x, axes, /*keepdims=*/true);
}

namespace {

// [C] -> [1, C, 1, ...] for an x of rank `rank`.
Value PerChannel(Value v, int rank) {
  Dims dims(rank, 1);
  dims[1] = v.dims()[0];
  return Reshape(v, dims);
}

}  // namespace

BatchNormOutputs BatchNorm(Value x, Value scale, Value bias, Value running_mean,
                           Value running_var, bool training, double momentum,
                           double epsilon, bool unbiased_running_var) {
  if (!x.valid() || !scale.valid() || !bias.valid() || !running_mean.valid() ||
      !running_var.valid()) {
    return {};
  }
  GraphBuilder& b = *x.builder();
  const Dims channel = {x.rank() >= 2 ? x.dims()[1] : -1};
  for (const Value* v : {&scale, &bias, &running_mean, &running_var}) {
    if (x.rank() < 2 || v->dims() != channel) {
      b.Fail(absl::InvalidArgumentError(absl::StrCat(
          "batch_norm: input ", x.type().ToString(),
          " and a statistic or "
          "scale of shape ",
          DimsToString(v->dims()), " (expected [N, C, ...] and [C])")));
      return {};
    }
  }
  const int rank = x.rank();
  if (!training) {
    Value inv = Rsqrt(PerChannel(running_var, rank) + epsilon);
    return {
        (x - PerChannel(running_mean, rank)) * (inv * PerChannel(scale, rank)) +
            PerChannel(bias, rank),
        running_mean, running_var};
  }
  std::vector<int64_t> axes = {0};
  for (int a = 2; a < rank; ++a) axes.push_back(a);
  const int64_t n = x.type().num_elements() / x.dims()[1];
  Value mean = Mean(x, axes, /*keepdims=*/true);
  Value centered = x - mean;
  Value var = Mean(centered * centered, axes, /*keepdims=*/true);
  Value y = centered * Rsqrt(var + epsilon) * PerChannel(scale, rank) +
            PerChannel(bias, rank);
  // The running statistics are not differentiated through.
  Value batch_mean = StopGradient(Reshape(mean, channel));
  Value batch_var = StopGradient(Reshape(var, channel));
  if (unbiased_running_var) {
    batch_var =
        batch_var * (static_cast<double>(n) / std::max<int64_t>(1, n - 1));
  }
  return {y, (1 - momentum) * running_mean + momentum * batch_mean,
          (1 - momentum) * running_var + momentum * batch_var};
}

Value LayerNorm(Value x, int64_t first_axis, std::optional<Value> scale,
                std::optional<Value> bias, double epsilon) {
  if (!x.valid()) return Value();
  if (first_axis < 0) first_axis += x.rank();
  if (first_axis < 0 || first_axis >= x.rank()) {
    return x.builder()->Fail(absl::InvalidArgumentError(
        absl::StrCat("layer_norm: axis ", first_axis, " is out of range for ",
                     x.type().ToString())));
  }
  std::vector<int64_t> axes;
  for (int64_t a = first_axis; a < x.rank(); ++a) axes.push_back(a);
  Value centered = x - Mean(x, axes, /*keepdims=*/true);
  Value y = centered *
            Rsqrt(Mean(centered * centered, axes, /*keepdims=*/true) + epsilon);
  if (scale) y = y * *scale;
  if (bias) y = y + *bias;
  return y;
}

Value InstanceNorm(Value x, Value scale, Value bias, double epsilon) {
  if (!x.valid() || !scale.valid() || !bias.valid()) return Value();
  if (x.rank() < 3) {
    return x.builder()->Fail(absl::InvalidArgumentError(
        absl::StrCat("instance_norm: input ", x.type().ToString(),
                     " has no spatial axes (expected [N, C, spatial...])")));
  }
  return LayerNorm(x, 2, std::nullopt, std::nullopt, epsilon) *
             PerChannel(scale, x.rank()) +
         PerChannel(bias, x.rank());
}

}  // namespace adc
