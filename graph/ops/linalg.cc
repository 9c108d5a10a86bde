// Contractions (OpFamily::kMatMul: lowered as register-blocked products).
//
// Batched matrix product: [..., m, k] x [..., k, n] -> [..., m, n], with equal
// ranks (>= 2) and equal batch dims (the builder's MatMul broadcasts and
// handles 1-D operands).
//
// Convolution (XLA's ConvGeneralDilated in NCHW / OIHW layout), per spatial
// axis a with the input lhs-dilated (ld - 1 zeros between elements) and
// padded (negative pads crop):
//   y[n, g Og + o, p] = sum_{c < Cg, k} w[g Og + o, c, k] xd[n, g Cg + c, q]
//   q_a = p_a s_a + k_a rd_a - lo_a,  xd[q] = x[q / ld] where ld divides q
// (zero elsewhere). Its gradients are convolutions again (GradConv), so
// every order works; ConvTranspose is a convolution with ld = its stride.
//
// Forward mode: both are bilinear, so their JVP is the product rule
// (JvpKind::kMultilinear: da @ b + a @ db), from the op itself.
#include <cstdlib>

#include "graph/ops/op_util.h"

namespace adc {
namespace {

using ops::Error;
using ops::MoveAxis;

absl::StatusOr<TensorType> InferMatMul(const Node&,
                                       absl::Span<const TensorType> in) {
  const TensorType& a = in[0];
  const TensorType& b = in[1];
  if (a.dtype != b.dtype || a.dtype == DType::kBool) {
    return Error("operands must have one numeric dtype, got ", a.ToString(),
                 " and ", b.ToString());
  }
  if (a.rank() < 2 || a.rank() != b.rank()) {
    return Error("operands must have equal ranks >= 2, got ", a.ToString(),
                 " and ", b.ToString());
  }
  const int r = a.rank();
  for (int i = 0; i < r - 2; ++i) {
    if (a.dims[i] != b.dims[i]) {
      return Error("batch dimensions differ: ", a.ToString(), " and ",
                   b.ToString());
    }
  }
  if (a.dims[r - 1] != b.dims[r - 2]) {
    return Error("contracting dimensions differ: ", a.ToString(), " and ",
                 b.ToString());
  }
  TensorType out = a;
  out.dims[r - 1] = b.dims[r - 1];
  return out;
}

absl::StatusOr<Tensor> EvalMatMul(const Node& node,
                                  absl::Span<const Tensor* const> in) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  const int r = a.dims().size();
  const int64_t m = a.dims()[r - 2], k = a.dims()[r - 1], n = b.dims()[r - 1];
  const int64_t batch = NumElements(absl::MakeConstSpan(a.dims()).first(r - 2));
  Tensor out(node.type);
  const bool fp = IsFloat(a.dtype());
  for (int64_t p = 0; p < batch; ++p) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        uint64_t acc_i = 0;
        for (int64_t l = 0; l < k; ++l) {
          const int64_t ai = (p * m + i) * k + l, bi = (p * k + l) * n + j;
          if (fp) {
            acc += a.doubles()[ai] * b.doubles()[bi];
          } else {
            acc_i += static_cast<uint64_t>(a.ints()[ai]) *
                     static_cast<uint64_t>(b.ints()[bi]);
          }
        }
        const int64_t oi = (p * m + i) * n + j;
        if (fp) {
          out.SetDouble(oi, acc);
        } else {
          out.SetInt(oi, static_cast<int64_t>(acc_i));
        }
      }
    }
  }
  return out;
}

// Swaps the last two axes.
Value SwapLast(Value v) {
  std::vector<int64_t> perm(v.rank());
  for (int i = 0; i < v.rank(); ++i) perm[i] = i;
  std::swap(perm[v.rank() - 1], perm[v.rank() - 2]);
  return Transpose(v, perm);
}

// c = a @ b; da = dc @ b^T, db = a^T @ dc (transposes of the last two axes).
std::vector<Value> GradMatMul(const GradContext& c) {
  return {MatMul(c.dy, SwapLast(c.x[1])), MatMul(SwapLast(c.x[0]), c.dy)};
}

