// The in-memory graph IR.
//
// A Graph is a list of nodes in topological order: every node's inputs have
// smaller ids. Graph inputs and parameters are nodes too (OpKind::kInput and
// kParameter), so a ValueId names any value. Each node produces one value,
// named like the node; names are unique. Outputs are named references to
// values. Serialization to and from GraphDef lives in graph/serialize.h; the
// verifier (graph/verifier.h) checks every invariant stated here.
//
// A graph also holds a library of functions: named graphs (with inputs and
// outputs, no parameters) that call nodes refer to by name, such as the
// forward and gradient functions of custom_vjp. Calls inside a function body
// resolve in the same library: it belongs to the top-level graph, and a
// function body's own library is empty.
#ifndef ADC_GRAPH_GRAPH_H_
#define ADC_GRAPH_GRAPH_H_

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "graph/ops/op_kind.h"
#include "graph/types.h"

namespace adc {

using ValueId = int;

// Attribute values, by kind.
enum class AttrKind { kInt, kFloat, kString, kInts, kDType, kTensor, kBool };
using AttrValue = std::variant<int64_t, double, std::string,
                               std::vector<int64_t>, DType, Tensor, bool>;
AttrKind KindOf(const AttrValue& value);
absl::string_view AttrKindName(AttrKind kind);

// A node's attributes. Getters CHECK that the attribute exists with the right
// kind: the verifier has established that for every verified graph.
class Attrs {
 public:
  Attrs() = default;
  Attrs& Set(std::string name, AttrValue value) {
    map_[std::move(name)] = std::move(value);
    return *this;
  }
  bool Has(absl::string_view name) const {
    return map_.find(std::string(name)) != map_.end();
  }
  int64_t GetInt(absl::string_view name) const;
  double GetFloat(absl::string_view name) const;
  const std::string& GetString(absl::string_view name) const;
  const std::vector<int64_t>& GetInts(absl::string_view name) const;
  DType GetDType(absl::string_view name) const;
  const Tensor& GetTensor(absl::string_view name) const;
  bool GetBool(absl::string_view name) const;

  const std::map<std::string, AttrValue>& map() const { return map_; }
  std::map<std::string, AttrValue>& mutable_map() { return map_; }
  bool operator==(const Attrs& o) const { return map_ == o.map_; }

 private:
  const AttrValue& Get(absl::string_view name, AttrKind kind) const;
  std::map<std::string, AttrValue> map_;
};

// The highest grad_level a verified graph may carry (keeps level arithmetic
// far from int overflow; no real graph comes near it).
inline constexpr int kMaxGradLevel = 1 << 20;

struct Node {
  std::string name;
  OpKind op = OpKind::kInput;
  std::vector<ValueId> inputs;
  Attrs attrs;
  TensorType type;
  // 0: forward graph; k: created by the k-th application of autodiff. In
  // [0, kMaxGradLevel] (checked by the verifier).
  int grad_level = 0;
};

struct GraphOutput {
  std::string name;
  ValueId value = -1;
  // A gradient added by autodiff (see GraphDef's Output.is_gradient).
  bool is_gradient = false;
};

class Graph {
 public:
  Graph() = default;
  explicit Graph(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  const std::deque<Node>& nodes() const { return nodes_; }
  const Node& node(ValueId id) const { return nodes_.at(id); }
  // Callers must keep names unique (use Rename) and inputs topological.
  Node& mutable_node(ValueId id) { return nodes_.at(id); }
  const TensorType& type(ValueId id) const { return nodes_.at(id).type; }

  // Appends a node. Its name must be unused and its inputs must exist (CHECKed:
  // callers validate user data first).
  ValueId AddNode(Node node);
  std::optional<ValueId> Find(absl::string_view name) const;
  // `base` if unused, else an unused base_k: the first unused of base_1,
  // base_2, ... after the last base_k this graph handed out.
  std::string UniqueName(absl::string_view base) const;
  // Renames a node; false if `name` is taken by another node.
  bool Rename(ValueId id, std::string name);

  // Inputs and parameters in declaration (id) order.
  std::vector<ValueId> inputs() const;
  std::vector<ValueId> parameters() const;

  const std::vector<GraphOutput>& outputs() const { return outputs_; }
  std::vector<GraphOutput>& mutable_outputs() { return outputs_; }
  void AddOutput(std::string name, ValueId value, bool is_gradient = false) {
    outputs_.push_back({std::move(name), value, is_gradient});
  }
  // The output named `name`, if any.
  std::optional<ValueId> FindOutput(absl::string_view name) const;
  // An output name, else a value name.
  std::optional<ValueId> FindOutputOrValue(absl::string_view name) const;

  // Number of uses of each value (as node input or graph output).
  std::vector<int> UseCounts() const;

  // Rewiring for passes. ReplaceAllUsesWith redirects every use (node inputs
  // and outputs) of `old` to `replacement`, then restores topological order.
  // Nodes whose `remove` flag is set are deleted and ids renumbered; CHECKs
  // that no remaining node or output uses them. Both keep the relative order of
  // the remaining nodes where the topology allows.
  void ReplaceAllUsesWith(ValueId old, ValueId replacement);
  void RemoveNodes(const std::vector<bool>& remove);
  // Reorders nodes topologically (stable: Kahn's algorithm preferring lower
  // ids). CHECKs that there is no cycle.
  void SortTopologically();

  // The function library. Functions never change once added; copies of a
  // graph share them (adding to one copy does not affect the others).
  const Graph* function(absl::string_view name) const;
  // `body` under `name`, which must be unused (CHECKed).
  void AddFunction(const std::string& name, Graph body);
  // Names in sorted order.
  std::vector<std::string> function_names() const;
  // `base` if no function has it, else the first free base_1, base_2, ...
  std::string UniqueFunctionName(const std::string& base) const;
  // Adds `body`, built or transformed with this graph's library shared, under
  // UniqueFunctionName(base) (returned), with the functions of body's
  // library that this library lacks (those it added while it was built).
  std::string AddDerivedFunction(const std::string& base, Graph body);
  // The types of a graph's inputs (in order) and of its outputs: a
  // function's signature.
  std::vector<TensorType> InputTypes() const;
  std::vector<TensorType> OutputTypes() const;
  bool has_functions() const { return functions_ && !functions_->empty(); }
  // Makes this graph's library `other`'s (a function body being transformed
  // sees the functions of the graph it came from).
  void ShareFunctions(const Graph& other) { functions_ = other.functions_; }
  void ClearFunctions() { functions_.reset(); }

 private:
  void RebuildIndex();

  std::string name_ = "graph";
  // A deque: adding a node moves no other node, so references to nodes
  // and their types (Value::type(), Value::dims()) stay valid while a graph
  // grows (as HloComputation owns its instructions). RemoveNodes and
  // SortTopologically renumber nodes; ids and references from before them
  // are stale.
  std::deque<Node> nodes_;
  std::vector<GraphOutput> outputs_;
  absl::flat_hash_map<std::string, ValueId> index_;
  // UniqueName: per base, the suffix to try first (the one after the last
  // handed out), so naming n nodes from one base costs O(n), not O(n^2).
  mutable absl::flat_hash_map<std::string, int> next_suffix_;
  using Library = std::map<std::string, std::shared_ptr<const Graph>>;
  std::shared_ptr<const Library> functions_;
};

}  // namespace adc

#endif  // ADC_GRAPH_GRAPH_H_
