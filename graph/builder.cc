#include "graph/builder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"
#include "graph/ops/random.h"
#include "graph/verifier.h"

namespace adc {

// ---------------------------------------------------------------------------
// Value and GraphBuilder.
// ---------------------------------------------------------------------------
const TensorType& Value::type() const {
  ADC_CHECK_MSG(valid(), "use of an invalid Value");
  return b_->graph()->type(id_);
}

int64_t Value::dim(int axis) const {
  const int r = rank();
  const int a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r) {
    // A user mistake, reported as the builder reports any: by Build().
    b_->Fail(absl::InvalidArgumentError(
        absl::StrCat("axis ", axis, " is out of range for '", name(), "' ",
                     type().ToString(), " (rank ", r, ")")));
    return -1;
  }
  return dims()[a];
}

const std::string& Value::name() const {
  ADC_CHECK_MSG(valid(), "use of an invalid Value");
  return b_->graph()->node(id_).name;
}

GraphBuilder::GraphBuilder(std::string graph_name)
    : owned_(std::make_unique<Graph>(std::move(graph_name))),
      graph_(owned_.get()) {}

GraphBuilder::GraphBuilder(Graph* graph) : graph_(graph) {}

Value GraphBuilder::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
  return Value();
}

Value GraphBuilder::Input(absl::string_view name, DType dtype, Dims dims) {
  if (!ok()) return Value();
  if (name.empty() || graph_->Find(name)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "input name '", name, "' is ", name.empty() ? "empty" : "taken")));
  }
  Attrs attrs;
  attrs.Set("dtype", dtype).Set("shape", std::move(dims));
  Node node{std::string(name), OpKind::kInput, {}, std::move(attrs), {}, 0};
  absl::StatusOr<TensorType> type = InferNodeType(&node, {});
  if (!type.ok()) return Fail(NodeError(node, type.status()));
  node.type = *type;
  return Value(this, graph_->AddNode(std::move(node)));
}

Value GraphBuilder::Parameter(absl::string_view name, Tensor value) {
  if (!ok()) return Value();
  if (name.empty() || graph_->Find(name)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "parameter name '", name, "' is ", name.empty() ? "empty" : "taken")));
  }
  Attrs attrs;
  attrs.Set("value", std::move(value));
  Node node{std::string(name), OpKind::kParameter, {}, std::move(attrs), {}, 0};
  absl::StatusOr<TensorType> type = InferNodeType(&node, {});
  if (!type.ok()) return Fail(NodeError(node, type.status()));
  node.type = *type;
  return Value(this, graph_->AddNode(std::move(node)));
}

void GraphBuilder::Output(absl::string_view name, Value value) {
  if (!ok()) return;
  if (!value.valid() || value.builder() != this) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("output '", name, "' is not a value of this builder")));
    return;
  }
  if (name.empty() || graph_->FindOutput(name)) {
    Fail(absl::InvalidArgumentError(absl::StrCat(
        "output name '", name, "' is ", name.empty() ? "empty" : "taken")));
    return;
  }
  graph_->AddOutput(std::string(name), value.id());
}

Value GraphBuilder::AddOp(OpKind op, std::vector<Value> inputs, Attrs attrs,
                          absl::string_view name) {
  if (!ok()) return Value();
  const OpDef& def = GetOpDef(op);
  Node node;
  node.name = graph_->UniqueName(
      absl::StrCat(scope_, name.empty() ? absl::string_view(def.name) : name));
  node.op = op;
  node.attrs = std::move(attrs);
  node.grad_level = grad_level_;
  std::vector<TensorType> types;
  for (const Value& v : inputs) {
    if (!v.valid() || v.builder() != this) {
      return Fail(NodeError(
          node, absl::InvalidArgumentError("an input is invalid or belongs to "
                                           "another builder")));
    }
    node.inputs.push_back(v.id());
    types.push_back(v.type());
  }
  absl::StatusOr<TensorType> type = InferNodeType(&node, types);
  if (!type.ok()) return Fail(NodeError(node, type.status()));
  node.type = *type;
  Value result(this, graph_->AddNode(std::move(node)));
  if (no_grad_depth_ > 0 && def.differentiable && op != OpKind::kStopGradient) {
    result = AddOp(OpKind::kStopGradient, {result});
  }
  return result;
}

Value GraphBuilder::Find(absl::string_view name) {
  std::optional<ValueId> id = graph_->FindOutputOrValue(name);
  if (!id) {
    return Fail(absl::NotFoundError(
        absl::StrCat("no output or value named '", name, "'")));
  }
  return Value(this, *id);
}

Value GraphBuilder::Named(Value v, absl::string_view name) {
  if (!ok() || !v.valid()) return Value();
  if (name.empty() || !graph_->Rename(v.id(), std::string(name))) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("cannot name '", v.name(), "' '", name, "': the name is ",
                     name.empty() ? "empty" : "taken")));
  }
  return v;
}

absl::StatusOr<Graph> GraphBuilder::Build() {
  ADC_CHECK_MSG(owned_ != nullptr, "Build() on a builder of an external graph");
  if (!ok()) return status_;
  ADC_RETURN_IF_ERROR(Verify(*graph_));
  Graph g = std::move(*owned_);
  *owned_ = Graph(g.name());
  return g;
}

NameScope::NameScope(GraphBuilder& b, absl::string_view name)
    : b_(b), saved_size_(b.scope_.size()) {
  absl::StrAppend(&b_.scope_, name, "/");
}

