// The verifier and the loader (GraphFromProto) on bad graphs: every kind of
// user mistake comes back as a status that names the node (or value) and
// says what is wrong.
#include "graph/verifier.h"

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/graph.pb.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"

namespace adc {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Two f32[2] inputs; `nodes` and `outputs` follow.
std::string WithInputs(const std::string& rest) {
  return absl::StrCat(R"pb(
                        version: 1
                        name: "t"
                        inputs {
                          name: "x"
                          type {
                            dtype: F32
                            shape { dims: 2 }
                          }
                        }
                        inputs {
                          name: "w"
                          type {
                            dtype: F32
                            shape { dims: 2 }
                          }
                        }
                      )pb",
                      rest);
}

// The message of loading `text` (which must fail).
std::string Error(const std::string& text) {
  absl::StatusOr<Graph> g = GraphFromText(text);
  EXPECT_FALSE(g.ok()) << "loaded:\n" << text;
  if (g.ok()) return "";
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument)
      << g.status();
  return std::string(g.status().message());
}

TEST(VerifierTest, ValidGraphLoads) {
  absl::StatusOr<Graph> g = GraphFromText(WithInputs(R"pb(
    nodes { name: "s" op: "add" inputs: "x" inputs: "w" }
    nodes {
      name: "t"
      op: "transpose"
      inputs: "s"
      attrs {
        key: "perm"
        value { ints { values: 0 } }
      }
    }
    outputs { name: "y" value: "t" }
  )pb"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(Verify(*g).ok());
  EXPECT_EQ(g->num_nodes(), 4);
  EXPECT_EQ(g->type(*g->Find("s")), (TensorType{DType::kF32, {2}}));
}

TEST(VerifierTest, UnknownOp) {
  EXPECT_THAT(
      Error(WithInputs(R"pb(
        nodes { name: "foo" op: "frobnicate" inputs: "x" }
      )pb")),
      AllOf(HasSubstr("node 'foo'"), HasSubstr("unknown op 'frobnicate'"),
            HasSubstr("known ops: "), HasSubstr("add")));
  // Graph inputs and parameters are not ops a node may use.
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "foo" op: "input" }
              )pb")),
              HasSubstr("node 'foo': unknown op 'input'"));
}

TEST(VerifierTest, Cycle) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "a" op: "add" inputs: "b" inputs: "x" }
                nodes { name: "b" op: "mul" inputs: "a" inputs: "w" }
                nodes { name: "c" op: "neg" inputs: "x" }
              )pb")),
              AllOf(HasSubstr("cycle"), HasSubstr("'a'"), HasSubstr("'b'"),
                    ::testing::Not(HasSubstr("'c'"))));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "self" op: "neg" inputs: "self" }
              )pb")),
              HasSubstr("cycle through nodes 'self'"));
}

TEST(VerifierTest, NodesOutOfOrderAreSorted) {
  absl::StatusOr<Graph> g = GraphFromText(WithInputs(R"pb(
    nodes { name: "b" op: "neg" inputs: "a" }
    nodes { name: "a" op: "add" inputs: "x" inputs: "w" }
    outputs { name: "y" value: "b" }
  )pb"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_LT(*g->Find("a"), *g->Find("b"));
}

TEST(VerifierTest, DanglingInput) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "foo" op: "add" inputs: "x" inputs: "nope" }
              )pb")),
              HasSubstr("node 'foo' (add): input 'nope' is not defined"));
}

TEST(VerifierTest, DuplicateName) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "a" op: "neg" inputs: "x" }
                nodes { name: "a" op: "neg" inputs: "w" }
              )pb")),
              HasSubstr("duplicate value name 'a'"));
  // Inputs, parameters and nodes share one namespace.
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "x" op: "neg" inputs: "w" }
              )pb")),
              AllOf(HasSubstr("duplicate value name 'x'"),
                    HasSubstr("share one namespace")));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "a" op: "neg" inputs: "x" }
                outputs { name: "y" value: "a" }
                outputs { name: "y" value: "x" }
              )pb")),
              HasSubstr("duplicate output name 'y'"));
}

