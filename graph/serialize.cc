#include "graph/serialize.h"

#include <cmath>
#include <queue>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/file_io.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"
#include "graph/verifier.h"

namespace adc {
namespace {

absl::StatusOr<DType> FromProtoDType(proto::DType d) {
  switch (d) {
    case proto::F32:
      return DType::kF32;
    case proto::F64:
      return DType::kF64;
    case proto::I32:
      return DType::kI32;
    case proto::I64:
      return DType::kI64;
    case proto::BOOL:
      return DType::kBool;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("invalid dtype ", static_cast<int>(d),
                       " (expected F32, F64, I32, I64 or BOOL)"));
  }
}

proto::DType ToProtoDType(DType d) {
  switch (d) {
    case DType::kF32:
      return proto::F32;
    case DType::kF64:
      return proto::F64;
    case DType::kI32:
      return proto::I32;
    case DType::kI64:
      return proto::I64;
    case DType::kBool:
      return proto::BOOL;
  }
  ADC_CHECK(false);
}

absl::StatusOr<TensorType> FromProtoType(const proto::TensorType& t) {
  ADC_ASSIGN_OR_RETURN(DType dtype, FromProtoDType(t.dtype()));
  if (t.shape().symbols_size() > 0) {
    return absl::UnimplementedError(
        "symbolic dimensions are not supported yet (shape.symbols is set)");
  }
  Dims dims(t.shape().dims().begin(), t.shape().dims().end());
  ADC_RETURN_IF_ERROR(ops::CheckDims(dims, "shape"));
  return TensorType{dtype, std::move(dims)};
}

void ToProtoType(const TensorType& t, proto::TensorType* out) {
  out->set_dtype(ToProtoDType(t.dtype));
  for (int64_t d : t.dims) out->mutable_shape()->add_dims(d);
}

absl::StatusOr<AttrValue> FromProtoAttr(const proto::AttrValue& a) {
  switch (a.value_case()) {
    case proto::AttrValue::kI:
      return AttrValue(a.i());
    case proto::AttrValue::kF:
      return AttrValue(a.f());
    case proto::AttrValue::kS:
      return AttrValue(a.s());
    case proto::AttrValue::kInts:
      return AttrValue(std::vector<int64_t>(a.ints().values().begin(),
                                            a.ints().values().end()));
    case proto::AttrValue::kDtype: {
      ADC_ASSIGN_OR_RETURN(DType d, FromProtoDType(a.dtype()));
      return AttrValue(d);
    }
    case proto::AttrValue::kTensor: {
      ADC_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(a.tensor()));
      return AttrValue(std::move(t));
    }
    case proto::AttrValue::kB:
      return AttrValue(a.b());
    case proto::AttrValue::VALUE_NOT_SET:
      return absl::InvalidArgumentError("has no value");
  }
  return absl::InvalidArgumentError("has an unknown kind of value");
}

void ToProtoAttr(const AttrValue& v, proto::AttrValue* out) {
  switch (KindOf(v)) {
    case AttrKind::kInt:
      out->set_i(std::get<int64_t>(v));
      return;
    case AttrKind::kFloat:
      out->set_f(std::get<double>(v));
      return;
    case AttrKind::kString:
      out->set_s(std::get<std::string>(v));
      return;
    case AttrKind::kInts:
      for (int64_t i : std::get<std::vector<int64_t>>(v)) {
        out->mutable_ints()->add_values(i);
      }
      out->mutable_ints();
      return;
    case AttrKind::kDType:
      out->set_dtype(ToProtoDType(std::get<DType>(v)));
      return;
    case AttrKind::kTensor:
      *out->mutable_tensor() = TensorToProto(std::get<Tensor>(v));
      return;
    case AttrKind::kBool:
      out->set_b(std::get<bool>(v));
      return;
  }
}

}  // namespace

