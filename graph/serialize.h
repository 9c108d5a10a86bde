// GraphDef (graph/graph.proto) <-> in-memory Graph, and graph files.
//
// GraphFromProto is the front door for user data: it resolves names, reports
// unknown ops, dangling inputs, duplicate names and cycles, orders the nodes
// topologically, infers every node's type (checking any declared one) and
// verifies the result. Files ending in .pbtxt (or .txt) are protobuf text
// format; anything else is binary. Binary and text forms round-trip exactly.
#ifndef ADC_GRAPH_SERIALIZE_H_
#define ADC_GRAPH_SERIALIZE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "graph/graph.pb.h"

namespace adc {

// The GraphDef format version this build writes. Files with a higher version
// are rejected; version 0 (absent) reads as 1. Version 2 adds the function
// library (GraphDef.functions); version 3 the control-flow ops cond and
// while_loop (graph/ops/control.cc), whose branches and bodies are library
// functions. Older files load unchanged, and a graph is written with the
// oldest version that has what it uses (1 without functions, 2 without
// control flow).
inline constexpr int kGraphFormatVersion = 3;

// Limits on graph input, checked before the memory and work they bound: a
// file's size before it is read, node and function counts before a graph is
// built (every shape is also limited to rank ops::kMaxRank and
// ops::kMaxElements elements). The defaults are far above the graphs of
// models/ (hundreds of nodes; tens of thousands for the 10,000-op benchmark
// chain with its gradient); `adc` sets them with --max-graph-bytes and
// --max-graph-nodes.
struct GraphLimits {
  // Protobuf cannot parse a binary message of 2 GiB or more anyway.
  int64_t max_file_bytes = (int64_t{2} << 30) - 1;
  // Nodes of the graph and its functions together.
  int64_t max_nodes = int64_t{1} << 22;
  int64_t max_functions = int64_t{1} << 16;
};

absl::StatusOr<Graph> GraphFromProto(const proto::GraphDef& def,
                                     const GraphLimits& limits = {});
proto::GraphDef GraphToProto(const Graph& graph);

absl::StatusOr<Tensor> TensorFromProto(const proto::TensorProto& tensor);
proto::TensorProto TensorToProto(const Tensor& tensor);

// The binary and text forms of a GraphDef. Both are deterministic (map
// entries sorted by key), so equal GraphDefs give equal bytes and a file
// round-trips byte for byte.
std::string GraphDefToBytes(const proto::GraphDef& def);
std::string GraphDefToText(const proto::GraphDef& def);

// Reads/writes a GraphDef file (text for .pbtxt/.txt, else binary).
absl::StatusOr<proto::GraphDef> ReadGraphDef(const std::string& path,
                                             const GraphLimits& limits = {});
absl::Status WriteGraphDef(const proto::GraphDef& def, const std::string& path);

// ReadGraphDef + GraphFromProto; GraphToProto + WriteGraphDef.
absl::StatusOr<Graph> LoadGraph(const std::string& path,
                                const GraphLimits& limits = {});
absl::Status SaveGraph(const Graph& graph, const std::string& path);

// Text-format conversions (for tests and tools).
absl::StatusOr<Graph> GraphFromText(const std::string& pbtxt,
                                    const GraphLimits& limits = {});
std::string GraphToText(const Graph& graph);

}  // namespace adc

#endif  // ADC_GRAPH_SERIALIZE_H_
