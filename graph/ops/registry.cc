#include <algorithm>
#include <array>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"

namespace adc {
namespace {

struct Registry {
  std::array<std::unique_ptr<OpDef>, kNumOpKinds> defs;
  absl::flat_hash_map<std::string, OpKind> by_name;
};

const Registry& GetRegistry() {
  static const Registry* registry = [] {
    auto* r = new Registry;
    for (auto family : {LeafOpDefs, ElementwiseOpDefs, ReductionOpDefs,
                        LinalgOpDefs, ShapeOpDefs, CallOpDefs,
                        ControlOpDefs}) {
      for (OpDef& def : family()) {
        const int k = static_cast<int>(def.kind);
        ADC_CHECK_MSG(r->defs[k] == nullptr,
                      absl::StrCat("op defined twice: ", def.name));
        ADC_CHECK_MSG(def.infer != nullptr && def.eval != nullptr,
                      absl::StrCat("op without rules: ", def.name));
        // Control flow is differentiated construct by construct.
        const bool control = def.family == OpFamily::kControl;
        ADC_CHECK_MSG(def.differentiable == (def.grad != nullptr || control) &&
                          def.differentiable != def.declared_no_grad,
                      absl::StrCat("op must have a gradient rule or say it "
                                   "has none (NoGrad): ",
                                   def.name));
        ADC_CHECK_MSG(
            (def.jvp_kind == JvpKind::kNone) ==
                    (!def.differentiable || def.family == OpFamily::kLeaf) &&
                (def.jvp_kind == JvpKind::kRule) == (def.jvp != nullptr),
            absl::StrCat("a differentiable op needs a JVP (Linear, "
                         "Multilinear, Jvp, or an element-wise gradient "
                         "rule): ",
                         def.name));
        // Calls and control flow are batched by vmap itself (it batches
        // the functions).
        ADC_CHECK_MSG(
            (def.batch == nullptr) == (def.family == OpFamily::kLeaf ||
                                       def.family == OpFamily::kCall ||
                                       control),
            absl::StrCat("op without a batching rule: ", def.name));
        ADC_CHECK(r->by_name.emplace(def.name, def.kind).second);
        r->defs[k] = std::make_unique<OpDef>(std::move(def));
      }
    }
    for (int k = 0; k < kNumOpKinds; ++k) {
      ADC_CHECK_MSG(r->defs[k] != nullptr,
                    absl::StrCat("op kind ", k, " has no definition"));
    }
    return r;
  }();
  return *registry;
}

}  // namespace

const OpDef& GetOpDef(OpKind kind) {
  return *GetRegistry().defs[static_cast<int>(kind)];
}

std::optional<OpKind> FindNodeOpKind(absl::string_view name) {
  const Registry& r = GetRegistry();
  auto it = r.by_name.find(name);
  if (it == r.by_name.end()) return std::nullopt;
  if (it->second == OpKind::kInput || it->second == OpKind::kParameter) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<std::string> NodeOpNames() {
  std::vector<std::string> names;
  for (const auto& [name, kind] : GetRegistry().by_name) {
    if (kind != OpKind::kInput && kind != OpKind::kParameter) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace adc