absl::StatusOr<Tensor> TensorFromProto(const proto::TensorProto& tensor) {
  ADC_ASSIGN_OR_RETURN(TensorType type, FromProtoType(tensor.type()));
  const int64_t n = type.num_elements();
  auto check = [&](int64_t got, const char* field) -> absl::Status {
    if (got != n) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", type.ToString(), " needs ", n, " values in ",
                       field, ", got ", got));
    }
    return absl::OkStatus();
  };
  switch (type.dtype) {
    case DType::kF32: {
      ADC_RETURN_IF_ERROR(check(tensor.float_data_size(), "float_data"));
      return Tensor::FromDoubles(
          type, std::vector<double>(tensor.float_data().begin(),
                                    tensor.float_data().end()));
    }
    case DType::kF64: {
      ADC_RETURN_IF_ERROR(check(tensor.double_data_size(), "double_data"));
      return Tensor::FromDoubles(
          type, std::vector<double>(tensor.double_data().begin(),
                                    tensor.double_data().end()));
    }
    case DType::kI32:
    case DType::kI64:
    case DType::kBool: {
      ADC_RETURN_IF_ERROR(check(tensor.int64_data_size(), "int64_data"));
      for (int64_t v : tensor.int64_data()) {
        if (WrapToIntDType(v, type.dtype) != v) {
          return absl::InvalidArgumentError(
              absl::StrCat("tensor ", type.ToString(), ": value ", v,
                           " does not fit the dtype"));
        }
      }
      return Tensor::FromInts(type,
                              std::vector<int64_t>(tensor.int64_data().begin(),
                                                   tensor.int64_data().end()));
    }
  }
  ADC_CHECK(false);
}

proto::TensorProto TensorToProto(const Tensor& tensor) {
  proto::TensorProto out;
  ToProtoType(tensor.type(), out.mutable_type());
  switch (tensor.dtype()) {
    case DType::kF32:
      for (double v : tensor.doubles()) {
        out.add_float_data(static_cast<float>(v));
      }
      break;
    case DType::kF64:
      for (double v : tensor.doubles()) out.add_double_data(v);
      break;
    case DType::kI32:
    case DType::kI64:
    case DType::kBool:
      for (int64_t v : tensor.ints()) out.add_int64_data(v);
      break;
  }
  return out;
}

namespace {

// GraphFromProto without the functions and the final verification.
absl::StatusOr<Graph> GraphBodyFromProto(const proto::GraphDef& def);

}  // namespace

absl::StatusOr<Graph> GraphFromProto(const proto::GraphDef& def,
                                     const GraphLimits& limits) {
  if (def.functions_size() > limits.max_functions) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the graph has ", def.functions_size(),
                     " functions, more than the limit of ",
                     limits.max_functions, " (GraphLimits::max_functions)"));
  }
  int64_t nodes = def.nodes_size();
  for (const proto::Function& f : def.functions()) {
    nodes += f.body().nodes_size();
  }
  if (nodes > limits.max_nodes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the graph has ", nodes, " nodes",
                     def.functions_size() > 0 ? " (with its functions')" : "",
                     ", more than the limit of ", limits.max_nodes,
                     " (GraphLimits::max_nodes, adc --max_graph_nodes)"));
  }
  ADC_ASSIGN_OR_RETURN(Graph graph, GraphBodyFromProto(def));
  for (const proto::Function& f : def.functions()) {
    if (f.name().empty()) {
      return absl::InvalidArgumentError("a function has an empty name");
    }
    if (graph.function(f.name()) != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("function '", f.name(), "' is defined twice"));
    }
    if (f.body().functions_size() > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "function '", f.name(),
          "' has functions of its own (they belong to the top-level graph)"));
    }
    absl::StatusOr<Graph> body = GraphBodyFromProto(f.body());
    if (!body.ok()) {
      return absl::Status(
          body.status().code(),
          absl::StrCat("function '", f.name(), "': ", body.status().message()));
    }
    graph.AddFunction(f.name(), *std::move(body));
  }
  ADC_RETURN_IF_ERROR(Verify(graph));
  return graph;
}

