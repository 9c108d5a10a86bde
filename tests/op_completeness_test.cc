// Every op kind has a complete definition: an OpDef with its name, a shape
// rule and a reference kernel, and a gradient rule exactly when it is marked
// differentiable. Names are unique and map back to their kind. (Codegen
// lowerings are checked by codegen's own completeness test.)
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_kind.h"
#include "gtest/gtest.h"

namespace adc {
namespace {

TEST(OpCompletenessTest, EveryOpKindHasADefinition) {
  for (int k = 0; k < kNumOpKinds; ++k) {
    const OpKind kind = static_cast<OpKind>(k);
    const OpDef& def = GetOpDef(kind);
    SCOPED_TRACE(def.name);
    EXPECT_EQ(def.kind, kind);
    EXPECT_FALSE(def.name.empty());
    EXPECT_NE(def.infer, nullptr);
    EXPECT_NE(def.eval, nullptr);
    EXPECT_EQ(def.differentiable, def.grad != nullptr);
    EXPECT_GE(def.min_inputs, 0);
    EXPECT_TRUE(def.max_inputs == -1 || def.max_inputs >= def.min_inputs);
    std::set<std::string> attr_names;
    for (const AttrSpec& spec : def.attrs) {
      EXPECT_TRUE(attr_names.insert(spec.name).second)
          << "attribute " << spec.name << " declared twice";
      if (spec.default_value) {
        EXPECT_EQ(KindOf(*spec.default_value), spec.kind)
            << "default of attribute " << spec.name << " has the wrong kind";
      }
    }
  }
}

TEST(OpCompletenessTest, NamesAreUniqueAndRoundTrip) {
  std::set<std::string> names;
  for (int k = 0; k < kNumOpKinds; ++k) {
    const OpKind kind = static_cast<OpKind>(k);
    const std::string& name = GetOpDef(kind).name;
    EXPECT_TRUE(names.insert(name).second)
        << "op name " << name << " is used twice";
    std::optional<OpKind> found = FindNodeOpKind(name);
    if (kind == OpKind::kInput || kind == OpKind::kParameter) {
      // Graph inputs and parameters are not ops a node may use.
      EXPECT_FALSE(found.has_value()) << name;
    } else {
      ASSERT_TRUE(found.has_value()) << name;
      EXPECT_EQ(*found, kind) << name;
    }
  }
  EXPECT_FALSE(FindNodeOpKind("no_such_op").has_value());
  EXPECT_FALSE(FindNodeOpKind("").has_value());
  EXPECT_FALSE(FindNodeOpKind("Add").has_value());  // Names are case-sensitive.
}

TEST(OpCompletenessTest, NodeOpNamesListsEveryNodeOpSorted) {
  std::vector<std::string> names = NodeOpNames();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(static_cast<int>(names.size()), kNumOpKinds - 2);
  EXPECT_THAT(names, ::testing::Not(::testing::Contains("input")));
  EXPECT_THAT(names, ::testing::Not(::testing::Contains("parameter")));
  for (const std::string& name : names) {
    EXPECT_TRUE(FindNodeOpKind(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace adc