NameScope::~NameScope() { b_.scope_.resize(saved_size_); }

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------
namespace {

int DTypeRank(DType d) {
  switch (d) {
    case DType::kBool:
      return 0;
    case DType::kI32:
      return 1;
    case DType::kI64:
      return 2;
    case DType::kF32:
      return 3;
    case DType::kF64:
      return 4;
  }
  ADC_CHECK(false);
}

DType Promote(DType a, DType b) { return DTypeRank(a) >= DTypeRank(b) ? a : b; }

// The builder shared by all valid values; nullptr if any is invalid (an error
// was recorded already) or they mix builders (records an error).
GraphBuilder* SharedBuilder(std::initializer_list<Value> values) {
  GraphBuilder* b = nullptr;
  for (const Value& v : values) {
    if (!v.valid()) {
      if (v.builder() != nullptr) return nullptr;
      // A default-constructed Value: find a builder to report on.
      for (const Value& w : values) {
        if (w.valid()) {
          w.builder()->Fail(absl::InvalidArgumentError(
              "an operand is an invalid (default-constructed) Value"));
        }
      }
      return nullptr;
    }
    if (b == nullptr) b = v.builder();
    if (b != v.builder()) {
      b->Fail(
          absl::InvalidArgumentError("operands belong to different builders"));
      return nullptr;
    }
  }
  return b;
}

// NumPy broadcast of two shapes.
std::optional<Dims> BroadcastDims(const Dims& a, const Dims& b) {
  const size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Value CastTo(Value x, DType dtype) {
  return x.dtype() == dtype ? x : Cast(x, dtype);
}

Value BroadcastIfNeeded(Value x, const Dims& dims) {
  return x.dims() == dims ? x : BroadcastTo(x, dims);
}

// Brings all values to a common dtype (if promote) and a broadcast shape.
bool Harmonize(std::vector<Value*> values, bool promote,
               absl::string_view what) {
  GraphBuilder* b = values[0]->builder();
  DType dtype = values[0]->dtype();
  Dims dims = values[0]->dims();
  for (Value* v : values) {
    dtype = Promote(dtype, v->dtype());
    std::optional<Dims> d = BroadcastDims(dims, v->dims());
    if (!d) {
      std::vector<std::string> shapes;
      for (Value* w : values) {
        shapes.push_back(
            absl::StrCat("'", w->name(), "' ", w->type().ToString()));
      }
      b->Fail(absl::InvalidArgumentError(absl::StrCat(
          what, ": cannot broadcast ", absl::StrJoin(shapes, " with "))));
      return false;
    }
    dims = *d;
  }
  for (Value* v : values) {
    if (promote) *v = CastTo(*v, dtype);
    *v = BroadcastIfNeeded(*v, dims);
    if (!v->valid()) return false;
  }
  return true;
}

Value Binary(OpKind op, Value a, Value b) {
  if (!SharedBuilder({a, b})) return Value();
  if (!Harmonize({&a, &b}, /*promote=*/true, GetOpDef(op).name)) return Value();
  return a.builder()->AddOp(op, {a, b});
}

// A scalar literal in x's dtype.
Value Literal(Value x, double v) {
  if (!x.valid()) return Value();
  return Scalar(*x.builder(), v, x.dtype());
}

// Normalizes axes (negative ones count from the end), sorted and unique.
std::optional<std::vector<int64_t>> NormalizeAxes(Value x,
                                                  std::vector<int64_t> axes,
                                                  absl::string_view what) {
  const int64_t r = x.rank();
  for (int64_t& a : axes) {
    if (a < -r || a >= r) {
      x.builder()->Fail(absl::InvalidArgumentError(
          absl::StrCat(what, ": axis ", a, " is out of range for '", x.name(),
                       "' ", x.type().ToString())));
      return std::nullopt;
    }
    if (a < 0) a += r;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

std::vector<int64_t> AllAxes(Value x) {
  std::vector<int64_t> axes(x.rank());
  for (int i = 0; i < x.rank(); ++i) axes[i] = i;
  return axes;
}

Value Reduce(OpKind op, Value x, std::vector<int64_t> axes, bool keepdims) {
  if (!SharedBuilder({x})) return Value();
  auto norm = NormalizeAxes(x, std::move(axes), GetOpDef(op).name);
  if (!norm) return Value();
  if (norm->empty()) return x;
  Attrs attrs;
  attrs.Set("axes", *norm).Set("keepdims", keepdims);
  return x.builder()->AddOp(op, {x}, std::move(attrs));
}

// Dims of x with the (normalized) axes removed.
Dims DropAxes(const Dims& dims, const std::vector<int64_t>& axes) {
  Dims out;
  for (int64_t i = 0; i < static_cast<int64_t>(dims.size()); ++i) {
    if (!std::binary_search(axes.begin(), axes.end(), i))
      out.push_back(dims[i]);
  }
  return out;
}

Value RequireFloat(Value x, absl::string_view what) {
  if (!x.valid()) return Value();
  if (!IsFloat(x.dtype())) {
    return x.builder()->Fail(absl::InvalidArgumentError(
        absl::StrCat(what, ": '", x.name(), "' is ", x.type().ToString(),
                     "; a floating-point dtype is required")));
  }
  return x;
}

}  // namespace

// ---------------------------------------------------------------------------
// Constants.
// ---------------------------------------------------------------------------
Value Constant(GraphBuilder& b, Tensor value) {
  Attrs attrs;
  attrs.Set("value", std::move(value));
  return b.AddOp(OpKind::kConstant, {}, std::move(attrs));
}

Value Scalar(GraphBuilder& b, double value, DType dtype) {
  return Constant(b, Tensor::Scalar(value, dtype));
}

Value Full(GraphBuilder& b, TensorType type, double value) {
  Value s = Scalar(b, value, type.dtype);
  return type.rank() == 0 ? s : BroadcastTo(s, type.dims);
}

Value FullLike(Value x, double value) {
  if (!x.valid()) return Value();
  return Full(*x.builder(), x.type(), value);
}
Value ZerosLike(Value x) { return FullLike(x, 0); }
Value OnesLike(Value x) { return FullLike(x, 1); }

Value Iota(GraphBuilder& b, DType dtype, Dims dims, int64_t axis) {
  Attrs attrs;
  attrs.Set("dtype", dtype).Set("shape", std::move(dims)).Set("axis", axis);
  return b.AddOp(OpKind::kIota, {}, std::move(attrs));
}

Value RandomUniform(Value seed, const Dims& dims, DType dtype, int64_t stream) {
  if (!seed.valid()) return Value();
  GraphBuilder& b = *seed.builder();
  if (seed.rank() != 0 || !IsInteger(seed.dtype()) || !IsFloat(dtype) ||
      stream < 0 || stream >= (int64_t{1} << 31)) {
    return b.Fail(absl::InvalidArgumentError(absl::StrCat(
        "random_uniform: seed ", seed.type().ToString(), ", dtype ",
        DTypeName(dtype), ", stream ", stream,
        " (expected an integer scalar seed, f32 or f64, 0 <= stream < 2^31)")));
  }
  // The row-major index of each element, in the high half the stream.
  Value counter = Reshape(Iota(b, DType::kI64, {NumElements(dims)}), dims);
  if (stream != 0)
    counter = counter + Scalar(b, stream * 4294967296.0, DType::kI64);
  Value key = BroadcastTo(Cast(seed, DType::kI64), dims);
  Attrs attrs;
  attrs.Set("dtype", dtype);
  return b.AddOp(OpKind::kRandomUniform, {key, counter}, std::move(attrs));
}

int64_t RandomStream(absl::string_view name) {
  return static_cast<int64_t>(random::Fnv1a(name) % (uint64_t{1} << 31));
}

Value Arange(GraphBuilder& b, double start, double stop, double step,
             DType dtype) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) ||
      !std::isfinite(step)) {
    return b.Fail(absl::InvalidArgumentError(
        absl::StrCat("arange(", start, ", ", stop, ", ", step,
                     "): bounds must be finite and step non-zero")));
  }
  const double count = std::ceil((stop - start) / step);
  if (count > static_cast<double>(ops::kMaxElements)) {
    return b.Fail(absl::InvalidArgumentError(
        absl::StrCat("arange(", start, ", ", stop, ", ", step, "): ", count,
                     " elements are more than ", ops::kMaxElements)));
  }
  const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(count));
  Value i = Iota(b, dtype, {n});
  if (step != 1) i = i * step;
  if (start != 0) i = i + start;
  return i;
}

