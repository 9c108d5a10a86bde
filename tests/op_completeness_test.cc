// Every op kind has a complete definition: an OpDef with its name, a shape
// rule and a reference kernel, a gradient rule exactly when it is marked
// differentiable, and properties that agree with its family and arity.
// Names are unique and map back to their kind. (The checklist for a new op
// is graph/ops/README.md; that every op is lowered and compiled is checked
// by codegen/ops_e2e_test's OpsE2eCoverageTest.)
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
    // Control flow is differentiated a construct at a time
    // (passes/control_flow_vjp.h), not by a rule per node.
    EXPECT_EQ(def.differentiable,
              def.grad != nullptr || def.family == OpFamily::kControl);
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

// The properties passes rely on hold for the op's family and arity.
TEST(OpCompletenessTest, PropertiesAgreeWithFamilyAndArity) {
  for (int k = 0; k < kNumOpKinds; ++k) {
    const OpDef& def = GetOpDef(static_cast<OpKind>(k));
    SCOPED_TRACE(def.name);
    EXPECT_EQ(def.family == OpFamily::kLeaf, def.max_inputs == 0);
    if (def.family == OpFamily::kElementwise) {
      EXPECT_EQ(def.min_inputs, def.max_inputs) << "fixed arity";
    }
    EXPECT_GE(def.inline_cost, 0);
    if (def.commutative) {
      EXPECT_EQ(def.max_inputs, 2) << "commutative ops are binary";
      EXPECT_EQ(def.min_inputs, 2);
    }
    if (def.cheap_as_operand) {
      EXPECT_TRUE(def.family == OpFamily::kElementwise ||
                  def.family == OpFamily::kMovement);
      EXPECT_GE(def.min_inputs, 1);
    }
    switch (def.negative_zero) {
      case NegativeZero::kIfFirstMay:
      case NegativeZero::kIfAllMay:
      case NegativeZero::kIfAnyMay:
        EXPECT_GE(def.min_inputs, 1) << "-0 from operands it does not have";
        break;
      case NegativeZero::kIfBranchMay:
        EXPECT_EQ(def.min_inputs, 3) << "branches are operands 1 and 2";
        break;
      case NegativeZero::kMay:
      case NegativeZero::kNever:
      case NegativeZero::kByRule:
        break;
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
