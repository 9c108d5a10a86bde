// Serialization: binary and text forms round-trip exactly, parameter values
// are preserved bit for bit, and file errors are clear.
#include "graph/serialize.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "graph/builder.h"
#include "graph/graph.pb.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

std::string Binary(const proto::GraphDef& def) { return GraphDefToBytes(def); }
std::string Text(const proto::GraphDef& def) { return GraphDefToText(def); }

// A graph with every attribute kind, all dtypes, parameters with special
// values and a gradient part (grad_level, is_gradient).
Graph RichGraph() {
  GraphBuilder b("rich");
  Value x = b.Input("x", DType::kF64, {2, 3});
  Value w = b.Parameter(
      "w", Tensor::FromDoubles(TensorType{DType::kF64, {3, 2}},
                               {1.5, -0.0, 0.0, 1e-310, -2.25, 1e300}));
  Value s = b.Parameter("s", Tensor::Scalar(0.1, DType::kF32));
  Value n =
      b.Parameter("n", Tensor::FromInts(TensorType{DType::kI64, {2}},
                                        {std::numeric_limits<int64_t>::min(),
                                         std::numeric_limits<int64_t>::max()}));
  Value k = b.Parameter("k", Tensor::FromInts(TensorType{DType::kI32, {2}},
                                              {-2147483647 - 1, 2147483647}));
  Value flag = b.Parameter(
      "flag", Tensor::FromInts(TensorType{DType::kBool, {3}}, {1, 0, 1}));
  b.Input("empty", DType::kF32, {0, 4});
  Value h = MatMul(x, w);                                   // matmul
  h = Pad(h, {1, 0}, {0, 1}, -1.5, {1, 0});                 // ints, float
  h = Sum(h, {1}, /*keepdims=*/true);                       // bool
  h = CumSum(h, 0, /*exclusive=*/true, /*reverse=*/false);  // int
  h = h * Cast(s, DType::kF64);                             // dtype
  Value i = Gather(x, Cast(n, DType::kI32), 0) +
            Cast(Iota(b, DType::kI32, {2, 3}, 1), DType::kF64);
  b.Output("h", h);
  b.Output("i", Select(Cast(flag, DType::kBool), Sum(i, {0}), 0.0));
  b.Output("k", k);
  b.Output("x_again", x);
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  GradOptions options;
  options.of = "h";
  options.seed = "ones";
  options.wrt = {"x", "w"};
  EXPECT_TRUE(AddGradients(&*g, options).ok());
  return *std::move(g);
}

TEST(SerializeTest, ProtoRoundTripIsExact) {
  const Graph g = RichGraph();
  const proto::GraphDef def = GraphToProto(g);
  EXPECT_EQ(def.version(), 1) << "no functions: readable by version-1 readers";
  absl::StatusOr<Graph> back = GraphFromProto(def);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(Binary(GraphToProto(*back)), Binary(def));
  // The in-memory graphs agree value by value (the loader orders inputs,
  // then parameters, then nodes, so ids may differ).
  ASSERT_EQ(back->num_nodes(), g.num_nodes());
  for (const Node& a : g.nodes()) {
    std::optional<ValueId> id = back->Find(a.name);
    ASSERT_TRUE(id.has_value()) << a.name;
    const Node& b = back->node(*id);
    EXPECT_EQ(a.op, b.op) << a.name;
    ASSERT_EQ(a.inputs.size(), b.inputs.size()) << a.name;
    for (size_t k = 0; k < a.inputs.size(); ++k) {
      EXPECT_EQ(g.node(a.inputs[k]).name, back->node(b.inputs[k]).name)
          << a.name;
    }
    EXPECT_TRUE(a.attrs == b.attrs) << a.name;
    EXPECT_EQ(a.type, b.type) << a.name;
    EXPECT_EQ(a.grad_level, b.grad_level) << a.name;
  }
  ASSERT_EQ(back->outputs().size(), g.outputs().size());
  for (size_t k = 0; k < g.outputs().size(); ++k) {
    EXPECT_EQ(back->outputs()[k].name, g.outputs()[k].name);
    EXPECT_EQ(back->node(back->outputs()[k].value).name,
              g.node(g.outputs()[k].value).name);
    EXPECT_EQ(back->outputs()[k].is_gradient, g.outputs()[k].is_gradient);
  }
  // Once loaded, the graph is in canonical order: a second trip keeps ids.
  absl::StatusOr<Graph> again = GraphFromProto(GraphToProto(*back));
  ASSERT_TRUE(again.ok()) << again.status();
  for (ValueId id = 0; id < back->num_nodes(); ++id) {
    EXPECT_EQ(again->node(id).name, back->node(id).name);
    EXPECT_EQ(again->node(id).inputs, back->node(id).inputs);
  }
  EXPECT_EQ(back->name(), "rich");
  EXPECT_TRUE(back->outputs().back().is_gradient);
}