// ---------------------------------------------------------------------------
// Element-wise.
// ---------------------------------------------------------------------------
Value operator+(Value a, Value b) { return Binary(OpKind::kAdd, a, b); }
Value operator-(Value a, Value b) { return Binary(OpKind::kSub, a, b); }
Value operator*(Value a, Value b) { return Binary(OpKind::kMul, a, b); }
Value operator/(Value a, Value b) { return Binary(OpKind::kDiv, a, b); }
Value operator-(Value a) { return Neg(a); }
Value operator+(Value a, double b) { return a + Literal(a, b); }
Value operator-(Value a, double b) { return a - Literal(a, b); }
Value operator*(Value a, double b) { return a * Literal(a, b); }
Value operator/(Value a, double b) { return a / Literal(a, b); }
Value operator+(double a, Value b) { return Literal(b, a) + b; }
Value operator-(double a, Value b) { return Literal(b, a) - b; }
Value operator*(double a, Value b) { return Literal(b, a) * b; }
Value operator/(double a, Value b) { return Literal(b, a) / b; }
Value Pow(Value a, Value b) { return Binary(OpKind::kPow, a, b); }
Value Pow(Value a, double b) { return Pow(a, Literal(a, b)); }
Value Pow(double a, Value b) { return Pow(Literal(b, a), b); }
Value Maximum(Value a, Value b) { return Binary(OpKind::kMaximum, a, b); }
Value Maximum(Value a, double b) { return Maximum(a, Literal(a, b)); }
Value Minimum(Value a, Value b) { return Binary(OpKind::kMinimum, a, b); }
Value Minimum(Value a, double b) { return Minimum(a, Literal(a, b)); }
Value MulNoNan(Value a, Value b) { return Binary(OpKind::kMulNoNan, a, b); }

namespace {
Value Unary(OpKind op, Value x) {
  if (!SharedBuilder({x})) return Value();
  return x.builder()->AddOp(op, {x});
}
}  // namespace

Value Neg(Value x) { return Unary(OpKind::kNeg, x); }
Value Abs(Value x) { return Unary(OpKind::kAbs, x); }
Value Sign(Value x) { return Unary(OpKind::kSign, x); }
Value Round(Value x) { return Unary(OpKind::kRound, x); }
Value Exp(Value x) { return Unary(OpKind::kExp, x); }
Value Log(Value x) { return Unary(OpKind::kLog, x); }
Value Log1p(Value x) { return Unary(OpKind::kLog1p, x); }
Value Expm1(Value x) { return Unary(OpKind::kExpm1, x); }
Value Sin(Value x) { return Unary(OpKind::kSin, x); }
Value Cos(Value x) { return Unary(OpKind::kCos, x); }
Value Tan(Value x) { return Unary(OpKind::kTan, x); }
Value Tanh(Value x) { return Unary(OpKind::kTanh, x); }
Value Sigmoid(Value x) { return Unary(OpKind::kSigmoid, x); }
Value Sqrt(Value x) { return Unary(OpKind::kSqrt, x); }
Value Erf(Value x) { return Unary(OpKind::kErf, x); }
Value Atan(Value x) { return Unary(OpKind::kAtan, x); }
Value StopGradient(Value x) { return Unary(OpKind::kStopGradient, x); }

Value Rsqrt(Value x) { return Reciprocal(Sqrt(x)); }
Value Square(Value x) { return x * x; }
Value Reciprocal(Value x) { return 1.0 / RequireFloat(x, "reciprocal"); }

// relu(x) = x > 0 ? x : 0 (gradient 0 at 0, as in PyTorch).
Value Relu(Value x) { return Select(Gt(x, 0), x, 0.0); }

Value LeakyRelu(Value x, double alpha) {
  return Select(Gt(x, 0), x, x * alpha);
}

Value Elu(Value x, double alpha) {
  return Select(Gt(x, 0), x, alpha * Expm1(RequireFloat(x, "elu")));
}

// softplus(x) = x + log1p(exp(-x)) for x > 0, log1p(exp(x)) otherwise: exp
// never overflows in either branch, and the gradient is sigmoid(x) everywhere
// (0.5 at 0).
Value Softplus(Value x) {
  if (!RequireFloat(x, "softplus").valid()) return Value();
  return Select(Gt(x, 0), x + Log1p(Exp(-x)), Log1p(Exp(x)));
}

// clip(x) = lo if x < lo, hi if x > hi, else x; gradient 1 on [lo, hi] (as
// torch.clamp).
Value Clip(Value x, std::optional<double> lo, std::optional<double> hi) {
  if (lo) x = Select(Lt(x, *lo), *lo, x);
  if (hi) x = Select(Gt(x, *hi), *hi, x);
  return x;
}

Value Lt(Value a, Value b) { return Binary(OpKind::kLess, a, b); }
Value Le(Value a, Value b) { return Binary(OpKind::kLessEqual, a, b); }
Value Gt(Value a, Value b) { return Binary(OpKind::kGreater, a, b); }
Value Ge(Value a, Value b) { return Binary(OpKind::kGreaterEqual, a, b); }
Value Eq(Value a, Value b) { return Binary(OpKind::kEqual, a, b); }
Value Ne(Value a, Value b) { return Binary(OpKind::kNotEqual, a, b); }
Value Lt(Value a, double b) { return Lt(a, Literal(a, b)); }
Value Le(Value a, double b) { return Le(a, Literal(a, b)); }
Value Gt(Value a, double b) { return Gt(a, Literal(a, b)); }
Value Ge(Value a, double b) { return Ge(a, Literal(a, b)); }
Value Eq(Value a, double b) { return Eq(a, Literal(a, b)); }
Value Ne(Value a, double b) { return Ne(a, Literal(a, b)); }

Value Select(Value cond, Value on_true, Value on_false) {
  GraphBuilder* b = SharedBuilder({cond, on_true, on_false});
  if (!b) return Value();
  if (cond.dtype() != DType::kBool) {
    return b->Fail(absl::InvalidArgumentError(
        absl::StrCat("select: condition '", cond.name(), "' is ",
                     cond.type().ToString(), ", not bool")));
  }
  DType dtype = Promote(on_true.dtype(), on_false.dtype());
  on_true = CastTo(on_true, dtype);
  on_false = CastTo(on_false, dtype);
  if (!Harmonize({&cond, &on_true, &on_false}, /*promote=*/false, "select")) {
    return Value();
  }
  return b->AddOp(OpKind::kSelect, {cond, on_true, on_false});
}

Value Select(Value cond, Value on_true, double on_false) {
  return Select(cond, on_true, Literal(on_true, on_false));
}

Value Select(Value cond, double on_true, Value on_false) {
  return Select(cond, Literal(on_false, on_true), on_false);
}

Value Cast(Value x, DType dtype) {
  if (!SharedBuilder({x})) return Value();
  Attrs attrs;
  attrs.Set("dtype", dtype);
  return x.builder()->AddOp(OpKind::kCast, {x}, std::move(attrs));
}

