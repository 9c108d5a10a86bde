#include "graph/graph.h"

#include <algorithm>
#include <queue>

#include "absl/strings/str_cat.h"
#include "graph/check.h"

namespace adc {

AttrKind KindOf(const AttrValue& value) {
  return static_cast<AttrKind>(value.index());
}

absl::string_view AttrKindName(AttrKind kind) {
  switch (kind) {
    case AttrKind::kInt:
      return "int";
    case AttrKind::kFloat:
      return "float";
    case AttrKind::kString:
      return "string";
    case AttrKind::kInts:
      return "ints";
    case AttrKind::kDType:
      return "dtype";
    case AttrKind::kTensor:
      return "tensor";
    case AttrKind::kBool:
      return "bool";
  }
  ADC_CHECK(false);
}

const AttrValue& Attrs::Get(absl::string_view name, AttrKind kind) const {
  auto it = map_.find(std::string(name));
  ADC_CHECK_MSG(it != map_.end(), absl::StrCat("missing attribute ", name));
  ADC_CHECK_MSG(
      KindOf(it->second) == kind,
      absl::StrCat("attribute ", name, " is not ", AttrKindName(kind)));
  return it->second;
}

int64_t Attrs::GetInt(absl::string_view name) const {
  return std::get<int64_t>(Get(name, AttrKind::kInt));
}
double Attrs::GetFloat(absl::string_view name) const {
  return std::get<double>(Get(name, AttrKind::kFloat));
}
const std::string& Attrs::GetString(absl::string_view name) const {
  return std::get<std::string>(Get(name, AttrKind::kString));
}
const std::vector<int64_t>& Attrs::GetInts(absl::string_view name) const {
  return std::get<std::vector<int64_t>>(Get(name, AttrKind::kInts));
}
DType Attrs::GetDType(absl::string_view name) const {
  return std::get<DType>(Get(name, AttrKind::kDType));
}
const Tensor& Attrs::GetTensor(absl::string_view name) const {
  return std::get<Tensor>(Get(name, AttrKind::kTensor));
}
bool Attrs::GetBool(absl::string_view name) const {
  return std::get<bool>(Get(name, AttrKind::kBool));
}

ValueId Graph::AddNode(Node node) {
  ADC_CHECK_MSG(!index_.contains(node.name),
                absl::StrCat("duplicate node name ", node.name));
  for (ValueId in : node.inputs) {
    ADC_CHECK(in >= 0 && in < num_nodes());
  }
  const ValueId id = num_nodes();
  index_[node.name] = id;
  nodes_.push_back(std::move(node));
  return id;
}

std::optional<ValueId> Graph::Find(absl::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::string Graph::UniqueName(absl::string_view base) const {
  if (!index_.contains(base)) return std::string(base);
  int& next = next_suffix_[base];
  for (int k = std::max(next, 1);; ++k) {
    std::string name = absl::StrCat(base, "_", k);
    if (!index_.contains(name)) {
      next = k + 1;
      return name;
    }
  }
}

bool Graph::Rename(ValueId id, std::string name) {
  auto it = index_.find(name);
  if (it != index_.end()) return it->second == id;
  index_.erase(nodes_.at(id).name);
  index_[name] = id;
  nodes_[id].name = std::move(name);
  return true;
}

std::vector<ValueId> Graph::inputs() const {
  std::vector<ValueId> ids;
  for (ValueId i = 0; i < num_nodes(); ++i) {
    if (nodes_[i].op == OpKind::kInput) ids.push_back(i);
  }
  return ids;
}

std::vector<ValueId> Graph::parameters() const {
  std::vector<ValueId> ids;
  for (ValueId i = 0; i < num_nodes(); ++i) {
    if (nodes_[i].op == OpKind::kParameter) ids.push_back(i);
  }
  return ids;
}

std::optional<ValueId> Graph::FindOutput(absl::string_view name) const {
  for (const GraphOutput& out : outputs_) {
    if (out.name == name) return out.value;
  }
  return std::nullopt;
}

std::optional<ValueId> Graph::FindOutputOrValue(absl::string_view name) const {
  if (auto out = FindOutput(name)) return out;
  return Find(name);
}

std::vector<int> Graph::UseCounts() const {
  std::vector<int> uses(num_nodes(), 0);
  for (const Node& n : nodes_) {
    for (ValueId in : n.inputs) ++uses[in];
  }
  for (const GraphOutput& out : outputs_) ++uses[out.value];
  return uses;
}

void Graph::ReplaceAllUsesWith(ValueId old, ValueId replacement) {
  if (old == replacement) return;
  for (Node& n : nodes_) {
    for (ValueId& in : n.inputs) {
      if (in == old) in = replacement;
    }
  }
  for (GraphOutput& out : outputs_) {
    if (out.value == old) out.value = replacement;
  }
  if (replacement > old) SortTopologically();
}

void Graph::RemoveNodes(const std::vector<bool>& remove) {
  ADC_CHECK(static_cast<int>(remove.size()) == num_nodes());
  std::vector<ValueId> new_id(num_nodes(), -1);
  std::deque<Node> kept;
  for (ValueId i = 0; i < num_nodes(); ++i) {
    if (remove[i]) continue;
    new_id[i] = static_cast<ValueId>(kept.size());
    kept.push_back(std::move(nodes_[i]));
  }
  for (Node& n : kept) {
    for (ValueId& in : n.inputs) {
      ADC_CHECK_MSG(new_id[in] >= 0,
                    absl::StrCat("removed node still used by ", n.name));
      in = new_id[in];
    }
  }
  for (GraphOutput& out : outputs_) {
    ADC_CHECK_MSG(new_id[out.value] >= 0,
                  absl::StrCat("removed node used by output ", out.name));
    out.value = new_id[out.value];
  }
  nodes_ = std::move(kept);
  RebuildIndex();
}

void Graph::SortTopologically() {
  const int n = num_nodes();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<ValueId>> users(n);
  for (ValueId i = 0; i < n; ++i) {
    for (ValueId in : nodes_[i].inputs) {
      ++pending[i];
      users[in].push_back(i);
    }
  }
  std::priority_queue<ValueId, std::vector<ValueId>, std::greater<ValueId>>
      ready;
  for (ValueId i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<ValueId> order;
  while (!ready.empty()) {
    ValueId i = ready.top();
    ready.pop();
    order.push_back(i);
    for (ValueId u : users[i]) {
      if (--pending[u] == 0) ready.push(u);
    }
  }
  ADC_CHECK_MSG(static_cast<int>(order.size()) == n, "graph has a cycle");
  std::vector<ValueId> new_id(n);
  for (int k = 0; k < n; ++k) new_id[order[k]] = k;
  std::deque<Node> sorted(n);
  for (ValueId i = 0; i < n; ++i) {
    for (ValueId& in : nodes_[i].inputs) in = new_id[in];
    sorted[new_id[i]] = std::move(nodes_[i]);
  }
  for (GraphOutput& out : outputs_) out.value = new_id[out.value];
  nodes_ = std::move(sorted);
  RebuildIndex();
}

const Graph* Graph::function(absl::string_view name) const {
  if (!functions_) return nullptr;
  auto it = functions_->find(std::string(name));
  return it == functions_->end() ? nullptr : it->second.get();
}

void Graph::AddFunction(const std::string& name, Graph body) {
  ADC_CHECK_MSG(function(name) == nullptr,
                absl::StrCat("function '", name, "' defined twice"));
  auto library = functions_ ? std::make_shared<Library>(*functions_)
                            : std::make_shared<Library>();
  body.functions_.reset();
  (*library)[name] = std::make_shared<const Graph>(std::move(body));
  functions_ = std::move(library);
}

std::string Graph::UniqueFunctionName(const std::string& base) const {
  std::string name = base;
  for (int k = 1; function(name) != nullptr; ++k) {
    name = absl::StrCat(base, "_", k);
  }
  return name;
}

std::string Graph::AddDerivedFunction(const std::string& base, Graph body) {
  for (const std::string& name : body.function_names()) {
    if (function(name) == nullptr) AddFunction(name, *body.function(name));
  }
  const std::string name = UniqueFunctionName(base);
  body.set_name(name);
  AddFunction(name, std::move(body));
  return name;
}

std::vector<TensorType> Graph::InputTypes() const {
  std::vector<TensorType> types;
  for (ValueId id : inputs()) types.push_back(type(id));
  return types;
}

std::vector<TensorType> Graph::OutputTypes() const {
  std::vector<TensorType> types;
  for (const GraphOutput& out : outputs_) types.push_back(type(out.value));
  return types;
}

std::vector<std::string> Graph::function_names() const {
  std::vector<std::string> names;
  if (functions_) {
    for (const auto& [name, body] : *functions_) names.push_back(name);
  }
  return names;
}

void Graph::RebuildIndex() {
  index_.clear();
  for (ValueId i = 0; i < num_nodes(); ++i) index_[nodes_[i].name] = i;
}

}  // namespace adc