TEST(SerializeTest, BinaryTextBinaryGivesIdenticalBytes) {
  const proto::GraphDef def = GraphToProto(RichGraph());
  const std::string pb = Binary(def);
  proto::GraphDef from_text;
  ASSERT_TRUE(
      google::protobuf::TextFormat::ParseFromString(Text(def), &from_text));
  EXPECT_EQ(Binary(from_text), pb);
  EXPECT_EQ(Text(from_text), Text(def));
  // Through the library's text helpers as well.
  absl::StatusOr<Graph> g = GraphFromText(GraphToText(RichGraph()));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(Binary(GraphToProto(*g)), pb);
}

TEST(SerializeTest, FilesRoundTrip) {
  const Graph g = RichGraph();
  const std::string pb = TmpPath("rich.pb");
  const std::string pbtxt = TmpPath("rich.pbtxt");
  const std::string pb2 = TmpPath("rich2.pb");
  ASSERT_TRUE(SaveGraph(g, pb).ok());
  absl::StatusOr<Graph> a = LoadGraph(pb);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(SaveGraph(*a, pbtxt).ok());
  EXPECT_THAT(ReadFile(pbtxt), HasSubstr("name: \"rich\""));  // Text form.
  absl::StatusOr<Graph> b = LoadGraph(pbtxt);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(SaveGraph(*b, pb2).ok());
  const std::string bytes = ReadFile(pb);
  EXPECT_FALSE(bytes.empty());
  EXPECT_EQ(ReadFile(pb2), bytes);
  // .txt is text too.
  const std::string txt = TmpPath("rich.txt");
  ASSERT_TRUE(WriteGraphDef(GraphToProto(g), txt).ok());
  EXPECT_EQ(ReadFile(txt), ReadFile(pbtxt));
  absl::StatusOr<proto::GraphDef> def = ReadGraphDef(txt);
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(Binary(*def), bytes);
}

TEST(SerializeTest, ParameterValuesAreBitExact) {
  const std::vector<double> specials = {
      kNaN,   -kNaN,   kInf,
      -kInf,  -0.0,    0.0,
      5e-324, -1e-310, std::numeric_limits<double>::max(),
      0.1,    1.0 / 3};
  const int64_t n = specials.size();
  GraphBuilder b("p");
  b.Parameter("d", Tensor::FromDoubles(TensorType{DType::kF64, {n}}, specials));
  b.Parameter("f", Tensor::FromDoubles(TensorType{DType::kF32, {n}}, specials));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  for (const std::string& path : {TmpPath("p.pb"), TmpPath("p.pbtxt")}) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(SaveGraph(*g, path).ok());
    absl::StatusOr<Graph> back = LoadGraph(path);
    ASSERT_TRUE(back.ok()) << back.status();
    for (const char* name : {"d", "f"}) {
      const Tensor& before = g->node(*g->Find(name)).attrs.GetTensor("value");
      const Tensor& after =
          back->node(*back->Find(name)).attrs.GetTensor("value");
      EXPECT_EQ(before.type(), after.type());
      // Bit patterns, not just values (NaN payload and sign, -0.0).
      EXPECT_EQ(before.ToBytes(), after.ToBytes()) << name;
    }
    const Tensor& d = back->node(*back->Find("d")).attrs.GetTensor("value");
    EXPECT_TRUE(std::isnan(d.doubles()[0]));
    EXPECT_TRUE(std::signbit(d.doubles()[1]));
    EXPECT_TRUE(std::signbit(d.doubles()[4]));
    EXPECT_FALSE(std::signbit(d.doubles()[5]));
    EXPECT_EQ(d.doubles()[6], 5e-324);
  }
}

