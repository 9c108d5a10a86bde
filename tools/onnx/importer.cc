#include "tools/onnx/importer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"
#include "onnx/checker.h"
#include "onnx/shape_inference/implementation.h"

namespace adc {
namespace {

// ---------------------------------------------------------------------------
// Dtypes and tensors.
// ---------------------------------------------------------------------------
std::optional<DType> DTypeFromOnnx(int elem_type) {
  switch (elem_type) {
    case onnx::TensorProto::FLOAT:
      return DType::kF32;
    case onnx::TensorProto::DOUBLE:
      return DType::kF64;
    case onnx::TensorProto::INT32:
      return DType::kI32;
    case onnx::TensorProto::INT64:
      return DType::kI64;
    case onnx::TensorProto::BOOL:
      return DType::kBool;
    default:
      return std::nullopt;
  }
}

// "float16", "uint8", ... (ONNX's names, lower case).
std::string OnnxDTypeName(int elem_type) {
  if (elem_type != 0 && onnx::TensorProto_DataType_IsValid(elem_type)) {
    return absl::AsciiStrToLower(onnx::TensorProto_DataType_Name(
        static_cast<onnx::TensorProto_DataType>(elem_type)));
  }
  return absl::StrCat("<undefined dtype ", elem_type, ">");
}

absl::Status UnsupportedDType(int elem_type, absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat(
      what, " has dtype ", OnnxDTypeName(elem_type),
      ", which adc does not support (supported: float, double, int32, int64, "
      "bool)"));
}

absl::StatusOr<DType> RequireDType(int elem_type, absl::string_view what) {
  std::optional<DType> dtype = DTypeFromOnnx(elem_type);
  if (!dtype) return UnsupportedDType(elem_type, what);
  return *dtype;
}

// The bytes of a tensor stored outside the model (ONNX external data): the
// file `location` relative to the model's directory, from `offset`, `length`
// bytes (default: to the end).
absl::StatusOr<std::string> ReadExternalData(const onnx::TensorProto& t,
                                             const std::string& model_dir,
                                             absl::string_view what) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const onnx::StringStringEntryProto& kv : t.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if ((kv.key() == "offset" &&
                !absl::SimpleAtoi(kv.value(), &offset)) ||
               (kv.key() == "length" &&
                !absl::SimpleAtoi(kv.value(), &length))) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": external data ",
                                                     kv.key(), " '", kv.value(),
                                                     "' is not an integer"));
    }
  }
  if (location.empty() || location[0] == '/' ||
      location.find("..") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": external data location '", location,
                     "' must be a relative path inside the model's directory"));
  }
  if (model_dir.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has external data ('", location,
        "'): import the model from its file so that it can be found"));
  }
  const std::string path = absl::StrCat(model_dir, "/", location);
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(
        absl::StrCat(what, ": cannot open external data file '", path, "'"));
  }
  std::string data((std::istreambuf_iterator<char>(file)),
                   std::istreambuf_iterator<char>());
  if (offset < 0 || offset > static_cast<int64_t>(data.size()) ||
      (length >= 0 && length > static_cast<int64_t>(data.size()) - offset)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": external data range (offset ", offset, ", length ", length,
        ") is outside '", path, "' (", data.size(), " bytes)"));
  }
  return data.substr(offset, length < 0 ? std::string::npos : length);
}

// Checks a typed-data field's element count.
absl::Status CheckCount(int count, int64_t n, absl::string_view what,
                        const TensorType& type) {
  if (count == n) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has ", count, " values for type ", type.ToString(),
                   " (", n, " elements)"));
}

// Axis `a` of a rank-r tensor, negative counting from the end; nullopt if
// out of range.
std::optional<int64_t> NormalizeAxis(int64_t a, int64_t r) {
  if (a < -r || a >= r) return std::nullopt;
  return a < 0 ? a + r : a;
}

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

Value CastIfNeeded(Value v, DType dtype) {
  return v.dtype() == dtype ? v : Cast(v, dtype);
}

std::vector<int64_t> AllAxes(int rank) {
  std::vector<int64_t> axes(rank);
  for (int i = 0; i < rank; ++i) axes[i] = i;
  return axes;
}

// ---------------------------------------------------------------------------
// The context of one node's import.
// ---------------------------------------------------------------------------
class Importer;
using Outs = std::vector<Value>;

class NodeCtx {
 public:
  NodeCtx(Importer* importer, const onnx::NodeProto& node, int opset,
          std::vector<Value> inputs)
      : importer_(importer),
        node_(node),
        opset_(opset),
        inputs_(std::move(inputs)) {}

  GraphBuilder& b();
  int opset() const { return opset_; }
  const onnx::NodeProto& node() const { return node_; }
  // Whether input i is given (optional inputs may be absent or "").
  bool Has(int i) const {
    return i < node_.input_size() && !node_.input(i).empty();
  }
  // Whether output i is wanted.
  bool Wants(int i) const {
    return i < node_.output_size() && !node_.output(i).empty();
  }
  // A tensor input (valid for every required input; the importer checks
  // arity before calling the op's import).
  Value In(int i) {
    if (i < static_cast<int>(inputs_.size()) && inputs_[i].valid()) {
      return inputs_[i];
    }
    Error("input ", i, " is missing");
    return Value();
  }
  // All given inputs (variadic ops).
  std::vector<Value> Variadic() {
    std::vector<Value> xs;
    for (const Value& v : inputs_) {
      if (v.valid()) xs.push_back(v);
    }
    return xs;
  }

  // A static operand: its value at import time.
  Tensor Static(int i);
  // A static operand of integers (1-D, or a scalar).
  std::vector<int64_t> StaticInts(int i);
  // A static operand with one element.
  double StaticScalar(int i);

  // Attributes. A missing attribute gives the default; one of the wrong type
  // is an error.
  const onnx::AttributeProto* Attr(absl::string_view name) const {
    for (const onnx::AttributeProto& a : node_.attribute()) {
      if (a.name() == name) return &a;
    }
    return nullptr;
  }
  bool HasAttr(absl::string_view name) const { return Attr(name) != nullptr; }
  int64_t Int(absl::string_view name, int64_t def) {
    const onnx::AttributeProto* a = Typed(name, onnx::AttributeProto::INT);
    return a ? a->i() : def;
  }
  double Float(absl::string_view name, double def) {
    const onnx::AttributeProto* a = Typed(name, onnx::AttributeProto::FLOAT);
    return a ? a->f() : def;
  }
  std::string Str(absl::string_view name, std::string def) {
    const onnx::AttributeProto* a = Typed(name, onnx::AttributeProto::STRING);
    return a ? a->s() : def;
  }
  std::optional<std::vector<int64_t>> OptInts(absl::string_view name) {
    const onnx::AttributeProto* a = Typed(name, onnx::AttributeProto::INTS);
    if (!a) return std::nullopt;
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  std::vector<int64_t> RequiredInts(absl::string_view name) {
    std::optional<std::vector<int64_t>> v = OptInts(name);
    if (!v && ok()) Error("attribute '", name, "' is required");
    return v ? *v : std::vector<int64_t>();
  }

  // Records the first error; later ones are dropped. Returns no outputs.
  Outs Fail(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
    return {};
  }
  template <typename... Args>
  Outs Error(const Args&... args) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(args...)));
  }
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  const onnx::AttributeProto* Typed(absl::string_view name,
                                    onnx::AttributeProto::AttributeType type) {
    const onnx::AttributeProto* a = Attr(name);
    if (a == nullptr) return nullptr;
    if (a->type() != type) {
      Error("attribute '", name, "' has type ",
            onnx::AttributeProto::AttributeType_Name(a->type()), ", expected ",
            onnx::AttributeProto::AttributeType_Name(type));
      return nullptr;
    }
    return a;
  }

  Importer* importer_;
  const onnx::NodeProto& node_;
  int opset_;
  std::vector<Value> inputs_;
  absl::Status status_;
};