TEST(VerifierTest, WrongArity) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "foo" op: "add" inputs: "x" }
              )pb")),
              HasSubstr("node 'foo' (add): expects 2 input(s), got 1"));
  EXPECT_THAT(
      Error(WithInputs(R"pb(
        nodes {
          name: "c"
          op: "concat"
          attrs {
            key: "axis"
            value { i: 0 }
          }
        }
      )pb")),
      HasSubstr("node 'c' (concat): expects at least 1 input(s), got 0"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "n" op: "neg" inputs: "x" inputs: "w" }
              )pb")),
              HasSubstr("node 'n' (neg): expects 1 input(s), got 2"));
}

TEST(VerifierTest, MissingAttribute) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "t" op: "transpose" inputs: "x" }
              )pb")),
              HasSubstr("node 't' (transpose): missing required attribute "
                        "'perm' (ints)"));
}

TEST(VerifierTest, UnknownAttribute) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "foo"
                  op: "add"
                  inputs: "x"
                  inputs: "w"
                  attrs {
                    key: "alpha"
                    value { f: 1 }
                  }
                }
              )pb")),
              HasSubstr("node 'foo' (add): unknown attribute 'alpha' (add "
                        "takes no attributes)"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "r"
                  op: "reduce_sum"
                  inputs: "x"
                  attrs {
                    key: "axis"
                    value { i: 0 }
                  }
                }
              )pb")),
              HasSubstr("node 'r' (reduce_sum): unknown attribute 'axis' "
                        "(reduce_sum takes axes, keepdims)"));
}

TEST(VerifierTest, AttributeOfTheWrongKind) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "t"
                  op: "transpose"
                  inputs: "x"
                  attrs {
                    key: "perm"
                    value { i: 0 }
                  }
                }
              )pb")),
              HasSubstr("node 't' (transpose): attribute 'perm' must be ints, "
                        "not int"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "c"
                  op: "cast"
                  inputs: "x"
                  attrs {
                    key: "dtype"
                    value { s: "f64" }
                  }
                }
              )pb")),
              HasSubstr("node 'c' (cast): attribute 'dtype' must be dtype, "
                        "not string"));
  // An attribute with no value at all.
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "t"
                  op: "transpose"
                  inputs: "x"
                  attrs {
                    key: "perm"
                    value {}
                  }
                }
              )pb")),
              HasSubstr("node 't' (transpose): attribute 'perm' has no value"));
}

TEST(VerifierTest, BadAttributeValues) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "t"
                  op: "transpose"
                  inputs: "x"
                  attrs {
                    key: "perm"
                    value { ints { values: 1 } }
                  }
                }
              )pb")),
              HasSubstr("node 't' (transpose): perm [1] is not a permutation"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "r"
                  op: "reduce_max"
                  inputs: "x"
                  attrs {
                    key: "axes"
                    value { ints { values: 3 } }
                  }
                }
              )pb")),
              HasSubstr("node 'r' (reduce_max): axis 3 is out of range for "
                        "rank 1"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "c"
                  op: "cast"
                  inputs: "x"
                  attrs {
                    key: "dtype"
                    value { dtype: DTYPE_INVALID }
                  }
                }
              )pb")),
              HasSubstr("node 'c' (cast): attribute 'dtype' invalid dtype 0"));
}