// Batched: a leading batch dimension on either operand. Matrices with one
// side shared are one product: a batched a ([k, m, K]) with a shared b as
// the stacked rows ([k*m, K] x b); a shared a with a batched b ([k, K, n])
// as the side-by-side columns (a x [K, k*n]). Otherwise the shared operand
// is broadcast (a batched product).
Value BatchMatMul(const BatchContext& c) {
  if (c.batched[0] && !c.batched[1] && c.x[0].rank() == 3) {
    Value a = c.x[0];
    Value rows = Reshape(a, {a.dim(0) * a.dim(1), a.dim(2)});
    Value product = c.b->AddOp(OpKind::kMatMul, {rows, c.x[1]});
    return Reshape(product, {a.dim(0), a.dim(1), c.x[1].dim(1)});
  }
  if (!c.batched[0] && c.batched[1] && c.x[1].rank() == 3) {
    Value b = c.x[1];
    const int64_t k = b.dim(0), inner = b.dim(1), n = b.dim(2);
    Value columns = Reshape(Transpose(b, {1, 0, 2}), {inner, k * n});
    Value product = c.b->AddOp(OpKind::kMatMul, {c.x[0], columns});
    return Transpose(Reshape(product, {c.x[0].dim(0), k, n}), {1, 0, 2});
  }
  return c.b->AddOp(OpKind::kMatMul, {ops::Batched(c, 0), ops::Batched(c, 1)});
}

// ---------------------------------------------------------------------------
// conv
// ---------------------------------------------------------------------------

// The geometry of a conv node, read from its attributes.
ConvGeometry GeometryOf(const Node& node) {
  ConvGeometry g;
  g.strides = node.attrs.GetInts("strides");
  g.pads_low = node.attrs.GetInts("pads_low");
  g.pads_high = node.attrs.GetInts("pads_high");
  g.lhs_dilation = node.attrs.GetInts("lhs_dilation");
  g.rhs_dilation = node.attrs.GetInts("rhs_dilation");
  g.groups = node.attrs.GetInt("groups");
  return g;
}

absl::StatusOr<TensorType> InferConv(const Node& node,
                                     absl::Span<const TensorType> in) {
  const TensorType& x = in[0];
  const TensorType& w = in[1];
  if (x.dtype != w.dtype) {
    return Error("input and weights have different dtypes: ", x.ToString(),
                 " and ", w.ToString());
  }
  ADC_RETURN_IF_ERROR(ops::RequireFloat(x, "conv"));
  const int spatial = x.rank() - 2;
  if (spatial < 1 || w.rank() != x.rank()) {
    return Error("input ", x.ToString(), " and weights ", w.ToString(),
                 ": expected [N, C, spatial...] and [O, C / groups, "
                 "kernel...] of equal ranks >= 3");
  }
  const ConvGeometry g = GeometryOf(node);
  for (const auto* v : {&g.strides, &g.pads_low, &g.pads_high, &g.lhs_dilation,
                        &g.rhs_dilation}) {
    if (static_cast<int>(v->size()) != spatial) {
      return Error(
          "strides, pads_low, pads_high, lhs_dilation and "
          "rhs_dilation need one entry per spatial axis (",
          spatial, ")");
    }
  }
  const int64_t c = x.dims[1], o = w.dims[0];
  if (g.groups < 1 || c % g.groups != 0 || o % g.groups != 0 ||
      w.dims[1] != c / g.groups) {
    return Error("input ", x.ToString(), ", weights ", w.ToString(),
                 " and groups ", g.groups,
                 " do not match (weights are [O, C / groups, kernel...], "
                 "both channel counts divisible by groups)");
  }
  TensorType out = x;
  out.dims[1] = o;
  for (int a = 0; a < spatial; ++a) {
    const int64_t n = x.dims[2 + a], k = w.dims[2 + a];
    const int64_t s = g.strides[a], ld = g.lhs_dilation[a],
                  rd = g.rhs_dilation[a];
    const int64_t lo = g.pads_low[a], hi = g.pads_high[a];
    if (s < 1 || ld < 1 || rd < 1 || s > ops::kMaxElements ||
        ld > ops::kMaxElements || rd > ops::kMaxElements ||
        std::abs(lo) > ops::kMaxElements || std::abs(hi) > ops::kMaxElements) {
      return Error("spatial axis ", a, ": stride ", s, ", lhs_dilation ", ld,
                   ", rhs_dilation ", rd, " must be in [1, ", ops::kMaxElements,
                   "], pads ", lo, ", ", hi, " at most ", ops::kMaxElements,
                   " in size");
    }
    if (n < 1 || k < 1) {
      return Error("spatial axis ", a, " has input size ", n,
                   " and kernel size ", k, " (both must be >= 1)");
    }
    const int64_t padded = (n - 1) * ld + 1 + lo + hi;
    const int64_t span = (k - 1) * rd + 1;
    if (padded < span) {
      return Error("spatial axis ", a, ": a window of ", span,
                   " elements does not fit the ", padded,
                   " of the dilated, padded input");
    }
    out.dims[2 + a] = (padded - span) / s + 1;
  }
  ADC_RETURN_IF_ERROR(ops::CheckDims(out.dims, "conv output"));
  return out;
}

