// Helpers shared by the op definitions in graph/ops/*.cc: shape-rule checks,
// reference-kernel loops and gradient-rule building blocks.
#ifndef ADC_GRAPH_OPS_OP_UTIL_H_
#define ADC_GRAPH_OPS_OP_UTIL_H_

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"

namespace adc::ops {

// --- Shape rules -----------------------------------------------------------

inline absl::Status InvalidArgument(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

template <typename... Args>
absl::Status Error(const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(args...));
}

// OK if `t` has a floating-point dtype.
absl::Status RequireFloat(const TensorType& t, absl::string_view what);
// OK if all inputs have the same type (element-wise ops).
absl::Status RequireSameTypes(absl::Span<const TensorType> inputs);
// The largest element count of any value (2^40): bounds allocations and
// keeps index arithmetic far from int64 overflow.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;
// The largest rank of any value (NumPy's limit; the runtime's too).
inline constexpr int kMaxRank = 32;

// Checks that the rank is at most kMaxRank, every dim is >= 0 and the element
// count is at most kMaxElements.
absl::Status CheckDims(absl::Span<const int64_t> dims, absl::string_view what);
// Checks that `axis` is in [0, rank).
absl::Status CheckAxis(int64_t axis, int rank, absl::string_view what);

// --- Reference kernels -----------------------------------------------------

// Calls f(index, flat) for every multi-index of `dims` in row-major order.
void ForEachIndex(const Dims& dims,
                  const std::function<void(const std::vector<int64_t>& index,
                                           int64_t flat)>& f);
// Copies element `si` of src into element `di` of dst (same dtype class).
void CopyElement(const Tensor& src, int64_t si, Tensor* dst, int64_t di);
// out[index] = x[source(index)] for every index of `out_type` (shape ops).
Tensor Rearrange(const Tensor& x, const TensorType& out_type,
                 const std::function<int64_t(const std::vector<int64_t>&)>&
                     source_flat_index);

// --- Gradient rules --------------------------------------------------------

// Sums dy (of a broadcast shape) back down to `dims` under NumPy rules: the
// adjoint of broadcast_to.
Value SumToShape(Value dy, Dims dims);
// Broadcasts the cotangent of a reduction (over `axes`, with keepdims as
// given) back to the input's `dims`: the adjoint of a sum.
Value Unreduce(Value dy, Dims dims, const std::vector<int64_t>& axes,
               bool keepdims);

// Moves axis `from` of v to position `to`, keeping the others in order (a
// transpose).
Value MoveAxis(Value v, int from, int to);

// Batching (passes/vmap.h). Operand k of a batching rule with the leading
// batch dimension: as it is when batched, else broadcast to it.
Value Batched(const BatchContext& c, size_t k);
// `dims` or `axes` attribute values with the batch dimension in front:
// {lead} + v (WithBatch), or v + 1 (ShiftAxes).
std::vector<int64_t> WithBatch(int64_t lead, const std::vector<int64_t>& v);
std::vector<int64_t> ShiftAxes(const std::vector<int64_t>& axes);
// The node's attributes with int attribute `name` shifted past the batch
// dimension (axis + 1), or ints attribute `name` so shifted.
Attrs ShiftedAxisAttr(const Node& node, const std::string& name);
Attrs ShiftedAxesAttr(const Node& node, const std::string& name);
// The batching rules of whole families: element-wise ops (every operand
// batched, same op) and reductions and scans (axes shifted).
Value BatchElementwise(const BatchContext& c);
Value BatchAxes(const BatchContext& c);
Value BatchAxis(const BatchContext& c);
// Indices of gather/scatter_add normalized as the kernels read them:
// negative ones count from the end, then clamped into [0, n - 1].
Value NormalizeIndices(Value indices, int64_t n);

}  // namespace adc::ops

#endif  // ADC_GRAPH_OPS_OP_UTIL_H_
