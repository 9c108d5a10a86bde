#include "passes/algebraic_simplifier.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "passes/pass_util.h"

namespace adc {
namespace {

using passes::AllElements;
using passes::IsSplatOf;

bool IsNegativeZero(double v) { return v == 0 && std::signbit(v); }

// Every value of dtype `from` is exactly representable in dtype `to`
// (including -0, infinities and NaN), so cast(cast(x, to), c) == cast(x, c):
// the interpreter's casts depend only on the value and the target dtype.
bool LosslessCast(DType from, DType to) {
  if (from == to || from == DType::kBool) return true;
  switch (from) {
    case DType::kI32:
      return to == DType::kI64 || to == DType::kF64;
    case DType::kF32:
      return to == DType::kF64;
    case DType::kF64:
    case DType::kI64:
    case DType::kBool:
      return false;
  }
  return false;
}

// -s for a scalar tensor, with the neg kernel (integers wrap).
absl::StatusOr<Tensor> Negated(const Tensor& s) {
  Node neg;
  neg.op = OpKind::kNeg;
  neg.type = s.type();
  const std::vector<const Tensor*> args = {&s};
  return GetOpDef(OpKind::kNeg).eval(neg, args);
}

// The dims of a reduction's result without keepdims.
Dims DropAxes(const Dims& dims, const std::vector<int64_t>& axes) {
  Dims out;
  for (int64_t i = 0; i < static_cast<int64_t>(dims.size()); ++i) {
    if (!std::binary_search(axes.begin(), axes.end(), i)) {
      out.push_back(dims[i]);
    }
  }
  return out;
}

// One simplifier run over a graph (see the header for the contract).
//
// Nodes are visited in topological order. A node's inputs are first
// redirected to their replacements; then at most one rewrite applies. A
// rewrite returns an existing value or builds new nodes with Emit, which
// simplifies each new node in turn, so chains collapse in one run. The old
// node is forwarded to its replacement; at the end all uses are redirected,
// replaced nodes removed and the nodes sorted again.
class Simplifier {
 public:
  Simplifier(Graph* graph, const AlgebraicSimplifierOptions& options)
      : g_(graph), options_(options) {}

  absl::StatusOr<bool> Run();

 private:
  using Result = absl::StatusOr<std::optional<ValueId>>;

  const Node& node(ValueId id) const { return g_->node(id); }
  const TensorType& type(ValueId id) const { return g_->type(id); }
  DType dtype(ValueId id) const { return g_->type(id).dtype; }
  ValueId in(ValueId id, int k) const { return g_->node(id).inputs[k]; }
  bool Is(ValueId id, OpKind op) const { return g_->node(id).op == op; }

  ValueId Resolve(ValueId id);
  void Forward(ValueId from, ValueId to);
  // Appends a node (named and leveled like the node being rewritten) and
  // simplifies it; returns the final value.
  absl::StatusOr<ValueId> Emit(OpKind op, std::vector<ValueId> inputs,
                               Attrs attrs = {});
  // A constant of `t`'s type filled with `scalar`: a rank-0 constant, or a
  // splat.
  absl::StatusOr<ValueId> EmitSplat(const Tensor& scalar, TensorType t);
  // Broadcasts the one-element value `s` to `dims`.
  absl::StatusOr<ValueId> EmitBroadcast(ValueId s, Dims dims);
  // If `id` is a broadcast_to of a one-element value, that value.
  std::optional<ValueId> OneElementSource(ValueId id) const;

  // False if `id` is certainly never -0 (integers never are).
  bool MayBeNegativeZero(ValueId id);
  template <typename InputMay>
  bool MayBeNegativeZeroByRule(const Node& n, InputMay input_may);
  // False if no gradient can reach `id` from an input or parameter.
  bool CarriesGradient(ValueId id);

  // The rewrites, by op family. Each returns the replacement, or nullopt.
  using Rule = Result (Simplifier::*)(ValueId id);
  static const absl::flat_hash_map<OpKind, Rule>& Rules();
  Result Simplify(ValueId id);
  Result SimplifyExtremum(ValueId id);
  Result SimplifyConcat(ValueId id);
  Result SimplifyAdd(ValueId id);
  Result SimplifySub(ValueId id);
  Result SimplifyMul(ValueId id);
  Result SimplifyDiv(ValueId id);
  Result SimplifyPow(ValueId id);
  Result SimplifyMulNoNan(ValueId id);
  Result SimplifyNeg(ValueId id);
  Result SimplifyCast(ValueId id);
  Result SimplifyStopGradient(ValueId id);
  Result SimplifySelect(ValueId id);
  Result SimplifyReshape(ValueId id);
  Result SimplifyTranspose(ValueId id);
  Result SimplifyBroadcastTo(ValueId id);
  Result SimplifyReduce(ValueId id);
  Result SimplifySlice(ValueId id);
  Result SimplifyPad(ValueId id);
  // op(broadcast_to(s1), ..., broadcast_to(sk)) => broadcast_to(op(s1..sk))
  Result SimplifyElementwiseOfBroadcasts(ValueId id);