absl::StatusOr<Tensor> EvalConv(const Node& node,
                                absl::Span<const Tensor* const> in) {
  const Tensor& x = *in[0];
  const Tensor& w = *in[1];
  const ConvGeometry g = GeometryOf(node);
  const int spatial = static_cast<int>(x.dims().size()) - 2;
  const Dims& xd = x.dims();
  const Dims& wd = w.dims();
  const int64_t cg = wd[1], og = wd[0] / g.groups;
  const Dims kernel(wd.begin() + 2, wd.end());
  const std::vector<int64_t> xs = RowMajorStrides(xd), ws = RowMajorStrides(wd);
  Tensor out(node.type);
  ops::ForEachIndex(node.type.dims, [&](const std::vector<int64_t>& idx,
                                        int64_t flat) {
    const int64_t n = idx[0], oc = idx[1], group = oc / og;
    double acc = 0;
    for (int64_t c = 0; c < cg; ++c) {
      ops::ForEachIndex(kernel, [&](const std::vector<int64_t>& k, int64_t) {
        int64_t xi = n * xs[0] + (group * cg + c) * xs[1];
        int64_t wi = oc * ws[0] + c * ws[1];
        for (int a = 0; a < spatial; ++a) {
          const int64_t q = idx[2 + a] * g.strides[a] +
                            k[a] * g.rhs_dilation[a] - g.pads_low[a];
          const int64_t ld = g.lhs_dilation[a];
          if (q < 0 || q % ld != 0 || q / ld >= xd[2 + a]) return;
          xi += q / ld * xs[2 + a];
          wi += k[a] * ws[2 + a];
        }
        acc += x.doubles()[xi] * w.doubles()[wi];
      });
    }
    out.SetDouble(flat, acc);
  });
  return out;
}