// ---------------------------------------------------------------------------
// Reductions.
// ---------------------------------------------------------------------------
Value Sum(Value x) { return x.valid() ? Sum(x, AllAxes(x)) : Value(); }
Value Sum(Value x, std::vector<int64_t> axes, bool keepdims) {
  return Reduce(OpKind::kReduceSum, x, std::move(axes), keepdims);
}
Value Max(Value x) { return x.valid() ? Max(x, AllAxes(x)) : Value(); }
Value Max(Value x, std::vector<int64_t> axes, bool keepdims) {
  return Reduce(OpKind::kReduceMax, x, std::move(axes), keepdims);
}
Value Min(Value x) { return x.valid() ? Min(x, AllAxes(x)) : Value(); }
Value Min(Value x, std::vector<int64_t> axes, bool keepdims) {
  return Reduce(OpKind::kReduceMin, x, std::move(axes), keepdims);
}
Value Prod(Value x) { return x.valid() ? Prod(x, AllAxes(x)) : Value(); }
Value Prod(Value x, std::vector<int64_t> axes, bool keepdims) {
  return Reduce(OpKind::kReduceProd, x, std::move(axes), keepdims);
}

Value Mean(Value x) { return x.valid() ? Mean(x, AllAxes(x)) : Value(); }
// mean = sum / count.
Value Mean(Value x, std::vector<int64_t> axes, bool keepdims) {
  if (!RequireFloat(x, "mean").valid()) return Value();
  auto norm = NormalizeAxes(x, std::move(axes), "mean");
  if (!norm) return Value();
  int64_t count = 1;
  for (int64_t a : *norm) count *= x.dims()[a];
  return Sum(x, *norm, keepdims) / static_cast<double>(count);
}

Value LogSumExp(Value x) {
  return x.valid() ? LogSumExp(x, AllAxes(x)) : Value();
}

// lse(x) = m + log(sum(exp(x - m))) with m = stop_gradient(max(x)) (0 where
// the max is infinite, so all -inf gives -inf and not NaN). The gradient is
// exp(x - m) / sum(exp(x - m)) = softmax(x): bounded, no overflow.
Value LogSumExp(Value x, std::vector<int64_t> axes, bool keepdims) {
  if (!RequireFloat(x, "logsumexp").valid()) return Value();
  auto norm = NormalizeAxes(x, std::move(axes), "logsumexp");
  if (!norm) return Value();
  if (norm->empty()) return x;
  Value m = StopGradient(Max(x, *norm, /*keepdims=*/true));
  m = Select(Lt(Abs(m), std::numeric_limits<double>::infinity()), m, 0.0);
  Value out = Log(Sum(Exp(x - m), *norm, /*keepdims=*/true)) + m;
  return keepdims ? out : Reshape(out, DropAxes(x.dims(), *norm));
}

// softmax(x) = e / sum(e), e = exp(x - stop_gradient(max(x))).
Value Softmax(Value x, int64_t axis) {
  if (!RequireFloat(x, "softmax").valid()) return Value();
  Value e = Exp(x - StopGradient(Max(x, {axis}, /*keepdims=*/true)));
  return e / Sum(e, {axis}, /*keepdims=*/true);
}

// log_softmax(x) = (x - m) - log(sum(exp(x - m))), m = stop_gradient(max(x))
// (0 where infinite, as in LogSumExp). Shifting first keeps small results
// exact for large x: x - logsumexp(x) would round logsumexp(x) at x's
// magnitude (in f32, x = 10000 loses ~1e-3). The gradient is dy - softmax(x)
// * sum(dy), as before.
Value LogSoftmax(Value x, int64_t axis) {
  if (!RequireFloat(x, "log_softmax").valid()) return Value();
  Value m = StopGradient(Max(x, {axis}, /*keepdims=*/true));
  m = Select(Lt(Abs(m), std::numeric_limits<double>::infinity()), m, 0.0);
  Value shifted = x - m;
  return shifted - Log(Sum(Exp(shifted), {axis}, /*keepdims=*/true));
}

// ---------------------------------------------------------------------------
// Linear algebra.
// ---------------------------------------------------------------------------
Value MatMul(Value a, Value b) {
  GraphBuilder* g = SharedBuilder({a, b});
  if (!g) return Value();
  if (a.rank() == 0 || b.rank() == 0) {
    return g->Fail(absl::InvalidArgumentError(absl::StrCat(
        "matmul: operands must have rank >= 1, got '", a.name(), "' ",
        a.type().ToString(), " and '", b.name(), "' ", b.type().ToString())));
  }
  // The operands as the user knows them (before any reshape or cast).
  const std::string operands =
      absl::StrCat("'", a.name(), "' ", a.type().ToString(), " and '", b.name(),
                   "' ", b.type().ToString());
  const bool vec_a = a.rank() == 1, vec_b = b.rank() == 1;
  if (a.dim(-1) != b.dim(vec_b ? 0 : -2)) {
    return g->Fail(absl::InvalidArgumentError(
        absl::StrCat("matmul: contracting dimensions differ: ", operands)));
  }
  if (vec_a) a = ExpandDims(a, 0);
  if (vec_b) b = ExpandDims(b, -1);
  const DType dtype = Promote(a.dtype(), b.dtype());
  a = CastTo(a, dtype);
  b = CastTo(b, dtype);
  Dims batch_a(a.dims().begin(), a.dims().end() - 2);
  Dims batch_b(b.dims().begin(), b.dims().end() - 2);
  std::optional<Dims> batch = BroadcastDims(batch_a, batch_b);
  if (!batch) {
    return g->Fail(absl::InvalidArgumentError(absl::StrCat(
        "matmul: cannot broadcast batch dimensions of ", operands)));
  }
  Dims da = *batch, db = *batch;
  da.push_back(a.dim(-2));
  da.push_back(a.dim(-1));
  db.push_back(b.dim(-2));
  db.push_back(b.dim(-1));
  Value out = g->AddOp(OpKind::kMatMul,
                       {BroadcastIfNeeded(a, da), BroadcastIfNeeded(b, db)});
  if (!out.valid()) return out;
  Dims dims = out.dims();
  if (vec_b) dims.erase(dims.end() - 1);
  if (vec_a) dims.erase(dims.end() - (vec_b ? 1 : 2));
  return dims == out.dims() ? out : Reshape(out, dims);
}

Value Dot(Value a, Value b) {
  GraphBuilder* g = SharedBuilder({a, b});
  if (!g) return Value();
  if (a.rank() != 1 || b.rank() != 1 || a.dim(0) != b.dim(0)) {
    return g->Fail(absl::InvalidArgumentError(absl::StrCat(
        "dot: needs two 1-D tensors of equal length, got '", a.name(), "' ",
        a.type().ToString(), " and '", b.name(), "' ", b.type().ToString())));
  }
  return MatMul(a, b);
}