TEST(VerifierTest, DTypeMismatch) {
  EXPECT_THAT(Error(R"pb(
                inputs {
                  name: "a"
                  type { dtype: F32 }
                }
                inputs {
                  name: "b"
                  type { dtype: F64 }
                }
                nodes { name: "sum" op: "add" inputs: "a" inputs: "b" }
              )pb"),
              HasSubstr("node 'sum' (add): operands must have equal types "
                        "(broadcast and cast first), got f32[] and f64[]"));
  EXPECT_THAT(
      Error(R"pb(
        inputs {
          name: "i"
          type { dtype: I32 }
        }
        nodes { name: "e" op: "exp" inputs: "i" }
      )pb"),
      HasSubstr("node 'e' (exp): operand must be f32 or f64, got i32[]"));
  EXPECT_THAT(
      Error(WithInputs(R"pb(
        nodes { name: "s" op: "select" inputs: "x" inputs: "x" inputs: "w" }
      )pb")),
      HasSubstr("node 's' (select): condition must be bool, got f32[2]"));
}

TEST(VerifierTest, ShapeMismatch) {
  EXPECT_THAT(Error(R"pb(
                inputs {
                  name: "a"
                  type {
                    dtype: F32
                    shape { dims: 2 }
                  }
                }
                inputs {
                  name: "b"
                  type {
                    dtype: F32
                    shape { dims: 3 }
                  }
                }
                nodes { name: "sum" op: "add" inputs: "a" inputs: "b" }
              )pb"),
              HasSubstr("node 'sum' (add): operands must have equal types "
                        "(broadcast and cast first), got f32[2] and f32[3]"));
  EXPECT_THAT(Error(R"pb(
                inputs {
                  name: "a"
                  type {
                    dtype: F64
                    shape { dims: 2 dims: 3 }
                  }
                }
                inputs {
                  name: "b"
                  type {
                    dtype: F64
                    shape { dims: 4 dims: 5 }
                  }
                }
                nodes { name: "mm" op: "matmul" inputs: "a" inputs: "b" }
              )pb"),
              HasSubstr("node 'mm' (matmul): contracting dimensions differ: "
                        "f64[2,3] and f64[4,5]"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "r"
                  op: "reshape"
                  inputs: "x"
                  attrs {
                    key: "shape"
                    value { ints { values: 3 } }
                  }
                }
              )pb")),
              HasSubstr("node 'r' (reshape): cannot reshape f32[2] (2 "
                        "elements) to [3]"));
}

TEST(VerifierTest, DeclaredTypeDisagrees) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "s"
                  op: "add"
                  inputs: "x"
                  inputs: "w"
                  type {
                    dtype: F64
                    shape { dims: 2 }
                  }
                }
              )pb")),
              HasSubstr("node 's' (add): declared type f64[2] but the op "
                        "gives f32[2]"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes {
                  name: "s"
                  op: "add"
                  inputs: "x"
                  inputs: "w"
                  type {
                    dtype: F32
                    shape { dims: 2 dims: 1 }
                  }
                }
              )pb")),
              HasSubstr("node 's' (add): declared type f32[2,1] but the op "
                        "gives f32[2]"));
}

TEST(VerifierTest, UnsupportedVersion) {
  EXPECT_THAT(Error("version: 99"),
              HasSubstr("graph format version 99 is not supported"));
  EXPECT_THAT(Error("version: -1"),
              HasSubstr("graph format version -1 is not supported"));
  // Absent (0) reads as version 1.
  EXPECT_TRUE(GraphFromText("").ok());
}

TEST(VerifierTest, SymbolicDims) {
  EXPECT_THAT(Error(R"pb(
                inputs {
                  name: "x"
                  type {
                    dtype: F32
                    shape { dims: -1 dims: 3 symbols: "batch" symbols: "" }
                  }
                }
              )pb"),
              AllOf(HasSubstr("input 'x'"),
                    HasSubstr("symbolic dimensions are not supported")));
}

TEST(VerifierTest, BadInputTypes) {
  EXPECT_THAT(Error(R"pb(
                inputs {
                  name: "x"
                  type { shape { dims: 2 } }
                }
              )pb"),
              HasSubstr("input 'x': invalid dtype 0"));
  EXPECT_THAT(Error(R"pb(
                inputs {
                  name: "x"
                  type {
                    dtype: F32
                    shape { dims: 2 dims: -3 }
                  }
                }
              )pb"),
              HasSubstr("input 'x': shape [2,-3] has a negative size"));
  EXPECT_THAT(Error(R"pb(
                inputs {
                  name: "x"
                  type {
                    dtype: F32
                    shape { dims: 1000000 dims: 1000000 dims: 1000000 }
                  }
                }
              )pb"),
              HasSubstr("input 'x': shape [1000000,1000000,1000000] has more "
                        "than"));
}

