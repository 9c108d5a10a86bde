// The verifier: every graph that enters a pass or code generation has passed
// it. User mistakes (unknown op, cycle, dangling input, duplicate name, wrong
// arity, bad attribute, dtype or shape mismatch) come back as an
// absl::Status that names the node and says what is wrong; nothing CHECKs on
// user data.
#ifndef ADC_GRAPH_VERIFIER_H_
#define ADC_GRAPH_VERIFIER_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/graph.h"

namespace adc {

// Checks `node` against its op definition and returns its output type:
// arity; attributes (unknown, missing or of the wrong kind; absent optional
// ones are filled in with their defaults); then the op's shape/dtype rule.
// Errors carry no node prefix (see NodeError).
absl::StatusOr<TensorType> InferNodeType(Node* node,
                                         absl::Span<const TensorType> inputs);

// `status` with "node 'NAME' (OP): " in front of its message.
absl::Status NodeError(const Node& node, const absl::Status& status);

// Checks every invariant of an in-memory graph: non-empty unique names,
// grad levels in [0, kMaxGradLevel], topological order, input/parameter nodes
// well formed (a parameter's stored value matches its type), every node's
// attributes and type agree with its op rule, outputs refer to existing values
// and have unique non-empty names.
// Function calls (call, cond, while_loop) nest at most kMaxCallDepth deep,
// so that passes and the interpreter, which recurse into callees, stay far
// from the stack's end.
absl::Status Verify(const Graph& graph);

inline constexpr int kMaxCallDepth = 100;

}  // namespace adc

#endif  // ADC_GRAPH_VERIFIER_H_