// ---------------------------------------------------------------------------
// Shapes.
// ---------------------------------------------------------------------------
Value Reshape(Value x, Dims dims) {
  if (!SharedBuilder({x})) return Value();
  // Infer one -1 from the other dims (without overflow: they are bounded
  // first). Dims without a -1 are left to the shape rule to check.
  int infer_at = -1;
  int64_t known = 1;
  bool valid = true;
  for (int i = 0; i < static_cast<int>(dims.size()); ++i) {
    if (dims[i] == -1 && infer_at < 0) {
      infer_at = i;
    } else if (dims[i] < 0 ||
               (dims[i] > 0 && known > ops::kMaxElements / dims[i])) {
      valid = false;
    } else {
      known *= dims[i];
    }
  }
  if (infer_at >= 0) {
    const int64_t n = x.type().num_elements();
    if (!valid || known == 0 || n % known != 0) {
      return x.builder()->Fail(absl::InvalidArgumentError(absl::StrCat(
          "reshape: cannot reshape '", x.name(), "' ", x.type().ToString(),
          " (", n, " elements) to ", DimsToString(dims))));
    }
    dims[infer_at] = n / known;
  }
  if (dims == x.dims()) return x;
  Attrs attrs;
  attrs.Set("shape", std::move(dims));
  return x.builder()->AddOp(OpKind::kReshape, {x}, std::move(attrs));
}

Value Transpose(Value x, std::vector<int64_t> perm) {
  if (!SharedBuilder({x})) return Value();
  if (perm.empty()) {
    for (int i = x.rank() - 1; i >= 0; --i) perm.push_back(i);
  }
  for (int64_t& p : perm) {
    if (p < 0) p += x.rank();
  }
  bool identity = true;
  for (int i = 0; i < static_cast<int>(perm.size()); ++i) {
    identity = identity && perm[i] == i;
  }
  if (identity && static_cast<int>(perm.size()) == x.rank()) return x;
  Attrs attrs;
  attrs.Set("perm", std::move(perm));
  return x.builder()->AddOp(OpKind::kTranspose, {x}, std::move(attrs));
}

Value BroadcastTo(Value x, Dims dims) {
  if (!SharedBuilder({x})) return Value();
  if (dims == x.dims()) return x;
  Attrs attrs;
  attrs.Set("shape", std::move(dims));
  return x.builder()->AddOp(OpKind::kBroadcastTo, {x}, std::move(attrs));
}

Value ExpandDims(Value x, int64_t axis) {
  if (!SharedBuilder({x})) return Value();
  const int64_t r = x.rank();
  if (axis < -(r + 1) || axis > r) {
    return x.builder()->Fail(absl::InvalidArgumentError(
        absl::StrCat("expand_dims: axis ", axis, " is out of range for '",
                     x.name(), "' ", x.type().ToString())));
  }
  if (axis < 0) axis += r + 1;
  Dims dims = x.dims();
  dims.insert(dims.begin() + axis, 1);
  return Reshape(x, dims);
}

Value Squeeze(Value x) {
  if (!SharedBuilder({x})) return Value();
  std::vector<int64_t> axes;
  for (int i = 0; i < x.rank(); ++i) {
    if (x.dims()[i] == 1) axes.push_back(i);
  }
  return Squeeze(x, axes);
}

Value Squeeze(Value x, std::vector<int64_t> axes) {
  if (!SharedBuilder({x})) return Value();
  auto norm = NormalizeAxes(x, std::move(axes), "squeeze");
  if (!norm) return Value();
  for (int64_t a : *norm) {
    if (x.dims()[a] != 1) {
      return x.builder()->Fail(absl::InvalidArgumentError(absl::StrCat(
          "squeeze: axis ", a, " of '", x.name(), "' ", x.type().ToString(),
          " has size ", x.dims()[a], ", not 1")));
    }
  }
  return Reshape(x, DropAxes(x.dims(), *norm));
}

Value Flatten(Value x, int64_t axis) {
  if (!SharedBuilder({x})) return Value();
  const int64_t r = x.rank();
  if (axis < -r || axis > r) {
    return x.builder()->Fail(absl::InvalidArgumentError(
        absl::StrCat("flatten: axis ", axis, " is out of range for '", x.name(),
                     "' ", x.type().ToString())));
  }
  if (axis < 0) axis += r;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? outer : inner) *= x.dims()[i];
  return Reshape(x, {outer, inner});
}

Value Barrier(Value x, const std::vector<Value>& after) {
  if (!x.valid()) return Value();
  std::vector<Value> args = {x};
  args.insert(args.end(), after.begin(), after.end());
  return x.builder()->AddOp(OpKind::kBarrier, std::move(args));
}

Value Concat(const std::vector<Value>& xs, int64_t axis) {
  if (xs.empty()) return Value();
  GraphBuilder* b = xs[0].builder();
  for (const Value& x : xs) {
    if (!x.valid() || x.builder() != b) {
      if (b != nullptr) {
        b->Fail(absl::InvalidArgumentError(
            "concat: an operand is invalid or from another builder"));
      }
      return Value();
    }
  }
  if (xs.size() == 1) return xs[0];
  DType dtype = xs[0].dtype();
  for (const Value& x : xs) dtype = Promote(dtype, x.dtype());
  std::vector<Value> ins;
  for (const Value& x : xs) ins.push_back(CastTo(x, dtype));
  if (axis < 0) axis += xs[0].rank();
  Attrs attrs;
  attrs.Set("axis", axis);
  return b->AddOp(OpKind::kConcat, std::move(ins), std::move(attrs));
}

Value Slice(Value x, std::vector<int64_t> start, std::vector<int64_t> limit,
            std::vector<int64_t> stride) {
  if (!SharedBuilder({x})) return Value();
  if (stride.empty()) stride.assign(start.size(), 1);
  Attrs attrs;
  attrs.Set("start", std::move(start))
      .Set("limit", std::move(limit))
      .Set("stride", std::move(stride));
  return x.builder()->AddOp(OpKind::kSlice, {x}, std::move(attrs));
}

// Python's slice(start, stop, step).indices(n), as canonical start/limit.
Value SliceAxis(Value x, int64_t axis, std::optional<int64_t> start,
                std::optional<int64_t> stop, int64_t step) {
  if (!SharedBuilder({x})) return Value();
  auto norm = NormalizeAxes(x, {axis}, "slice");
  if (!norm) return Value();
  if (step == 0) {
    return x.builder()->Fail(
        absl::InvalidArgumentError("slice: step must not be zero"));
  }
  const int64_t a = (*norm)[0];
  const int64_t n = x.dims()[a];
  auto clamp = [&](int64_t v, int64_t lo, int64_t hi) {
    if (v < 0) v += n;
    return std::min(std::max(v, lo), hi);
  };
  int64_t s, e;
  if (step > 0) {
    s = start ? clamp(*start, 0, n) : 0;
    e = stop ? clamp(*stop, 0, n) : n;
    if (e < s) e = s;
  } else {
    s = start ? clamp(*start, -1, n - 1) : n - 1;
    e = stop ? clamp(*stop, -1, n - 1) : -1;
    if (e > s) e = s;
  }
  std::vector<int64_t> starts(x.rank(), 0), limits = x.dims(),
                                            strides(x.rank(), 1);
  starts[a] = s;
  limits[a] = e;
  strides[a] = step;
  if (s == 0 && e == n && step == 1) return x;
  return Slice(x, starts, limits, strides);
}