// ---------------------------------------------------------------------------
// Op imports, one per ONNX op type, each with its ONNX semantics. Inputs are
// valid Values; attributes and static operands may fail (recorded in the
// context), so no accessor of a Value derived from them is used unchecked.
// ---------------------------------------------------------------------------

// Opset < 7 binary ops with broadcast=1: B's dims match A's from `axis` on
// (default: the trailing dims); B is reshaped so that NumPy rules agree.
Value LegacyBroadcast(NodeCtx& c, Value a, Value b) {
  if (c.opset() >= 7 || c.Int("broadcast", 0) == 0 || !c.HasAttr("axis")) {
    return b;
  }
  int64_t axis = c.Int("axis", 0);
  if (axis < 0) axis += a.rank();
  const int64_t trailing = a.rank() - axis - b.rank();
  if (axis < 0 || trailing < 0) {
    c.Error("legacy broadcast axis ", c.Int("axis", 0), " does not fit ",
            a.type().ToString(), " and ", b.type().ToString());
    return Value();
  }
  Dims dims = b.dims();
  dims.insert(dims.end(), trailing, 1);
  return Reshape(b, dims);
}

// The binary functions of Add, Sub, Mul, Div, Max and Min.
Value AddFn(Value a, Value b) { return a + b; }
Value SubFn(Value a, Value b) { return a - b; }
Value MulFn(Value a, Value b) { return a * b; }
Value DivFn(Value a, Value b) { return a / b; }
Value MaxFn(Value a, Value b) { return Maximum(a, b); }
Value MinFn(Value a, Value b) { return Minimum(a, b); }

// Add, Sub, Mul, Div: element-wise with NumPy broadcasting (opset 7+; see
// LegacyBroadcast before). Integer division truncates toward zero.
template <Value (*kFn)(Value, Value)>
Outs ImportArithmetic(NodeCtx& c) {
  Value a = c.In(0);
  return {kFn(a, LegacyBroadcast(c, a, c.In(1)))};
}

// Pow(X, Y) = X^Y, broadcast; the result has X's dtype (Y may have another
// numeric dtype). Integer bases are computed in f64 and cast back.
Outs ImportPow(NodeCtx& c) {
  Value x = c.In(0), y = c.In(1);
  if (IsFloat(x.dtype())) return {Pow(x, CastIfNeeded(y, x.dtype()))};
  return {
      Cast(Pow(Cast(x, DType::kF64), CastIfNeeded(y, DType::kF64)), x.dtype())};
}

// Sum, Mean, Max, Min of one or more inputs, broadcast together. Mean is
// the sum divided by the number of inputs. Max/Min propagate NaN.
template <Value (*kFn)(Value, Value), bool kMean = false>
Outs ImportVariadic(NodeCtx& c) {
  std::vector<Value> xs = c.Variadic();
  if (xs.empty()) return c.Error("needs at least one input");
  Value acc = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) acc = kFn(acc, xs[i]);
  if (kMean && xs.size() > 1) acc = acc / static_cast<double>(xs.size());
  return {acc};
}

// Clip(x, min, max) = min(max(x, min), max), like np.clip (min > max gives
// max; NaN stays NaN). Opset < 11: float attributes min/max; opset 11+:
// optional scalar inputs. An absent bound does not clip.
Outs ImportClip(NodeCtx& c) {
  Value x = c.In(0);
  if (c.HasAttr("min") || c.HasAttr("max")) {
    std::optional<double> lo, hi;
    if (c.HasAttr("min")) lo = c.Float("min", 0);
    if (c.HasAttr("max")) hi = c.Float("max", 0);
    return {Clip(x, lo, hi)};
  }
  if (c.Has(1)) {
    Value lo = c.In(1);
    x = Select(Lt(x, lo), lo, x);
  }
  if (c.Has(2)) {
    Value hi = c.In(2);
    x = Select(Gt(x, hi), hi, x);
  }
  return {x};
}

// Cast(x, to): element-wise conversion; float -> integer truncates toward
// zero, -> bool is x != 0.
Outs ImportCast(NodeCtx& c) {
  const int64_t to = c.Int("to", 0);
  std::optional<DType> dtype = DTypeFromOnnx(static_cast<int>(to));
  if (!c.ok()) return {};
  if (!dtype) {
    return c.Fail(UnsupportedDType(
        static_cast<int>(to),
        absl::StrCat("the result of Cast ('", c.node().output(0), "')")));
  }
  return {Cast(c.In(0), *dtype)};
}

// Gemm(A, B, C) = alpha * A' @ B' + beta * C, with A' = transpose(A) if
// transA (likewise B'), A and B 2-D and C (optional) broadcast to the result.
Outs ImportGemm(NodeCtx& c) {
  Value a = c.In(0), b = c.In(1);
  if (a.rank() != 2 || b.rank() != 2) {
    return c.Error("A and B must be 2-D, got ", a.type().ToString(), " and ",
                   b.type().ToString());
  }
  if (c.Int("transA", 0) != 0) a = Transpose(a);
  if (c.Int("transB", 0) != 0) b = Transpose(b);
  const double alpha = c.Float("alpha", 1.0);
  const double beta = c.Float("beta", 1.0);
  Value y = MatMul(a, b);
  if (alpha != 1.0) y = y * alpha;
  if (c.Has(2)) {
    Value bias = c.In(2);
    if (beta != 1.0) bias = bias * beta;
    y = y + bias;
  }
  return {y};
}

enum class Reduction {
  kSum,
  kMean,
  kMax,
  kMin,
  kProd,
  kLogSumExp,
  kSumSquare,
  kL1,
  kL2,
  kLogSum,
};

// Reduce*(data, axes): reduces over `axes` (an attribute, or the second
// input as ReduceSum has since opset 13); no axes means all of them, unless
// noop_with_empty_axes = 1 (then the result is the input). keepdims
// (default 1) keeps the reduced axes with size 1. ReduceSumSquare = sum(x^2),
// ReduceL1 = sum(|x|), ReduceL2 = sqrt(sum(x^2)), ReduceLogSum = log(sum(x)),
// ReduceLogSumExp = log(sum(exp(x))) computed stably.
template <Reduction kKind>
Outs ImportReduce(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<std::vector<int64_t>> axes;
  if (c.Has(1)) {
    axes = c.StaticInts(1);
  } else {
    axes = c.OptInts("axes");
  }
  const bool keepdims = c.Int("keepdims", 1) != 0;
  const bool noop = c.Int("noop_with_empty_axes", 0) != 0;
  if (!c.ok()) return {};
  if (!axes || axes->empty()) {
    if (noop) return {x};
    axes = AllAxes(x.rank());
  }
  switch (kKind) {
    case Reduction::kSum:
      return {Sum(x, *axes, keepdims)};
    case Reduction::kMean: {
      if (IsFloat(x.dtype())) return {Mean(x, *axes, keepdims)};
      // Integer mean: the sum divided by the count, truncating.
      int64_t count = 1;
      for (int64_t a : *axes) {
        std::optional<int64_t> n = NormalizeAxis(a, x.rank());
        if (!n) return c.Error("axis ", a, " is out of range");
        count *= x.dims()[*n];
      }
      return {Sum(x, *axes, keepdims) / static_cast<double>(count)};
    }
    case Reduction::kMax:
      return {Max(x, *axes, keepdims)};
    case Reduction::kMin:
      return {Min(x, *axes, keepdims)};
    case Reduction::kProd:
      return {Prod(x, *axes, keepdims)};
    case Reduction::kLogSumExp:
      return {LogSumExp(x, *axes, keepdims)};
    case Reduction::kSumSquare:
      return {Sum(x * x, *axes, keepdims)};
    case Reduction::kL1:
      return {Sum(Abs(x), *axes, keepdims)};
    case Reduction::kL2:
      return {Sqrt(Sum(x * x, *axes, keepdims))};
    case Reduction::kLogSum:
      return {Log(Sum(x, *axes, keepdims))};
  }
  return {};
}

