// Batching (JAX's vmap, torch.func.vmap) as a graph-to-graph transform.
//
// Vmap returns the graph that computes `size` instances of `graph` at once:
// each input named in `batched` gets a leading dimension of `size` (instance
// i is slice i), and every value that depends on one carries that leading
// dimension too. Each op has a batching rule written in builder ops
// (graph/ops/*.cc, OpDef::Batch): element-wise ops broadcast their unbatched
// operands, reductions and scans shift their axes, matmul becomes a batched
// (or stacked) product, gather and scatter_add with batched indices gather
// from the stacked batch. The result is an ordinary graph, so it composes
// with autodiff (gradients of a batched graph, batches of a gradient graph)
// and forward mode.
//
// - Outputs that depend on a batched input have shape [size] + shape; the
//   others are broadcast to it (out_axes = 0) unless named in
//   `keep_unbatched`, which keep their shape.
// - Parameters stay shared by all instances (only inputs can be batched).
// - Names, grad levels and is_gradient marks are kept; nodes a rule adds are
//   named under "vmap/".
#ifndef ADC_PASSES_VMAP_H_
#define ADC_PASSES_VMAP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace adc {

struct VmapOptions {
  std::vector<std::string> batched;         // Input names.
  int64_t size = 0;                         // The batch size, >= 1.
  std::vector<std::string> keep_unbatched;  // Output names.
};

absl::StatusOr<Graph> Vmap(const Graph& graph, const VmapOptions& options);

}  // namespace adc

#endif  // ADC_PASSES_VMAP_H_