TEST(VerifierTest, ParameterDataLengthMismatch) {
  EXPECT_THAT(Error(R"pb(
                parameters {
                  name: "w"
                  value {
                    type {
                      dtype: F32
                      shape { dims: 2 }
                    }
                    float_data: [ 1, 2, 3 ]
                  }
                }
              )pb"),
              HasSubstr("parameter 'w': tensor f32[2] needs 2 values in "
                        "float_data, got 3"));
  // Data in the wrong field for the dtype.
  EXPECT_THAT(Error(R"pb(
                parameters {
                  name: "w"
                  value {
                    type {
                      dtype: F64
                      shape { dims: 2 }
                    }
                    float_data: [ 1, 2 ]
                  }
                }
              )pb"),
              HasSubstr("parameter 'w': tensor f64[2] needs 2 values in "
                        "double_data, got 0"));
  // Integer values must fit the dtype.
  EXPECT_THAT(Error(R"pb(
                parameters {
                  name: "n"
                  value {
                    type { dtype: I32 }
                    int64_data: 4294967296
                  }
                }
              )pb"),
              HasSubstr("parameter 'n': tensor i32[]: value 4294967296 does "
                        "not fit the dtype"));
}

TEST(VerifierTest, ConstantDataLengthMismatch) {
  EXPECT_THAT(Error(R"pb(
                nodes {
                  name: "c"
                  op: "constant"
                  attrs {
                    key: "value"
                    value {
                      tensor {
                        type {
                          dtype: I64
                          shape { dims: 3 }
                        }
                        int64_data: [ 1, 2 ]
                      }
                    }
                  }
                }
              )pb"),
              HasSubstr("node 'c' (constant): attribute 'value' tensor i64[3] "
                        "needs 3 values in int64_data, got 2"));
}

TEST(VerifierTest, OutputRefersToUnknownValue) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                outputs { name: "y" value: "zz" }
              )pb")),
              HasSubstr("output 'y' refers to unknown value 'zz'"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                outputs { name: "y" }
              )pb")),
              HasSubstr("output 'y' refers to unknown value ''"));
}

TEST(VerifierTest, EmptyNames) {
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { op: "neg" inputs: "x" }
              )pb")),
              HasSubstr("a node (nodes[0], op 'neg') has an empty name"));
  EXPECT_THAT(Error(R"pb(
                inputs { type { dtype: F32 } }
              )pb"),
              HasSubstr("an input (inputs[0]) has an empty name"));
  EXPECT_THAT(Error(R"pb(
                parameters {
                  value {
                    type { dtype: F32 }
                    float_data: 1
                  }
                }
              )pb"),
              HasSubstr("a parameter (parameters[0]) has an empty name"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                outputs { value: "x" }
              )pb")),
              HasSubstr("an output has an empty name"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "n" op: "neg" inputs: "" }
              )pb")),
              HasSubstr("node 'n' (neg): input '' is not defined"));
}

// Verify() on in-memory graphs broken behind the builder's back.
class VerifyInMemoryTest : public ::testing::Test {
 protected:
  Graph Good() {
    GraphBuilder b("g");
    Value x = b.Input("x", DType::kF32, {2});
    Value w = b.Parameter("w", Tensor::Filled(TensorType{DType::kF32, {2}}, 1));
    b.Output("y", Exp(x) * w);
    absl::StatusOr<Graph> g = b.Build();
    EXPECT_TRUE(g.ok()) << g.status();
    return *std::move(g);
  }
  std::string Message(const Graph& g) {
    absl::Status s = Verify(g);
    EXPECT_FALSE(s.ok());
    return std::string(s.message());
  }
};

TEST_F(VerifyInMemoryTest, GoodGraphVerifies) {
  EXPECT_TRUE(Verify(Good()).ok());
}