// Softmax / LogSoftmax. Opset 13+: along `axis` (default -1). Before 13: the
// input is coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])] (axis
// default 1) and normalized along the second dimension.
template <bool kLog>
Outs ImportSoftmax(NodeCtx& c) {
  Value x = c.In(0);
  Value (*f)(Value, int64_t) = kLog ? LogSoftmax : Softmax;
  if (c.opset() >= 13) return {f(x, c.Int("axis", -1))};
  int64_t axis = c.Int("axis", 1);
  const int64_t r = x.rank();
  if (axis < -r || axis > r) {
    return c.Error("axis ", axis, " is out of range for ", x.type().ToString());
  }
  if (axis < 0) axis += r;
  return {Reshape(f(Flatten(x, axis), 1), x.dims())};
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

// Squeeze(data, axes): removes the given size-1 axes (attribute before
// opset 13, input since); without axes, every size-1 axis.
Outs ImportSqueeze(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<std::vector<int64_t>> axes;
  if (c.Has(1)) {
    axes = c.StaticInts(1);
  } else {
    axes = c.OptInts("axes");
  }
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

// Constant: the tensor of exactly one attribute among value, value_float(s)
// and value_int(s) (sparse and string values are unsupported).
Outs ImportConstant(NodeCtx& c) {
  std::optional<Tensor> value;
  for (const onnx::AttributeProto& a : c.node().attribute()) {
    const std::string& n = a.name();
    if (n == "value") {
      absl::StatusOr<Tensor> t = TensorFromOnnx(a.t());
      if (!t.ok()) return c.Fail(t.status());
      value = *std::move(t);
    } else if (n == "value_float") {
      value = Tensor::Scalar(a.f(), DType::kF32);
    } else if (n == "value_floats") {
      value = Tensor::FromDoubles(
          TensorType{DType::kF32, {a.floats_size()}},
          std::vector<double>(a.floats().begin(), a.floats().end()));
    } else if (n == "value_int") {
      value = Tensor::FromInts(TensorType{DType::kI64, {}}, {a.i()});
    } else if (n == "value_ints") {
      value = Tensor::FromInts(
          TensorType{DType::kI64, {a.ints_size()}},
          std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    } else {
      return c.Fail(absl::UnimplementedError(
          absl::StrCat("Constant attribute '", n, "' is not supported")));
    }
  }
  if (!value) return c.Error("has no value attribute");
  return {Constant(c.b(), *std::move(value))};
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

// ConstantOfShape(shape): a tensor of dims `shape` filled with the one
// element of attribute `value` (default float 0).
Outs ImportConstantOfShape(NodeCtx& c) {
  const std::vector<int64_t> dims = c.StaticInts(0);
  Tensor value = Tensor::Scalar(0, DType::kF32);
  if (const onnx::AttributeProto* a = c.Attr("value")) {
    absl::StatusOr<Tensor> t = TensorFromOnnx(a->t());
    if (!t.ok()) return c.Fail(t.status());
    value = *std::move(t);
  }
  if (!c.ok()) return {};
  if (value.num_elements() != 1) return c.Error("value must have one element");
  Tensor scalar(TensorType{value.dtype(), {}});
  ops::CopyElement(value, 0, &scalar, 0);
  for (int64_t d : dims) {
    if (d < 0) return c.Error("shape ", DimsToString(dims), " is negative");
  }
  return {BroadcastTo(Constant(c.b(), scalar), dims)};
}

// Dropout in inference mode: output = input and an all-true mask. Training
// mode (training_mode = true; before opset 7, is_test = 0) with a non-zero
// ratio is unsupported.
Outs ImportDropout(NodeCtx& c) {
  Value x = c.In(0);
  bool training = c.opset() < 7 && c.Int("is_test", 0) == 0;
  double ratio = c.Float("ratio", 0.5);
  if (c.opset() >= 12) {
    training = c.Has(2) && c.StaticScalar(2) != 0;
    ratio = c.Has(1) ? c.StaticScalar(1) : 0.5;
  }
  if (!c.ok()) return {};
  if (training && ratio != 0) {
    return c.Fail(
        absl::UnimplementedError("Dropout in training mode is not supported"));
  }
  if (!c.Wants(1)) return {x};
  return {x, Full(c.b(), TensorType{DType::kBool, x.dims()}, 1)};
}

// CastLike(x, like): Cast to like's dtype.
Outs ImportCastLike(NodeCtx& c) {
  return {CastIfNeeded(c.In(0), c.In(1).dtype())};
}

// Split(x, split): consecutive slices along `axis` (default 0) of the given
// sizes (the input since opset 13, an attribute before), or equal parts, one
// per output.
Outs ImportSplit(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<std::vector<int64_t>> split;
  if (c.Has(1)) {
    split = c.StaticInts(1);
  } else {
    split = c.OptInts("split");
  }
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

// Range(start, limit, delta), all known at import time: start, start +
// delta, ... while before limit (ceil((limit - start) / delta) elements).
Outs ImportRange(NodeCtx& c) {
  const Tensor start = c.Static(0), limit = c.Static(1), delta = c.Static(2);
  if (!c.ok()) return {};
  for (const Tensor* t : {&start, &limit, &delta}) {
    if (t->num_elements() != 1) return c.Error("inputs must be scalars");
  }
  const DType dtype = start.dtype();
  if (IsFloat(dtype)) {
    const double s = start.GetDouble(0), l = limit.GetDouble(0),
                 d = delta.GetDouble(0);
    const double count = std::ceil((l - s) / d);
    if (d == 0 || !std::isfinite(count) || count > (1 << 24)) {
      return c.Error("cannot make a range from ", s, " to ", l, " by ", d);
    }
    const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(count));
    Tensor t(TensorType{dtype, {n}});
    for (int64_t i = 0; i < n; ++i) t.SetDouble(i, s + i * d);
    return {Constant(c.b(), t)};
  }
  const int64_t s = start.GetInt(0), l = limit.GetInt(0), d = delta.GetInt(0);
  if (d == 0 || std::abs(l - s) / std::abs(d) > (1 << 24)) {
    return c.Error("cannot make a range from ", s, " to ", l, " by ", d);
  }
  const int64_t n =
      std::max<int64_t>(0, d > 0 ? (l - s + d - 1) / d : (s - l - d - 1) / -d);
  Tensor t(TensorType{dtype, {n}});
  for (int64_t i = 0; i < n; ++i) t.SetInt(i, s + i * d);
  return {Constant(c.b(), t)};
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

// BatchNormalization in inference mode: y = (x - mean) / sqrt(var + epsilon)
// * scale + B, per channel (axis 1; epsilon default 1e-5). Training mode is
// unsupported.
Outs ImportBatchNormalization(NodeCtx& c) {
  Value x = c.In(0), scale = c.In(1), bias = c.In(2), mean = c.In(3),
        var = c.In(4);
  if (c.Int("training_mode", 0) != 0) {
    return c.Fail(absl::UnimplementedError(
        "BatchNormalization in training mode is not supported"));
  }
  if (x.rank() < 2) {
    return c.Error("needs rank >= 2, got ", x.type().ToString());
  }
  Dims channel(x.rank() - 1, 1);
  channel[0] = x.dim(1);
  auto per_channel = [&](Value v) { return Reshape(v, channel); };
  const double epsilon = c.Float("epsilon", 1e-5);
  Value inv = Rsqrt(per_channel(var) + epsilon);
  return {(x - per_channel(mean)) * (inv * per_channel(scale)) +
          per_channel(bias)};
}

// LayerNormalization(x, scale, B): normalizes over the axes from `axis`
// (default -1) on: y = (x - mean) / sqrt(var + epsilon) * scale + B with the
// biased variance (epsilon default 1e-5); outputs 1 and 2 are mean and
// 1 / sqrt(var + epsilon), with the normalized axes kept as size 1.
Outs ImportLayerNormalization(NodeCtx& c) {
  Value x = c.In(0), scale = c.In(1);
  std::optional<int64_t> axis = NormalizeAxis(c.Int("axis", -1), x.rank());
  if (!axis) return c.Error("axis is out of range for ", x.type().ToString());
  std::vector<int64_t> axes;
  for (int64_t i = *axis; i < x.rank(); ++i) axes.push_back(i);
  const double epsilon = c.Float("epsilon", 1e-5);
  Value mean = Mean(x, axes, /*keepdims=*/true);
  Value centered = x - mean;
  Value inv_std =
      Rsqrt(Mean(centered * centered, axes, /*keepdims=*/true) + epsilon);
  Value y = centered * inv_std * scale;
  if (c.Has(2)) y = y + c.In(2);
  return {y, mean, inv_std};
}

// ArgMax / ArgMin(x, axis): the index (int64) of the first (or, with
// select_last_index = 1, the last) extremum along `axis` (default 0);
// keepdims (default 1) keeps the axis with size 1.
template <bool kMax>
Outs ImportArgExtremum(NodeCtx& c) {
  Value x = c.In(0);
  std::optional<int64_t> axis = NormalizeAxis(c.Int("axis", 0), x.rank());
  const bool keepdims = c.Int("keepdims", 1) != 0;
  const bool last = c.Int("select_last_index", 0) != 0;
  if (!c.ok()) return {};
  if (!axis) return c.Error("axis is out of range for ", x.type().ToString());
  Value extremum = kMax ? Max(x, {*axis}, true) : Min(x, {*axis}, true);
  Value index = Iota(c.b(), DType::kI64, x.dims(), *axis);
  Value hit = Eq(x, extremum);
  Value result =
      last ? Max(Select(hit, index, -1.0), {*axis}, keepdims)
           : Min(Select(hit, index, static_cast<double>(x.dims()[*axis])),
                 {*axis}, keepdims);
  return {result};
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

// The table of supported ops.
using ImportFn = Outs (*)(NodeCtx& c);
struct OpImport {
  ImportFn fn;
  int min_inputs;
  // Operands needed at import time (shapes, axes, pads, bounds, ...).
  std::vector<int> static_inputs;
};

const std::map<std::string, OpImport>& OpTable() {
  static const auto* table = new std::map<std::string, OpImport>{
      {"Add", {ImportArithmetic<AddFn>, 2}},
      {"Sub", {ImportArithmetic<SubFn>, 2}},
      {"Mul", {ImportArithmetic<MulFn>, 2}},
      {"Div", {ImportArithmetic<DivFn>, 2}},
      {"Pow", {ImportPow, 2}},
      // Element-wise unary functions, as their names say.
      {"Neg", {[](NodeCtx& c) -> Outs { return {Neg(c.In(0))}; }, 1}},
      {"Abs", {[](NodeCtx& c) -> Outs { return {Abs(c.In(0))}; }, 1}},
      // Sign: 1, -1 or 0.
      {"Sign", {[](NodeCtx& c) -> Outs { return {Sign(c.In(0))}; }, 1}},
      {"Exp", {[](NodeCtx& c) -> Outs { return {Exp(c.In(0))}; }, 1}},
      {"Log", {[](NodeCtx& c) -> Outs { return {Log(c.In(0))}; }, 1}},
      {"Sqrt", {[](NodeCtx& c) -> Outs { return {Sqrt(c.In(0))}; }, 1}},
      // Reciprocal: 1 / x.
      {"Reciprocal",
       {[](NodeCtx& c) -> Outs { return {Reciprocal(c.In(0))}; }, 1}},
      {"Sin", {[](NodeCtx& c) -> Outs { return {Sin(c.In(0))}; }, 1}},
      {"Cos", {[](NodeCtx& c) -> Outs { return {Cos(c.In(0))}; }, 1}},
      {"Tan", {[](NodeCtx& c) -> Outs { return {Tan(c.In(0))}; }, 1}},
      {"Tanh", {[](NodeCtx& c) -> Outs { return {Tanh(c.In(0))}; }, 1}},
      // Sigmoid: 1 / (1 + exp(-x)).
      {"Sigmoid", {[](NodeCtx& c) -> Outs { return {Sigmoid(c.In(0))}; }, 1}},
      // Relu: max(x, 0).
      {"Relu", {[](NodeCtx& c) -> Outs { return {Relu(c.In(0))}; }, 1}},
      // Softplus: log(1 + exp(x)).
      {"Softplus", {[](NodeCtx& c) -> Outs { return {Softplus(c.In(0))}; }, 1}},
      {"Erf", {[](NodeCtx& c) -> Outs { return {Erf(c.In(0))}; }, 1}},
      // LeakyRelu: x for x >= 0, alpha * x otherwise (alpha default 0.01).
      {"LeakyRelu",
       {[](NodeCtx& c) -> Outs {
          return {LeakyRelu(c.In(0), c.Float("alpha", 0.01))};
        },
        1}},
      // Elu: x for x > 0, alpha * (exp(x) - 1) otherwise (alpha default 1).
      {"Elu",
       {[](NodeCtx& c) -> Outs {
          return {Elu(c.In(0), c.Float("alpha", 1.0))};
        },
        1}},
      // Selu: gamma * elu(x, alpha) (defaults: SELU's constants).
      {"Selu",
       {[](NodeCtx& c) -> Outs {
          return {c.Float("gamma", 1.05070102214813232421875) *
                  Elu(c.In(0), c.Float("alpha", 1.67326319217681884765625))};
        },
        1}},
      // Celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), alpha
      // default 1.
      {"Celu",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          const double alpha = c.Float("alpha", 1.0);
          return {Select(Gt(x, 0), x, alpha * Expm1(x / alpha))};
        },
        1}},
      // ThresholdedRelu: x for x > alpha, else 0 (alpha default 1).
      {"ThresholdedRelu",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {Select(Gt(x, c.Float("alpha", 1.0)), x, 0.0)};
        },
        1}},
      // PRelu(x, slope): x for x >= 0, slope * x otherwise (slope broadcast;
      // before opset 7, a 1-D slope of x's channel count applies per
      // channel, axis 1).
      {"PRelu",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0), slope = c.In(1);
          if (c.opset() < 7 && slope.rank() == 1 && x.rank() >= 2 &&
              slope.dim(0) == x.dim(1) && slope.dim(0) != 1) {
            Dims dims(x.rank() - 1, 1);
            dims[0] = slope.dim(0);
            slope = Reshape(slope, dims);
          }
          return {Select(Lt(x, 0), x * slope, x)};
        },
        2}},
      // HardSigmoid: max(0, min(1, alpha * x + beta)) (alpha 0.2, beta 0.5).
      {"HardSigmoid",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {
              Clip(c.Float("alpha", 0.2) * x + c.Float("beta", 0.5), 0.0, 1.0)};
        },
        1}},
      // Softsign: x / (1 + |x|).
      {"Softsign",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {x / (1.0 + Abs(x))};
        },
        1}},
      {"Sum", {ImportVariadic<AddFn>, 1}},
      {"Mean", {ImportVariadic<AddFn, true>, 1}},
      {"Max", {ImportVariadic<MaxFn>, 1}},
      {"Min", {ImportVariadic<MinFn>, 1}},
      // Where(cond, x, y): x where cond, else y (broadcast).
      {"Where",
       {[](NodeCtx& c) -> Outs { return {Select(c.In(0), c.In(1), c.In(2))}; },
        3}},
      // Comparisons: bool results, broadcast.
      {"Less", {[](NodeCtx& c) -> Outs { return {Lt(c.In(0), c.In(1))}; }, 2}},
      {"LessOrEqual",
       {[](NodeCtx& c) -> Outs { return {Le(c.In(0), c.In(1))}; }, 2}},
      {"Greater",
       {[](NodeCtx& c) -> Outs { return {Gt(c.In(0), c.In(1))}; }, 2}},
      {"GreaterOrEqual",
       {[](NodeCtx& c) -> Outs { return {Ge(c.In(0), c.In(1))}; }, 2}},
      {"Equal", {[](NodeCtx& c) -> Outs { return {Eq(c.In(0), c.In(1))}; }, 2}},
      // Logical ops on bools: not x = (x == false); a and b = (a ? b :
      // false); a or b = (a ? true : b); a xor b = (a != b).
      {"Not", {[](NodeCtx& c) -> Outs { return {Eq(c.In(0), 0.0)}; }, 1}},
      {"And",
       {[](NodeCtx& c) -> Outs { return {Select(c.In(0), c.In(1), 0.0)}; }, 2}},
      {"Or",
       {[](NodeCtx& c) -> Outs { return {Select(c.In(0), 1.0, c.In(1))}; }, 2}},
      {"Xor", {[](NodeCtx& c) -> Outs { return {Ne(c.In(0), c.In(1))}; }, 2}},
      {"Clip", {ImportClip, 1}},
      {"Cast", {ImportCast, 1}},
      {"Gemm", {ImportGemm, 2}},
      // MatMul: numpy.matmul (1-D operands promoted, batch dims broadcast).
      {"MatMul",
       {[](NodeCtx& c) -> Outs { return {MatMul(c.In(0), c.In(1))}; }, 2}},
      {"ReduceSum", {ImportReduce<Reduction::kSum>, 1, {1}}},
      {"ReduceMean", {ImportReduce<Reduction::kMean>, 1, {1}}},
      {"ReduceMax", {ImportReduce<Reduction::kMax>, 1, {1}}},
      {"ReduceMin", {ImportReduce<Reduction::kMin>, 1, {1}}},
      {"ReduceProd", {ImportReduce<Reduction::kProd>, 1, {1}}},
      {"ReduceLogSumExp", {ImportReduce<Reduction::kLogSumExp>, 1, {1}}},
      {"ReduceSumSquare", {ImportReduce<Reduction::kSumSquare>, 1, {1}}},
      {"ReduceL1", {ImportReduce<Reduction::kL1>, 1, {1}}},
      {"ReduceL2", {ImportReduce<Reduction::kL2>, 1, {1}}},
      {"ReduceLogSum", {ImportReduce<Reduction::kLogSum>, 1, {1}}},
      {"Softmax", {ImportSoftmax<false>, 1}},
      {"LogSoftmax", {ImportSoftmax<true>, 1}},
      {"Reshape", {ImportReshape, 1, {1}}},
      {"Flatten", {ImportFlatten, 1}},
      {"Transpose", {ImportTranspose, 1}},
      {"Concat", {ImportConcat, 1}},
      {"Slice", {ImportSlice, 1, {1, 2, 3, 4}}},
      {"Gather", {ImportGather, 2}},
      {"Squeeze", {ImportSqueeze, 1, {1}}},
      {"Unsqueeze", {ImportUnsqueeze, 1, {1}}},
      {"Expand", {ImportExpand, 2, {1}}},
      {"Pad", {ImportPad, 1, {1, 2, 3}}},
      {"CumSum", {ImportCumSum, 2, {1}}},
      // Identity: the input itself.
      {"Identity", {[](NodeCtx& c) -> Outs { return {c.In(0)}; }, 1}},
      {"Constant", {ImportConstant, 0}},
      {"Shape", {ImportShape, 1}},
      {"Size", {ImportSize, 1}},
      {"ConstantOfShape", {ImportConstantOfShape, 1, {0}}},
      {"Dropout", {ImportDropout, 1, {1, 2}}},
      {"CastLike", {ImportCastLike, 2}},
      {"Split", {ImportSplit, 1, {1}}},
      {"Tile", {ImportTile, 2, {1}}},
      {"Range", {ImportRange, 3, {0, 1, 2}}},
      {"Trilu", {ImportTrilu, 1, {1}}},
      {"BatchNormalization", {ImportBatchNormalization, 5}},
      {"LayerNormalization", {ImportLayerNormalization, 2}},
      {"ArgMax", {ImportArgExtremum<true>, 1}},
      {"ArgMin", {ImportArgExtremum<false>, 1}},
      {"GatherElements", {ImportGatherElements, 2}},
      // IsNaN: x != x.
      {"IsNaN",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {Ne(x, x)};
        },
        1}},
      // IsInf: |x| == inf, restricted by detect_negative / detect_positive
      // (both default 1).
      {"IsInf",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          const double inf = std::numeric_limits<double>::infinity();
          const bool neg = c.Int("detect_negative", 1) != 0;
          const bool pos = c.Int("detect_positive", 1) != 0;
          if (neg && pos) return {Eq(Abs(x), inf)};
          if (neg) return {Eq(x, -inf)};
          if (pos) return {Eq(x, inf)};
          return {Full(c.b(), TensorType{DType::kBool, x.dims()}, 0)};
        },
        1}},
      // HardSwish: x * max(0, min(1, x / 6 + 1 / 2)).
      {"HardSwish",
       {[](NodeCtx& c) -> Outs {
          Value x = c.In(0);
          return {x * Clip(x / 6.0 + 0.5, 0.0, 1.0)};
        },
        1}},
  };
  return *table;
}

