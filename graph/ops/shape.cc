// Data movement: reshape, transpose, broadcast_to, concat, slice, pad, gather,
// scatter_add and cumsum. None changes values, so each gradient is another
// data movement (or a sum). They are linear in their floating-point
// operands, so each JVP is the op applied to the tangents (JvpKind::kLinear)
// and each gradient rule is that map's transpose; pad is affine (its JVP pads
// with zeros) and barrier orders its operand. Each has a batching rule
// (the batch dimension leads).
#include <algorithm>

#include "graph/ops/op_util.h"

namespace adc {
namespace {

using ops::Error;
using ops::MoveAxis;

// ---------------------------------------------------------------------------
// reshape: attr shape; same number of elements, same row-major data.
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> InferReshape(const Node& node,
                                        absl::Span<const TensorType> in) {
  const Dims& dims = node.attrs.GetInts("shape");
  ADC_RETURN_IF_ERROR(ops::CheckDims(dims, "shape"));
  if (NumElements(dims) != in[0].num_elements()) {
    return Error("cannot reshape ", in[0].ToString(), " (",
                 in[0].num_elements(), " elements) to ", DimsToString(dims));
  }
  return TensorType{in[0].dtype, dims};
}

absl::StatusOr<Tensor> EvalReshape(const Node& node,
                                   absl::Span<const Tensor* const> in) {
  Tensor out = *in[0];
  Tensor result(node.type);
  result.mutable_doubles() = out.doubles();
  result.mutable_ints() = out.ints();
  return result;
}

// y = reshape(x); dx = reshape(dy, shape(x))
std::vector<Value> GradReshape(const GradContext& c) {
  return {Reshape(c.dy, c.x[0].dims())};
}

// ---------------------------------------------------------------------------
// transpose: attr perm; out.dims[i] = x.dims[perm[i]].
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> InferTranspose(const Node& node,
                                          absl::Span<const TensorType> in) {
  const std::vector<int64_t>& perm = node.attrs.GetInts("perm");
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool ok = static_cast<int>(perm.size()) == in[0].rank();
  for (int i = 0; ok && i < in[0].rank(); ++i) ok = sorted[i] == i;
  if (!ok) {
    return Error("perm ", DimsToString(perm), " is not a permutation of the ",
                 in[0].rank(), " axes of ", in[0].ToString());
  }
  TensorType out = in[0];
  for (int i = 0; i < in[0].rank(); ++i) out.dims[i] = in[0].dims[perm[i]];
  return out;
}

absl::StatusOr<Tensor> EvalTranspose(const Node& node,
                                     absl::Span<const Tensor* const> in) {
  const std::vector<int64_t>& perm = node.attrs.GetInts("perm");
  const std::vector<int64_t> strides = RowMajorStrides(in[0]->dims());
  return ops::Rearrange(*in[0], node.type,
                        [&](const std::vector<int64_t>& index) {
                          int64_t s = 0;
                          for (size_t i = 0; i < index.size(); ++i) {
                            s += index[i] * strides[perm[i]];
                          }
                          return s;
                        });
}

// y = transpose(x, perm); dx = transpose(dy, inverse(perm))
std::vector<Value> GradTranspose(const GradContext& c) {
  const std::vector<int64_t>& perm = c.node.attrs.GetInts("perm");
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = i;
  return {Transpose(c.dy, inverse)};
}

// ---------------------------------------------------------------------------
// broadcast_to: attr shape; NumPy rules (x's dims align right with the
// shape's and are equal or 1).
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> InferBroadcastTo(const Node& node,
                                            absl::Span<const TensorType> in) {
  const Dims& dims = node.attrs.GetInts("shape");
  ADC_RETURN_IF_ERROR(ops::CheckDims(dims, "shape"));
  const int lead = static_cast<int>(dims.size()) - in[0].rank();
  bool ok = lead >= 0;
  for (int i = 0; ok && i < in[0].rank(); ++i) {
    ok = in[0].dims[i] == dims[lead + i] || in[0].dims[i] == 1;
  }
  if (!ok) {
    return Error("cannot broadcast ", in[0].ToString(), " to ",
                 DimsToString(dims));
  }
  return TensorType{in[0].dtype, dims};
}

absl::StatusOr<Tensor> EvalBroadcastTo(const Node& node,
                                       absl::Span<const Tensor* const> in) {
  const Dims& xd = in[0]->dims();
  const int lead = node.type.rank() - static_cast<int>(xd.size());
  const std::vector<int64_t> strides = RowMajorStrides(xd);
  return ops::Rearrange(*in[0], node.type,
                        [&](const std::vector<int64_t>& index) {
                          int64_t s = 0;
                          for (size_t i = 0; i < xd.size(); ++i) {
                            if (xd[i] != 1) s += index[lead + i] * strides[i];
                          }
                          return s;
                        });
}

// y = broadcast_to(x); dx = sum of dy over the broadcast axes
std::vector<Value> GradBroadcastTo(const GradContext& c) {
  return {ops::SumToShape(c.dy, c.x[0].dims())};
}

// ---------------------------------------------------------------------------
// concat: attr axis; equal dtypes and ranks, dims equal except on axis.
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> InferConcat(const Node& node,
                                       absl::Span<const TensorType> in) {
  const int64_t axis = node.attrs.GetInt("axis");
  ADC_RETURN_IF_ERROR(ops::CheckAxis(axis, in[0].rank(), "axis"));
  TensorType out = in[0];
  out.dims[axis] = 0;
  for (const TensorType& t : in) {
    bool ok = t.dtype == in[0].dtype && t.rank() == in[0].rank();
    for (int i = 0; ok && i < t.rank(); ++i) {
      ok = i == axis || t.dims[i] == in[0].dims[i];
    }
    if (!ok) {
      return Error("cannot concatenate ", t.ToString(), " with ",
                   in[0].ToString(), " on axis ", axis);
    }
    out.dims[axis] += t.dims[axis];
    if (out.dims[axis] > ops::kMaxElements) {
      return Error("concatenation on axis ", axis, " has more than ",
                   ops::kMaxElements, " elements");
    }
  }
  return out;
}

absl::StatusOr<Tensor> EvalConcat(const Node& node,
                                  absl::Span<const Tensor* const> in) {
  const int64_t axis = node.attrs.GetInt("axis");
  Tensor out(node.type);
  int64_t offset = 0;
  const std::vector<int64_t> out_strides = RowMajorStrides(node.type.dims);
  for (const Tensor* t : in) {
    ops::ForEachIndex(
        t->dims(), [&](const std::vector<int64_t>& index, int64_t flat) {
          int64_t o = 0;
          for (size_t i = 0; i < index.size(); ++i) {
            o += (index[i] + (static_cast<int64_t>(i) == axis ? offset : 0)) *
                 out_strides[i];
          }
          ops::CopyElement(*t, flat, &out, o);
        });
    offset += t->dims()[axis];
  }
  return out;
}

// y = concat(x_1, ..., x_n); dx_i = the slice of dy where x_i landed
std::vector<Value> GradConcat(const GradContext& c) {
  const int64_t axis = c.node.attrs.GetInt("axis");
  std::vector<Value> grads;
  int64_t offset = 0;
  for (const Value& x : c.x) {
    const int64_t n = x.dims()[axis];
    grads.push_back(SliceAxis(c.dy, axis, offset, offset + n));
    offset += n;
  }
  return grads;
}

// ---------------------------------------------------------------------------
// slice: attrs start, limit, stride (one per axis). Elements start,
// start + stride, ... while before limit. Stride > 0: 0 <= start <= limit <=
// n. Stride < 0: -1 <= limit <= start <= n - 1.
// ---------------------------------------------------------------------------
// The number of elements of a valid slice; no intermediate overflows, even
// for strides near the int64 limits (|limit - start| <= 2^40).
int64_t SliceLength(int64_t start, int64_t limit, int64_t stride) {
  const int64_t span = stride > 0 ? limit - start : start - limit;
  if (span == 0) return 0;
  // C++ division truncates toward zero: (span - 1) / -stride ==
  // -((span - 1) / stride), and -stride would overflow for INT64_MIN.
  return 1 + (stride > 0 ? (span - 1) / stride : -((span - 1) / stride));
}

absl::StatusOr<TensorType> InferSlice(const Node& node,
                                      absl::Span<const TensorType> in) {
  const auto& start = node.attrs.GetInts("start");
  const auto& limit = node.attrs.GetInts("limit");
  const auto& stride = node.attrs.GetInts("stride");
  const int r = in[0].rank();
  if (static_cast<int>(start.size()) != r ||
      static_cast<int>(limit.size()) != r ||
      static_cast<int>(stride.size()) != r) {
    return Error("start, limit and stride need one entry per axis of ",
                 in[0].ToString());
  }
  TensorType out = in[0];
  for (int i = 0; i < r; ++i) {
    const int64_t n = in[0].dims[i];
    const bool ok =
        stride[i] > 0 ? 0 <= start[i] && start[i] <= limit[i] && limit[i] <= n
        : stride[i] < 0
            ? -1 <= limit[i] && limit[i] <= start[i] && start[i] <= n - 1
            : false;
    if (!ok) {
      return Error("axis ", i, " of ", in[0].ToString(), ": start ", start[i],
                   ", limit ", limit[i], ", stride ", stride[i],
                   " is not a valid slice (stride > 0: 0 <= start <= limit "
                   "<= size; stride < 0: -1 <= limit <= start < size)");
    }
    out.dims[i] = SliceLength(start[i], limit[i], stride[i]);
  }
  return out;
}

absl::StatusOr<Tensor> EvalSlice(const Node& node,
                                 absl::Span<const Tensor* const> in) {
  const auto& start = node.attrs.GetInts("start");
  const auto& stride = node.attrs.GetInts("stride");
  const std::vector<int64_t> strides = RowMajorStrides(in[0]->dims());
  return ops::Rearrange(*in[0], node.type,
                        [&](const std::vector<int64_t>& index) {
                          int64_t s = 0;
                          for (size_t i = 0; i < index.size(); ++i) {
                            s += (start[i] + index[i] * stride[i]) * strides[i];
                          }
                          return s;
                        });
}

// y = x[start:limit:stride]; dx = dy scattered back into zeros: a pad with
// interior padding stride - 1 (negative-stride axes are first reversed so
// that their elements ascend).
std::vector<Value> GradSlice(const GradContext& c) {
  const auto& start = c.node.attrs.GetInts("start");
  const auto& stride = c.node.attrs.GetInts("stride");
  Value x = c.x[0];
  if (c.y.type().num_elements() == 0) return {ZerosLike(x)};
  std::vector<int64_t> reversed;
  const int r = x.rank();
  std::vector<int64_t> low(r), high(r), interior(r);
  for (int i = 0; i < r; ++i) {
    const int64_t len = c.y.dims()[i];
    const int64_t last = start[i] + (len - 1) * stride[i];
    const int64_t first = std::min(start[i], last);
    const int64_t end = std::max(start[i], last) + 1;
    if (stride[i] < 0) reversed.push_back(i);
    low[i] = first;
    high[i] = x.dims()[i] - end;
    // One element needs no interior padding (and |stride| may not fit).
    interior[i] = len > 1 ? std::abs(stride[i]) - 1 : 0;
  }
  Value dy = reversed.empty() ? c.dy : Reverse(c.dy, reversed);
  return {Pad(dy, low, high, 0.0, interior)};
}

// ---------------------------------------------------------------------------
// pad: attrs low, high, interior (>= 0), value. Each axis becomes
// low + n + (n - 1) * interior + high long.
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> InferPad(const Node& node,
                                    absl::Span<const TensorType> in) {
  const auto& low = node.attrs.GetInts("low");
  const auto& high = node.attrs.GetInts("high");
  const auto& interior = node.attrs.GetInts("interior");
  const int r = in[0].rank();
  if (static_cast<int>(low.size()) != r || static_cast<int>(high.size()) != r ||
      static_cast<int>(interior.size()) != r) {
    return Error("low, high and interior need one entry per axis of ",
                 in[0].ToString());
  }
  TensorType out = in[0];
  for (int i = 0; i < r; ++i) {
    if (low[i] < 0 || high[i] < 0 || interior[i] < 0) {
      return Error(
          "padding amounts must be >= 0 (the builder's Pad crops "
          "for negative ones), got low ",
          DimsToString(low), " high ", DimsToString(high), " interior ",
          DimsToString(interior));
    }
    // Bounded first, so that the size below cannot overflow.
    const int64_t n = in[0].dims[i];
    const int64_t gaps = std::max<int64_t>(n - 1, 0);
    if (low[i] > ops::kMaxElements || high[i] > ops::kMaxElements ||
        interior[i] > ops::kMaxElements ||
        (gaps > 0 && interior[i] > ops::kMaxElements / gaps)) {
      return Error("padding axis ", i, " of ", in[0].ToString(), " by low ",
                   low[i], ", high ", high[i], ", interior ", interior[i],
                   " gives more than ", ops::kMaxElements, " elements");
    }
    out.dims[i] = low[i] + high[i] + n + gaps * interior[i];
  }
  return out;
}

absl::StatusOr<Tensor> EvalPad(const Node& node,
                               absl::Span<const Tensor* const> in) {
  const auto& low = node.attrs.GetInts("low");
  const auto& interior = node.attrs.GetInts("interior");
  Tensor out = Tensor::Filled(node.type, node.attrs.GetFloat("value"));
  const std::vector<int64_t> out_strides = RowMajorStrides(node.type.dims);
  ops::ForEachIndex(
      in[0]->dims(), [&](const std::vector<int64_t>& index, int64_t flat) {
        int64_t o = 0;
        for (size_t i = 0; i < index.size(); ++i) {
          o += (low[i] + index[i] * (interior[i] + 1)) * out_strides[i];
        }
        ops::CopyElement(*in[0], flat, &out, o);
      });
  return out;
}

// y = pad(x); dx = dy[low : low + (n-1)(interior+1) + 1 : interior + 1]
std::vector<Value> GradPad(const GradContext& c) {
  const auto& low = c.node.attrs.GetInts("low");
  const auto& interior = c.node.attrs.GetInts("interior");
  Value x = c.x[0];
  if (x.type().num_elements() == 0) return {ZerosLike(x)};
  const int r = x.rank();
  std::vector<int64_t> start(r), limit(r), stride(r);
  for (int i = 0; i < r; ++i) {
    start[i] = low[i];
    stride[i] = interior[i] + 1;
    limit[i] = low[i] + (x.dims()[i] - 1) * stride[i] + 1;
  }
  return {Slice(c.dy, start, limit, stride)};
}

// pad is affine (its fill value is a constant): its JVP pads the tangent
// with zeros.
Value JvpPad(const JvpContext& c) {
  Attrs attrs = c.node.attrs;
  attrs.Set("value", 0.0);
  return c.b->AddOp(OpKind::kPad, {c.dx[0]}, std::move(attrs));
}

// ---------------------------------------------------------------------------
// gather(x, indices): attr axis; out[p, j, q] = x[p, idx(j), q] where p spans
// the axes before `axis`, q those after it and j the indices' axes. Negative
// indices count from the end; out-of-range ones clamp to [0, n - 1].
// scatter_add(base, indices, updates): attr axis; the adjoint of gather: out =
// base; out[p, idx(j), q] += updates[p, j, q].
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> GatherType(const TensorType& x,
                                      const TensorType& indices, int64_t axis) {
  ADC_RETURN_IF_ERROR(ops::CheckAxis(axis, x.rank(), "axis"));
  if (!IsInteger(indices.dtype)) {
    return Error("indices must be i32 or i64, got ", indices.ToString());
  }
  // Clamping needs an element to clamp to.
  if (x.dims[axis] == 0 && indices.num_elements() > 0) {
    return Error("cannot index axis ", axis, " of ", x.ToString(),
                 ": it is empty");
  }
  TensorType out{x.dtype, {}};
  out.dims.assign(x.dims.begin(), x.dims.begin() + axis);
  out.dims.insert(out.dims.end(), indices.dims.begin(), indices.dims.end());
  out.dims.insert(out.dims.end(), x.dims.begin() + axis + 1, x.dims.end());
  return out;
}

absl::StatusOr<TensorType> InferGather(const Node& node,
                                       absl::Span<const TensorType> in) {
  return GatherType(in[0], in[1], node.attrs.GetInt("axis"));
}

absl::StatusOr<TensorType> InferScatterAdd(const Node& node,
                                           absl::Span<const TensorType> in) {
  ADC_ASSIGN_OR_RETURN(TensorType expected,
                       GatherType(in[0], in[1], node.attrs.GetInt("axis")));
  if (in[2] != expected) {
    return Error("updates must be ", expected.ToString(), " (base ",
                 in[0].ToString(), ", indices ", in[1].ToString(), "), got ",
                 in[2].ToString());
  }
  return in[0];
}

int64_t ClampIndex(int64_t i, int64_t n) {
  if (i < 0) i += n;
  return std::min(std::max<int64_t>(i, 0), n - 1);
}

// Calls f(x_flat, out_flat) for each element of gather's output.
void ForEachGathered(const Dims& x_dims, const Tensor& indices, int64_t axis,
                     const Dims& out_dims,
                     const std::function<void(int64_t, int64_t)>& f) {
  const int ir = indices.dims().size();
  const std::vector<int64_t> xs = RowMajorStrides(x_dims);
  const std::vector<int64_t> is = RowMajorStrides(indices.dims());
  ops::ForEachIndex(
      out_dims, [&](const std::vector<int64_t>& index, int64_t flat) {
        int64_t ii = 0;
        for (int k = 0; k < ir; ++k) ii += index[axis + k] * is[k];
        int64_t s = ClampIndex(indices.ints()[ii], x_dims[axis]) * xs[axis];
        for (int64_t d = 0; d < axis; ++d) s += index[d] * xs[d];
        for (size_t d = axis + 1; d < x_dims.size(); ++d) {
          s += index[d - 1 + ir] * xs[d];
        }
        f(s, flat);
      });
}

absl::StatusOr<Tensor> EvalGather(const Node& node,
                                  absl::Span<const Tensor* const> in) {
  Tensor out(node.type);
  ForEachGathered(
      in[0]->dims(), *in[1], node.attrs.GetInt("axis"), node.type.dims,
      [&](int64_t s, int64_t o) { ops::CopyElement(*in[0], s, &out, o); });
  return out;
}

absl::StatusOr<Tensor> EvalScatterAdd(const Node& node,
                                      absl::Span<const Tensor* const> in) {
  Tensor out = *in[0];
  const Tensor& updates = *in[2];
  ForEachGathered(in[0]->dims(), *in[1], node.attrs.GetInt("axis"),
                  updates.dims(), [&](int64_t s, int64_t u) {
                    if (IsFloat(out.dtype())) {
                      out.SetDouble(s, out.doubles()[s] + updates.doubles()[u]);
                    } else {
                      // Integers wrap around (as every integer kernel).
                      out.SetInt(s,
                                 static_cast<int64_t>(
                                     static_cast<uint64_t>(out.ints()[s]) +
                                     static_cast<uint64_t>(updates.ints()[u])));
                    }
                  });
  return out;
}

// y = gather(x, idx); dx = scatter_add(zeros_like(x), idx, dy)
std::vector<Value> GradGather(const GradContext& c) {
  return {
      ScatterAdd(ZerosLike(c.x[0]), c.x[1], c.dy, c.node.attrs.GetInt("axis")),
      Value()};
}

// y = scatter_add(base, idx, u); dbase = dy, du = gather(dy, idx)
std::vector<Value> GradScatterAdd(const GradContext& c) {
  return {c.dy, Value(), Gather(c.dy, c.x[1], c.node.attrs.GetInt("axis"))};
}

// ---------------------------------------------------------------------------
// cumsum: attrs axis, exclusive, reverse. y_j = sum of x_i for i <= j (i < j
// when exclusive; i >= j / i > j when reverse).
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> InferCumSum(const Node& node,
                                       absl::Span<const TensorType> in) {
  ADC_RETURN_IF_ERROR(
      ops::CheckAxis(node.attrs.GetInt("axis"), in[0].rank(), "axis"));
  if (in[0].dtype == DType::kBool) {
    return Error("operand must be numeric, got ", in[0].ToString());
  }
  return in[0];
}

absl::StatusOr<Tensor> EvalCumSum(const Node& node,
                                  absl::Span<const Tensor* const> in) {
  const int64_t axis = node.attrs.GetInt("axis");
  const bool exclusive = node.attrs.GetBool("exclusive");
  const bool reverse = node.attrs.GetBool("reverse");
  const Tensor& x = *in[0];
  Tensor out(node.type);
  const int64_t n = x.dims()[axis];
  const std::vector<int64_t> strides = RowMajorStrides(x.dims());
  const int64_t stride = strides[axis];
  Dims outer = x.dims();
  outer[axis] = 1;
  ops::ForEachIndex(outer, [&](const std::vector<int64_t>& index, int64_t) {
    int64_t base = 0;
    for (size_t d = 0; d < index.size(); ++d) base += index[d] * strides[d];
    double acc = 0;
    uint64_t acc_i = 0;  // Integers wrap around (as every integer kernel).
    for (int64_t k = 0; k < n; ++k) {
      const int64_t j = base + (reverse ? n - 1 - k : k) * stride;
      if (IsFloat(x.dtype())) {
        if (!exclusive) acc += x.doubles()[j];
        out.SetDouble(j, acc);
        if (exclusive) acc += x.doubles()[j];
      } else {
        if (!exclusive) acc_i += static_cast<uint64_t>(x.ints()[j]);
        out.SetInt(j, static_cast<int64_t>(acc_i));
        if (exclusive) acc_i += static_cast<uint64_t>(x.ints()[j]);
      }
    }
  });
  return out;
}

// y = cumsum(x); dx = cumsum(dy) in the opposite direction, same exclusivity
std::vector<Value> GradCumSum(const GradContext& c) {
  return {CumSum(c.dy, c.node.attrs.GetInt("axis"),
                 c.node.attrs.GetBool("exclusive"),
                 !c.node.attrs.GetBool("reverse"))};
}

// ---------------------------------------------------------------------------
// barrier: (x, after...) -> x. An identity on x whose other operands only
// order it: values computed from it come after them, and passes never merge
// it (nor what is computed from it) with x. Rematerialization uses it so
// that recomputed values stay recomputed, late (passes/checkpoint.h).
// ---------------------------------------------------------------------------
absl::StatusOr<TensorType> InferBarrier(const Node&,
                                        absl::Span<const TensorType> in) {
  return in[0];
}

absl::StatusOr<Tensor> EvalBarrier(const Node&,
                                   absl::Span<const Tensor* const> in) {
  return *in[0];
}

// y = barrier(x, after...); dx = dy, the others get none.
std::vector<Value> GradBarrier(const GradContext& c) {
  std::vector<Value> grads(c.x.size());
  grads[0] = c.dy;
  return grads;
}

// The JVP is barrier(dx, after...): a tangent ordered like its primal.
Value JvpBarrier(const JvpContext& c) {
  if (!c.dx[0].valid()) return Value();
  std::vector<Value> args = c.x;
  args[0] = c.dx[0];
  return c.b->AddOp(OpKind::kBarrier, std::move(args), c.node.attrs);
}

// --- Batching rules (passes/vmap.h): the batch dimension leads. -------------

Value BatchBarrier(const BatchContext& c) {
  std::vector<Value> args = c.x;
  args[0] = ops::Batched(c, 0);
  return c.b->AddOp(OpKind::kBarrier, std::move(args), c.node.attrs);
}

Value BatchReshape(const BatchContext& c) {
  return Reshape(c.x[0], ops::WithBatch(c.size, c.node.attrs.GetInts("shape")));
}

Value BatchTranspose(const BatchContext& c) {
  return Transpose(
      c.x[0], ops::WithBatch(0, ops::ShiftAxes(c.node.attrs.GetInts("perm"))));
}

// The operand's dims are aligned to the right of the shape (NumPy): insert
// the missing axes after the batch dimension first.
Value BatchBroadcastTo(const BatchContext& c) {
  const Dims& shape = c.node.attrs.GetInts("shape");
  Value x = c.x[0];
  Dims aligned(shape.size() + 2 - x.rank(), 1);  // [k, 1...]
  aligned[0] = c.size;
  aligned.insert(aligned.end(), x.dims().begin() + 1, x.dims().end());
  return BroadcastTo(Reshape(x, aligned), ops::WithBatch(c.size, shape));
}

Value BatchConcat(const BatchContext& c) {
  std::vector<Value> xs;
  for (size_t k = 0; k < c.x.size(); ++k) xs.push_back(ops::Batched(c, k));
  return c.b->AddOp(OpKind::kConcat, std::move(xs),
                    ops::ShiftedAxisAttr(c.node, "axis"));
}

Value BatchSlice(const BatchContext& c) {
  Attrs attrs = c.node.attrs;
  attrs.Set("start", ops::WithBatch(0, c.node.attrs.GetInts("start")))
      .Set("limit", ops::WithBatch(c.size, c.node.attrs.GetInts("limit")))
      .Set("stride", ops::WithBatch(1, c.node.attrs.GetInts("stride")));
  return c.b->AddOp(OpKind::kSlice, {c.x[0]}, std::move(attrs));
}

Value BatchPad(const BatchContext& c) {
  Attrs attrs = c.node.attrs;
  for (const char* name : {"low", "high", "interior"}) {
    attrs.Set(name, ops::WithBatch(0, c.node.attrs.GetInts(name)));
  }
  return c.b->AddOp(OpKind::kPad, {c.x[0]}, std::move(attrs));
}

// Both x ([k, A..., n, B...]) and the indices ([k, I...]) batched: one gather
// from the batch elements stacked along the gathered axis ([k*n, A..., B...])
// at index + batch * n, which gives [k, I..., A..., B...].
Value GatherStacked(Value x, Value indices, int64_t axis) {
  const int64_t k = x.dim(0), n = x.dim(axis + 1);
  Value front = MoveAxis(x, axis + 1, 1);  // [k, n, A..., B...]
  Dims stacked(front.dims().begin() + 1, front.dims().end());
  stacked[0] = k * n;
  Value offset = Iota(*x.builder(), indices.dtype(), indices.dims(), 0) *
                 static_cast<double>(n);
  return Gather(Reshape(front, stacked),
                ops::NormalizeIndices(indices, n) + offset, 0);
}

Value BatchGather(const BatchContext& c) {
  const int64_t axis = c.node.attrs.GetInt("axis");
  const int ir = c.x[1].rank() - (c.batched[1] ? 1 : 0);
  if (!c.batched[1]) {
    return c.b->AddOp(OpKind::kGather, {c.x[0], c.x[1]},
                      ops::ShiftedAxisAttr(c.node, "axis"));
  }
  if (!c.batched[0]) {
    // [A..., k, I..., B...]: the batch dimension to the front.
    return MoveAxis(Gather(c.x[0], c.x[1], axis), axis, 0);
  }
  // [k, I..., A..., B...] -> [k, A..., I..., B...]
  Value g = GatherStacked(c.x[0], c.x[1], axis);
  std::vector<int64_t> perm = {0};
  for (int64_t d = 0; d < axis; ++d) perm.push_back(1 + ir + d);
  for (int d = 0; d < ir; ++d) perm.push_back(1 + d);
  for (int d = 1 + ir + axis; d < g.rank(); ++d) perm.push_back(d);
  return Transpose(g, perm);
}

// With batched indices: base [k, A..., n, B...] stacked to [k*n, A..., B...],
// updates [k, A..., I..., B...] to [k, I..., A..., B...], indices offset by
// batch * n; then back.
Value BatchScatterAdd(const BatchContext& c) {
  const int64_t axis = c.node.attrs.GetInt("axis");
  if (!c.batched[1]) {
    return c.b->AddOp(OpKind::kScatterAdd,
                      {ops::Batched(c, 0), c.x[1], ops::Batched(c, 2)},
                      ops::ShiftedAxisAttr(c.node, "axis"));
  }
  Value base = ops::Batched(c, 0), indices = c.x[1];
  Value updates = ops::Batched(c, 2);
  const int ir = indices.rank() - 1;
  const int64_t k = base.dim(0), n = base.dim(axis + 1);
  Value front = MoveAxis(base, axis + 1, 1);  // [k, n, A..., B...]
  Dims stacked(front.dims().begin() + 1, front.dims().end());
  stacked[0] = k * n;
  std::vector<int64_t> perm = {0};
  for (int d = 0; d < ir; ++d) perm.push_back(1 + axis + d);
  for (int64_t d = 0; d < axis; ++d) perm.push_back(1 + d);
  for (int d = 1 + axis + ir; d < updates.rank(); ++d) perm.push_back(d);
  Value offset = Iota(*base.builder(), indices.dtype(), indices.dims(), 0) *
                 static_cast<double>(n);
  Value sum = ScatterAdd(Reshape(front, stacked),
                         ops::NormalizeIndices(indices, n) + offset,
                         Transpose(updates, perm), 0);
  return MoveAxis(Reshape(sum, front.dims()), 1, axis + 1);
}

}  // namespace

std::vector<OpDef> ShapeOpDefs() {
  auto op = [](OpKind kind, std::string name, OpFamily family, int arity,
               InferFn infer, GradFn grad, EvalFn eval) {
    return OpDef(kind, std::move(name), family)
        .Inputs(arity)
        .Infer(infer)
        .Grad(grad)
        .Eval(eval);
  };
  auto move = [&](OpKind kind, std::string name, int arity, InferFn infer,
                  GradFn grad, EvalFn eval) {
    return op(kind, std::move(name), OpFamily::kMovement, arity, infer, grad,
              eval);
  };
  using NZ = NegativeZero;
  return {
      // Pure index remapping: free inline, -0 only where the operand is.
      move(OpKind::kReshape, "reshape", 1, InferReshape, GradReshape,
           EvalReshape)
          .Linear()
          .Batch(BatchReshape)
          .Attr("shape", AttrKind::kInts)
          .Cost(0)
          .CheapAsOperand()
          .NegZero(NZ::kIfFirstMay),
      move(OpKind::kTranspose, "transpose", 1, InferTranspose, GradTranspose,
           EvalTranspose)
          .Linear()
          .Batch(BatchTranspose)
          .Attr("perm", AttrKind::kInts)
          .Cost(0)
          .CheapAsOperand()
          .NegZero(NZ::kIfFirstMay),
      move(OpKind::kBroadcastTo, "broadcast_to", 1, InferBroadcastTo,
           GradBroadcastTo, EvalBroadcastTo)
          .Linear()
          .Batch(BatchBroadcastTo)
          .Attr("shape", AttrKind::kInts)
          .Cost(0)
          .CheapAsOperand()
          .NegZero(NZ::kIfFirstMay),
      move(OpKind::kConcat, "concat", 1, InferConcat, GradConcat, EvalConcat)
          .Linear()
          .Batch(BatchConcat)
          .Inputs(1, -1)
          .Attr("axis", AttrKind::kInt)
          .NegZero(NZ::kIfAnyMay),
      move(OpKind::kSlice, "slice", 1, InferSlice, GradSlice, EvalSlice)
          .Linear()
          .Batch(BatchSlice)
          .Attr("start", AttrKind::kInts)
          .Attr("limit", AttrKind::kInts)
          .Attr("stride", AttrKind::kInts)
          .Cost(0)
          .CheapAsOperand()
          .NegZero(NZ::kIfFirstMay),
      // -0 from the operand or from a -0 fill value.
      move(OpKind::kPad, "pad", 1, InferPad, GradPad, EvalPad)
          .Jvp(JvpPad)
          .Batch(BatchPad)
          .Attr("low", AttrKind::kInts)
          .Attr("high", AttrKind::kInts)
          .Attr("interior", AttrKind::kInts)
          .Attr("value", AttrKind::kFloat, AttrValue(0.0))
          .NegZero(NZ::kByRule),
      move(OpKind::kGather, "gather", 2, InferGather, GradGather, EvalGather)
          .Linear()
          .Batch(BatchGather)
          .Attr("axis", AttrKind::kInt)
          .NegZero(NZ::kIfFirstMay),
      op(OpKind::kBarrier, "barrier", OpFamily::kMovement, 1, InferBarrier,
         GradBarrier, EvalBarrier)
          .Inputs(1, -1)
          .Jvp(JvpBarrier)
          .Batch(BatchBarrier)
          .Cost(0)
          .CheapAsOperand()
          .NegZero(NZ::kIfFirstMay),
      // scatter_add adds updates to base: -0 only where base is.
      op(OpKind::kScatterAdd, "scatter_add", OpFamily::kScatter, 3,
         InferScatterAdd, GradScatterAdd, EvalScatterAdd)
          .Linear()
          .Batch(BatchScatterAdd)
          .Attr("axis", AttrKind::kInt)
          .NegZero(NZ::kIfFirstMay),
      // Running sums start from +0.
      op(OpKind::kCumSum, "cumsum", OpFamily::kScan, 1, InferCumSum, GradCumSum,
         EvalCumSum)
          .Linear()
          .Batch(ops::BatchAxis)
          .Attr("axis", AttrKind::kInt)
          .Attr("exclusive", AttrKind::kBool, AttrValue(false))
          .Attr("reverse", AttrKind::kBool, AttrValue(false))
          .NegZero(NZ::kNever),
  };
}

}  // namespace adc