TEST(SerializeTest, BinaryKeepsNanPayloads) {
  const uint64_t bits = 0xfff8000000012345ull;
  double payload_nan;
  std::memcpy(&payload_nan, &bits, 8);
  GraphBuilder b("p");
  b.Parameter("d",
              Tensor::FromDoubles(TensorType{DType::kF64, {1}}, {payload_nan}));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  const std::string path = TmpPath("payload.pb");
  ASSERT_TRUE(SaveGraph(*g, path).ok());
  absl::StatusOr<Graph> back = LoadGraph(path);
  ASSERT_TRUE(back.ok()) << back.status();
  uint64_t got;
  std::memcpy(&got, &back->node(0).attrs.GetTensor("value").doubles()[0], 8);
  EXPECT_EQ(got, bits);
}

TEST(SerializeTest, TensorProtoRoundTrip) {
  for (DType dtype : kAllDTypes) {
    SCOPED_TRACE(DTypeName(dtype));
    Tensor t = Tensor::FromInts(TensorType{dtype, {2, 2}}, {0, 1, 1, 0});
    absl::StatusOr<Tensor> back = TensorFromProto(TensorToProto(t));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, t);
  }
}

TEST(SerializeTest, MissingFile) {
  const std::string path = TmpPath("does_not_exist.pb");
  absl::StatusOr<Graph> g = LoadGraph(path);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(g.status().message(),
              HasSubstr(absl::StrCat("cannot open '", path, "'")));
}

TEST(SerializeTest, NotAGraphDefBinary) {
  const std::string path = TmpPath("garbage.pb");
  WriteFile(path, std::string("\x89PNG\r\n\x1a\n\xff\xff\xff", 11));
  absl::StatusOr<Graph> g = LoadGraph(path);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              AllOf(HasSubstr(path), HasSubstr("not a binary GraphDef")));
  // A text graph saved under a binary name.
  WriteFile(path, "version: 1\nname: \"t\"\n");
  g = LoadGraph(path);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("not a binary GraphDef"));
}

TEST(SerializeTest, TextSyntaxErrorHasLineAndColumn) {
  const std::string path = TmpPath("bad.pbtxt");
  WriteFile(
      path,
      "version: 1\nname: \"t\"\nnodes {\n  name: \"a\"\n  op: add\"\n}\n");
  absl::StatusOr<Graph> g = LoadGraph(path);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(), AllOf(HasSubstr(absl::StrCat(path, ":5:")),
                                          HasSubstr("not a text GraphDef")));
  // An unknown field.
  WriteFile(path, "version: 1\nbogus: 3\n");
  g = LoadGraph(path);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              AllOf(HasSubstr(absl::StrCat(path, ":2:")), HasSubstr("bogus")))
      << g.status();
  // GraphFromText reports "<text>" as the place.
  absl::StatusOr<Graph> t = GraphFromText("name: \"a\"\nversion: x\n");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("<text>:2:"));
}

TEST(SerializeTest, LoadErrorsNameTheFile) {
  const std::string path = TmpPath("bad_graph.pbtxt");
  WriteFile(path, "nodes { name: \"a\" op: \"nope\" }\n");
  absl::StatusOr<Graph> g = LoadGraph(path);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              AllOf(HasSubstr(path), HasSubstr("node 'a': unknown op 'nope'")));
}