bool IsDefaultDomain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

bool IsStaticOperand(const onnx::NodeProto& node, int i) {
  if (!IsDefaultDomain(node.domain())) return false;
  auto it = OpTable().find(node.op_type());
  if (it == OpTable().end()) return false;
  const std::vector<int>& s = it->second.static_inputs;
  return std::find(s.begin(), s.end(), i) != s.end();
}

// Names used as static operands / as tensors (node inputs in other
// positions, graph outputs).
void CollectUses(const onnx::GraphProto& graph,
                 absl::flat_hash_set<std::string>* static_uses,
                 absl::flat_hash_set<std::string>* tensor_uses) {
  for (const onnx::NodeProto& node : graph.node()) {
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty()) continue;
      (IsStaticOperand(node, i) ? static_uses : tensor_uses)
          ->insert(node.input(i));
    }
  }
  for (const onnx::ValueInfoProto& out : graph.output()) {
    tensor_uses->insert(out.name());
  }
}

// One error listing every unsupported op type (and op variant) with its
// node count.
absl::Status CheckOpsSupported(const onnx::GraphProto& graph) {
  std::map<std::string, int> unsupported;
  for (const onnx::NodeProto& node : graph.node()) {
    if (!IsDefaultDomain(node.domain())) {
      ++unsupported[absl::StrCat(node.domain(), ".", node.op_type())];
    } else if (OpTable().count(node.op_type()) == 0) {
      ++unsupported[node.op_type()];
    } else if (node.op_type() == "Pad") {
      for (const onnx::AttributeProto& a : node.attribute()) {
        if (a.name() == "mode" && a.s() != "constant") {
          ++unsupported[absl::StrCat("Pad with mode '", a.s(), "'")];
        }
      }
    }
  }
  if (unsupported.empty()) return absl::OkStatus();
  std::vector<std::string> parts;
  for (const auto& [op, n] : unsupported) {
    parts.push_back(absl::StrCat(op, " (", n, n == 1 ? " node)" : " nodes)"));
  }
  return absl::UnimplementedError(
      absl::StrCat("unsupported ONNX ops: ", absl::StrJoin(parts, ", ")));
}