namespace {

absl::StatusOr<Graph> GraphBodyFromProto(const proto::GraphDef& def) {
  if (def.version() < 0 || def.version() > kGraphFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("graph format version ", def.version(),
                     " is not supported (this adc "
                     "reads versions 1 to ",
                     kGraphFormatVersion, ")"));
  }
  // Every value: inputs, then parameters, then nodes (in file order).
  struct Pending {
    Node node;
    std::vector<std::string> input_names;
    const proto::TensorType* declared = nullptr;  // For op nodes.
  };
  std::vector<Pending> values;
  absl::flat_hash_map<std::string, int> index;
  // `what` says which entry it is: "an input (inputs[0])", ...
  auto add_name = [&](const std::string& name,
                      const std::string& what) -> absl::Status {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has an empty name"));
    }
    if (!index.emplace(name, static_cast<int>(values.size())).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate value name '", name,
                       "' (inputs, parameters and nodes "
                       "share one namespace)"));
    }
    return absl::OkStatus();
  };
  for (int i = 0; i < def.inputs_size(); ++i) {
    const proto::ValueInfo& in = def.inputs(i);
    ADC_RETURN_IF_ERROR(
        add_name(in.name(), absl::StrCat("an input (inputs[", i, "])")));
    auto type = FromProtoType(in.type());
    if (!type.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", in.name(), "': ", type.status().message()));
    }
    Pending p;
    p.node.name = in.name();
    p.node.op = OpKind::kInput;
    p.node.attrs.Set("dtype", type->dtype).Set("shape", type->dims);
    values.push_back(std::move(p));
  }
  for (int i = 0; i < def.parameters_size(); ++i) {
    const proto::Parameter& param = def.parameters(i);
    ADC_RETURN_IF_ERROR(add_name(
        param.name(), absl::StrCat("a parameter (parameters[", i, "])")));
    auto value = TensorFromProto(param.value());
    if (!value.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter '", param.name(), "': ", value.status().message()));
    }
    Pending p;
    p.node.name = param.name();
    p.node.op = OpKind::kParameter;
    p.node.attrs.Set("value", *std::move(value));
    values.push_back(std::move(p));
  }
  for (int i = 0; i < def.nodes_size(); ++i) {
    const proto::Node& n = def.nodes(i);
    ADC_RETURN_IF_ERROR(add_name(
        n.name(), absl::StrCat("a node (nodes[", i, "], op '", n.op(), "')")));
    std::optional<OpKind> kind = FindNodeOpKind(n.op());
    if (!kind) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node '", n.name(), "': unknown op '", n.op(),
          "' (known ops: ", absl::StrJoin(NodeOpNames(), ", "), ")"));
    }
    Pending p;
    p.node.name = n.name();
    p.node.op = *kind;
    p.node.grad_level = n.grad_level();
    p.input_names.assign(n.inputs().begin(), n.inputs().end());
    if (n.has_type()) p.declared = &n.type();
    for (const auto& [name, value] : n.attrs()) {
      auto attr = FromProtoAttr(value);
      if (!attr.ok()) {
        return NodeError(
            p.node, absl::InvalidArgumentError(absl::StrCat(
                        "attribute '", name, "' ", attr.status().message())));
      }
      p.node.attrs.Set(name, *std::move(attr));
    }
    values.push_back(std::move(p));
  }

  // Resolve input names, then order topologically (Kahn, file order first).
  const int n = static_cast<int>(values.size());
  std::vector<std::vector<int>> inputs(n), users(n);
  std::vector<int> pending(n, 0);
  for (int i = 0; i < n; ++i) {
    for (const std::string& name : values[i].input_names) {
      auto it = index.find(name);
      if (it == index.end()) {
        return NodeError(values[i].node,
                         absl::InvalidArgumentError(absl::StrCat(
                             "input '", name, "' is not defined")));
      }
      inputs[i].push_back(it->second);
      users[it->second].push_back(i);
      ++pending[i];
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[i]) {
      if (--pending[u] == 0) ready.push(u);
    }
  }
  if (static_cast<int>(order.size()) != n) {
    std::vector<std::string> cyclic;
    for (int i = 0; i < n; ++i) {
      if (pending[i] > 0)
        cyclic.push_back(absl::StrCat("'", values[i].node.name, "'"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "the graph has a cycle through nodes ", absl::StrJoin(cyclic, ", ")));
  }

  Graph graph(def.name().empty() ? "graph" : def.name());
  std::vector<ValueId> id_of(n, -1);
  std::vector<TensorType> types;
  for (int i : order) {
    Pending& p = values[i];
    types.clear();
    for (int in : inputs[i]) {
      p.node.inputs.push_back(id_of[in]);
      types.push_back(graph.type(id_of[in]));
    }
    absl::StatusOr<TensorType> type = InferNodeType(&p.node, types);
    if (!type.ok()) return NodeError(p.node, type.status());
    if (p.declared != nullptr) {
      absl::StatusOr<TensorType> declared = FromProtoType(*p.declared);
      if (!declared.ok()) return NodeError(p.node, declared.status());
      if (*declared != *type) {
        return NodeError(p.node, absl::InvalidArgumentError(absl::StrCat(
                                     "declared type ", declared->ToString(),
                                     " but the op gives ", type->ToString())));
      }
    }
    p.node.type = *type;
    id_of[i] = graph.AddNode(std::move(p.node));
  }
  absl::flat_hash_map<std::string, int> output_names;
  for (const proto::Output& out : def.outputs()) {
    auto it = index.find(out.value());
    if (it == index.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("output '", out.name(), "' refers to unknown value '",
                       out.value(), "'"));
    }
    graph.AddOutput(out.name(), id_of[it->second], out.is_gradient());
  }
  return graph;
}

}  // namespace