TEST_F(VerifyInMemoryTest, NonTopologicalInput) {
  Graph g = Good();
  const ValueId exp = *g.Find("exp");
  g.mutable_node(exp).inputs[0] = exp;
  EXPECT_THAT(Message(g), HasSubstr("node 'exp' (exp): input id 2 is not "
                                    "topological"));
  g.mutable_node(exp).inputs[0] = -5;
  EXPECT_THAT(Message(g), HasSubstr("node 'exp' (exp): input id -5"));
}

TEST_F(VerifyInMemoryTest, WrongDeclaredType) {
  Graph g = Good();
  g.mutable_node(*g.Find("exp")).type = TensorType{DType::kF64, {2}};
  EXPECT_THAT(Message(g), HasSubstr("node 'exp' (exp): declared type f64[2] "
                                    "but the op gives f32[2]"));
}

TEST_F(VerifyInMemoryTest, ParameterValueDisagreesWithType) {
  Graph g = Good();
  g.mutable_node(*g.Find("w")).type = TensorType{DType::kF32, {3}};
  EXPECT_THAT(Message(g), HasSubstr("node 'w' (parameter): declared type "
                                    "f32[3] but the op gives f32[2]"));
}

TEST_F(VerifyInMemoryTest, MissingAndWrongAttributes) {
  Graph g = Good();
  g.mutable_node(*g.Find("x")).attrs.mutable_map().erase("shape");
  EXPECT_THAT(Message(g), HasSubstr("node 'x' (input): missing required "
                                    "attribute 'shape' (ints)"));
  g = Good();
  g.mutable_node(*g.Find("x")).attrs.Set("shape", int64_t{2});
  EXPECT_THAT(Message(g), HasSubstr("node 'x' (input): attribute 'shape' must "
                                    "be ints, not int"));
  g = Good();
  g.mutable_node(*g.Find("exp")).attrs.Set("axis", int64_t{0});
  EXPECT_THAT(Message(g), HasSubstr("node 'exp' (exp): unknown attribute "
                                    "'axis'"));
}

TEST_F(VerifyInMemoryTest, EmptyAndDuplicateNames) {
  Graph g = Good();
  g.mutable_node(*g.Find("exp")).name = "";
  EXPECT_THAT(Message(g), HasSubstr("node 2 (exp) has an empty name"));
  g = Good();
  g.mutable_node(*g.Find("exp")).name = "x";
  EXPECT_THAT(Message(g), HasSubstr("duplicate value name 'x'"));
}

