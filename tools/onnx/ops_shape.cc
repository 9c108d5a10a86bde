// ONNX ops that move data or compute from shapes: Reshape, Flatten,
// Transpose, Concat, Split, Slice, Gather, GatherElements, Squeeze,
// Unsqueeze, Expand, Tile, Pad, CumSum, Trilu, Identity, and Shape and Size
// (constants of the input's static shape).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/types.h"
#include "onnx/onnx_pb.h"
#include "tools/onnx/node_ctx.h"

namespace adc::onnx_import {
namespace {

// Python's slice(start, stop, step).indices(n) as the canonical bounds of the
// builder's Slice: for step > 0, 0 <= start <= limit <= n; for step < 0,
// -1 <= limit <= start <= n - 1. ONNX's Slice clamps like NumPy slicing.
void SliceBounds(int64_t n, int64_t start, int64_t stop, int64_t step,
                 int64_t* s, int64_t* e) {
  auto clamp = [n](int64_t v, int64_t lo, int64_t hi) {
    if (v < 0) v += n;
    return std::min(std::max(v, lo), hi);
  };
  if (step > 0) {
    *s = clamp(start, 0, n);
    *e = std::max(clamp(stop, 0, n), *s);
  } else {
    *s = clamp(start, -1, n - 1);
    *e = std::min(clamp(stop, -1, n - 1), *s);
  }
}

// Reshape(data, shape): a 0 copies the input's dim at that position (with
// allowzero = 1, opset 14+, it is a zero-size dim), one -1 is inferred from
// the element count. Opset < 5: shape attribute.
Outs ImportReshape(NodeCtx& c) {
  Value x = c.In(0);
  const std::vector<int64_t> shape =
      c.Has(1) ? c.StaticInts(1) : c.RequiredInts("shape");
  const bool allowzero = c.Int("allowzero", 0) != 0;
  if (!c.ok()) return {};
  Dims dims(shape.size());
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    const int64_t s = shape[i];
    if (s == 0 && !allowzero) {
      if (i >= x.rank()) {
        return c.Error("shape ", DimsToString(shape), " copies dim ", i,
                       " (a 0) that ", x.type().ToString(), " does not have");
      }
      dims[i] = x.dims()[i];
    } else if (s == -1) {
      if (infer >= 0) {
        return c.Error("shape ", DimsToString(shape), " has more than one -1");
      }
      infer = i;
      continue;
    } else if (s < 0) {
      return c.Error("shape ", DimsToString(shape), " has a negative dim");
    } else {
      dims[i] = s;
    }
    if (dims[i] > 0 && known > (int64_t{1} << 62) / dims[i]) {
      return c.Error("shape ", DimsToString(shape), " is too large");
    }
    known *= dims[i];
  }
  if (infer >= 0) {
    const int64_t n = x.type().num_elements();
    if (known == 0 || n % known != 0) {
      return c.Error("cannot infer the -1 of shape ", DimsToString(shape),
                     " for ", x.type().ToString());
    }
    dims[infer] = n / known;
  }
  return {Reshape(x, dims)};
}

// Flatten(x, axis): 2-D [prod(dims[:axis]), prod(dims[axis:])], axis
// default 1 (negative counts from the end).
Outs ImportFlatten(NodeCtx& c) { return {Flatten(c.In(0), c.Int("axis", 1))}; }

// Transpose(x, perm): out.dims[i] = x.dims[perm[i]]; default: reversed axes.
Outs ImportTranspose(NodeCtx& c) {
  std::optional<std::vector<int64_t>> perm = c.OptInts("perm");
  return {Transpose(c.In(0), perm ? *perm : std::vector<int64_t>())};
}

// Concat(inputs..., axis): joins along `axis` (negative counts from the end).
Outs ImportConcat(NodeCtx& c) {
  std::vector<Value> xs = c.Variadic();
  if (xs.empty()) return c.Error("needs at least one input");
  const int64_t r = xs[0].rank();
  std::optional<int64_t> axis = NormalizeAxis(c.Int("axis", 1), r);
  if (!axis) {
    return c.Error("axis ", c.Int("axis", 1), " is out of range for rank ", r);
  }
  return {Concat(xs, *axis)};
}

// Split(x, split): consecutive slices along `axis` (default 0) of the given
// sizes (the input since opset 13, an attribute before), or equal parts, one
// per output.
Outs ImportSplit(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<std::vector<int64_t>> split = c.IntsInputOrAttr(1, "split");
  const int64_t n_out = c.node().output_size();
  std::optional<int64_t> axis = NormalizeAxis(c.Int("axis", 0), x.rank());
  if (!c.ok()) return {};
  if (!axis) return c.Error("axis is out of range for ", x.type().ToString());
  const int64_t n = x.dims()[*axis];
  if (!split || split->empty()) {
    if (n_out == 0 || n % n_out != 0) {
      return c.Error("cannot split ", n, " elements into ", n_out,
                     " equal parts");
    }
    split = std::vector<int64_t>(n_out, n / n_out);
  }
  int64_t total = 0;
  for (int64_t s : *split) total += s < 0 ? n + 1 : s;
  if (static_cast<int64_t>(split->size()) != n_out || total != n) {
    return c.Error("split ", DimsToString(*split), " does not divide ", n,
                   " elements into ", n_out, " outputs");
  }
  Outs outs;
  int64_t start = 0;
  for (int64_t s : *split) {
    outs.push_back(SliceAxis(x, *axis, start, start + s));
    start += s;
  }
  return outs;
}

// Slice(data, starts, ends, axes, steps): data[starts:ends:steps] on `axes`
// (default 0..k-1; negative counts from the end), steps default 1. Negative
// starts/ends count from the end and out-of-range ones clamp, as in NumPy.
// Opset < 10: starts, ends, axes are attributes and steps are 1.
Outs ImportSlice(NodeCtx& c) {
  Value x = c.In(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.Has(1)) {
    starts = c.StaticInts(1);
    ends = c.StaticInts(2);
    if (c.Has(3)) axes = c.StaticInts(3);
    if (c.Has(4)) steps = c.StaticInts(4);
  } else {
    starts = c.RequiredInts("starts");
    ends = c.RequiredInts("ends");
    if (std::optional<std::vector<int64_t>> a = c.OptInts("axes")) axes = *a;
  }
  if (!c.ok()) return {};
  const size_t k = starts.size();
  if (axes.empty()) axes = AllAxes(static_cast<int>(k));
  if (steps.empty()) steps.assign(k, 1);
  if (ends.size() != k || axes.size() != k || steps.size() != k) {
    return c.Error("starts, ends, axes and steps must have equal lengths, got ",
                   k, ", ", ends.size(), ", ", axes.size(), " and ",
                   steps.size());
  }
  const int r = x.rank();
  std::vector<int64_t> start(r, 0), limit = x.dims(), stride(r, 1);
  std::vector<bool> seen(r, false);
  bool identity = true;
  for (size_t i = 0; i < k; ++i) {
    std::optional<int64_t> a = NormalizeAxis(axes[i], r);
    if (!a || seen[*a]) {
      return c.Error("axis ", axes[i], " is out of range or repeated for ",
                     x.type().ToString());
    }
    if (steps[i] == 0) return c.Error("steps must not be 0");
    seen[*a] = true;
    SliceBounds(x.dims()[*a], starts[i], ends[i], steps[i], &start[*a],
                &limit[*a]);
    stride[*a] = steps[i];
    identity = identity && start[*a] == 0 && limit[*a] == x.dims()[*a] &&
               stride[*a] == 1;
  }
  if (identity) return {x};
  return {Slice(x, start, limit, stride)};
}

// Gather(data, indices, axis): out[p, j, q] = data[p, indices[j], q] along
// `axis` (default 0); negative indices count from the end. (Out-of-range
// indices, an error in ONNX, clamp.)
Outs ImportGather(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<int64_t> axis = NormalizeAxis(c.Int("axis", 0), x.rank());
  if (!axis) return c.Error("axis is out of range for ", x.type().ToString());
  return {Gather(x, c.In(1), *axis)};
}

// GatherElements(data, indices, axis): out has indices' shape and out[p] =
// data[p with p[axis] replaced by indices[p]] (negative indices count from
// the end). Built as a gather from the flattened data.
Outs ImportGatherElements(NodeCtx& c) {
  Value data = c.In(0), indices = c.In(1);
  std::optional<int64_t> axis = NormalizeAxis(c.Int("axis", 0), data.rank());
  if (!c.ok()) return {};
  if (!axis || indices.rank() != data.rank() || !IsInteger(indices.dtype())) {
    return c.Error(
        "needs integer indices of data's rank and an axis in "
        "range, got ",
        data.type().ToString(), " and ", indices.type().ToString());
  }
  const std::vector<int64_t> strides = RowMajorStrides(data.dims());
  const int64_t n = data.dims()[*axis];
  Value idx = CastIfNeeded(indices, DType::kI64);
  idx = Select(Lt(idx, 0), idx + static_cast<double>(n), idx);
  idx = Select(
      Lt(idx, 0), 0.0,
      Select(Ge(idx, static_cast<double>(n)), static_cast<double>(n - 1), idx));
  Value flat = idx * static_cast<double>(strides[*axis]);
  for (int d = 0; d < data.rank(); ++d) {
    if (d == *axis || indices.dims()[d] == 1) continue;
    flat = flat + Iota(c.b(), DType::kI64, indices.dims(), d) *
                      static_cast<double>(strides[d]);
  }
  return {Gather(Reshape(data, {data.type().num_elements()}), flat, 0)};
}

// Squeeze(data, axes): removes the given size-1 axes (attribute before
// opset 13, input since); without axes, every size-1 axis.
Outs ImportSqueeze(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<std::vector<int64_t>> axes = c.IntsInputOrAttr(1, "axes");
  if (!c.ok()) return {};
  if (!axes || axes->empty()) return {Squeeze(x)};
  return {Squeeze(x, *axes)};
}

// Unsqueeze(data, axes): inserts size-1 dims at `axes` of the output
// (negative counts from the output's end); attribute before opset 13, input
// since.
Outs ImportUnsqueeze(NodeCtx& c) {
  Value x = c.In(0);
  const std::vector<int64_t> axes =
      c.Has(1) ? c.StaticInts(1) : c.RequiredInts("axes");
  if (!c.ok()) return {};
  const int64_t r = x.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(r, false);
  for (int64_t axis : axes) {
    std::optional<int64_t> a = NormalizeAxis(axis, r);
    if (!a || inserted[*a]) {
      return c.Error("axes ", DimsToString(axes),
                     " are out of range or repeated for output rank ", r);
    }
    inserted[*a] = true;
  }
  Dims dims;
  int k = 0;
  for (int64_t i = 0; i < r; ++i) {
    dims.push_back(inserted[i] ? 1 : x.dims()[k++]);
  }
  return {Reshape(x, dims)};
}

// Expand(input, shape): broadcasts the input and `shape` together by NumPy
// rules in both directions (a 1 in `shape` keeps the input's dim).
Outs ImportExpand(NodeCtx& c) {
  Value x = c.In(0);
  const std::vector<int64_t> shape = c.StaticInts(1);
  if (!c.ok()) return {};
  const Dims& xd = x.dims();
  const size_t r = std::max(xd.size(), shape.size());
  Dims dims(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t a = i < r - xd.size() ? 1 : xd[i - (r - xd.size())];
    const int64_t b = i < r - shape.size() ? 1 : shape[i - (r - shape.size())];
    if (a != b && a != 1 && b != 1) {
      return c.Error("cannot expand ", x.type().ToString(), " to ",
                     DimsToString(shape));
    }
    dims[i] = a == 1 ? b : a;
  }
  return {BroadcastTo(x, dims)};
}

// Tile(x, repeats): x repeated repeats[i] times along axis i (out dim
// d_i * r_i, out[k * d + j] = x[j]).
Outs ImportTile(NodeCtx& c) {
  Value x = c.In(0);
  const std::vector<int64_t> repeats = c.StaticInts(1);
  if (!c.ok()) return {};
  if (static_cast<int>(repeats.size()) != x.rank()) {
    return c.Error("repeats ", DimsToString(repeats),
                   " needs one entry per axis of ", x.type().ToString());
  }
  // [d0, d1, ...] -> [1, d0, 1, d1, ...] -> [r0, d0, r1, d1, ...] -> [r0 d0,
  // r1 d1, ...].
  Dims interleaved, broadcast, out;
  for (int i = 0; i < x.rank(); ++i) {
    if (repeats[i] < 0) return c.Error("repeats must be >= 0");
    interleaved.insert(interleaved.end(), {1, x.dims()[i]});
    broadcast.insert(broadcast.end(), {repeats[i], x.dims()[i]});
    out.push_back(repeats[i] * x.dims()[i]);
  }
  return {Reshape(BroadcastTo(Reshape(x, interleaved), broadcast), out)};
}

// Pad(data, pads, constant_value, axes), mode 'constant' only (the others
// are reported as unsupported): pads = [x1_begin, x2_begin, ..., x1_end,
// x2_end, ...] (negative amounts crop) filled with constant_value (default
// 0); opset 18's axes restrict pads to those axes. Before opset 11, pads and
// value are attributes (opset 1: "paddings").
Outs ImportPad(NodeCtx& c) {
  Value x = c.In(0);
  const std::string mode = c.Str("mode", "constant");
  if (mode != "constant") {
    return c.Fail(absl::UnimplementedError(
        absl::StrCat("Pad mode '", mode, "' is not supported")));
  }
  std::vector<int64_t> pads;
  double value = 0;
  if (c.Has(1)) {
    pads = c.StaticInts(1);
    if (c.Has(2)) value = c.StaticScalar(2);
  } else {
    pads = c.RequiredInts(c.HasAttr("paddings") ? "paddings" : "pads");
    value = c.Float("value", 0.0);
  }
  const int r = x.rank();
  std::vector<int64_t> axes = c.Has(3) ? c.StaticInts(3) : AllAxes(r);
  if (!c.ok()) return {};
  const size_t k = axes.size();
  if (pads.size() != 2 * k) {
    return c.Error("pads ", DimsToString(pads), " must have 2 entries per ",
                   "padded axis of ", x.type().ToString());
  }
  std::vector<int64_t> low(r, 0), high(r, 0);
  for (size_t i = 0; i < k; ++i) {
    std::optional<int64_t> a = NormalizeAxis(axes[i], r);
    if (!a) return c.Error("axis ", axes[i], " is out of range");
    low[*a] = pads[i];
    high[*a] = pads[k + i];
  }
  return {Pad(x, low, high, value)};
}

// Pad modes other than 'constant', for the error that lists unsupported ops.
std::string UnsupportedPadMode(const onnx::AttributeProto& a) {
  if (a.name() == "mode" && a.s() != "constant") {
    return absl::StrCat("Pad with mode '", a.s(), "'");
  }
  return "";
}

// CumSum(x, axis): running sums along `axis` (a scalar, negative counts from
// the end); exclusive = 1 leaves out the current element, reverse = 1 sums
// from the end.
Outs ImportCumSum(NodeCtx& c) {
  Value x = c.In(0);
  const std::vector<int64_t> axis = c.StaticInts(1);
  if (!c.ok()) return {};
  if (axis.size() != 1) return c.Error("axis must be a scalar");
  std::optional<int64_t> a = NormalizeAxis(axis[0], x.rank());
  if (!a) return c.Error("axis ", axis[0], " is out of range");
  return {CumSum(x, *a, c.Int("exclusive", 0) != 0, c.Int("reverse", 0) != 0)};
}

// Trilu(x, k): keeps the upper (upper = 1, default) or lower triangle of the
// last two axes, on and above (below) the k-th diagonal (k default 0): out =
// x where j - i >= k (upper) or j - i <= k (lower), else 0.
Outs ImportTrilu(NodeCtx& c) {
  Value x = c.In(0);
  int64_t k = 0;
  if (c.Has(1)) {
    const std::vector<int64_t> ks = c.StaticInts(1);
    if (!c.ok()) return {};
    if (ks.size() != 1) return c.Error("k must be a scalar");
    k = ks[0];
  }
  const bool upper = c.Int("upper", 1) != 0;
  if (!c.ok()) return {};
  if (x.rank() < 2) {
    return c.Error("needs rank >= 2, got ", x.type().ToString());
  }
  const Dims mat = {x.dim(-2), x.dim(-1)};
  Value diff =
      Iota(c.b(), DType::kI64, mat, 1) - Iota(c.b(), DType::kI64, mat, 0);
  Value keep = upper ? Ge(diff, static_cast<double>(k))
                     : Le(diff, static_cast<double>(k));
  return {Select(keep, x, 0.0)};
}

// Shape(x): x's dims as an int64 1-D tensor; opset 15's start/end select a
// range of them (negative counts from the end, clamped).
Outs ImportShape(NodeCtx& c) {
  Value x = c.In(0);
  const int64_t r = x.rank();
  int64_t s, e;
  SliceBounds(r, c.Int("start", 0), c.Int("end", r), 1, &s, &e);
  std::vector<int64_t> dims(x.dims().begin() + s, x.dims().begin() + e);
  const int64_t n = dims.size();
  return {
      Constant(c.b(), Tensor::FromInts(TensorType{DType::kI64, {n}}, dims))};
}

// Size(x): x's element count as an int64 scalar.
Outs ImportSize(NodeCtx& c) {
  Value x = c.In(0);
  return {Constant(c.b(), Tensor::FromInts(TensorType{DType::kI64, {}},
                                           {x.type().num_elements()}))};
}

}  // namespace