absl::Status Annotate(const absl::Status& status, absl::string_view where) {
  return absl::Status(status.code(),
                      absl::StrCat(where, ": ", status.message()));
}

// ---------------------------------------------------------------------------
// The importer.
// ---------------------------------------------------------------------------
class Importer {
 public:
  Importer(const onnx::ModelProto& model, const ImportOptions& options,
           std::string model_dir)
      : model_(model),
        options_(options),
        model_dir_(std::move(model_dir)),
        b_(model.graph().name().empty() ? "onnx" : model.graph().name()) {}

  absl::StatusOr<Graph> Run();

  GraphBuilder& builder() { return b_; }
  // The value of an ONNX name at import time.
  absl::StatusOr<Tensor> StaticValue(const std::string& name);

 private:
  absl::Status CheckModel();
  absl::Status AddInitializers(
      const absl::flat_hash_set<std::string>& static_only);
  absl::Status AddInputs();
  absl::Status ImportNode(const onnx::NodeProto& node, int index);
  absl::Status CheckDeclaredType(const onnx::ValueInfoProto& info);
  // The Value of an ONNX name (a constant is made for static values used as
  // tensors).
  absl::StatusOr<Value> Lookup(const std::string& name);
  // Gives the new value `v` the ONNX name (see the header).
  absl::Status NameValue(Value v, const std::string& name, int first_new);
  // The value of `id` if the reference kernels can compute it at import time
  // (from constants and parameters' stored values); else nullopt with
  // `*blocker` naming a graph input it depends on.
  std::optional<Tensor> Fold(ValueId id, std::string* blocker);