Value Index(Value x, int64_t i, int64_t axis) {
  if (!SharedBuilder({x})) return Value();
  auto norm = NormalizeAxes(x, {axis}, "index");
  if (!norm) return Value();
  const int64_t n = x.dims()[(*norm)[0]];
  if (i < -n || i >= n) {
    return x.builder()->Fail(absl::InvalidArgumentError(
        absl::StrCat("index: ", i, " is out of range for axis ", axis, " of '",
                     x.name(), "' ", x.type().ToString())));
  }
  if (i < 0) i += n;
  return Squeeze(SliceAxis(x, (*norm)[0], i, i + 1), {(*norm)[0]});
}

Value Reverse(Value x, std::vector<int64_t> axes) {
  if (!SharedBuilder({x})) return Value();
  auto norm = NormalizeAxes(x, std::move(axes), "reverse");
  if (!norm) return Value();
  for (int64_t a : *norm) x = SliceAxis(x, a, std::nullopt, std::nullopt, -1);
  return x;
}

Value Pad(Value x, std::vector<int64_t> low, std::vector<int64_t> high,
          double value, std::vector<int64_t> interior) {
  if (!SharedBuilder({x})) return Value();
  const size_t r = x.rank();
  if (interior.empty()) interior.assign(r, 0);
  if (low.size() != r || high.size() != r || interior.size() != r) {
    return x.builder()->Fail(absl::InvalidArgumentError(
        absl::StrCat("pad: needs one amount per axis of '", x.name(), "' ",
                     x.type().ToString())));
  }
  // Negative amounts crop first.
  bool crop = false;
  std::vector<int64_t> start(r, 0), limit = x.dims();
  for (size_t i = 0; i < r; ++i) {
    if (low[i] < 0 || high[i] < 0) {
      if (interior[i] != 0) {
        return x.builder()->Fail(absl::InvalidArgumentError(
            "pad: negative padding with interior padding is not supported"));
      }
      crop = true;
      if (low[i] < 0) start[i] = -low[i], low[i] = 0;
      if (high[i] < 0) limit[i] += high[i], high[i] = 0;
      if (limit[i] < start[i]) {
        return x.builder()->Fail(absl::InvalidArgumentError(
            absl::StrCat("pad: negative padding of axis ", i,
                         " removes more than its ", x.dims()[i], " elements")));
      }
    }
  }
  if (crop) x = Slice(x, start, limit);
  bool any = false;
  for (size_t i = 0; i < r; ++i) any = any || low[i] || high[i] || interior[i];
  if (!any) return x;
  Attrs attrs;
  attrs.Set("low", std::move(low))
      .Set("high", std::move(high))
      .Set("interior", std::move(interior))
      .Set("value", value);
  return x.builder()->AddOp(OpKind::kPad, {x}, std::move(attrs));
}

Value Gather(Value x, Value indices, int64_t axis) {
  GraphBuilder* b = SharedBuilder({x, indices});
  if (!b) return Value();
  if (axis < 0) axis += x.rank();
  Attrs attrs;
  attrs.Set("axis", axis);
  return b->AddOp(OpKind::kGather, {x, indices}, std::move(attrs));
}

Value ScatterAdd(Value base, Value indices, Value updates, int64_t axis) {
  GraphBuilder* b = SharedBuilder({base, indices, updates});
  if (!b) return Value();
  if (axis < 0) axis += base.rank();
  Attrs attrs;
  attrs.Set("axis", axis);
  return b->AddOp(OpKind::kScatterAdd, {base, indices, updates},
                  std::move(attrs));
}

Value CumSum(Value x, int64_t axis, bool exclusive, bool reverse) {
  if (!SharedBuilder({x})) return Value();
  if (axis < 0) axis += x.rank();
  Attrs attrs;
  attrs.Set("axis", axis).Set("exclusive", exclusive).Set("reverse", reverse);
  return x.builder()->AddOp(OpKind::kCumSum, {x}, std::move(attrs));
}

// ---------------------------------------------------------------------------
// Neural-network building blocks.
// ---------------------------------------------------------------------------
Value Linear(Value x, Value w, std::optional<Value> bias) {
  Value y = MatMul(x, Transpose(w));
  return bias ? y + *bias : y;
}

Value MseLoss(Value pred, Value target) { return Mean(Square(pred - target)); }

// ce = -mean_n sum_c onehot(labels)[n, c] * log_softmax(logits)[n, c].
namespace {

// -mean over the rows of scores[i, labels[i]], with the scores given by
// `to_log_probs` (checked first: [N, C] and integer labels [N]).
Value MeanNegativeLabelScore(absl::string_view op, absl::string_view what,
                             Value scores, Value labels,
                             Value (*to_log_probs)(Value)) {
  GraphBuilder* b = SharedBuilder({scores, labels});
  if (!b) return Value();
  if (scores.rank() != 2 || labels.rank() != 1 ||
      labels.dim(0) != scores.dim(0) || !IsInteger(labels.dtype())) {
    return b->Fail(absl::InvalidArgumentError(absl::StrCat(
        op, ": needs ", what, " [N, C] and integer labels [N], got '",
        scores.name(), "' ", scores.type().ToString(), " and '", labels.name(),
        "' ", labels.type().ToString())));
  }
  Value classes = Iota(*b, labels.dtype(), scores.dims(), 1);
  Value onehot = Cast(Eq(ExpandDims(labels, 1), classes), scores.dtype());
  return -Sum(to_log_probs(scores) * onehot) /
         static_cast<double>(scores.dim(0));
}

}  // namespace

Value CrossEntropy(Value logits, Value labels) {
  return MeanNegativeLabelScore("cross_entropy", "logits", logits, labels,
                                [](Value x) { return LogSoftmax(x, 1); });
}

Value NllLoss(Value log_probs, Value labels) {
  return MeanNegativeLabelScore("nll_loss", "log_probs", log_probs, labels,
                                [](Value x) { return x; });
}

std::vector<Value> Inline(GraphBuilder& b, const Graph& body,
                          const std::vector<Value>& args) {
  const std::vector<ValueId> inputs = body.inputs();
  if (args.size() != inputs.size()) {
    b.Fail(absl::InvalidArgumentError(
        absl::StrCat("function '", body.name(), "' takes ", inputs.size(),
                     " argument(s), got ", args.size())));
    return {};
  }
  std::vector<Value> value(body.num_nodes());
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!args[k].valid() || args[k].type() != body.type(inputs[k])) {
      b.Fail(absl::InvalidArgumentError(absl::StrCat(
          "argument ", k, " of function '", body.name(), "' must be ",
          body.type(inputs[k]).ToString(),
          args[k].valid() ? absl::StrCat(", not ", args[k].type().ToString())
                          : "")));
      return {};
    }
    value[inputs[k]] = args[k];
  }
  for (ValueId id = 0; id < body.num_nodes(); ++id) {
    const Node& node = body.node(id);
    if (node.op == OpKind::kInput) continue;
    std::vector<Value> in;
    for (ValueId i : node.inputs) in.push_back(value[i]);
    value[id] = b.AddOp(node.op, std::move(in), node.attrs, node.name);
  }
  std::vector<Value> outputs;
  for (const GraphOutput& out : body.outputs()) {
    outputs.push_back(value[out.value]);
  }
  return outputs;
}