// head followed by tail.
Dims Joined(Dims head, absl::Span<const int64_t> tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// y = conv(x, w) (see the top of the file; G groups, Cg = C / G, Og = O / G;
// per spatial axis: X input, K kernel, P output sizes, Xd = ld (X - 1) + 1,
// Pd = s (P - 1) + 1, span = rd (K - 1) + 1):
//   dx = conv(dy, w'') with w''[g Cg + c, o, k] = w[g Og + o, c, K - 1 - k]
//        (flipped, channels swapped per group), strides ld, lhs_dilation s,
//        rhs_dilation rd, pads span - 1 - lo and Xd - Pd + lo;
//   dw = conv(x', dy') transposed back to [O, Cg, K...], where
//        x'[c, g N + n] = x[n, g Cg + c] and dy'[g Og + o, n] = dy[n, g Og +
//        o] (the batch contracted as channels, groups kept), strides rd,
//        lhs_dilation ld, rhs_dilation s, pads lo and span - 1 + Pd - Xd -
//        lo.
std::vector<Value> GradConv(const GradContext& c) {
  const ConvGeometry g = GeometryOf(c.node);
  Value x = c.x[0], w = c.x[1], dy = c.dy;
  const int spatial = x.rank() - 2;
  const int64_t groups = g.groups, n = x.dims()[0], ch = x.dims()[1];
  const int64_t o = w.dims()[0], cg = ch / groups, og = o / groups;
  const Dims sp_x(x.dims().begin() + 2, x.dims().end());
  const Dims sp_w(w.dims().begin() + 2, w.dims().end());
  const Dims sp_y(dy.dims().begin() + 2, dy.dims().end());
  ConvGeometry gx, gw;
  gx.groups = gw.groups = groups;
  std::vector<int64_t> flip;
  for (int a = 0; a < spatial; ++a) {
    const int64_t xd = g.lhs_dilation[a] * (sp_x[a] - 1) + 1;
    const int64_t pd = g.strides[a] * (sp_y[a] - 1) + 1;
    const int64_t span = g.rhs_dilation[a] * (sp_w[a] - 1) + 1;
    gx.strides.push_back(g.lhs_dilation[a]);
    gx.lhs_dilation.push_back(g.strides[a]);
    gx.rhs_dilation.push_back(g.rhs_dilation[a]);
    gx.pads_low.push_back(span - 1 - g.pads_low[a]);
    gx.pads_high.push_back(xd - pd + g.pads_low[a]);
    gw.strides.push_back(g.rhs_dilation[a]);
    gw.lhs_dilation.push_back(g.lhs_dilation[a]);
    gw.rhs_dilation.push_back(g.strides[a]);
    gw.pads_low.push_back(g.pads_low[a]);
    gw.pads_high.push_back(span - 1 + pd - xd - g.pads_low[a]);
    flip.push_back(3 + a);
  }
  // w [G, Og, Cg, K] -> [G, Cg, Og, K], flipped -> [G Cg, Og, K].
  Value wf =
      Reverse(MoveAxis(Reshape(w, Joined({groups, og, cg}, sp_w)), 2, 1), flip);
  Value dx = ConvGeneral(dy, Reshape(wf, Joined({ch, og}, sp_w)), gx);
  // x [N, G, Cg, S] -> [Cg, G, N, S] -> [Cg, G N, S].
  std::vector<int64_t> perm = {2, 1, 0};
  for (int a = 0; a < spatial; ++a) perm.push_back(3 + a);
  Value xt = Reshape(Transpose(Reshape(x, Joined({n, groups, cg}, sp_x)), perm),
                     Joined({cg, groups * n}, sp_x));
  // dy [N, O, P] -> [O, N, P].
  Value dyt = MoveAxis(dy, 0, 1);
  Value dw = MoveAxis(ConvGeneral(xt, dyt, gw), 0, 1);  // [Cg, O, K] -> [O, ..]
  return {dx, dw};
}

// Batched: a batch of inputs with shared weights is a larger batch; batched
// weights are groups of their own, the inputs side by side as channels:
// x [B, N, C, S] -> [N, B C, S], w [B, O, Cg, K] -> [B O, Cg, K], groups
// B G, out [N, B O, P] -> [B, N, O, P].
Value BatchConv(const BatchContext& c) {
  const ConvGeometry g = GeometryOf(c.node);
  const int64_t b = c.size;
  const TensorType& out = c.node.type;
  if (!c.batched[1]) {
    Value x = c.x[0];
    Value flat = Reshape(
        x, Joined({b * x.dims()[1]}, absl::MakeConstSpan(x.dims()).subspan(2)));
    return Reshape(ConvGeneral(flat, c.x[1], g), Joined({b}, out.dims));
  }
  Value x = MoveAxis(ops::Batched(c, 0), 0, 1);  // [N, B, C, S]
  const Dims& xd = x.dims();
  Value xs = Reshape(
      x, Joined({xd[0], b * xd[2]}, absl::MakeConstSpan(xd).subspan(3)));
  Value w = c.x[1];
  const Dims& wd = w.dims();
  Value ws =
      Reshape(w, Joined({b * wd[1]}, absl::MakeConstSpan(wd).subspan(2)));
  ConvGeometry gb = g;
  gb.groups = b * g.groups;
  Value y = ConvGeneral(xs, ws, gb);  // [N, B O, P]
  Value split = Reshape(y, Joined({out.dims[0], b, out.dims[1]},
                                  absl::MakeConstSpan(out.dims).subspan(2)));
  return MoveAxis(split, 1, 0);
}

}  // namespace

std::vector<OpDef> LinalgOpDefs() {
  // f64 dot products start from +0; f32 ones accumulate in double, and a
  // tiny negative sum rounds to -0 in f32: -0 depends on the dtype.
  return {OpDef(OpKind::kMatMul, "matmul", OpFamily::kMatMul)
              .Inputs(2)
              .Infer(InferMatMul)
              .Grad(GradMatMul)
              .Multilinear()
              .Batch(BatchMatMul)
              .Eval(EvalMatMul)
              .NegZero(NegativeZero::kByRule),
          OpDef(OpKind::kConv, "conv", OpFamily::kMatMul)
              .Inputs(2)
              .Attr("strides", AttrKind::kInts)
              .Attr("pads_low", AttrKind::kInts)
              .Attr("pads_high", AttrKind::kInts)
              .Attr("lhs_dilation", AttrKind::kInts)
              .Attr("rhs_dilation", AttrKind::kInts)
              .Attr("groups", AttrKind::kInt, AttrValue(int64_t{1}))
              .Infer(InferConv)
              .Grad(GradConv)
              .Multilinear()
              .Batch(BatchConv)
              .Eval(EvalConv)
              .NegZero(NegativeZero::kByRule)};
}

}  // namespace adc