proto::GraphDef GraphToProto(const Graph& graph) {
  proto::GraphDef def;
  // The oldest version that has what the graph uses: older readers load it.
  def.set_version(HasControlFlow(graph) ? 3 : graph.has_functions() ? 2 : 1);
  def.set_name(graph.name());
  for (const Node& node : graph.nodes()) {
    if (node.op == OpKind::kInput) {
      proto::ValueInfo* in = def.add_inputs();
      in->set_name(node.name);
      ToProtoType(node.type, in->mutable_type());
    } else if (node.op == OpKind::kParameter) {
      proto::Parameter* p = def.add_parameters();
      p->set_name(node.name);
      *p->mutable_value() = TensorToProto(node.attrs.GetTensor("value"));
    } else {
      proto::Node* n = def.add_nodes();
      n->set_name(node.name);
      n->set_op(GetOpDef(node.op).name);
      for (ValueId in : node.inputs) n->add_inputs(graph.node(in).name);
      for (const auto& [name, value] : node.attrs.map()) {
        ToProtoAttr(value, &(*n->mutable_attrs())[name]);
      }
      ToProtoType(node.type, n->mutable_type());
      n->set_grad_level(node.grad_level);
    }
  }
  for (const GraphOutput& out : graph.outputs()) {
    proto::Output* o = def.add_outputs();
    o->set_name(out.name);
    o->set_value(graph.node(out.value).name);
    o->set_is_gradient(out.is_gradient);
  }
  for (const std::string& name : graph.function_names()) {
    proto::Function* f = def.add_functions();
    f->set_name(name);
    *f->mutable_body() = GraphToProto(*graph.function(name));
  }
  return def;
}