TEST(SerializeTest, LimitsRefuseHugeFilesAndGraphsBeforeBuildingThem) {
  const std::string path = TmpPath("limits.pb");
  ASSERT_TRUE(SaveGraph(RichGraph(), path).ok());
  const int64_t size = static_cast<int64_t>(ReadFile(path).size());
  ASSERT_TRUE(LoadGraph(path).ok());
  // The file's size, checked before it is read.
  GraphLimits small;
  small.max_file_bytes = size - 1;
  absl::StatusOr<Graph> g = LoadGraph(path, small);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(
      g.status().message(),
      HasSubstr(absl::StrCat("'", path, "' has ", size,
                             " bytes, more than the limit of ", size - 1,
                             " (GraphLimits::max_file_bytes, "
                             "adc --max_graph_bytes)")));
  small.max_file_bytes = size;
  EXPECT_TRUE(LoadGraph(path, small).ok());
  // Nodes, counted before any is built.
  const proto::GraphDef def = GraphToProto(RichGraph());
  GraphLimits few;
  few.max_nodes = def.nodes_size() - 1;
  g = GraphFromProto(def, few);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(g.status().message(),
              HasSubstr(absl::StrCat("the graph has ", def.nodes_size(),
                                     " nodes, more than the limit of ",
                                     def.nodes_size() - 1)));
  few.max_nodes = def.nodes_size();
  EXPECT_TRUE(GraphFromProto(def, few).ok());
  // Functions.
  proto::GraphDef with_functions = def;
  with_functions.add_functions()->set_name("f");
  with_functions.add_functions()->set_name("g");
  GraphLimits one_function;
  one_function.max_functions = 1;
  g = GraphFromProto(with_functions, one_function);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              HasSubstr("the graph has 2 functions, more than the limit of 1"));
  // Text, by its length.
  GraphLimits short_text;
  short_text.max_file_bytes = 10;
  g = GraphFromText("name: \"a long enough name\"", short_text);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("more than the limit of 10"));
}

TEST(SerializeTest, DeepNestingAndHighRanksAreRefused) {
  // Functions nested in functions' bodies, 1000 deep: protobuf stops at its
  // recursion limit (100) with an error, in binary and in text.
  proto::GraphDef nested;
  proto::GraphDef* at = &nested;
  for (int i = 0; i < 1000; ++i) {
    proto::Function* f = at->add_functions();
    f->set_name("f");
    at = f->mutable_body();
  }
  const std::string path = TmpPath("nested.pb");
  WriteFile(path, GraphDefToBytes(nested));
  absl::StatusOr<Graph> g = LoadGraph(path);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("not a binary GraphDef"));
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "functions { name: \"f\" body { ";
  for (int i = 0; i < 1000; ++i) text += "} } ";
  g = GraphFromText(text);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("not a text GraphDef"));
  // A rank above 32 (NumPy's and the runtime's limit), even of size-1 dims.
  std::string dims;
  for (int i = 0; i < 33; ++i) dims += " dims: 1";
  g = GraphFromText(
      "name: \"r\" inputs { name: \"x\" type { dtype: F32 "
      "shape {" +
      dims + " } } }");
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("has rank 33, more than 32"));
}

TEST(SerializeTest, UnwritablePath) {
  absl::Status s = SaveGraph(RichGraph(), TmpPath("no/such/dir/g.pb"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("cannot write"));
}

TEST(SerializeTest, DeclaredTypesAreOptional) {
  // Node types may be left out on input; they are inferred and written.
  absl::StatusOr<Graph> g = GraphFromText(R"pb(
    inputs {
      name: "x"
      type {
        dtype: F64
        shape { dims: 3 }
      }
    }
    nodes { name: "e" op: "exp" inputs: "x" }
    outputs { name: "y" value: "e" }
  )pb");
  ASSERT_TRUE(g.ok()) << g.status();
  const proto::GraphDef def = GraphToProto(*g);
  ASSERT_EQ(def.nodes_size(), 1);
  EXPECT_EQ(def.nodes(0).type().dtype(), proto::F64);
  EXPECT_EQ(def.nodes(0).type().shape().dims_size(), 1);
  EXPECT_EQ(def.version(), 1);
  EXPECT_EQ(def.name(), "graph");  // Default graph name.
}

}  // namespace
}  // namespace adc