  const onnx::ModelProto& model_;
  const ImportOptions& options_;
  const std::string model_dir_;
  GraphBuilder b_;
  int opset_ = 0;
  absl::flat_hash_map<std::string, Value> values_;
  absl::flat_hash_map<std::string, Tensor> static_values_;
  absl::flat_hash_set<ValueId> onnx_named_;
  absl::flat_hash_map<ValueId, Tensor> folded_;
  absl::flat_hash_map<ValueId, std::string> unfoldable_;
  std::vector<onnx::ValueInfoProto> inferred_;
};

GraphBuilder& NodeCtx::b() { return importer_->builder(); }

Tensor NodeCtx::Static(int i) {
  if (!Has(i)) {
    Error("input ", i, " is missing");
    return Tensor();
  }
  absl::StatusOr<Tensor> t = importer_->StaticValue(node_.input(i));
  if (!t.ok()) {
    Fail(Annotate(t.status(), absl::StrCat("input ", i, " ('", node_.input(i),
                                           "') must be known at import time")));
    return Tensor();
  }
  return *std::move(t);
}

std::vector<int64_t> NodeCtx::StaticInts(int i) {
  Tensor t = Static(i);
  if (!ok()) return {};
  if (!IsInteger(t.dtype()) || t.type().rank() > 1) {
    Error("input ", i, " ('", node_.input(i),
          "') must be a 1-D integer tensor, got ", t.type().ToString());
    return {};
  }
  return t.ints();
}

double StaticScalarOf(NodeCtx& c, const Tensor& t, int i) {
  if (t.num_elements() != 1) {
    c.Error("input ", i, " ('", c.node().input(i),
            "') must have one element, got ", t.type().ToString());
    return 0;
  }
  return t.GetDouble(0);
}

double NodeCtx::StaticScalar(int i) {
  Tensor t = Static(i);
  if (!ok()) return 0;
  return StaticScalarOf(*this, t, i);
}

absl::Status Importer::CheckModel() {
  if (!model_.has_graph()) {
    return absl::InvalidArgumentError("invalid ONNX model: it has no graph");
  }
  ADC_RETURN_IF_ERROR(CheckOpsSupported(model_.graph()));
  opset_ = -1;
  for (const onnx::OperatorSetIdProto& imp : model_.opset_import()) {
    if (IsDefaultDomain(imp.domain())) opset_ = static_cast<int>(imp.version());
  }
  if (opset_ < 0) {
    if (model_.ir_version() >= 3) {
      return absl::InvalidArgumentError(
          "invalid ONNX model: no opset_import for the default domain");
    }
    opset_ = 1;
  }
  try {
    // The checker looks for external data relative to the working
    // directory; TensorFromOnnx reads and checks it instead. The checker
    // sees such initializers as graph inputs of their type.
    bool external = false;
    for (const onnx::TensorProto& t : model_.graph().initializer()) {
      external |= t.data_location() == onnx::TensorProto::EXTERNAL;
    }
    if (external) {
      onnx::ModelProto copy = model_;
      onnx::GraphProto* g = copy.mutable_graph();
      absl::flat_hash_set<std::string> listed;
      for (const onnx::ValueInfoProto& in : g->input()) {
        listed.insert(in.name());
      }
      google::protobuf::RepeatedPtrField<onnx::TensorProto> kept;
      for (onnx::TensorProto& t : *g->mutable_initializer()) {
        if (t.data_location() != onnx::TensorProto::EXTERNAL) {
          *kept.Add() = std::move(t);
        } else if (!listed.contains(t.name())) {
          onnx::ValueInfoProto* in = g->add_input();
          in->set_name(t.name());
          onnx::TypeProto::Tensor* tt =
              in->mutable_type()->mutable_tensor_type();
          tt->set_elem_type(t.data_type());
          tt->mutable_shape();
          for (int64_t d : t.dims()) {
            tt->mutable_shape()->add_dim()->set_dim_value(d);
          }
        }
      }
      g->mutable_initializer()->Swap(&kept);
      onnx::checker::check_model(copy);
    } else {
      onnx::checker::check_model(model_);
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ONNX model: ", e.what()));
  }
  if (model_.graph().sparse_initializer_size() > 0) {
    return absl::UnimplementedError("sparse initializers are not supported");
  }
  // ONNX shape inference: its types of intermediates are checked against
  // the imported ones (a cross-check of the importer). It is best effort,
  // and skipped for big models (it works on a copy).
  if (model_.ByteSizeLong() > (size_t{64} << 20)) return absl::OkStatus();
  try {
    onnx::ModelProto inferred = model_;
    onnx::shape_inference::InferShapes(inferred);
    inferred_.assign(inferred.graph().value_info().begin(),
                     inferred.graph().value_info().end());
  } catch (const std::exception&) {
    inferred_.clear();
  }
  return absl::OkStatus();
}

absl::Status Importer::AddInitializers(
    const absl::flat_hash_set<std::string>& static_only) {
  for (const onnx::TensorProto& init : model_.graph().initializer()) {
    if (init.name().empty()) {
      return absl::InvalidArgumentError("an initializer has no name");
    }
    absl::StatusOr<Tensor> t = TensorFromOnnx(init, model_dir_);
    if (!t.ok()) return t.status();
    if (static_only.contains(init.name())) {
      static_values_[init.name()] = *std::move(t);
      continue;
    }
    Value p = b_.Parameter(init.name(), *std::move(t));
    if (!b_.ok()) return b_.status();
    values_[init.name()] = p;
    onnx_named_.insert(p.id());
  }
  return absl::OkStatus();
}

absl::Status Importer::AddInputs() {
  absl::flat_hash_set<std::string> inits, inputs;
  for (const onnx::TensorProto& init : model_.graph().initializer()) {
    inits.insert(init.name());
  }
  for (const onnx::ValueInfoProto& in : model_.graph().input()) {
    if (!inits.contains(in.name())) inputs.insert(in.name());
  }
  for (const auto& [name, t] : options_.constant_inputs) {
    if (!inputs.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ImportOptions::constant_inputs names '", name,
                       "', which is not a graph input of the model"));
    }
  }
  for (const auto& [name, d] : options_.input_dims) {
    if (!inputs.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ImportOptions::input_dims names '", name,
                       "', which is not a graph input of the model"));
    }
  }
  for (const onnx::ValueInfoProto& in : model_.graph().input()) {
    const std::string& name = in.name();
    if (inits.contains(name)) continue;
    const std::string what = absl::StrCat("graph input '", name, "'");
    if (!in.type().has_tensor_type()) {
      return absl::UnimplementedError(absl::StrCat(
          what,
          " is not a tensor (sequence, map and optional types are not "
          "supported)"));
    }
    const onnx::TypeProto::Tensor& tt = in.type().tensor_type();
    auto frozen = options_.constant_inputs.find(name);
    if (frozen != options_.constant_inputs.end()) {
      std::optional<DType> dtype = DTypeFromOnnx(tt.elem_type());
      if (dtype && *dtype != frozen->second.dtype()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, " is ", DTypeName(*dtype), " but its constant value is ",
            frozen->second.type().ToString()));
      }
      static_values_[name] = frozen->second;
      continue;
    }
    ADC_ASSIGN_OR_RETURN(DType dtype, RequireDType(tt.elem_type(), what));
    auto pinned = options_.input_dims.find(name);
    Dims dims;
    std::string symbolic;
    if (!tt.has_shape()) {
      symbolic = "its shape is unknown";
    } else {
      std::vector<std::string> shown;
      for (int i = 0; i < tt.shape().dim_size(); ++i) {
        const onnx::TensorShapeProto::Dimension& d = tt.shape().dim(i);
        if (d.has_dim_value()) {
          dims.push_back(d.dim_value());
          shown.push_back(absl::StrCat(d.dim_value()));
          if (pinned != options_.input_dims.end() &&
              (i >= static_cast<int>(pinned->second.size()) ||
               pinned->second[i] != d.dim_value())) {
            return absl::InvalidArgumentError(
                absl::StrCat(what, ": ImportOptions::input_dims ",
                             DimsToString(pinned->second), " contradicts dim ",
                             i, " = ", d.dim_value()));
          }
        } else {
          dims.push_back(-1);
          shown.push_back(d.dim_param().empty() ? "?" : d.dim_param());
          if (symbolic.empty()) {
            symbolic = d.dim_param().empty()
                           ? absl::StrCat("dim ", i, " is unknown")
                           : absl::StrCat("dim ", i, " is symbolic ('",
                                          d.dim_param(), "')");
          }
        }
      }
      if (!symbolic.empty()) {
        absl::StrAppend(&symbolic, " in [", absl::StrJoin(shown, ","), "]");
      }
    }
    if (pinned != options_.input_dims.end()) {
      if (tt.has_shape() && pinned->second.size() != dims.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": ImportOptions::input_dims ", DimsToString(pinned->second),
            " has another rank than the declared shape"));
      }
      dims = pinned->second;
    } else if (!symbolic.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": ", symbolic,
                       "; adc needs static shapes (pin them with "
                       "ImportOptions::input_dims)"));
    }
    Value v = b_.Input(name, dtype, dims);
    if (!b_.ok()) return b_.status();
    values_[name] = v;
    onnx_named_.insert(v.id());
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> Importer::Lookup(const std::string& name) {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  auto s = static_values_.find(name);
  if (s != static_values_.end()) {
    const int first_new = b_.graph()->num_nodes();
    Value v = Constant(b_, s->second);
    if (!b_.ok()) return b_.status();
    ADC_RETURN_IF_ERROR(NameValue(v, name, first_new));
    values_[name] = v;
    return v;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", name,
                   "' is not a graph input, an initializer or an output of an "
                   "earlier node"));
}