  Graph* g_;
  AlgebraicSimplifierOptions options_;
  std::vector<ValueId> forward_;
  std::vector<int> uses_;          // Upper bounds on the uses of each value.
  std::vector<int> initial_uses_;  // Uses before the run.
  std::vector<int8_t> may_be_neg_zero_;  // -1: not computed yet.
  std::vector<int8_t> carries_gradient_;
  int first_new_ = 0;
  int budget_ = 0;  // New nodes that may still be simplified further.
  int depth_ = 0;
  std::string name_hint_;
  int grad_level_ = 0;
};

ValueId Simplifier::Resolve(ValueId id) {
  ValueId root = id;
  while (forward_[root] != root) root = forward_[root];
  while (forward_[id] != root) {
    const ValueId next = forward_[id];
    forward_[id] = root;
    id = next;
  }
  return root;
}

void Simplifier::Forward(ValueId from, ValueId to) {
  forward_[from] = to;
  uses_[to] += uses_[from];
  uses_[from] = 0;
}

absl::StatusOr<ValueId> Simplifier::Emit(OpKind op, std::vector<ValueId> inputs,
                                         Attrs attrs) {
  for (ValueId& v : inputs) v = Resolve(v);
  ADC_ASSIGN_OR_RETURN(const ValueId id,
                       passes::AddInferredNode(g_, op, inputs, std::move(attrs),
                                               name_hint_, grad_level_));
  forward_.push_back(id);
  uses_.push_back(0);
  may_be_neg_zero_.push_back(-1);
  carries_gradient_.push_back(-1);
  for (ValueId v : inputs) ++uses_[v];
  // Bounded, so that no combination of rewrites can recurse forever.
  if (--budget_ < 0 || depth_ >= 16) return id;
  ++depth_;
  Result r = Simplify(id);
  --depth_;
  if (!r.ok()) return r.status();
  if (!r->has_value()) return id;
  Forward(id, **r);
  return **r;
}

absl::StatusOr<ValueId> Simplifier::EmitSplat(const Tensor& scalar,
                                              TensorType t) {
  ADC_ASSIGN_OR_RETURN(const ValueId c,
                       Emit(OpKind::kConstant, {},
                            Attrs().Set("value", scalar.CastTo(t.dtype))));
  if (t.rank() == 0) return c;
  return Emit(OpKind::kBroadcastTo, {c}, Attrs().Set("shape", t.dims));
}

absl::StatusOr<ValueId> Simplifier::EmitBroadcast(ValueId s, Dims dims) {
  if (type(s).dims == dims) return s;
  if (type(s).rank() > static_cast<int>(dims.size())) {
    ADC_ASSIGN_OR_RETURN(s, Emit(OpKind::kReshape, {s},
                                 Attrs().Set("shape", Dims(dims.size(), 1))));
    if (type(s).dims == dims) return s;
  }
  return Emit(OpKind::kBroadcastTo, {s}, Attrs().Set("shape", dims));
}

std::optional<ValueId> Simplifier::OneElementSource(ValueId id) const {
  if (!Is(id, OpKind::kBroadcastTo)) return std::nullopt;
  const ValueId s = in(id, 0);
  if (type(s).num_elements() != 1) return std::nullopt;
  return s;
}

// The op's NegativeZero property (graph/ops), and the rules that depend on
// attributes or dtypes.
bool Simplifier::MayBeNegativeZero(ValueId id) {
  if (may_be_neg_zero_[id] >= 0) return may_be_neg_zero_[id];
  const Node& n = node(id);
  const int num_inputs = static_cast<int>(n.inputs.size());
  auto input_may = [&](int k) { return MayBeNegativeZero(n.inputs[k]); };
  auto any_input_may = [&](int from) {
    for (int k = from; k < num_inputs; ++k) {
      if (input_may(k)) return true;
    }
    return false;
  };
  bool may = true;
  if (!IsFloat(n.type.dtype)) {
    may = false;
  } else {
    switch (GetOpDef(n.op).negative_zero) {
      case NegativeZero::kMay:
        may = true;
        break;
      case NegativeZero::kNever:
        may = false;
        break;
      case NegativeZero::kIfFirstMay:
        may = input_may(0);
        break;
      case NegativeZero::kIfAllMay:
        may = true;
        for (int k = 0; k < num_inputs && may; ++k) may = input_may(k);
        break;
      case NegativeZero::kIfAnyMay:
        may = any_input_may(0);
        break;
      case NegativeZero::kIfBranchMay:
        may = any_input_may(1);
        break;
      case NegativeZero::kByRule:
        may = MayBeNegativeZeroByRule(n, input_may);
        break;
    }
  }
  may_be_neg_zero_[id] = may;
  return may;
}

template <typename InputMay>
bool Simplifier::MayBeNegativeZeroByRule(const Node& n, InputMay input_may) {
  if (n.op == OpKind::kConstant) {
    for (double v : n.attrs.GetTensor("value").doubles()) {
      if (IsNegativeZero(v)) return true;
    }
    return false;
  }
  if (n.op == OpKind::kCast) {
    // f64 -> f32 underflows tiny negatives to -0.
    const DType from = dtype(n.inputs[0]);
    if (!IsFloat(from)) return false;
    return (from == DType::kF64 && n.type.dtype == DType::kF32) || input_may(0);
  }
  if (n.op == OpKind::kPad) {
    return input_may(0) || IsNegativeZero(n.attrs.GetFloat("value"));
  }
  // f64 dot products (and convolutions) start from +0; f32 ones accumulate
  // in double, and a tiny negative sum rounds to -0 in f32.
  if (n.op == OpKind::kMatMul || n.op == OpKind::kConv) {
    return n.type.dtype == DType::kF32;
  }
  ADC_CHECK_MSG(false, absl::StrCat("no -0 rule for ", GetOpDef(n.op).name));
}

bool Simplifier::CarriesGradient(ValueId id) {
  if (carries_gradient_[id] >= 0) return carries_gradient_[id];
  const Node& n = node(id);
  bool carries = false;
  if (n.op == OpKind::kInput || n.op == OpKind::kParameter) {
    carries = IsFloat(n.type.dtype);
  } else if (IsFloat(n.type.dtype) && GetOpDef(n.op).differentiable) {
    for (ValueId v : n.inputs) carries = carries || CarriesGradient(v);
  }
  carries_gradient_[id] = carries;
  return carries;
}

// ---------------------------------------------------------------------------
// Rewrites.
// ---------------------------------------------------------------------------
Simplifier::Result Simplifier::SimplifyAdd(ValueId id) {
  const ValueId a = in(id, 0), b = in(id, 1);
  if (IsFloat(dtype(id))) {
    // x + (-0) => x (exact for every x, -0 and NaN included)
    if (IsSplatOf(*g_, b, -0.0)) return a;
    // (-0) + x => x
    if (IsSplatOf(*g_, a, -0.0)) return b;
    // x + 0 => x when x cannot be -0 (-0 + 0 = +0)
    if (IsSplatOf(*g_, b, 0.0) && !MayBeNegativeZero(a)) return a;
    // 0 + x => x when x cannot be -0
    if (IsSplatOf(*g_, a, 0.0) && !MayBeNegativeZero(b)) return b;
  } else {
    // x + 0 => x, 0 + x => x (integers)
    if (IsSplatOf(*g_, b, 0)) return a;
    if (IsSplatOf(*g_, a, 0)) return b;
  }
  // x + neg(y) => x - y
  if (Is(b, OpKind::kNeg)) return Emit(OpKind::kSub, {a, in(b, 0)});
  // neg(x) + y => y - x
  if (Is(a, OpKind::kNeg)) return Emit(OpKind::kSub, {b, in(a, 0)});
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifySub(ValueId id) {
  const ValueId a = in(id, 0), b = in(id, 1);
  if (IsFloat(dtype(id))) {
    // x - 0 => x (x + (-0): exact for every x)
    if (IsSplatOf(*g_, b, 0.0)) return a;
    // x - (-0) => x when x cannot be -0 (-0 - (-0) = +0)
    if (IsSplatOf(*g_, b, -0.0) && !MayBeNegativeZero(a)) return a;
    // (-0) - x => neg(x) (-0 - 0 = -0 = neg(0); -0 - (-0) = +0 = neg(-0))
    if (IsSplatOf(*g_, a, -0.0)) return Emit(OpKind::kNeg, {b});
  } else {
    // x - 0 => x; 0 - x => neg(x) (integers wrap alike)
    if (IsSplatOf(*g_, b, 0)) return a;
    if (IsSplatOf(*g_, a, 0)) return Emit(OpKind::kNeg, {b});
  }
  // x - neg(y) => x + y
  if (Is(b, OpKind::kNeg)) return Emit(OpKind::kAdd, {a, in(b, 0)});
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyMul(ValueId id) {
  const ValueId a = in(id, 0), b = in(id, 1);
  // x * 1 => x, 1 * x => x
  if (IsSplatOf(*g_, b, 1)) return a;
  if (IsSplatOf(*g_, a, 1)) return b;
  // x * -1 => neg(x), -1 * x => neg(x) (IEEE rounding is sign-symmetric)
  if (IsSplatOf(*g_, b, -1)) return Emit(OpKind::kNeg, {a});
  if (IsSplatOf(*g_, a, -1)) return Emit(OpKind::kNeg, {b});
  if (!IsFloat(dtype(id))) {
    // x * 0 => 0, 0 * x => 0 (integers only: inf * 0 = NaN, -1 * 0 = -0)
    if (IsSplatOf(*g_, b, 0)) return b;
    if (IsSplatOf(*g_, a, 0)) return a;
  }
  // neg(x) * neg(y) => x * y
  if (Is(a, OpKind::kNeg) && Is(b, OpKind::kNeg)) {
    return Emit(OpKind::kMul, {in(a, 0), in(b, 0)});
  }
  // neg(x) * c => x * (-c), c * neg(x) => (-c) * x (c a splat; the neg goes)
  for (int k = 0; k < 2; ++k) {
    const ValueId x = k == 0 ? a : b, c = k == 0 ? b : a;
    std::optional<Tensor> s = passes::SplatValue(*g_, c);
    if (!s || !Is(x, OpKind::kNeg) || uses_[x] != 1) continue;
    ADC_ASSIGN_OR_RETURN(Tensor neg_s, Negated(*s));
    ADC_ASSIGN_OR_RETURN(ValueId neg_c, EmitSplat(neg_s, type(c)));
    return Emit(OpKind::kMul, k == 0 ? std::vector<ValueId>{in(x, 0), neg_c}
                                     : std::vector<ValueId>{neg_c, in(x, 0)});
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyDiv(ValueId id) {
  const ValueId a = in(id, 0), b = in(id, 1);
  // x / 1 => x
  if (IsSplatOf(*g_, b, 1)) return a;
  // x / -1 => neg(x) (integers: both wrap INT_MIN to itself)
  if (IsSplatOf(*g_, b, -1)) return Emit(OpKind::kNeg, {a});
  // neg(x) / neg(y) => x / y (floating point: rounding is sign-symmetric)
  if (IsFloat(dtype(id)) && Is(a, OpKind::kNeg) && Is(b, OpKind::kNeg)) {
    return Emit(OpKind::kDiv, {in(a, 0), in(b, 0)});
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyPow(ValueId id) {
  const ValueId a = in(id, 0), b = in(id, 1);
  // pow(x, 1) => x (C's pow is exact here, -0 and NaN included)
  if (IsSplatOf(*g_, b, 1.0)) return a;
  // pow(x, 0) => 1 (also for x = NaN and x = inf, as C's pow)
  if (IsSplatOf(*g_, b, 0.0) || IsSplatOf(*g_, b, -0.0)) {
    return EmitSplat(Tensor::Scalar(1.0, dtype(id)), type(id));
  }
  // pow(x, 2) => x * x, in f32 only: the f32 kernel evaluates pow in double,
  // where x^2 is exact (48 bits) and so returned exactly; f64 pow is not
  // correctly rounded (glibc), x * x is.
  if (dtype(id) == DType::kF32 && IsSplatOf(*g_, b, 2.0)) {
    return Emit(OpKind::kMul, {a, a});
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyMulNoNan(ValueId id) {
  const ValueId a = in(id, 0), b = in(id, 1);
  // mul_no_nan(x, y) => x * y for integers (no NaN to guard against: the
  // kernel multiplies).
  if (!IsFloat(dtype(id))) return Emit(OpKind::kMul, {a, b});
  // mul_no_nan(x, 0) => 0 (+0 wherever y == 0, whatever x is)
  if (AllElements(*g_, b, [](double v) { return v == 0; })) {
    if (IsSplatOf(*g_, b, 0.0)) return b;
    return EmitSplat(Tensor::Scalar(0.0, dtype(id)), type(id));
  }
  // mul_no_nan(x, c) => x * c when no element of c is 0
  if (AllElements(*g_, b, [](double v) { return v != 0; })) {
    return Emit(OpKind::kMul, {a, b});
  }
  // mul_no_nan(c, y) => c * y when c is finite and > 0 and y is never -0:
  // they differ only at y = +-0, where c * (+0) = +0 as well.
  if (AllElements(*g_, a, [](double v) { return std::isfinite(v) && v > 0; }) &&
      !MayBeNegativeZero(b)) {
    return Emit(OpKind::kMul, {a, b});
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyNeg(ValueId id) {
  const ValueId a = in(id, 0);
  // neg(neg(x)) => x
  if (Is(a, OpKind::kNeg)) return in(a, 0);
  // neg(x * c) => x * (-c), neg(c * x) => (-c) * x (c a splat, the product
  // used only here); IEEE rounding is sign-symmetric.
  if (Is(a, OpKind::kMul) && uses_[a] == 1) {
    for (int k = 0; k < 2; ++k) {
      const ValueId x = in(a, k), c = in(a, 1 - k);
      std::optional<Tensor> s = passes::SplatValue(*g_, c);
      if (!s) continue;
      ADC_ASSIGN_OR_RETURN(Tensor neg_s, Negated(*s));
      ADC_ASSIGN_OR_RETURN(ValueId neg_c, EmitSplat(neg_s, type(c)));
      return Emit(OpKind::kMul, k == 0 ? std::vector<ValueId>{x, neg_c}
                                       : std::vector<ValueId>{neg_c, x});
    }
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyCast(ValueId id) {
  const ValueId a = in(id, 0);
  const DType to = dtype(id);
  // cast(x) to x's own dtype => x
  if (dtype(a) == to) return a;
  // cast(cast(x, B), C) => cast(x, C) when every value of x's dtype is
  // exact in B (f32 -> f64 -> f32 is x; f64 -> f32 -> f64 is not).
  if (Is(a, OpKind::kCast)) {
    const ValueId x = in(a, 0);
    if (LosslessCast(dtype(x), dtype(a))) {
      if (dtype(x) == to) return x;
      return Emit(OpKind::kCast, {x}, Attrs().Set("dtype", to));
    }
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyStopGradient(ValueId id) {
  const ValueId a = in(id, 0);
  // stop_gradient(x) => x when the graph will not be differentiated again
  if (!options_.keep_stop_gradient) return a;
  // stop_gradient(x) => x when no gradient reaches x anyway (x constant,
  // integer, or itself a stop_gradient: stop_gradient(stop_gradient(x)) =>
  // stop_gradient(x))
  if (!CarriesGradient(a)) return a;
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifySelect(ValueId id) {
  const ValueId c = in(id, 0), a = in(id, 1), b = in(id, 2);
  // select(c, a, a) => a
  if (a == b) return a;
  // select(true, a, b) => a
  if (IsSplatOf(*g_, c, 1)) return a;
  // select(false, a, b) => b
  if (IsSplatOf(*g_, c, 0)) return b;
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyReshape(ValueId id) {
  const ValueId a = in(id, 0);
  const Dims& dims = type(id).dims;
  // reshape(x) to x's own shape => x
  if (type(a).dims == dims) return a;
  // reshape(reshape(x)) => reshape(x)
  if (Is(a, OpKind::kReshape)) {
    return Emit(OpKind::kReshape, {in(a, 0)}, Attrs().Set("shape", dims));
  }
  // reshape(broadcast_to(s)) => broadcast_to(s) (s one element)
  if (std::optional<ValueId> s = OneElementSource(a)) {
    return EmitBroadcast(*s, dims);
  }
  // reshape(reduce(x, keepdims)) without the kept axes => reduce(x)
  if (FamilyOf(node(a).op) == OpFamily::kReduction &&
      node(a).attrs.GetBool("keepdims") && uses_[a] == 1) {
    const std::vector<int64_t>& axes = node(a).attrs.GetInts("axes");
    if (DropAxes(type(a).dims, axes) == dims) {
      return Emit(node(a).op, {in(a, 0)},
                  Attrs().Set("axes", axes).Set("keepdims", false));
    }
  }
  return std::nullopt;
}

// perm swaps the last two axes and keeps the others.
bool SwapsLastTwo(const std::vector<int64_t>& perm) {
  const int64_t r = static_cast<int64_t>(perm.size());
  if (r < 2 || perm[r - 2] != r - 1 || perm[r - 1] != r - 2) return false;
  for (int64_t i = 0; i < r - 2; ++i) {
    if (perm[i] != i) return false;
  }
  return true;
}

Simplifier::Result Simplifier::SimplifyTranspose(ValueId id) {
  const ValueId a = in(id, 0);
  const std::vector<int64_t>& perm = node(id).attrs.GetInts("perm");
  // transpose(x, identity) => x
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) {
    identity = identity && perm[i] == static_cast<int64_t>(i);
  }
  if (identity) return a;
  // transpose(transpose(x, q), p) => transpose(x, q o p)
  if (Is(a, OpKind::kTranspose)) {
    const std::vector<int64_t>& inner = node(a).attrs.GetInts("perm");
    std::vector<int64_t> composed(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) composed[i] = inner[perm[i]];
    return Emit(OpKind::kTranspose, {in(a, 0)},
                Attrs().Set("perm", std::move(composed)));
  }
  // transpose(a @ b) => b^T @ a^T, for a transpose of the last two axes of a
  // product used once: the operands' transposes cost nothing where the
  // product reads them (codegen packs b and reads a's rows in place), and
  // often cancel (the weight gradient of x @ w^T); a transposed product
  // would be a strided copy of the whole result. Exact: each element sums
  // the same products in the same order.
  if (Is(a, OpKind::kMatMul) && uses_[a] == 1 && SwapsLastTwo(perm)) {
    ADC_ASSIGN_OR_RETURN(const ValueId bt, Emit(OpKind::kTranspose, {in(a, 1)},
                                                Attrs().Set("perm", perm)));
    ADC_ASSIGN_OR_RETURN(const ValueId at, Emit(OpKind::kTranspose, {in(a, 0)},
                                                Attrs().Set("perm", perm)));
    return Emit(OpKind::kMatMul, {bt, at}, Attrs());
  }
  // transpose(broadcast_to(s)) => broadcast_to(s) (s one element)
  if (std::optional<ValueId> s = OneElementSource(a)) {
    return EmitBroadcast(*s, type(id).dims);
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyBroadcastTo(ValueId id) {
  const ValueId a = in(id, 0);
  const Dims dims = type(id).dims;
  // broadcast_to(x) to x's own shape => x
  if (type(a).dims == dims) return a;
  // broadcast_to(broadcast_to(x)) => broadcast_to(x)
  if (Is(a, OpKind::kBroadcastTo)) {
    return Emit(OpKind::kBroadcastTo, {in(a, 0)}, Attrs().Set("shape", dims));
  }
  // broadcast_to(reshape(y)) => broadcast_to(y) when the reshape only adds
  // leading 1s, or y has one element (and no more axes than the result)
  if (Is(a, OpKind::kReshape)) {
    const ValueId y = in(a, 0);
    const Dims& yd = type(y).dims;
    const Dims& ad = type(a).dims;
    bool leading_ones = ad.size() >= yd.size() &&
                        std::equal(yd.begin(), yd.end(),
                                   ad.end() - static_cast<int>(yd.size()));
    for (size_t i = 0; leading_ones && i < ad.size() - yd.size(); ++i) {
      leading_ones = ad[i] == 1;
    }
    const bool one = type(y).num_elements() == 1 && yd.size() <= dims.size();
    if (leading_ones || one) {
      return Emit(OpKind::kBroadcastTo, {y}, Attrs().Set("shape", dims));
    }
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyReduce(ValueId id) {
  const Node& n = node(id);
  const OpKind op = n.op;
  const ValueId a = n.inputs[0];
  const std::vector<int64_t> axes = n.attrs.GetInts("axes");
  const bool keepdims = n.attrs.GetBool("keepdims");
  const Dims out = n.type.dims;
  const Dims& xd = type(a).dims;
  int64_t count = 1;
  bool all_size_one = true;
  for (int64_t ax : axes) {
    count *= xd[ax];
    all_size_one = all_size_one && xd[ax] == 1;
  }
  // reduce(x) over no axes or size-1 axes => x (reshaped without keepdims):
  // each element is combined once with the initial value. max(-inf, x),
  // min(inf, x) and 1 * x are x; 0 + x is x unless x is -0.
  if (all_size_one && (op != OpKind::kReduceSum || !MayBeNegativeZero(a))) {
    if (keepdims || axes.empty()) return a;
    return Emit(OpKind::kReshape, {a}, Attrs().Set("shape", out));
  }
  std::optional<ValueId> s = OneElementSource(a);
  if (!s || count < 1) return std::nullopt;
  // reduce_max(broadcast_to(s)) => broadcast_to(s), and reduce_min
  if (op == OpKind::kReduceMax || op == OpKind::kReduceMin) {
    return EmitBroadcast(*s, out);
  }
  // reduce_sum(broadcast_to(s)) => broadcast_to(s * n), n the number of
  // elements summed: integers wrap alike; f32 sums in double, where k * s is
  // exact for k <= 2^24, so sum and product round once, alike (but a sum
  // of -0s is +0).
  if (op == OpKind::kReduceSum &&
      (!IsFloat(dtype(a)) ||
       (dtype(a) == DType::kF32 && count <= (int64_t{1} << 24) &&
        !MayBeNegativeZero(*s)))) {
    Tensor n_tensor(type(*s));
    n_tensor.SetInt(0, count);
    ADC_ASSIGN_OR_RETURN(
        ValueId n_value,
        Emit(OpKind::kConstant, {}, Attrs().Set("value", std::move(n_tensor))));
    ADC_ASSIGN_OR_RETURN(ValueId product, Emit(OpKind::kMul, {*s, n_value}));
    return EmitBroadcast(product, out);
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifySlice(ValueId id) {
  const Node& n = node(id);
  const ValueId a = n.inputs[0];
  const auto& start = n.attrs.GetInts("start");
  const auto& limit = n.attrs.GetInts("limit");
  const auto& stride = n.attrs.GetInts("stride");
  // slice(x) taking every element in order => x
  bool all = true;
  for (size_t i = 0; i < start.size(); ++i) {
    all = all && start[i] == 0 && stride[i] == 1 && limit[i] == type(a).dims[i];
  }
  if (all) return a;
  // slice(broadcast_to(s)) => broadcast_to(s) (s one element)
  if (std::optional<ValueId> s = OneElementSource(a)) {
    return EmitBroadcast(*s, type(id).dims);
  }
  return std::nullopt;
}

Simplifier::Result Simplifier::SimplifyPad(ValueId id) {
  const Node& n = node(id);
  // pad(x) by nothing => x
  for (const char* attr : {"low", "high", "interior"}) {
    for (int64_t v : n.attrs.GetInts(attr)) {
      if (v != 0) return std::nullopt;
    }
  }
  return n.inputs[0];
}

Simplifier::Result Simplifier::SimplifyElementwiseOfBroadcasts(ValueId id) {
  // op(broadcast_to(s1), ..., broadcast_to(sk)) => broadcast_to(op(s1, ...,
  // sk)) for one-element s_i of one shape: each output element is op of the
  // same operand values. Done when it saves a node (some broadcast is used
  // only here); constant operands are left to constant folding.
  const Node& n = node(id);
  std::vector<ValueId> sources;
  bool saves = false, all_constant = true;
  for (ValueId v : n.inputs) {
    std::optional<ValueId> s = OneElementSource(v);
    if (!s || type(*s).dims != type(sources.empty() ? *s : sources[0]).dims) {
      return std::nullopt;
    }
    sources.push_back(*s);
    saves = saves || uses_[v] == 1;
    all_constant = all_constant && Is(*s, OpKind::kConstant);
  }
  if (!saves || all_constant) return std::nullopt;
  const Dims dims = n.type.dims;
  ADC_ASSIGN_OR_RETURN(ValueId scalar, Emit(n.op, sources, Attrs(n.attrs)));
  return EmitBroadcast(scalar, dims);
}

// maximum(x, x) => x, minimum(x, x) => x
Simplifier::Result Simplifier::SimplifyExtremum(ValueId id) {
  if (in(id, 0) == in(id, 1)) return std::optional<ValueId>(in(id, 0));
  return std::optional<ValueId>();
}

// concat(x) => x
Simplifier::Result Simplifier::SimplifyConcat(ValueId id) {
  if (node(id).inputs.size() == 1) return std::optional<ValueId>(in(id, 0));
  return std::optional<ValueId>();
}

// The rules of the ops that have their own (the others have none, apart
// from the rule for element-wise ops of one-element broadcasts).
const absl::flat_hash_map<OpKind, Simplifier::Rule>& Simplifier::Rules() {
  static const auto* rules = new absl::flat_hash_map<OpKind, Rule>{
      {OpKind::kAdd, &Simplifier::SimplifyAdd},
      {OpKind::kSub, &Simplifier::SimplifySub},
      {OpKind::kMul, &Simplifier::SimplifyMul},
      {OpKind::kDiv, &Simplifier::SimplifyDiv},
      {OpKind::kPow, &Simplifier::SimplifyPow},
      {OpKind::kMulNoNan, &Simplifier::SimplifyMulNoNan},
      {OpKind::kMaximum, &Simplifier::SimplifyExtremum},
      {OpKind::kMinimum, &Simplifier::SimplifyExtremum},
      {OpKind::kNeg, &Simplifier::SimplifyNeg},
      {OpKind::kCast, &Simplifier::SimplifyCast},
      {OpKind::kStopGradient, &Simplifier::SimplifyStopGradient},
      {OpKind::kSelect, &Simplifier::SimplifySelect},
      {OpKind::kReduceSum, &Simplifier::SimplifyReduce},
      {OpKind::kReduceMax, &Simplifier::SimplifyReduce},
      {OpKind::kReduceMin, &Simplifier::SimplifyReduce},
      {OpKind::kReduceProd, &Simplifier::SimplifyReduce},
      {OpKind::kReshape, &Simplifier::SimplifyReshape},
      {OpKind::kTranspose, &Simplifier::SimplifyTranspose},
      {OpKind::kBroadcastTo, &Simplifier::SimplifyBroadcastTo},
      {OpKind::kSlice, &Simplifier::SimplifySlice},
      {OpKind::kPad, &Simplifier::SimplifyPad},
      {OpKind::kConcat, &Simplifier::SimplifyConcat},
  };
  return *rules;
}

Simplifier::Result Simplifier::Simplify(ValueId id) {
  const OpKind op = node(id).op;
  Result r = std::optional<ValueId>();
  auto rule = Rules().find(op);
  if (rule != Rules().end()) r = (this->*(rule->second))(id);
  if (!r.ok() || r->has_value()) return r;
  if (FamilyOf(op) == OpFamily::kElementwise) {
    return SimplifyElementwiseOfBroadcasts(id);
  }
  return r;
}

absl::StatusOr<bool> Simplifier::Run() {
  const int n = g_->num_nodes();
  first_new_ = n;
  budget_ = 2 * n + 64;
  forward_.resize(n);
  for (ValueId i = 0; i < n; ++i) forward_[i] = i;
  uses_ = g_->UseCounts();
  initial_uses_ = uses_;
  may_be_neg_zero_.assign(n, -1);
  carries_gradient_.assign(n, -1);

  bool changed = false;
  for (ValueId i = 0; i < n; ++i) {
    Node& current = g_->mutable_node(i);
    for (ValueId& v : current.inputs) v = Resolve(v);
    if (current.inputs.empty() || uses_[i] == 0) continue;
    name_hint_ = current.name;
    grad_level_ = current.grad_level;
    ADC_ASSIGN_OR_RETURN(std::optional<ValueId> r, Simplify(i));
    if (r && *r != i) {
      Forward(i, *r);
      changed = true;
    }
  }
  if (!changed) {
    // Only nodes appended by abandoned rewrites could differ; drop them.
    if (g_->num_nodes() > n) {
      std::vector<bool> remove(g_->num_nodes(), false);
      for (ValueId i = n; i < g_->num_nodes(); ++i) remove[i] = true;
      for (ValueId i = 0; i < n; ++i) {
        for (ValueId& v : g_->mutable_node(i).inputs) v = Resolve(v);
      }
      g_->RemoveNodes(remove);
    }
    return false;
  }

  // Redirect every use to the final replacement.
  for (ValueId i = 0; i < g_->num_nodes(); ++i) {
    for (ValueId& v : g_->mutable_node(i).inputs) v = Resolve(v);
  }
  for (GraphOutput& out : g_->mutable_outputs()) out.value = Resolve(out.value);

  // Remove the replaced nodes and the nodes that became unused: new nodes
  // nothing uses, and operands whose last use was rewritten away (nodes that
  // were dead before the run are DCE's business).
  const int total = g_->num_nodes();
  std::vector<int> uses = g_->UseCounts();
  std::vector<bool> remove(total, false);
  auto removable = [&](ValueId i) {
    const OpKind op = g_->node(i).op;
    if (op == OpKind::kInput || op == OpKind::kParameter) return false;
    if (forward_[i] != i) return true;
    return uses[i] == 0 && (i >= first_new_ || initial_uses_[i] > 0);
  };
  std::vector<ValueId> work;
  for (ValueId i = 0; i < total; ++i) {
    if (removable(i)) work.push_back(i);
  }
  while (!work.empty()) {
    const ValueId i = work.back();
    work.pop_back();
    if (remove[i]) continue;
    remove[i] = true;
    for (ValueId v : g_->node(i).inputs) {
      if (--uses[v] == 0 && removable(v)) work.push_back(v);
    }
  }
  // A new node that replaces an old one takes over its name.
  std::vector<std::pair<ValueId, std::string>> renames;
  std::vector<bool> renamed(total, false);
  for (ValueId i = 0; i < first_new_; ++i) {
    if (!remove[i]) continue;
    const ValueId target = Resolve(i);
    if (target >= first_new_ && !remove[target] && !renamed[target]) {
      renamed[target] = true;
      renames.emplace_back(target, g_->node(i).name);
    }
  }
  std::vector<ValueId> new_id(total, -1);
  for (ValueId i = 0, k = 0; i < total; ++i) {
    if (!remove[i]) new_id[i] = k++;
  }
  g_->RemoveNodes(remove);
  for (auto& [target, name] : renames) g_->Rename(new_id[target], name);
  g_->SortTopologically();
  return true;
}

}  // namespace

absl::StatusOr<bool> AlgebraicSimplifier::Run(Graph* graph) {
  Simplifier simplifier(graph, options_);
  return simplifier.Run();
}

}  // namespace adc
