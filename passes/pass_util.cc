#include "passes/pass_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "absl/strings/str_cat.h"
#include "graph/ops/op_def.h"
#include "graph/verifier.h"

namespace adc::passes {
namespace {

// Bits of a double, with every NaN mapped to one pattern.
uint64_t CanonicalBits(double v) {
  if (std::isnan(v)) return 0x7ff8000000000000ull;
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

size_t Mix(size_t h, size_t v) {
  return h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
}

bool IdenticalAttrValues(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (const double* x = std::get_if<double>(&a)) {
    return CanonicalBits(*x) == CanonicalBits(std::get<double>(b));
  }
  if (const Tensor* x = std::get_if<Tensor>(&a)) {
    return IdenticalTensors(*x, std::get<Tensor>(b));
  }
  return a == b;
}

size_t HashTensor(const Tensor& t) {
  size_t h = Mix(static_cast<size_t>(t.dtype()), t.num_elements());
  for (int64_t d : t.dims()) h = Mix(h, d);
  // A prefix is enough to tell most tensors apart.
  const int64_t n = std::min<int64_t>(t.num_elements(), 16);
  for (int64_t i = 0; i < n; ++i) {
    h = Mix(h, IsFloat(t.dtype()) ? CanonicalBits(t.doubles()[i])
                                  : static_cast<uint64_t>(t.ints()[i]));
  }
  return h;
}

size_t HashAttrValue(const AttrValue& v) {
  size_t h = v.index();
  switch (KindOf(v)) {
    case AttrKind::kInt:
      return Mix(h, std::get<int64_t>(v));
    case AttrKind::kFloat:
      return Mix(h, CanonicalBits(std::get<double>(v)));
    case AttrKind::kString:
      return Mix(h, std::hash<std::string>()(std::get<std::string>(v)));
    case AttrKind::kInts:
      for (int64_t x : std::get<std::vector<int64_t>>(v)) h = Mix(h, x);
      return h;
    case AttrKind::kDType:
      return Mix(h, static_cast<size_t>(std::get<DType>(v)));
    case AttrKind::kTensor:
      return Mix(h, HashTensor(std::get<Tensor>(v)));
    case AttrKind::kBool:
      return Mix(h, std::get<bool>(v));
  }
  return h;
}

}  // namespace

bool IdenticalTensors(const Tensor& a, const Tensor& b) {
  if (a.type() != b.type() || a.ints() != b.ints() ||
      a.doubles().size() != b.doubles().size()) {
    return false;
  }
  for (size_t i = 0; i < a.doubles().size(); ++i) {
    if (CanonicalBits(a.doubles()[i]) != CanonicalBits(b.doubles()[i])) {
      return false;
    }
  }
  return true;
}

bool IdenticalAttrs(const Attrs& a, const Attrs& b) {
  if (a.map().size() != b.map().size()) return false;
  for (auto ia = a.map().begin(), ib = b.map().begin(); ia != a.map().end();
       ++ia, ++ib) {
    if (ia->first != ib->first ||
        !IdenticalAttrValues(ia->second, ib->second)) {
      return false;
    }
  }
  return true;
}

size_t HashAttrs(const Attrs& attrs) {
  size_t h = attrs.map().size();
  for (const auto& [name, value] : attrs.map()) {
    h = Mix(Mix(h, std::hash<std::string>()(name)), HashAttrValue(value));
  }
  return h;
}

bool IsUniform(const Tensor& t) {
  const int64_t n = t.num_elements();
  if (n == 0) return false;
  if (IsFloat(t.dtype())) {
    const uint64_t first = CanonicalBits(t.doubles()[0]);
    for (int64_t i = 1; i < n; ++i) {
      if (CanonicalBits(t.doubles()[i]) != first) return false;
    }
  } else {
    for (int64_t i = 1; i < n; ++i) {
      if (t.ints()[i] != t.ints()[0]) return false;
    }
  }
  return true;
}

Tensor FirstElement(const Tensor& t) {
  Tensor s(TensorType{t.dtype(), {}});
  if (IsFloat(t.dtype())) {
    s.mutable_doubles()[0] = t.doubles()[0];
  } else {
    s.mutable_ints()[0] = t.ints()[0];
  }
  return s;
}

const Tensor* ConstantBehind(const Graph& graph, ValueId id, bool* is_splat) {
  const Node* node = &graph.node(id);
  *is_splat = false;
  if (node->op == OpKind::kBroadcastTo) {
    node = &graph.node(node->inputs[0]);
    if (node->op != OpKind::kConstant) return nullptr;
    const Tensor& t = node->attrs.GetTensor("value");
    if (t.num_elements() != 1) return nullptr;
    *is_splat = true;
    return &t;
  }
  if (node->op != OpKind::kConstant) return nullptr;
  const Tensor& t = node->attrs.GetTensor("value");
  *is_splat = IsUniform(t);
  return &t;
}

std::optional<Tensor> SplatValue(const Graph& graph, ValueId id) {
  bool is_splat = false;
  const Tensor* t = ConstantBehind(graph, id, &is_splat);
  if (t == nullptr || !is_splat) return std::nullopt;
  return FirstElement(*t);
}

bool IsSplatOf(const Graph& graph, ValueId id, double value) {
  bool is_splat = false;
  const Tensor* t = ConstantBehind(graph, id, &is_splat);
  if (t == nullptr || !is_splat) return false;
  if (IsFloat(t->dtype())) {
    return CanonicalBits(t->doubles()[0]) == CanonicalBits(value);
  }
  return static_cast<double>(t->ints()[0]) == value;
}

absl::StatusOr<ValueId> AddInferredNode(Graph* graph, OpKind op,
                                        std::vector<ValueId> inputs,
                                        Attrs attrs,
                                        absl::string_view name_hint,
                                        int grad_level) {
  Node node;
  node.name = graph->UniqueName(name_hint);
  node.op = op;
  node.attrs = std::move(attrs);
  node.grad_level = grad_level;
  std::vector<TensorType> types;
  for (ValueId in : inputs) {
    if (in < 0 || in >= graph->num_nodes()) {
      return absl::InternalError(
          absl::StrCat("new node '", node.name, "' has a dangling input"));
    }
    types.push_back(graph->type(in));
  }
  node.inputs = std::move(inputs);
  absl::StatusOr<TensorType> type = InferNodeType(&node, types);
  if (!type.ok()) {
    return absl::InternalError(
        absl::StrCat("pass built an invalid node: ",
                     NodeError(node, type.status()).message()));
  }
  node.type = *std::move(type);
  return graph->AddNode(std::move(node));
}

std::vector<bool> LiveValues(const Graph& graph) {
  std::vector<ValueId> roots;
  for (const GraphOutput& out : graph.outputs()) roots.push_back(out.value);
  return LiveValues(graph, roots);
}

std::vector<bool> LiveValues(const Graph& graph,
                             const std::vector<ValueId>& roots) {
  std::vector<bool> live(graph.num_nodes(), false);
  for (ValueId r : roots) live[r] = true;
  for (ValueId i = graph.num_nodes() - 1; i >= 0; --i) {
    if (!live[i]) continue;
    for (ValueId in : graph.node(i).inputs) live[in] = true;
  }
  return live;
}

}  // namespace adc::passes
