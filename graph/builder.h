// The C++ builder API: plain C++ that builds a graph.
//
//   adc::GraphBuilder b("example");
//   adc::Value x1 = b.Input("x1", adc::DType::kF64, {});
//   adc::Value x2 = b.Input("x2", adc::DType::kF64, {});
//   b.Output("y", x1 * x2 - adc::Sin(x2));
//   absl::StatusOr<adc::Graph> g = b.Build();
//
// Loops, functions and ifs on build-time values compose graphs naturally (a
// loop that applies a layer k times builds k copies). Data-dependent
// element-wise branches use Select.
//
// Binary ops follow NumPy broadcasting (explicit broadcast_to nodes are
// inserted) and promote dtypes bool < i32 < i64 < f32 < f64 (explicit casts);
// a C++ number mixes with a tensor in the tensor's dtype (`2 * x`, `x + 1`).
//
// Errors never crash: the first mistake (a shape mismatch, a bad axis, ...) is
// recorded with the node it concerns, later ops return invalid Values, and
// Build() returns the error.
#ifndef ADC_GRAPH_BUILDER_H_
#define ADC_GRAPH_BUILDER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/graph.h"
#include "graph/types.h"

namespace adc {

class GraphBuilder;

// A handle to a value in a builder's graph. Cheap to copy.
class Value {
 public:
  Value() = default;
  Value(GraphBuilder* b, ValueId id) : b_(b), id_(id) {}

  // False for a default-constructed Value and for results of failed ops.
  bool valid() const { return b_ != nullptr && id_ >= 0; }
  GraphBuilder* builder() const { return b_; }
  ValueId id() const { return id_; }

  // CHECK that the value is valid.
  const TensorType& type() const;
  DType dtype() const { return type().dtype; }
  const Dims& dims() const { return type().dims; }
  int rank() const { return type().rank(); }
  // Size of `axis` (negative counts from the end). An axis out of range
  // records an error in the builder (Build() returns it) and gives -1.
  int64_t dim(int axis) const;
  const std::string& name() const;

 private:
  GraphBuilder* b_ = nullptr;
  ValueId id_ = -1;
};

class GraphBuilder {
 public:
  // Builds a new graph.
  explicit GraphBuilder(std::string graph_name = "graph");
  // Appends to an existing graph, which must outlive the builder (passes use
  // this to add nodes to the graph they transform).
  explicit GraphBuilder(Graph* graph);
  GraphBuilder(const GraphBuilder&) = delete;
  GraphBuilder& operator=(const GraphBuilder&) = delete;

  // A graph input fed at run time.
  Value Input(absl::string_view name, DType dtype, Dims dims);
  // An input with a stored value (a weight); callers may override it.
  Value Parameter(absl::string_view name, Tensor value);
  // Marks `value` as a graph output named `name` (names are unique).
  void Output(absl::string_view name, Value value);

  // Adds one node: checks arity and attributes, fills attribute defaults and
  // infers its type. `name` is a hint made unique (default: the op name),
  // prefixed by the current name scope.
  Value AddOp(OpKind op, std::vector<Value> inputs, Attrs attrs = {},
              absl::string_view name = "");
  // A handle to an existing value of this builder's graph.
  Value Wrap(ValueId id) { return Value(this, id); }
  // Looks up a value (output names first, then value names).
  Value Find(absl::string_view name);
  // Renames the node behind `v` (e.g. to take gradients w.r.t. it by name).
  Value Named(Value v, absl::string_view name);

  // The first error, if any (OK otherwise).
  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  // Records an error unless one is already recorded; returns Value().
  Value Fail(absl::Status status);

  // Verifies and returns the graph; the builder is left empty. Only for
  // builders that own their graph.
  absl::StatusOr<Graph> Build();
  // The graph being built (owned or external).
  Graph* graph() { return graph_; }
  const Graph* graph() const { return graph_; }

  // Nodes created from now on get this grad_level (set by autodiff).
  void set_grad_level(int level) { grad_level_ = level; }
  int grad_level() const { return grad_level_; }

 private:
  friend class NameScope;
  friend class NoGradScope;