namespace {

// Adds a built function body to b's library under a fresh name from `base`
// (returned; empty on failure), with the functions it defined (its builder
// shared b's library, so their names are fresh in it).
std::string AddBuiltFunction(GraphBuilder& b, const std::string& base,
                             absl::StatusOr<Graph> body,
                             const std::string& what) {
  if (!body.ok()) {
    b.Fail(absl::Status(body.status().code(),
                        absl::StrCat(what, ": ", body.status().message())));
    return "";
  }
  return b.graph()->AddDerivedFunction(base, *std::move(body));
}

}  // namespace

Value CustomVjp(GraphBuilder& b, const std::string& name,
                const std::vector<Value>& args, const CustomForwardFn& forward,
                const CustomVjpFn& vjp) {
  if (!b.ok()) return Value();
  for (const Value& a : args) {
    if (!a.valid())
      return b.Fail(absl::InvalidArgumentError(
          absl::StrCat("custom_vjp '", name, "': an invalid argument")));
  }
  GraphBuilder fb(name + ".forward");
  fb.graph()->ShareFunctions(*b.graph());
  std::vector<Value> xs;
  for (size_t k = 0; k < args.size(); ++k) {
    xs.push_back(
        fb.Input(absl::StrCat("x", k), args[k].dtype(), args[k].dims()));
  }
  Value y = forward(fb, xs);
  if (fb.ok() && !y.valid()) {
    fb.Fail(absl::InvalidArgumentError("forward returned no value"));
  }
  if (fb.ok()) fb.Output("y", y);
  const TensorType y_type = fb.ok() ? y.type() : TensorType{};
  const std::string forward_name =
      AddBuiltFunction(b, name + ".forward", fb.Build(),
                       absl::StrCat("custom_vjp '", name, "' forward"));
  if (forward_name.empty()) return Value();
  GraphBuilder vb(name + ".vjp");
  vb.graph()->ShareFunctions(*b.graph());
  std::vector<Value> vx;
  for (size_t k = 0; k < args.size(); ++k) {
    vx.push_back(
        vb.Input(absl::StrCat("x", k), args[k].dtype(), args[k].dims()));
  }
  Value vy = vb.Input("y", y_type.dtype, y_type.dims);
  Value dy = vb.Input("dy", y_type.dtype, y_type.dims);
  std::vector<Value> cotangents = vjp(vb, vx, vy, dy);
  if (vb.ok() && cotangents.size() != args.size()) {
    vb.Fail(absl::InvalidArgumentError(
        absl::StrCat("vjp returned ", cotangents.size(), " cotangent(s) for ",
                     args.size(), " argument(s)")));
  }
  for (size_t k = 0; vb.ok() && k < args.size(); ++k) {
    if (!IsFloat(args[k].dtype())) continue;
    Value d = cotangents[k].valid() ? cotangents[k] : ZerosLike(vx[k]);
    if (vb.ok() && d.type() != vx[k].type()) {
      vb.Fail(absl::InvalidArgumentError(
          absl::StrCat("vjp returned ", d.type().ToString(), " for argument ",
                       k, " of type ", vx[k].type().ToString())));
    }
    if (vb.ok()) vb.Output(absl::StrCat("dx", k), d);
  }
  const std::string vjp_name =
      AddBuiltFunction(b, name + ".vjp", vb.Build(),
                       absl::StrCat("custom_vjp '", name, "' vjp"));
  if (vjp_name.empty()) return Value();
  Attrs attrs;
  attrs.Set("forward", forward_name)
      .Set("vjp", vjp_name)
      .Set("dtype", y_type.dtype)
      .Set("shape", y_type.dims);
  return b.AddOp(OpKind::kCustomVjp, args, std::move(attrs), name);
}

std::string DefineFunction(GraphBuilder& b, const std::string& base,
                           const std::vector<TensorType>& types,
                           const FunctionFn& fn,
                           const std::vector<TensorType>* outputs,
                           const std::string& what) {
  GraphBuilder fb(base);
  fb.graph()->ShareFunctions(*b.graph());
  std::vector<Value> args;
  for (size_t k = 0; k < types.size(); ++k) {
    args.push_back(
        fb.Input(absl::StrCat("x", k), types[k].dtype, types[k].dims));
  }
  std::vector<Value> results = fn(fb, std::move(args));
  for (size_t k = 0; fb.ok() && k < results.size(); ++k) {
    if (!results[k].valid() || results[k].builder() != &fb) {
      fb.Fail(absl::InvalidArgumentError(
          absl::StrCat("result ", k,
                       " is invalid or a value of another graph (values of "
                       "the enclosing graph enter as arguments)")));
    } else if (outputs != nullptr && k < outputs->size() &&
               results[k].type() != (*outputs)[k]) {
      fb.Fail(absl::InvalidArgumentError(
          absl::StrCat("result ", k, " is ", results[k].type().ToString(),
                       " but must be ", (*outputs)[k].ToString())));
    }
  }
  if (fb.ok() && outputs != nullptr && results.size() != outputs->size()) {
    fb.Fail(absl::InvalidArgumentError(absl::StrCat(
        "returned ", results.size(), " value(s), expected ", outputs->size())));
  }
  for (size_t k = 0; fb.ok() && k < results.size(); ++k) {
    fb.Output(absl::StrCat("y", k), results[k]);
  }
  return AddBuiltFunction(b, base, fb.Build(), what);
}

namespace {

std::vector<TensorType> TypesOf(const std::vector<Value>& values) {
  std::vector<TensorType> types;
  for (const Value& v : values) types.push_back(v.type());
  return types;
}

// Checks that every value is valid and of b.
bool CheckOperands(GraphBuilder& b, const std::vector<Value>& values,
                   const std::string& what) {
  for (const Value& v : values) {
    if (!v.valid() || v.builder() != &b) {
      b.Fail(absl::InvalidArgumentError(
          absl::StrCat(what, ": an invalid operand, or one of another graph")));
      return false;
    }
  }
  return true;
}

// One node per result of a construct: `name` for a single result, else
// name.0, name.1, ...
std::vector<Value> ConstructNodes(GraphBuilder& b, OpKind op,
                                  const std::vector<Value>& operands,
                                  const Attrs& attrs,
                                  const std::vector<TensorType>& results,
                                  const std::string& name) {
  std::vector<Value> values;
  for (size_t k = 0; k < results.size(); ++k) {
    Attrs a = attrs;
    a.Set("result", static_cast<int64_t>(k));
    if (op == OpKind::kCond) {
      a.Set("dtype", results[k].dtype).Set("shape", results[k].dims);
    }
    values.push_back(
        b.AddOp(op, operands, std::move(a),
                results.size() == 1 ? name : absl::StrCat(name, ".", k)));
  }
  return values;
}

}  // namespace

