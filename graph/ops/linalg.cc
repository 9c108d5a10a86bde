// Batched matrix product: [..., m, k] x [..., k, n] -> [..., m, n], with equal
// ranks (>= 2) and equal batch dims (the builder's MatMul broadcasts and
// handles 1-D operands).
//
// Forward mode: matmul is bilinear, so its JVP is the product rule
// (JvpKind::kMultilinear: da @ b + a @ db), from the op itself.
#include "graph/ops/op_util.h"

namespace adc {
namespace {

using ops::Error;

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
              .NegZero(NegativeZero::kByRule)};
}

}  // namespace adc
