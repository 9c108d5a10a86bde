// Helpers shared by the optimization passes (passes/dce.h, cse.h,
// constant_folding.h, algebraic_simplifier.h).
//
// Value identity. Passes must preserve values bit for bit, so they compare
// constants with IdenticalTensors, not Tensor::operator== (which, being
// numeric equality, treats -0 and +0 as equal). NaNs are interchangeable: IEEE
// arithmetic does not specify which NaN an operation returns, so the passes
// treat any NaN as the same value (as Tensor::operator== does).
//
// Splats. A "splat" is a value whose elements are all the same constant: a
// `constant` node whose elements are all identical, or a `broadcast_to` of
// such a constant (the form the builder's Full/ZerosLike/OnesLike and the
// builder's scalar literals produce). Code generation handles a broadcast
// scalar cheaply, so passes keep splats in that form instead of
// materializing them.
#ifndef ADC_PASSES_PASS_UTIL_H_
#define ADC_PASSES_PASS_UTIL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/graph.h"

namespace adc::passes {

// Same type and the same elements bit for bit, except that any NaN equals any
// NaN (so -0 != +0).
bool IdenticalTensors(const Tensor& a, const Tensor& b);
// Attributes with equal keys and values, floating-point values compared as
// IdenticalTensors does.
bool IdenticalAttrs(const Attrs& a, const Attrs& b);
// A hash consistent with IdenticalAttrs.
size_t HashAttrs(const Attrs& attrs);

// True if all elements of `t` are identical (and there is at least one).
bool IsUniform(const Tensor& t);
// Element 0 of `t` as a rank-0 tensor of t's dtype.
Tensor FirstElement(const Tensor& t);

// If `id` is a splat (see above), its element as a rank-0 tensor.
std::optional<Tensor> SplatValue(const Graph& graph, ValueId id);
// If `id` is a constant or a splat, the (possibly non-uniform) constant
// tensor behind it: the constant itself, or the broadcast scalar. `is_splat`
// tells which.
const Tensor* ConstantBehind(const Graph& graph, ValueId id, bool* is_splat);

// Element predicates on a constant or splat `id`; false for any other value.
// Floating-point comparisons are exact: IsSplatOf(id, 0.0) holds for +0 only.
bool IsSplatOf(const Graph& graph, ValueId id, double value);
// Every element of the constant or splat satisfies `pred` (called with the
// element as double; integer and bool elements are converted exactly for
// |v| < 2^53, which is all the predicates below need).
template <typename Pred>
bool AllElements(const Graph& graph, ValueId id, Pred pred) {
  bool is_splat = false;
  const Tensor* t = ConstantBehind(graph, id, &is_splat);
  if (t == nullptr) return false;
  for (int64_t i = 0; i < t->num_elements(); ++i) {
    if (!pred(t->GetDouble(i))) return false;
  }
  return true;
}

// Appends a node (inputs must exist), inferring its type and filling default
// attributes. The name is `name_hint` made unique. A failure is a bug in the
// calling pass and comes back as an internal error.
absl::StatusOr<ValueId> AddInferredNode(Graph* graph, OpKind op,
                                        std::vector<ValueId> inputs,
                                        Attrs attrs,
                                        absl::string_view name_hint,
                                        int grad_level);

// Ids of the values the outputs depend on (transitively), as flags. Inputs
// and parameters are not marked unless something uses them.
std::vector<bool> LiveValues(const Graph& graph);
// The values `roots` depend on (the roots included).
std::vector<bool> LiveValues(const Graph& graph,
                             const std::vector<ValueId>& roots);

}  // namespace adc::passes

#endif  // ADC_PASSES_PASS_UTIL_H_