namespace {

bool IsTextPath(const std::string& path) {
  return absl::EndsWith(path, ".pbtxt") || absl::EndsWith(path, ".txt");
}

// Collects text-format parse errors as "line:column: message".
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) {
      first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

absl::StatusOr<proto::GraphDef> ParseText(const std::string& text,
                                          const std::string& where) {
  proto::GraphDef def;
  google::protobuf::TextFormat::Parser parser;
  // As the binary parser's default: deeper text would recurse without bound
  // (the text parser's own default is INT_MAX).
  parser.SetRecursionLimit(100);
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &def)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ":", errors.first(), " (not a text GraphDef)"));
  }
  return def;
}

}  // namespace

absl::StatusOr<proto::GraphDef> ReadGraphDef(const std::string& path,
                                             const GraphLimits& limits) {
  ADC_ASSIGN_OR_RETURN(
      const std::string bytes,
      ReadFileAtMost(path, limits.max_file_bytes,
                     "GraphLimits::max_file_bytes, adc --max_graph_bytes"));
  if (IsTextPath(path)) return ParseText(bytes, path);
  proto::GraphDef def;
  if (!def.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": not a binary GraphDef (truncated or not an adc graph; text "
        "files must end in .pbtxt)"));
  }
  return def;
}

std::string GraphDefToBytes(const proto::GraphDef& def) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    // Map entries (node attributes) sorted by key, not in hash order.
    out.SetSerializationDeterministic(true);
    def.SerializeToCodedStream(&out);
  }
  return bytes;
}

namespace {

// The default printer writes every NaN as "nan"; this one keeps the sign
// ("-nan", which the parser reads back), so text files keep parameter values
// bit for bit (NaN payloads other than the default one aside).
class SignedNanPrinter
    : public google::protobuf::TextFormat::FastFieldValuePrinter {
 public:
  void PrintFloat(float v, google::protobuf::TextFormat::BaseTextGenerator* out)
      const override {
    if (std::isnan(v) && std::signbit(v)) return out->PrintLiteral("-nan");
    FastFieldValuePrinter::PrintFloat(v, out);
  }
  void PrintDouble(
      double v,
      google::protobuf::TextFormat::BaseTextGenerator* out) const override {
    if (std::isnan(v) && std::signbit(v)) return out->PrintLiteral("-nan");
    FastFieldValuePrinter::PrintDouble(v, out);
  }
};

}  // namespace

std::string GraphDefToText(const proto::GraphDef& def) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetDefaultFieldValuePrinter(new SignedNanPrinter);  // Takes it.
  std::string text;
  printer.PrintToString(def, &text);
  return text;
}

absl::Status WriteGraphDef(const proto::GraphDef& def,
                           const std::string& path) {
  const std::string bytes =
      IsTextPath(path) ? GraphDefToText(def) : GraphDefToBytes(def);
  return WriteFile(path, bytes);
}

absl::StatusOr<Graph> LoadGraph(const std::string& path,
                                const GraphLimits& limits) {
  ADC_ASSIGN_OR_RETURN(proto::GraphDef def, ReadGraphDef(path, limits));
  absl::StatusOr<Graph> graph = GraphFromProto(def, limits);
  if (!graph.ok()) {
    return absl::Status(graph.status().code(),
                        absl::StrCat(path, ": ", graph.status().message()));
  }
  return graph;
}

absl::Status SaveGraph(const Graph& graph, const std::string& path) {
  return WriteGraphDef(GraphToProto(graph), path);
}

absl::StatusOr<Graph> GraphFromText(const std::string& pbtxt,
                                    const GraphLimits& limits) {
  if (static_cast<int64_t>(pbtxt.size()) > limits.max_file_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the text has ", pbtxt.size(), " bytes, more than the limit of ",
        limits.max_file_bytes, " (GraphLimits::max_file_bytes)"));
  }
  ADC_ASSIGN_OR_RETURN(proto::GraphDef def, ParseText(pbtxt, "<text>"));
  return GraphFromProto(def, limits);
}

std::string GraphToText(const Graph& graph) {
  return GraphDefToText(GraphToProto(graph));
}

}  // namespace adc