absl::Status Importer::NameValue(Value v, const std::string& name,
                                 int first_new) {
  if (v.id() < first_new || onnx_named_.contains(v.id())) {
    return absl::OkStatus();
  }
  Graph* g = b_.graph();
  std::optional<ValueId> holder = g->Find(name);
  if (holder && *holder != v.id()) {
    if (onnx_named_.contains(*holder)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value name '", name, "' is used twice"));
    }
    // A helper node took the name first: it yields.
    const bool renamed = g->Rename(*holder, g->UniqueName(name));
    ADC_CHECK(renamed);
  }
  if (!b_.Named(v, name).valid()) return b_.status();
  onnx_named_.insert(v.id());
  return absl::OkStatus();
}

std::optional<Tensor> Importer::Fold(ValueId id, std::string* blocker) {
  if (auto it = folded_.find(id); it != folded_.end()) return it->second;
  if (auto it = unfoldable_.find(id); it != unfoldable_.end()) {
    *blocker = it->second;
    return std::nullopt;
  }
  const Node& node = b_.graph()->node(id);
  if (node.op == OpKind::kInput) {
    *blocker = absl::StrCat("it depends on graph input '", node.name, "'");
    unfoldable_[id] = *blocker;
    return std::nullopt;
  }
  // Static operands are small (shapes, axes, ...): do not materialize big
  // tensors at import time.
  if (node.type.num_elements() > (int64_t{1} << 20)) {
    *blocker = absl::StrCat("it is too large to compute at import time (",
                            node.type.ToString(), ")");
    unfoldable_[id] = *blocker;
    return std::nullopt;
  }
  std::vector<Tensor> args;
  for (ValueId in : node.inputs) {
    std::optional<Tensor> t = Fold(in, blocker);
    if (!t) {
      unfoldable_[id] = *blocker;
      return std::nullopt;
    }
    args.push_back(*std::move(t));
  }
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : args) ptrs.push_back(&t);
  absl::StatusOr<Tensor> value = GetOpDef(node.op).eval(node, ptrs);
  if (!value.ok()) {
    *blocker = absl::StrCat("evaluating it failed: ", value.status().message());
    unfoldable_[id] = *blocker;
    return std::nullopt;
  }
  folded_[id] = *value;
  return *std::move(value);
}

absl::StatusOr<Tensor> Importer::StaticValue(const std::string& name) {
  auto s = static_values_.find(name);
  if (s != static_values_.end()) return s->second;
  auto v = values_.find(name);
  if (v == values_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", name,
        "' is not a graph input, an initializer or an output of an earlier "
        "node"));
  }
  std::string blocker;
  std::optional<Tensor> t = Fold(v->second.id(), &blocker);
  if (!t) {
    return absl::FailedPreconditionError(absl::StrCat(
        "it is not an initializer, a Constant or computed from those: ",
        blocker,
        " (give graph inputs used this way a value with "
        "ImportOptions::constant_inputs)"));
  }
  return *std::move(t);
}

std::string DescribeNode(const onnx::NodeProto& node, int index) {
  if (!node.name().empty()) {
    return absl::StrCat("node '", node.name(), "' (", node.op_type(), ")");
  }
  return absl::StrCat(
      "node #", index, " (", node.op_type(), ")",
      node.output_size() > 0 ? absl::StrCat(" -> '", node.output(0), "'") : "");
}

absl::Status Importer::ImportNode(const onnx::NodeProto& node, int index) {
  const OpImport& op = OpTable().at(node.op_type());
  const std::string where = DescribeNode(node, index);
  for (int i = 0; i < op.min_inputs; ++i) {
    if (i >= node.input_size() || node.input(i).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": needs at least ", op.min_inputs,
                       " inputs, input ", i, " is missing"));
    }
  }
  std::vector<Value> inputs(node.input_size());
  for (int i = 0; i < node.input_size(); ++i) {
    if (node.input(i).empty() || IsStaticOperand(node, i)) continue;
    absl::StatusOr<Value> v = Lookup(node.input(i));
    if (!v.ok()) return Annotate(v.status(), where);
    inputs[i] = *v;
  }
  const int first_new = b_.graph()->num_nodes();
  NodeCtx ctx(this, node, opset_, std::move(inputs));
  Outs outs;
  {
    NameScope scope(
        b_, node.name().empty()
                ? (node.output_size() > 0 ? node.output(0) : node.op_type())
                : node.name());
    outs = op.fn(ctx);
  }
  if (!ctx.ok()) return Annotate(ctx.status(), where);
  if (!b_.ok()) return Annotate(b_.status(), where);
  for (int i = 0; i < node.output_size(); ++i) {
    const std::string& name = node.output(i);
    if (name.empty()) continue;
    if (i >= static_cast<int>(outs.size()) || !outs[i].valid()) {
      return absl::UnimplementedError(absl::StrCat(
          where, ": output ", i, " ('", name, "') is not supported"));
    }
    ADC_RETURN_IF_ERROR(Annotate(NameValue(outs[i], name, first_new), where));
    values_[name] = outs[i];
  }
  return absl::OkStatus();
}

