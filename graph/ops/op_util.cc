#include "graph/ops/op_util.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "graph/check.h"

namespace adc::ops {

absl::Status RequireFloat(const TensorType& t, absl::string_view what) {
  if (IsFloat(t.dtype)) return absl::OkStatus();
  return Error(what, " must be f32 or f64, got ", t.ToString());
}

absl::Status RequireSameTypes(absl::Span<const TensorType> inputs) {
  for (const TensorType& t : inputs) {
    if (t != inputs[0]) {
      std::vector<std::string> types;
      for (const TensorType& u : inputs) types.push_back(u.ToString());
      return Error(
          "operands must have equal types (broadcast and cast "
          "first), got ",
          absl::StrJoin(types, " and "));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDims(absl::Span<const int64_t> dims, absl::string_view what) {
  if (dims.size() > static_cast<size_t>(kMaxRank)) {
    return Error(what, " has rank ", dims.size(), ", more than ", kMaxRank);
  }
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0)
      return Error(what, " ", DimsToString(dims), " has a negative size");
    if (d > 0 && n > kMaxElements / d) {
      return Error(what, " ", DimsToString(dims), " has more than ",
                   kMaxElements, " elements");
    }
    n *= d;
  }
  return absl::OkStatus();
}

absl::Status CheckAxis(int64_t axis, int rank, absl::string_view what) {
  if (axis < 0 || axis >= rank) {
    return Error(what, " ", axis, " is out of range for rank ", rank);
  }
  return absl::OkStatus();
}

void ForEachIndex(
    const Dims& dims,
    const std::function<void(const std::vector<int64_t>&, int64_t)>& f) {
  const int64_t n = NumElements(dims);
  if (n == 0) return;
  std::vector<int64_t> index(dims.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    f(index, flat);
    for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

void CopyElement(const Tensor& src, int64_t si, Tensor* dst, int64_t di) {
  if (IsFloat(dst->dtype())) {
    dst->mutable_doubles()[di] = src.doubles()[si];
  } else {
    dst->mutable_ints()[di] = src.ints()[si];
  }
}

Tensor Rearrange(const Tensor& x, const TensorType& out_type,
                 const std::function<int64_t(const std::vector<int64_t>&)>&
                     source_flat_index) {
  ADC_CHECK(out_type.dtype == x.dtype());
  Tensor out(out_type);
  ForEachIndex(out_type.dims,
               [&](const std::vector<int64_t>& index, int64_t flat) {
                 CopyElement(x, source_flat_index(index), &out, flat);
               });
  return out;
}

Value SumToShape(Value dy, Dims dims) {
  if (dy.dims() == dims) return dy;
  const int lead = dy.rank() - static_cast<int>(dims.size());
  std::vector<int64_t> axes;
  for (int i = 0; i < dy.rank(); ++i) {
    if (i < lead || (dims[i - lead] == 1 && dy.dims()[i] != 1)) {
      axes.push_back(i);
    }
  }
  return Reshape(Sum(dy, axes, /*keepdims=*/true), dims);
}

Value Unreduce(Value dy, Dims dims, const std::vector<int64_t>& axes,
               bool keepdims) {
  if (!keepdims) {
    Dims kept = dims;
    for (int64_t a : axes) kept[a] = 1;
    dy = Reshape(dy, kept);
  }
  return BroadcastTo(dy, dims);
}

// --- Batching ---------------------------------------------------------------

Value MoveAxis(Value v, int from, int to) {
  std::vector<int64_t> perm;
  for (int i = 0; i < v.rank(); ++i) {
    if (i != from) perm.push_back(i);
  }
  perm.insert(perm.begin() + to, from);
  return Transpose(v, perm);
}

Value Batched(const BatchContext& c, size_t k) {
  if (c.batched[k]) return c.x[k];
  return BroadcastTo(c.x[k], WithBatch(c.size, c.x[k].dims()));
}

std::vector<int64_t> WithBatch(int64_t lead, const std::vector<int64_t>& v) {
  std::vector<int64_t> r = {lead};
  r.insert(r.end(), v.begin(), v.end());
  return r;
}

std::vector<int64_t> ShiftAxes(const std::vector<int64_t>& axes) {
  std::vector<int64_t> r;
  for (int64_t a : axes) r.push_back(a + 1);
  return r;
}

Attrs ShiftedAxisAttr(const Node& node, const std::string& name) {
  Attrs attrs = node.attrs;
  attrs.Set(name, node.attrs.GetInt(name) + 1);
  return attrs;
}

Attrs ShiftedAxesAttr(const Node& node, const std::string& name) {
  Attrs attrs = node.attrs;
  attrs.Set(name, ShiftAxes(node.attrs.GetInts(name)));
  return attrs;
}

Value BatchElementwise(const BatchContext& c) {
  std::vector<Value> args;
  for (size_t k = 0; k < c.x.size(); ++k) args.push_back(Batched(c, k));
  return c.b->AddOp(c.node.op, std::move(args), c.node.attrs);
}

Value BatchAxes(const BatchContext& c) {
  return c.b->AddOp(c.node.op, {Batched(c, 0)},
                    ShiftedAxesAttr(c.node, "axes"));
}

Value BatchAxis(const BatchContext& c) {
  return c.b->AddOp(c.node.op, {Batched(c, 0)},
                    ShiftedAxisAttr(c.node, "axis"));
}

Value NormalizeIndices(Value indices, int64_t n) {
  Value wrapped =
      Select(Lt(indices, 0.0), indices + static_cast<double>(n), indices);
  return Minimum(Maximum(wrapped, 0.0), static_cast<double>(n - 1));
}

}  // namespace adc::ops