std::vector<Value> CondCall(Value pred, const std::string& then_branch,
                            const std::string& else_branch,
                            const std::vector<Value>& operands,
                            const std::string& name) {
  if (!pred.valid()) return {};
  GraphBuilder& b = *pred.builder();
  const Graph* then_body = b.graph()->function(then_branch);
  if (!b.ok()) return {};
  if (then_body == nullptr) {
    b.Fail(absl::InvalidArgumentError(absl::StrCat(
        "cond '", name, "': no function '", then_branch, "' in the library")));
    return {};
  }
  std::vector<Value> inputs = {pred};
  inputs.insert(inputs.end(), operands.begin(), operands.end());
  Attrs attrs;
  attrs.Set("then_branch", then_branch).Set("else_branch", else_branch);
  return ConstructNodes(b, OpKind::kCond, inputs, attrs,
                        then_body->OutputTypes(), name);
}

std::vector<Value> WhileLoopCall(GraphBuilder& b, const std::string& cond,
                                 const std::string& body,
                                 const std::vector<Value>& operands,
                                 int64_t max_iterations,
                                 const std::string& name) {
  const Graph* body_fn = b.graph()->function(body);
  if (!b.ok()) return {};
  if (body_fn == nullptr) {
    b.Fail(absl::InvalidArgumentError(absl::StrCat(
        "while_loop '", name, "': no function '", body, "' in the library")));
    return {};
  }
  Attrs attrs;
  attrs.Set("cond", cond)
      .Set("body", body)
      .Set("max_iterations", max_iterations);
  return ConstructNodes(b, OpKind::kWhileLoop, operands, attrs,
                        body_fn->OutputTypes(), name);
}

std::vector<Value> Cond(Value pred, const BranchFn& then_fn,
                        const BranchFn& else_fn,
                        const std::vector<Value>& operands,
                        const std::string& name) {
  if (!pred.valid()) return {};
  GraphBuilder& b = *pred.builder();
  if (!b.ok() || !CheckOperands(b, operands, "cond '" + name + "'")) return {};
  if (pred.type() != TensorType{DType::kBool, {}}) {
    b.Fail(absl::InvalidArgumentError(
        absl::StrCat("cond '", name,
                     "': the predicate must be a bool scalar, "
                     "not ",
                     pred.type().ToString())));
    return {};
  }
  const std::vector<TensorType> types = TypesOf(operands);
  auto wrap = [](const BranchFn& f) {
    return
        [&f](GraphBuilder& fb, std::vector<Value> args) { return f(fb, args); };
  };
  const std::string then_name =
      DefineFunction(b, name + ".then", types, wrap(then_fn), nullptr,
                     absl::StrCat("cond '", name, "' then branch"));
  if (then_name.empty()) return {};
  const std::vector<TensorType> results =
      b.graph()->function(then_name)->OutputTypes();
  const std::string else_name =
      DefineFunction(b, name + ".else", types, wrap(else_fn), &results,
                     absl::StrCat("cond '", name,
                                  "' else branch (it must return what the "
                                  "then branch does)"));
  if (else_name.empty()) return {};
  return CondCall(pred, then_name, else_name, operands, name);
}

std::vector<Value> WhileLoop(GraphBuilder& b, const LoopCondFn& cond_fn,
                             const LoopBodyFn& body_fn,
                             const std::vector<Value>& init,
                             int64_t max_iterations,
                             const std::vector<Value>& captured,
                             const std::string& name) {
  if (!b.ok()) return {};
  const std::string what = absl::StrCat("while_loop '", name, "'");
  if (!CheckOperands(b, init, what) || !CheckOperands(b, captured, what)) {
    return {};
  }
  if (init.empty() || max_iterations < 0) {
    b.Fail(absl::InvalidArgumentError(
        absl::StrCat(what, init.empty() ? ": no carried values"
                                        : ": max_iterations must be >= 0")));
    return {};
  }
  std::vector<Value> operands = init;
  operands.insert(operands.end(), captured.begin(), captured.end());
  const std::vector<TensorType> types = TypesOf(operands);
  const size_t num_carried = init.size();
  auto split = [num_carried](std::vector<Value> args) {
    std::vector<Value> rest(args.begin() + num_carried, args.end());
    args.resize(num_carried);
    return std::make_pair(args, rest);
  };
  const std::vector<TensorType> bool_scalar = {TensorType{DType::kBool, {}}};
  const std::string cond_name = DefineFunction(
      b, name + ".cond", types,
      [&](GraphBuilder& fb, std::vector<Value> args) {
        auto [carried, inv] = split(std::move(args));
        return std::vector<Value>{cond_fn(fb, carried, inv)};
      },
      &bool_scalar, what + " condition (a bool scalar)");
  if (cond_name.empty()) return {};
  const std::vector<TensorType> carried_types = TypesOf(init);
  const std::string body_name = DefineFunction(
      b, name + ".body", types,
      [&](GraphBuilder& fb, std::vector<Value> args) {
        auto [carried, inv] = split(std::move(args));
        return body_fn(fb, carried, inv);
      },
      &carried_types,
      what + " body (it returns the carried values' new values)");
  if (body_name.empty()) return {};
  return WhileLoopCall(b, cond_name, body_name, operands, max_iterations, name);
}

std::vector<Value> ForLoop(GraphBuilder& b, int64_t n, const ForBodyFn& body_fn,
                           const std::vector<Value>& init,
                           const std::vector<Value>& captured,
                           const std::string& name) {
  if (!b.ok()) return {};
  if (n < 0) {
    b.Fail(absl::InvalidArgumentError(
        absl::StrCat("for loop '", name, "': trip count ", n, " < 0")));
    return {};
  }
  std::vector<Value> carried = {Scalar(b, 0, DType::kI64)};
  carried.insert(carried.end(), init.begin(), init.end());
  std::vector<Value> results = WhileLoop(
      b,
      [n](GraphBuilder& fb, const std::vector<Value>& c,
          const std::vector<Value>&) {
        return Lt(c[0], Scalar(fb, static_cast<double>(n), DType::kI64));
      },
      [&body_fn](GraphBuilder& fb, const std::vector<Value>& c,
                 const std::vector<Value>& inv) {
        std::vector<Value> state(c.begin() + 1, c.end());
        std::vector<Value> next = body_fn(fb, c[0], state, inv);
        next.insert(next.begin(), c[0] + Scalar(fb, 1, DType::kI64));
        return next;
      },
      carried, n, captured, name);
  if (results.empty()) return {};
  return std::vector<Value>(results.begin() + 1, results.end());
}

}  // namespace adc