  std::unique_ptr<Graph> owned_;
  Graph* graph_;
  absl::Status status_;
  std::string scope_;
  int no_grad_depth_ = 0;
  int grad_level_ = 0;
};

// Prefixes the names of nodes created in its lifetime with "name/".
class NameScope {
 public:
  NameScope(GraphBuilder& b, absl::string_view name);
  ~NameScope();
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;

 private:
  GraphBuilder& b_;
  size_t saved_size_;
};

// Like torch.no_grad(): values computed in its lifetime carry no gradient
// (each result is wrapped in stop_gradient). Inputs, parameters and values
// created outside keep theirs.
class NoGradScope {
 public:
  explicit NoGradScope(GraphBuilder& b) : b_(b) { ++b_.no_grad_depth_; }
  ~NoGradScope() { --b_.no_grad_depth_; }
  NoGradScope(const NoGradScope&) = delete;
  NoGradScope& operator=(const NoGradScope&) = delete;

 private:
  GraphBuilder& b_;
};

// ---------------------------------------------------------------------------
// Constants.
// ---------------------------------------------------------------------------
Value Constant(GraphBuilder& b, Tensor value);
Value Scalar(GraphBuilder& b, double value, DType dtype = DType::kF32);
// A tensor of `type` filled with `value` (a scalar constant broadcast).
Value Full(GraphBuilder& b, TensorType type, double value);
Value FullLike(Value x, double value);
Value ZerosLike(Value x);
Value OnesLike(Value x);
// out[i0, ..., in] = i_axis, of the given dtype and dims.
Value Iota(GraphBuilder& b, DType dtype, Dims dims, int64_t axis = 0);
// [start, start + step, ...) below `stop` (above it for negative step).
Value Arange(GraphBuilder& b, double start, double stop, double step = 1,
             DType dtype = DType::kF32);

// Random numbers, uniform in [0, 1), of `dtype` (f32 or f64) and `dims`,
// from an integer scalar `seed` (i32 or i64; typically a graph input fed a
// new value per step): element i (row-major) of stream `stream` is
// random_uniform(seed, i + stream * 2^32), a counter-based generator
// (SplitMix64, graph/ops/random.h), the same numbers in the interpreter and
// in generated code on every target. Independent streams for one seed come
// from different `stream` numbers (e.g. one per dropout layer); the same
// seed, stream and shape give the same numbers. Not differentiable.
Value RandomUniform(Value seed, const Dims& dims, DType dtype = DType::kF32,
                    int64_t stream = 0);
// A stream number for RandomUniform from a name (FNV-1a, mod 2^31): layers
// and imported nodes draw from the stream of their own name.
int64_t RandomStream(absl::string_view name);

// ---------------------------------------------------------------------------
// Element-wise arithmetic, with NumPy broadcasting and dtype promotion.
// ---------------------------------------------------------------------------
Value operator+(Value a, Value b);
Value operator-(Value a, Value b);
Value operator*(Value a, Value b);
Value operator/(Value a, Value b);
Value operator-(Value a);
Value operator+(Value a, double b);
Value operator-(Value a, double b);
Value operator*(Value a, double b);
Value operator/(Value a, double b);
Value operator+(double a, Value b);
Value operator-(double a, Value b);
Value operator*(double a, Value b);
Value operator/(double a, Value b);
Value Pow(Value a, Value b);
Value Pow(Value a, double b);
Value Pow(double a, Value b);
Value Maximum(Value a, Value b);
Value Maximum(Value a, double b);
Value Minimum(Value a, Value b);
Value Minimum(Value a, double b);
// a * b, except 0 wherever b == 0 (even where a is inf or NaN).
Value MulNoNan(Value a, Value b);

Value Neg(Value x);
Value Abs(Value x);
Value Sign(Value x);
// To the nearest integer, ties to even (not differentiable: use a custom
// gradient for a straight-through estimator).
Value Round(Value x);
Value Exp(Value x);
Value Log(Value x);
Value Log1p(Value x);
Value Expm1(Value x);
Value Sin(Value x);
Value Cos(Value x);
Value Tan(Value x);
Value Tanh(Value x);
Value Sigmoid(Value x);
Value Sqrt(Value x);
Value Rsqrt(Value x);
Value Square(Value x);
Value Reciprocal(Value x);
Value Erf(Value x);
Value Atan(Value x);
Value Relu(Value x);
// x for x > 0, alpha * x otherwise.
Value LeakyRelu(Value x, double alpha = 0.01);
// x for x > 0, alpha * (exp(x) - 1) otherwise.
Value Elu(Value x, double alpha = 1.0);
// log(1 + exp(x)), stable for any x.
Value Softplus(Value x);
Value Clip(Value x, std::optional<double> lo, std::optional<double> hi);

// Comparisons (bool result, not differentiable).
Value Lt(Value a, Value b);
Value Le(Value a, Value b);
Value Gt(Value a, Value b);
Value Ge(Value a, Value b);
Value Eq(Value a, Value b);
Value Ne(Value a, Value b);
Value Lt(Value a, double b);
Value Le(Value a, double b);
Value Gt(Value a, double b);
Value Ge(Value a, double b);
Value Eq(Value a, double b);
Value Ne(Value a, double b);

// cond ? on_true : on_false, element-wise, broadcasting all three. Gradients
// are NaN-safe: the untaken branch gets an exact zero cotangent, and every
// gradient rule maps a zero cotangent to zero even where its local
// derivative is inf or NaN (so where(x > 0, log(x), 0) has gradient 0 at 0).
Value Select(Value cond, Value on_true, Value on_false);
Value Select(Value cond, Value on_true, double on_false);
Value Select(Value cond, double on_true, Value on_false);
inline Value Where(Value cond, Value a, Value b) { return Select(cond, a, b); }
inline Value Where(Value cond, Value a, double b) { return Select(cond, a, b); }
inline Value Where(Value cond, double a, Value b) { return Select(cond, a, b); }

Value Cast(Value x, DType dtype);
// Identity whose gradient is zero (torch's detach, JAX's stop_gradient).
Value StopGradient(Value x);

// ---------------------------------------------------------------------------
// Reductions. Axes may be negative; without axes, reduce over all of them.
// ---------------------------------------------------------------------------
Value Sum(Value x);
Value Sum(Value x, std::vector<int64_t> axes, bool keepdims = false);
Value Mean(Value x);
Value Mean(Value x, std::vector<int64_t> axes, bool keepdims = false);
Value Max(Value x);
Value Max(Value x, std::vector<int64_t> axes, bool keepdims = false);
Value Min(Value x);
Value Min(Value x, std::vector<int64_t> axes, bool keepdims = false);
Value Prod(Value x);
Value Prod(Value x, std::vector<int64_t> axes, bool keepdims = false);
// log(sum(exp(x))), stable in value and gradient (max subtracted first).
Value LogSumExp(Value x);
Value LogSumExp(Value x, std::vector<int64_t> axes, bool keepdims = false);
Value Softmax(Value x, int64_t axis = -1);
Value LogSoftmax(Value x, int64_t axis = -1);

// ---------------------------------------------------------------------------
// Linear algebra.
// ---------------------------------------------------------------------------
// numpy.matmul: 1-D operands are promoted to matrices (and the added axis is
// removed again); batch dimensions broadcast.
Value MatMul(Value a, Value b);
// Inner product of two 1-D tensors (a scalar).
Value Dot(Value a, Value b);

// ---------------------------------------------------------------------------
// Shapes and data movement. Axes may be negative.
// ---------------------------------------------------------------------------
// At most one dim may be -1 (inferred).
Value Reshape(Value x, Dims dims);
// Default perm: reverse the axes.
Value Transpose(Value x, std::vector<int64_t> perm = {});
Value BroadcastTo(Value x, Dims dims);
Value ExpandDims(Value x, int64_t axis);
// Removes the given size-1 axes; without axes, every size-1 axis.
Value Squeeze(Value x);
Value Squeeze(Value x, std::vector<int64_t> axes);
// Flattens to 2-D: dims before `axis` and from `axis` on (ONNX Flatten).
Value Flatten(Value x, int64_t axis = 1);
Value Concat(const std::vector<Value>& xs, int64_t axis);
// Canonical slice of every axis: elements start, start + stride, ... while
// before limit (strides may be negative; then limit < start, -1 allowed).
Value Slice(Value x, std::vector<int64_t> start, std::vector<int64_t> limit,
            std::vector<int64_t> stride = {});
// NumPy x[start:stop:step] on one axis; negative and out-of-range start/stop
// are handled like Python's.
Value SliceAxis(Value x, int64_t axis, std::optional<int64_t> start,
                std::optional<int64_t> stop, int64_t step = 1);
// x[..., i, ...] on `axis`, dropping it (negative i counts from the end).
Value Index(Value x, int64_t i, int64_t axis = 0);
Value Reverse(Value x, std::vector<int64_t> axes);
// Pads each axis by low/high elements of `value` (negative amounts crop) and
// interior elements between neighbours.
Value Pad(Value x, std::vector<int64_t> low, std::vector<int64_t> high,
          double value = 0, std::vector<int64_t> interior = {});
// out[..., j..., ...] = x[..., indices[j...], ...] along `axis`. Indices of
// i32/i64; negative indices count from the end, out-of-range ones clamp.
Value Gather(Value x, Value indices, int64_t axis = 0);
// out = base; out[..., indices[j...], ...] += updates[..., j..., ...].
Value ScatterAdd(Value base, Value indices, Value updates, int64_t axis = 0);
Value CumSum(Value x, int64_t axis, bool exclusive = false,
             bool reverse = false);
// x, ordered after `after` and never merged with x by the optimizer (JAX's
// optimization_barrier; rematerialization uses it).
Value Barrier(Value x, const std::vector<Value>& after);

// ---------------------------------------------------------------------------
// Functions and custom gradients.
// ---------------------------------------------------------------------------
// Copies the nodes of a function body (a graph of the library, graph/graph.h)
// into b's graph with `args` for its inputs (in order, of the input types);
// returns the values of its outputs, in order.
std::vector<Value> Inline(GraphBuilder& b, const Graph& body,
                          const std::vector<Value>& args);

// A value with a gradient of your own (PyTorch's autograd.Function, JAX's
// custom_vjp). `forward` computes the value from `args`; `vjp` gets the args,
// the value y and its cotangent dy and returns one cotangent per arg (an
// invalid Value() for integer and bool args, or for no gradient). Both are
// written with builder ops on builders of their own and stored in the
// graph's function library under "<name>.forward" and "<name>.vjp" (names
// made unique), and the value is a custom_vjp node that calls them. Autodiff
// uses `vjp`, which stays differentiable to higher orders when its ops are;
// forward mode, the interpreter and code generation use `forward`.
using CustomForwardFn =
    std::function<Value(GraphBuilder& b, const std::vector<Value>& args)>;
using CustomVjpFn = std::function<std::vector<Value>(
    GraphBuilder& b, const std::vector<Value>& args, Value y, Value dy)>;
Value CustomVjp(GraphBuilder& b, const std::string& name,
                const std::vector<Value>& args, const CustomForwardFn& forward,
                const CustomVjpFn& vjp);

// ---------------------------------------------------------------------------
// Control flow (graph/ops/control.cc). Branches, loop conditions and bodies
// are written with builder ops on builders of their own (stored as functions
// of the graph's library); values of the enclosing graph enter them only as
// arguments: a cond's operands, a loop's carried and captured values. Each
// returns one value per result (a node per result, graph/control_flow.h).
// Everything is differentiable in reverse mode (to any order) and forward
// mode: the gradient flows through the branch taken and through every
// iteration run (passes/control_flow.h).
// ---------------------------------------------------------------------------
// Adds to b's library a function built by `fn` on a builder of its own, from
// arguments of `types` (inputs x0, x1, ...); its outputs are the values fn
// returns, which must have the types `outputs` when given. Returns its name
// (`base`, made unique), or "" after recording an error (prefixed with
// `what`) in b.
using FunctionFn =
    std::function<std::vector<Value>(GraphBuilder& fb, std::vector<Value>)>;
std::string DefineFunction(GraphBuilder& b, const std::string& base,
                           const std::vector<TensorType>& types,
                           const FunctionFn& fn,
                           const std::vector<TensorType>* outputs = nullptr,
                           const std::string& what = "function");

using BranchFn = std::function<std::vector<Value>(
    GraphBuilder& b, const std::vector<Value>& operands)>;
// then_fn(operands) if `pred` (a bool scalar) holds, else else_fn(operands);
// both return values of the same types (JAX's lax.cond, TF's If).
std::vector<Value> Cond(Value pred, const BranchFn& then_fn,
                        const BranchFn& else_fn,
                        const std::vector<Value>& operands,
                        const std::string& name = "cond");

using LoopCondFn =
    std::function<Value(GraphBuilder& b, const std::vector<Value>& carried,
                        const std::vector<Value>& captured)>;
using LoopBodyFn = std::function<std::vector<Value>(
    GraphBuilder& b, const std::vector<Value>& carried,
    const std::vector<Value>& captured)>;
// carried = init; while cond_fn(carried, captured) (a bool scalar):
// carried = body_fn(carried, captured) (same types); returns the final
// carried values. `captured` are loop invariants the functions read. A run
// that would take more than max_iterations iterations fails with an error
// naming the loop (reverse mode records at most that many iterations).
std::vector<Value> WhileLoop(GraphBuilder& b, const LoopCondFn& cond_fn,
                             const LoopBodyFn& body_fn,
                             const std::vector<Value>& init,
                             int64_t max_iterations,
                             const std::vector<Value>& captured = {},
                             const std::string& name = "while");

using ForBodyFn = std::function<std::vector<Value>(
    GraphBuilder& b, Value i, const std::vector<Value>& carried,
    const std::vector<Value>& captured)>;
// for i in 0..n-1: carried = body_fn(i, carried, captured), with i an i64
// scalar; a while_loop with a counter and max_iterations n.
std::vector<Value> ForLoop(GraphBuilder& b, int64_t n, const ForBodyFn& body_fn,
                           const std::vector<Value>& init,
                           const std::vector<Value>& captured = {},
                           const std::string& name = "for");

// The constructs on functions already in b's library, by name (the
// transforms build them); `operands` of a while_loop are its carried values,
// then its captured ones.
std::vector<Value> CondCall(Value pred, const std::string& then_branch,
                            const std::string& else_branch,
                            const std::vector<Value>& operands,
                            const std::string& name = "cond");
std::vector<Value> WhileLoopCall(GraphBuilder& b, const std::string& cond,
                                 const std::string& body,
                                 const std::vector<Value>& operands,
                                 int64_t max_iterations,
                                 const std::string& name = "while");

// ---------------------------------------------------------------------------
// Neural-network building blocks (compositions of the above).
// ---------------------------------------------------------------------------
// x @ w^T + bias, with w of shape [out, in] (torch.nn.Linear's layout).
Value Linear(Value x, Value w, std::optional<Value> bias = std::nullopt);
// Convolution and pooling over the trailing spatial axes of NCHW-style
// tensors (x: [N, C, spatial...], 1-d, 2-d or more; graph/nn.cc):
// convolutions are the conv primitive, pooling compositions of pad, strided
// slices and element-wise ops, so gradients of every order, forward mode,
// batching and code generation come from those ops. Per spatial axis:
// stride, dilation and padding (low, high); empty vectors mean 1, 1 and 0.
struct WindowOptions {
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_low;
  std::vector<int64_t> pads_high;
  // SAME padding (ONNX auto_pad SAME_UPPER / SAME_LOWER): pads chosen so
  // that out = ceil(in / stride); the odd element goes high (upper) or low.
  enum class Same { kNo, kUpper, kLower };
  Same same = Same::kNo;
  bool ceil_mode = false;          // Pooling: the last partial window too.
  bool count_include_pad = false;  // Average pooling's divisor.
};
// The convolution primitive (op conv, XLA's ConvGeneralDilated in NCHW /
// OIHW layout; graph/ops/linalg.cc states its math): x [N, C, spatial...],
// w [O, C / groups, kernel...]. Per spatial axis: the window stride, pads
// (negative ones crop), the input's dilation (lhs: zeros between its
// elements, as a transposed convolution) and the kernel's (rhs). Its
// gradients are convolutions again.
struct ConvGeometry {
  std::vector<int64_t> strides;
  std::vector<int64_t> pads_low;
  std::vector<int64_t> pads_high;
  std::vector<int64_t> lhs_dilation;
  std::vector<int64_t> rhs_dilation;
  int64_t groups = 1;
};
Value ConvGeneral(Value x, Value w, const ConvGeometry& geometry);
// PyTorch's conv1d/conv2d/conv3d (cross-correlation): w [O, C / groups,
// kernel...], bias [O] (optional); out [N, O, out...] with
// out = floor((in + pads - dilation (k - 1) - 1) / stride) + 1. One conv op
// (plus the bias).
Value Conv(Value x, Value w, std::optional<Value> bias = std::nullopt,
           const WindowOptions& options = {}, int64_t groups = 1);
// PyTorch's conv_transpose (the gradient of Conv with respect to its input):
// w [C, O / groups, kernel...]; out = (in - 1) stride - pads + dilation
// (k - 1) + output_padding + 1.
Value ConvTranspose(Value x, Value w, std::optional<Value> bias = std::nullopt,
                    const WindowOptions& options = {}, int64_t groups = 1,
                    std::vector<int64_t> output_padding = {});
// Max pooling over windows of `kernel`; padding is -inf. The gradient goes
// to the first maximum of each window (PyTorch's tie rule).
Value MaxPool(Value x, std::vector<int64_t> kernel,
              const WindowOptions& options = {});
// Average pooling; the divisor counts padding when count_include_pad (not
// the extra elements of ceil mode, as PyTorch).
Value AvgPool(Value x, std::vector<int64_t> kernel,
              const WindowOptions& options = {});
// Over every spatial axis, keeping them as size 1 (ONNX GlobalAveragePool).
Value GlobalAvgPool(Value x);
Value GlobalMaxPool(Value x);

// Batch normalization over every axis but 1 (the channels; PyTorch's
// batch_norm, ONNX's BatchNormalization). Training: normalized by the
// batch's mean and biased variance, and the running statistics updated as
// PyTorch does: running = (1 - momentum) running + momentum stat, with the
// unbiased variance. Inference: normalized by the running statistics, which
// are returned unchanged. scale and bias [C]. (ONNX's training mode updates
// the running variance with the biased variance: unbiased_running_var =
// false.)
struct BatchNormOutputs {
  Value y;
  Value running_mean;
  Value running_var;
};
BatchNormOutputs BatchNorm(Value x, Value scale, Value bias, Value running_mean,
                           Value running_var, bool training,
                           double momentum = 0.1, double epsilon = 1e-5,
                           bool unbiased_running_var = true);
// Normalizes over the axes from `first_axis` on (biased variance), then
// scale and bias (shaped like those axes) if given (PyTorch's layer_norm).
Value LayerNorm(Value x, int64_t first_axis,
                std::optional<Value> scale = std::nullopt,
                std::optional<Value> bias = std::nullopt,
                double epsilon = 1e-5);
// Per example and channel over the spatial axes, scale and bias [C] (ONNX's
// InstanceNormalization).
Value InstanceNorm(Value x, Value scale, Value bias, double epsilon = 1e-5);

// Dropout in training mode (torch.nn.functional.dropout): each element of x
// is kept with probability 1 - p, drawn by RandomUniform(seed, x's shape,
// x's dtype, stream) >= p, and the kept ones scaled by 1 / (1 - p):
// y = x * (mask / (1 - p)), as PyTorch computes it (the scale in x's
// dtype; dropped elements are x * 0, so -0 for negative x). The gradient is dy
// * mask / (1 - p), the same mask. p = 0 returns x; p = 1 zeros. In evaluation
// a model simply leaves dropout out. With `mask`, the kept elements as bool.
Value Dropout(Value x, double p, Value seed, int64_t stream = 0,
              Value* mask = nullptr);
// A model's dropout seed: its value named "dropout_seed" (an error unless
// it is an i64 scalar), else a new parameter of that name holding
// `initial`; *added (if given) says which. Training loops feed or advance
// it per step (the training library's dropout layer, ONNX's Dropout).
Value DropoutSeed(GraphBuilder& b, int64_t initial, bool* added = nullptr);

// mean((pred - target)^2).
Value MseLoss(Value pred, Value target);
// mean over the batch of -log_softmax(logits)[label]; logits [N, C], labels
// [N] of an integer dtype.
Value CrossEntropy(Value logits, Value labels);
// torch.nn.NLLLoss: mean over the batch of -log_probs[label] (log_probs
// [N, C], e.g. a LogSoftmax; labels [N] of an integer dtype).
Value NllLoss(Value log_probs, Value labels);

}  // namespace adc

#endif  // ADC_GRAPH_BUILDER_H_