std::vector<OnnxOpEntry> ShapeOnnxOps() {
  return {
      {"Reshape", {ImportReshape, 1, {1}}},
      {"Flatten", {ImportFlatten, 1}},
      {"Transpose", {ImportTranspose, 1}},
      {"Concat", {ImportConcat, 1}},
      {"Split", {ImportSplit, 1, {1}}},
      {"Slice", {ImportSlice, 1, {1, 2, 3, 4}}},
      {"Gather", {ImportGather, 2}},
      {"GatherElements", {ImportGatherElements, 2}},
      {"Squeeze", {ImportSqueeze, 1, {1}}},
      {"Unsqueeze", {ImportUnsqueeze, 1, {1}}},
      {"Expand", {ImportExpand, 2, {1}}},
      {"Tile", {ImportTile, 2, {1}}},
      {"Pad", {ImportPad, 1, {1, 2, 3}, UnsupportedPadMode}},
      {"CumSum", {ImportCumSum, 2, {1}}},
      {"Trilu", {ImportTrilu, 1, {1}}},
      // Identity: the input itself.
      {"Identity", {[](NodeCtx& c) -> Outs { return {c.In(0)}; }, 1}},
      {"Shape", {ImportShape, 1}},
      {"Size", {ImportSize, 1}},
  };
}

}  // namespace adc::onnx_import