absl::Status Importer::CheckDeclaredType(const onnx::ValueInfoProto& info) {
  auto it = values_.find(info.name());
  if (it == values_.end() || !info.type().has_tensor_type()) {
    return absl::OkStatus();
  }
  const onnx::TypeProto::Tensor& tt = info.type().tensor_type();
  const TensorType& actual = it->second.type();
  bool match = true;
  std::string declared = OnnxDTypeName(tt.elem_type());
  if (tt.elem_type() != 0) {
    std::optional<DType> dtype = DTypeFromOnnx(tt.elem_type());
    match = dtype && *dtype == actual.dtype;
    if (dtype) declared = std::string(DTypeName(*dtype));
  }
  if (tt.has_shape()) {
    std::vector<std::string> dims;
    match = match && tt.shape().dim_size() == actual.rank();
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const onnx::TensorShapeProto::Dimension& d = tt.shape().dim(i);
      if (d.has_dim_value()) {
        match = match && i < actual.rank() && d.dim_value() == actual.dims[i];
        dims.push_back(absl::StrCat(d.dim_value()));
      } else {
        dims.push_back(d.dim_param().empty() ? "?" : d.dim_param());
      }
    }
    absl::StrAppend(&declared, "[", absl::StrJoin(dims, ","), "]");
  }
  if (match) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("ONNX value '", info.name(), "' is declared as ", declared,
                   " but imports as ", actual.ToString()));
}

absl::StatusOr<Graph> Importer::Run() {
  ADC_RETURN_IF_ERROR(CheckModel());
  const onnx::GraphProto& graph = model_.graph();
  absl::flat_hash_set<std::string> static_uses, tensor_uses, static_only;
  CollectUses(graph, &static_uses, &tensor_uses);
  for (const std::string& name : static_uses) {
    if (!tensor_uses.contains(name)) static_only.insert(name);
  }
  // Inputs first, then parameters (the default order of gradients).
  ADC_RETURN_IF_ERROR(AddInputs());
  ADC_RETURN_IF_ERROR(AddInitializers(static_only));
  for (int i = 0; i < graph.node_size(); ++i) {
    ADC_RETURN_IF_ERROR(ImportNode(graph.node(i), i));
  }
  for (const onnx::ValueInfoProto& out : graph.output()) {
    absl::StatusOr<Value> v = Lookup(out.name());
    if (!v.ok()) {
      return Annotate(v.status(),
                      absl::StrCat("graph output '", out.name(), "'"));
    }
    b_.Output(out.name(), *v);
    if (!b_.ok()) return b_.status();
  }
  for (const onnx::ValueInfoProto& info : graph.output()) {
    ADC_RETURN_IF_ERROR(CheckDeclaredType(info));
  }
  for (const onnx::ValueInfoProto& info : graph.value_info()) {
    ADC_RETURN_IF_ERROR(CheckDeclaredType(info));
  }
  for (const onnx::ValueInfoProto& info : inferred_) {
    ADC_RETURN_IF_ERROR(
        Annotate(CheckDeclaredType(info), "ONNX shape inference disagrees"));
  }
  return b_.Build();
}

}  // namespace

absl::StatusOr<Tensor> TensorFromOnnx(const onnx::TensorProto& t,
                                      const std::string& model_dir) {
  const std::string what =
      t.name().empty() ? "tensor" : absl::StrCat("tensor '", t.name(), "'");
  ADC_ASSIGN_OR_RETURN(DType dtype, RequireDType(t.data_type(), what));
  TensorType type{dtype, Dims(t.dims().begin(), t.dims().end())};
  absl::Status dims_ok = ops::CheckDims(type.dims, "shape");
  if (!dims_ok.ok()) return Annotate(dims_ok, what);
  if (t.has_segment()) {
    return absl::UnimplementedError(
        absl::StrCat(what, ": segmented tensors are not supported"));
  }
  const int64_t n = type.num_elements();
  std::string external;
  const std::string* raw = nullptr;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    ADC_ASSIGN_OR_RETURN(external, ReadExternalData(t, model_dir, what));
    raw = &external;
  } else if (t.has_raw_data()) {
    raw = &t.raw_data();
  }
  if (raw != nullptr) {
    absl::StatusOr<Tensor> tensor = Tensor::FromBytes(
        type, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(raw->data()),
                                  raw->size()));
    if (!tensor.ok()) return Annotate(tensor.status(), what);
    return tensor;
  }
  switch (dtype) {
    case DType::kF32:
      ADC_RETURN_IF_ERROR(CheckCount(t.float_data_size(), n, what, type));
      return Tensor::FromDoubles(
          type,
          std::vector<double>(t.float_data().begin(), t.float_data().end()));
    case DType::kF64:
      ADC_RETURN_IF_ERROR(CheckCount(t.double_data_size(), n, what, type));
      return Tensor::FromDoubles(
          type,
          std::vector<double>(t.double_data().begin(), t.double_data().end()));
    case DType::kI32:
    case DType::kBool:
      ADC_RETURN_IF_ERROR(CheckCount(t.int32_data_size(), n, what, type));
      return Tensor::FromInts(type, std::vector<int64_t>(t.int32_data().begin(),
                                                         t.int32_data().end()));
    case DType::kI64:
      ADC_RETURN_IF_ERROR(CheckCount(t.int64_data_size(), n, what, type));
      return Tensor::FromInts(type, std::vector<int64_t>(t.int64_data().begin(),
                                                         t.int64_data().end()));
  }
  ADC_CHECK(false);
}

absl::StatusOr<Graph> ImportOnnxModel(const onnx::ModelProto& model,
                                      const ImportOptions& options,
                                      const std::string& model_dir) {
  return Importer(model, options, model_dir).Run();
}

absl::StatusOr<Graph> ImportOnnxBytes(const std::string& bytes,
                                      const ImportOptions& options,
                                      const std::string& model_dir) {
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        "not an ONNX model: the bytes do not parse as an onnx.ModelProto");
  }
  return ImportOnnxModel(model, options, model_dir);
}

absl::StatusOr<Graph> ImportOnnx(const std::string& path,
                                 const ImportOptions& options) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  }
  std::ostringstream bytes;
  bytes << file.rdbuf();
  const size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash);
  absl::StatusOr<Graph> graph = ImportOnnxBytes(bytes.str(), options, dir);
  if (!graph.ok()) return Annotate(graph.status(), path);
  return graph;
}

std::vector<std::string> StaticOperandInputs(const onnx::ModelProto& model) {
  const onnx::GraphProto& graph = model.graph();
  absl::flat_hash_set<std::string> static_uses, tensor_uses, inits;
  CollectUses(graph, &static_uses, &tensor_uses);
  for (const onnx::TensorProto& init : graph.initializer()) {
    inits.insert(init.name());
  }
  absl::flat_hash_map<std::string, const onnx::NodeProto*> producer;
  for (const onnx::NodeProto& node : graph.node()) {
    for (const std::string& out : node.output()) producer[out] = &node;
  }
  // Walk back from the static operands through the nodes computing them;
  // Shape and Size need only static shapes, not values.
  std::vector<std::string> work(static_uses.begin(), static_uses.end());
  absl::flat_hash_set<std::string> needed(static_uses.begin(),
                                          static_uses.end());
  while (!work.empty()) {
    const std::string name = work.back();
    work.pop_back();
    auto it = producer.find(name);
    if (it == producer.end() || it->second->op_type() == "Shape" ||
        it->second->op_type() == "Size") {
      continue;
    }
    for (const std::string& in : it->second->input()) {
      if (!in.empty() && needed.insert(in).second) work.push_back(in);
    }
  }
  std::vector<std::string> names;
  for (const onnx::ValueInfoProto& in : graph.input()) {
    if (needed.contains(in.name()) && !inits.contains(in.name())) {
      names.push_back(in.name());
    }
  }
  return names;
}

std::vector<std::string> SupportedOnnxOps() {
  std::vector<std::string> ops;
  for (const auto& [name, op] : OpTable()) ops.push_back(name);
  return ops;
}

}  // namespace adc