TEST_F(VerifyInMemoryTest, GradLevelOutOfRange) {
  Graph g = Good();
  g.mutable_node(*g.Find("exp")).grad_level = -1;
  EXPECT_THAT(Message(g), HasSubstr("node 'exp' (exp): grad_level -1 is "
                                    "outside [0, 1048576]"));
  EXPECT_THAT(Error(WithInputs(R"pb(
                nodes { name: "n" op: "neg" inputs: "x" grad_level: 2147483647 }
              )pb")),
              HasSubstr("node 'n' (neg): grad_level 2147483647 is outside"));
}

TEST_F(VerifyInMemoryTest, BadOutputs) {
  Graph g = Good();
  g.AddOutput("z", 99);
  EXPECT_THAT(Message(g), HasSubstr("output 'z' refers to no value"));
  g = Good();
  g.AddOutput("", 0);
  EXPECT_THAT(Message(g), HasSubstr("an output has an empty name"));
  g = Good();
  g.AddOutput("y", 0);
  EXPECT_THAT(Message(g), HasSubstr("duplicate output name 'y'"));
}

TEST(InferNodeTypeTest, FillsDefaultsAndReportsWithoutPrefix) {
  Node node;
  node.name = "r";
  node.op = OpKind::kReduceSum;
  node.attrs.Set("axes", std::vector<int64_t>{1});
  absl::StatusOr<TensorType> type =
      InferNodeType(&node, {TensorType{DType::kF64, {2, 3}}});
  ASSERT_TRUE(type.ok()) << type.status();
  EXPECT_EQ(*type, (TensorType{DType::kF64, {2}}));
  EXPECT_FALSE(node.attrs.GetBool("keepdims"));  // The default, filled in.

  node.attrs.Set("axes", std::vector<int64_t>{1, 0});
  absl::StatusOr<TensorType> bad =
      InferNodeType(&node, {TensorType{DType::kF64, {2, 3}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "axes must be sorted and unique, got [1,0]");
  EXPECT_EQ(NodeError(node, bad.status()).message(),
            "node 'r' (reduce_sum): axes must be sorted and unique, got [1,0]");
}

// Attribute values at the edges of int64 must be rejected by the shape rules,
// not overflow into a small, wrong shape.
class ExtremeAttributesTest : public ::testing::Test {
 protected:
  // x: f64[3] into `op` with `attrs` (text of attrs entries), no declared
  // type.
  absl::StatusOr<Graph> Load(const std::string& op, const std::string& attrs) {
    return GraphFromText(absl::StrCat(
        "inputs { name: 'x' type { dtype: F64 shape { dims: 3 } } }\n",
        "nodes { name: 'n' op: '", op, "' inputs: 'x' ", attrs, "}\n",
        "outputs { name: 'y' value: 'n' }\n"));
  }
  static std::string Ints(const std::string& name, int64_t v) {
    return absl::StrCat("attrs { key: \"", name,
                        "\" value { ints { values: ", v, " } } } ");
  }
};

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST_F(ExtremeAttributesTest, Pad) {
  for (int64_t interior : {kMax, kMax / 2 + 1, int64_t{1} << 62}) {
    absl::StatusOr<Graph> g = Load(
        "pad", Ints("low", 0) + Ints("high", 0) + Ints("interior", interior));
    ASSERT_FALSE(g.ok()) << interior << ": " << g->type(1).ToString();
    EXPECT_THAT(g.status().message(), HasSubstr("node 'n' (pad)"));
  }
  for (int64_t amount : {kMax, kMax - 1}) {
    EXPECT_FALSE(Load("pad", Ints("low", amount) + Ints("high", amount) +
                                 Ints("interior", 0))
                     .ok());
  }
  absl::StatusOr<Graph> ok =
      Load("pad", Ints("low", 1) + Ints("high", 2) + Ints("interior", 3));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->type(1), (TensorType{DType::kF64, {12}}));
}

TEST_F(ExtremeAttributesTest, Slice) {
  for (int64_t stride : {kMax, kMin, kMin + 1, int64_t{1} << 62}) {
    const int64_t start = stride > 0 ? 0 : 2;
    const int64_t limit = stride > 0 ? 3 : -1;
    absl::StatusOr<Graph> g =
        Load("slice", Ints("start", start) + Ints("limit", limit) +
                          Ints("stride", stride));
    // One element (the first); never a wrapped length.
    ASSERT_TRUE(g.ok()) << stride << ": " << g.status();
    EXPECT_EQ(g->type(1), (TensorType{DType::kF64, {1}})) << stride;
  }
  absl::StatusOr<Graph> bad = Load(
      "slice", Ints("start", kMin) + Ints("limit", kMax) + Ints("stride", 1));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("node 'n' (slice): axis 0 of f64[3]"));
}

TEST_F(ExtremeAttributesTest, GatherFromAnEmptyAxis) {
  absl::StatusOr<Graph> g = GraphFromText(R"pb(
    inputs {
      name: "x"
      type {
        dtype: F64
        shape { dims: 0 dims: 2 }
      }
    }
    inputs {
      name: "i"
      type {
        dtype: I32
        shape { dims: 3 }
      }
    }
    nodes {
      name: "g"
      op: "gather"
      inputs: "x"
      inputs: "i"
      attrs {
        key: "axis"
        value { i: 0 }
      }
    }
  )pb");
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              HasSubstr("node 'g' (gather): cannot index axis 0 of f64[0,2]: "
                        "it is empty"));
}

}  // namespace
}  // namespace adc
