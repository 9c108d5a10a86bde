// Reductions over a set of axes (attr axes: sorted, unique, in range; attr
// keepdims keeps reduced axes with size 1). An empty `axes` is the identity.
//
// Forward mode: reduce_sum is linear (its JVP sums the tangent; its
// gradient rule, the broadcast, is the transpose); reduce_max/min/prod have
// JVP rules, each the transpose of its gradient rule (a weighted sum of the
// tangent with the weights the gradient rule spreads). Batching shifts the
// axes past the batch dimension.
#include <algorithm>
#include <cmath>

#include "graph/ops/op_util.h"

namespace adc {
namespace {

using ops::Error;

bool IsReduced(const std::vector<int64_t>& axes, int64_t axis) {
  return std::binary_search(axes.begin(), axes.end(), axis);
}

absl::StatusOr<TensorType> InferReduce(const Node& node,
                                       absl::Span<const TensorType> in) {
  const std::vector<int64_t>& axes = node.attrs.GetInts("axes");
  const bool keepdims = node.attrs.GetBool("keepdims");
  if (in[0].dtype == DType::kBool) {
    return Error("operand must be numeric, got ", in[0].ToString());
  }
  for (size_t i = 0; i < axes.size(); ++i) {
    ADC_RETURN_IF_ERROR(ops::CheckAxis(axes[i], in[0].rank(), "axis"));
    if (i > 0 && axes[i] <= axes[i - 1]) {
      return Error("axes must be sorted and unique, got ", DimsToString(axes));
    }
  }
  TensorType out{in[0].dtype, {}};
  for (int64_t i = 0; i < in[0].rank(); ++i) {
    if (!IsReduced(axes, i)) {
      out.dims.push_back(in[0].dims[i]);
    } else if (keepdims) {
      out.dims.push_back(1);
    }
  }
  return out;
}

// Folds every input element into its output element with `combine`, starting
// from `init` (on double for float dtypes, on int64 for integer dtypes).
template <typename CombineD, typename CombineI>
Tensor ReduceEval(const Node& node, const Tensor& x, double init_d,
                  int64_t init_i, CombineD combine_d, CombineI combine_i) {
  const std::vector<int64_t>& axes = node.attrs.GetInts("axes");
  Dims kept = x.dims();
  for (int64_t a : axes) kept[a] = 1;
  const std::vector<int64_t> strides = RowMajorStrides(kept);
  const int64_t n = NumElements(kept);
  std::vector<double> acc_d(n, init_d);
  std::vector<int64_t> acc_i(n, init_i);
  ops::ForEachIndex(x.dims(),
                    [&](const std::vector<int64_t>& index, int64_t flat) {
                      int64_t o = 0;
                      for (size_t d = 0; d < index.size(); ++d) {
                        if (!IsReduced(axes, d)) o += index[d] * strides[d];
                      }
                      if (IsFloat(x.dtype())) {
                        acc_d[o] = combine_d(acc_d[o], x.doubles()[flat]);
                      } else {
                        acc_i[o] = combine_i(acc_i[o], x.ints()[flat]);
                      }
                    });
  Tensor out(node.type);
  for (int64_t i = 0; i < n; ++i) {
    if (IsFloat(x.dtype())) {
      out.SetDouble(i, acc_d[i]);
    } else {
      out.SetInt(i, acc_i[i]);
    }
  }
  return out;
}

absl::StatusOr<Tensor> EvalSum(const Node& node,
                               absl::Span<const Tensor* const> in) {
  return ReduceEval(
      node, *in[0], 0.0, 0, [](double a, double b) { return a + b; },
      [](int64_t a, int64_t b) {
        return static_cast<int64_t>(static_cast<uint64_t>(a) +
                                    static_cast<uint64_t>(b));
      });
}

absl::StatusOr<Tensor> EvalProd(const Node& node,
                                absl::Span<const Tensor* const> in) {
  return ReduceEval(
      node, *in[0], 1.0, 1, [](double a, double b) { return a * b; },
      [](int64_t a, int64_t b) {
        return static_cast<int64_t>(static_cast<uint64_t>(a) *
                                    static_cast<uint64_t>(b));
      });
}

// max/min propagate NaN, as torch.amax.
absl::StatusOr<Tensor> EvalMax(const Node& node,
                               absl::Span<const Tensor* const> in) {
  return ReduceEval(
      node, *in[0], -INFINITY, std::numeric_limits<int64_t>::min(),
      [](double a, double b) {
        return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
      },
      [](int64_t a, int64_t b) { return std::max(a, b); });
}

absl::StatusOr<Tensor> EvalMin(const Node& node,
                               absl::Span<const Tensor* const> in) {
  return ReduceEval(
      node, *in[0], INFINITY, std::numeric_limits<int64_t>::max(),
      [](double a, double b) {
        return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
      },
      [](int64_t a, int64_t b) { return std::min(a, b); });
}

// y = sum(x); dx = broadcast(dy)
std::vector<Value> GradSum(const GradContext& c) {
  return {ops::Unreduce(c.dy, c.x[0].dims(), c.node.attrs.GetInts("axes"),
                        c.node.attrs.GetBool("keepdims"))};
}

// Where x attains its extremum y, and how many elements of each reduction
// group do (count, broadcast to x's shape).
struct Hits {
  Value hit;
  Value count;
};

Hits ExtremumHits(const Node& node, Value x, Value y) {
  const auto& axes = node.attrs.GetInts("axes");
  const bool keepdims = node.attrs.GetBool("keepdims");
  Value hit = Eq(x, ops::Unreduce(y, x.dims(), axes, keepdims));
  Value count = Sum(Cast(hit, x.dtype()), axes, /*keepdims=*/true);
  return {hit, BroadcastTo(count, x.dims())};
}

// y = max(x) (or min); dx = broadcast(dy) / count where x == broadcast(y),
// else 0: tied extrema share the gradient equally (as torch.amax and JAX).
std::vector<Value> GradExtremum(const GradContext& c) {
  const Hits h = ExtremumHits(c.node, c.x[0], c.y);
  Value dy = ops::Unreduce(c.dy, c.x[0].dims(), c.node.attrs.GetInts("axes"),
                           c.node.attrs.GetBool("keepdims"));
  return {Select(h.hit, dy / h.count, 0.0)};
}

// The transpose of GradExtremum: dy = sum(dx / count where x == y, else 0),
// the mean of the tangents at the tied extrema.
Value JvpExtremum(const JvpContext& c) {
  const Hits h = ExtremumHits(c.node, c.x[0], c.y);
  return Sum(Select(h.hit, c.dx[0] / h.count, 0.0),
             c.node.attrs.GetInts("axes"), c.node.attrs.GetBool("keepdims"));
}

// Exclusive cumulative product along the last axis of x ([m, n]), in
// ceil(log2 n) doubling steps (Hillis-Steele) of slice, pad and mul; reverse
// scans from the end. Built from differentiable ops, so it works with zeros
// and can be differentiated again.
Value ExclusiveCumProd(Value x, bool reverse) {
  const int64_t m = x.dim(0), n = x.dim(1);
  if (reverse) x = Reverse(x, {1});
  // shift(v, s)[i] = v[i - s] for i >= s, else 1.
  auto shift = [&](Value v, int64_t s) {
    if (s >= n) return FullLike(v, 1.0);
    return Pad(Slice(v, {0, 0}, {m, n - s}), {0, s}, {0, 0}, /*value=*/1.0);
  };
  Value y = x;
  for (int64_t s = 1; s < n; s *= 2) y = y * shift(y, s);
  y = shift(y, 1);
  return reverse ? Reverse(y, {1}) : y;
}

// prod_{j != i} x_j for each x_i: the product of the other elements of its
// reduction group, computed without division (exclusive products from the
// left and from the right), so zeros are handled exactly.
Value ProductOfOthers(Value x, const std::vector<int64_t>& axes) {
  const int r = x.rank();
  // Move the reduced axes last and flatten to [kept, reduced].
  std::vector<int64_t> perm;
  int64_t kept = 1, reduced = 1;
  for (int64_t i = 0; i < r; ++i) {
    if (!IsReduced(axes, i)) perm.push_back(i), kept *= x.dims()[i];
  }
  for (int64_t a : axes) perm.push_back(a), reduced *= x.dims()[a];
  Value xt = Transpose(x, perm);
  Value flat = Reshape(xt, {kept, reduced});
  Value others = ExclusiveCumProd(flat, false) * ExclusiveCumProd(flat, true);
  std::vector<int64_t> inverse(r);
  for (int i = 0; i < r; ++i) inverse[perm[i]] = i;
  return Transpose(Reshape(others, xt.dims()), inverse);
}

// y = prod(x); dx_i = dy * prod_{j != i} x_j
std::vector<Value> GradProd(const GradContext& c) {
  const auto& axes = c.node.attrs.GetInts("axes");
  Value dy = ops::Unreduce(c.dy, c.x[0].dims(), axes,
                           c.node.attrs.GetBool("keepdims"));
  return {MulNoNan(ProductOfOthers(c.x[0], axes), dy)};
}

// Its transpose: dy = sum_i dx_i * prod_{j != i} x_j
Value JvpProd(const JvpContext& c) {
  const auto& axes = c.node.attrs.GetInts("axes");
  return Sum(MulNoNan(ProductOfOthers(c.x[0], axes), c.dx[0]), axes,
             c.node.attrs.GetBool("keepdims"));
}

}  // namespace

std::vector<OpDef> ReductionOpDefs() {
  auto reduce = [](OpKind kind, std::string name, GradFn grad, EvalFn eval) {
    return OpDef(kind, std::move(name), OpFamily::kReduction)
        .Inputs(1)
        .Attr("axes", AttrKind::kInts)
        .Attr("keepdims", AttrKind::kBool, AttrValue(false))
        .Infer(InferReduce)
        .Grad(grad)
        .Eval(eval)
        .Batch(ops::BatchAxes);
  };
  return {
      // Sums start from +0.
      reduce(OpKind::kReduceSum, "reduce_sum", GradSum, EvalSum)
          .Linear()
          .NegZero(NegativeZero::kNever),
      reduce(OpKind::kReduceMax, "reduce_max", GradExtremum, EvalMax)
          .Jvp(JvpExtremum)
          .NegZero(NegativeZero::kIfFirstMay),
      reduce(OpKind::kReduceMin, "reduce_min", GradExtremum, EvalMin)
          .Jvp(JvpExtremum)
          .NegZero(NegativeZero::kIfFirstMay),
      reduce(OpKind::kReduceProd, "reduce_prod", GradProd, EvalProd)
          .Jvp(JvpProd),
  };
}

}  // namespace adc
