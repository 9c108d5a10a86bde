// The ONNX importer's driver: checks the model, adds its inputs and
// initializers, imports its nodes in order through the table merged from the
// op families' fragments (tools/onnx/ops_*.cc), names the values as the
// header says, folds static operands with the reference interpreter's
// ValueEvaluator, and checks declared and inferred types against the result.
#include "tools/onnx/importer.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/file_io.h"
#include "graph/interpreter.h"
#include "onnx/checker.h"
#include "onnx/shape_inference/implementation.h"
#include "tools/onnx/node_ctx.h"
#include "tools/onnx/onnx_tensor.h"

namespace adc {
namespace onnx_import {
namespace {

// The table of supported ops, merged from the families' fragments.
const std::map<std::string, OpImport>& OpTable() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, OpImport>;
    for (auto family :
         {ElementwiseOnnxOps, LinalgOnnxOps, ReductionOnnxOps, ShapeOnnxOps,
          ConstantOnnxOps, LayerOnnxOps, WindowOnnxOps, TrainingOnnxOps}) {
      for (OnnxOpEntry& entry : family()) {
        ADC_CHECK_MSG(t->emplace(entry.op_type, std::move(entry.import)).second,
                      absl::StrCat("ONNX op imported twice: ", entry.op_type));
      }
    }
    return t;
  }();
  return *table;
}

bool IsDefaultDomain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

// The node's key in OpTable: its op_type, qualified by its domain outside
// the default one ("ai.onnx.preview.training.Adam").
std::string TableKey(const onnx::NodeProto& node) {
  return IsDefaultDomain(node.domain())
             ? node.op_type()
             : absl::StrCat(node.domain(), ".", node.op_type());
}

bool IsStaticOperand(const onnx::NodeProto& node, int i) {
  auto it = OpTable().find(TableKey(node));
  if (it == OpTable().end()) return false;
  const std::vector<int>& s = it->second.static_inputs;
  return std::find(s.begin(), s.end(), i) != s.end();
}

// Names used as static operands / as tensors (node inputs in other
// positions, graph outputs).
void CollectUses(const onnx::GraphProto& graph,
                 absl::flat_hash_set<std::string>* static_uses,
                 absl::flat_hash_set<std::string>* tensor_uses) {
  for (const onnx::NodeProto& node : graph.node()) {
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty()) continue;
      (IsStaticOperand(node, i) ? static_uses : tensor_uses)
          ->insert(node.input(i));
    }
  }
  for (const onnx::ValueInfoProto& out : graph.output()) {
    tensor_uses->insert(out.name());
  }
}

// One error listing every unsupported op type (and op variant) with its
// node count.
absl::Status CheckOpsSupported(const onnx::GraphProto& graph) {
  std::map<std::string, int> unsupported;
  for (const onnx::NodeProto& node : graph.node()) {
    if (auto it = OpTable().find(TableKey(node)); it == OpTable().end()) {
      ++unsupported[TableKey(node)];
    } else if (it->second.unsupported != nullptr) {
      for (const onnx::AttributeProto& a : node.attribute()) {
        const std::string variant = it->second.unsupported(a);
        if (!variant.empty()) ++unsupported[variant];
      }
    }
  }
  if (unsupported.empty()) return absl::OkStatus();
  std::vector<std::string> parts;
  for (const auto& [op, n] : unsupported) {
    parts.push_back(absl::StrCat(op, " (", n, n == 1 ? " node)" : " nodes)"));
  }
  return absl::UnimplementedError(
      absl::StrCat("unsupported ONNX ops: ", absl::StrJoin(parts, ", ")));
}

// Static operands are small (shapes, axes, ...) and come from constants and
// parameters' stored values: folding stops at graph inputs and at values too
// big to materialize at import time. The reasons complete StaticValue's
// error.
absl::Status FoldBlock(const Node& node) {
  if (node.op == OpKind::kInput) {
    return absl::FailedPreconditionError(
        absl::StrCat("it depends on graph input '", node.name, "'"));
  }
  if (node.type.num_elements() > (int64_t{1} << 20)) {
    return absl::FailedPreconditionError(
        absl::StrCat("it is too large to compute at import time (",
                     node.type.ToString(), ")"));
  }
  return absl::OkStatus();
}

absl::Status FoldKernelError(const Node&, const absl::Status& error) {
  return absl::FailedPreconditionError(
      absl::StrCat("evaluating it failed: ", error.message()));
}

// ---------------------------------------------------------------------------
// The importer.
// ---------------------------------------------------------------------------
class Importer {
 public:
  Importer(const onnx::ModelProto& model, const ImportOptions& options,
           std::string model_dir)
      : model_(model),
        options_(options),
        model_dir_(std::move(model_dir)),
        b_(model.graph().name().empty() ? "onnx" : model.graph().name()),
        folder_(b_.graph(), FoldBlock, FoldKernelError) {}

  absl::StatusOr<Graph> Run();

 private:
  absl::Status CheckModel();
  absl::Status AddInitializers(
      const absl::flat_hash_set<std::string>& static_only);
  absl::Status AddInputs();
  absl::Status ImportNode(const onnx::NodeProto& node, int index);
  absl::Status CheckDeclaredType(const onnx::ValueInfoProto& info);
  // The Value of an ONNX name (a constant is made for static values used as
  // tensors).
  absl::StatusOr<Value> Lookup(const std::string& name);
  // Gives the new value `v` the ONNX name (see the header).
  absl::Status NameValue(Value v, const std::string& name, int first_new);
  // The value of an ONNX name at import time.
  absl::StatusOr<Tensor> StaticValue(const std::string& name);

  const onnx::ModelProto& model_;
  const ImportOptions& options_;
  const std::string model_dir_;
  GraphBuilder b_;
  int opset_ = 0;
  absl::flat_hash_map<std::string, Value> values_;
  absl::flat_hash_map<std::string, Tensor> static_values_;
  absl::flat_hash_set<ValueId> onnx_named_;
  // Computes static operands from the nodes built so far.
  ValueEvaluator folder_;
  std::vector<onnx::ValueInfoProto> inferred_;
};

// ONNX's shape inference (libonnx 1.12) divides by strides, dilations,
// kernel sizes, groups and block sizes without checking them: a zero stops
// the process with SIGFPE (found by tests/fuzz/onnx_fuzzer). Such models
// are invalid; this refuses them first, naming the node and attribute.
absl::Status CheckDivisorAttributes(const onnx::GraphProto& graph) {
  for (const onnx::NodeProto& node : graph.node()) {
    for (const onnx::AttributeProto& a : node.attribute()) {
      const std::string& n = a.name();
      const bool divisor_list =
          n == "strides" || n == "dilations" || n == "kernel_shape";
      const bool divisor = n == "group" || n == "blocksize";
      auto error = [&](int64_t v) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid ONNX model: node '", node.name(), "' (", node.op_type(),
            "): attribute ", n, " must be positive, has ", v));
      };
      if (divisor_list) {
        for (int64_t v : a.ints()) {
          if (v <= 0) return error(v);
        }
      } else if (divisor && a.has_i() && a.i() <= 0) {
        return error(a.i());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Importer::CheckModel() {
  if (!model_.has_graph()) {
    return absl::InvalidArgumentError("invalid ONNX model: it has no graph");
  }
  ADC_RETURN_IF_ERROR(CheckOpsSupported(model_.graph()));
  ADC_RETURN_IF_ERROR(CheckDivisorAttributes(model_.graph()));
  opset_ = -1;
  for (const onnx::OperatorSetIdProto& imp : model_.opset_import()) {
    if (IsDefaultDomain(imp.domain())) opset_ = static_cast<int>(imp.version());
  }
  bool uses_default_domain = false;
  for (const onnx::NodeProto& node : model_.graph().node()) {
    uses_default_domain = uses_default_domain || IsDefaultDomain(node.domain());
  }
  if (opset_ < 0) {
    if (model_.ir_version() >= 3 && uses_default_domain) {
      return absl::InvalidArgumentError(
          "invalid ONNX model: no opset_import for the default domain");
    }
    opset_ = 1;
  }
  try {
    // The checker looks for external data relative to the working
    // directory; TensorFromOnnx reads and checks it instead. The checker
    // sees such initializers as graph inputs of their type.
    bool external = false;
    for (const onnx::TensorProto& t : model_.graph().initializer()) {
      external |= t.data_location() == onnx::TensorProto::EXTERNAL;
    }
    if (external) {
      onnx::ModelProto copy = model_;
      onnx::GraphProto* g = copy.mutable_graph();
      absl::flat_hash_set<std::string> listed;
      for (const onnx::ValueInfoProto& in : g->input()) {
        listed.insert(in.name());
      }
      google::protobuf::RepeatedPtrField<onnx::TensorProto> kept;
      for (onnx::TensorProto& t : *g->mutable_initializer()) {
        if (t.data_location() != onnx::TensorProto::EXTERNAL) {
          *kept.Add() = std::move(t);
        } else if (!listed.contains(t.name())) {
          onnx::ValueInfoProto* in = g->add_input();
          in->set_name(t.name());
          onnx::TypeProto::Tensor* tt =
              in->mutable_type()->mutable_tensor_type();
          tt->set_elem_type(t.data_type());
          tt->mutable_shape();
          for (int64_t d : t.dims()) {
            tt->mutable_shape()->add_dim()->set_dim_value(d);
          }
        }
      }
      g->mutable_initializer()->Swap(&kept);
      onnx::checker::check_model(copy);
    } else {
      onnx::checker::check_model(model_);
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ONNX model: ", e.what()));
  }
  if (model_.graph().sparse_initializer_size() > 0) {
    return absl::UnimplementedError("sparse initializers are not supported");
  }
  // ONNX shape inference: its types of intermediates are checked against
  // the imported ones (a cross-check of the importer). It is best effort,
  // and skipped for big models (it works on a copy).
  if (model_.ByteSizeLong() > (size_t{64} << 20)) return absl::OkStatus();
  try {
    onnx::ModelProto inferred = model_;
    onnx::shape_inference::InferShapes(inferred);
    inferred_.assign(inferred.graph().value_info().begin(),
                     inferred.graph().value_info().end());
  } catch (const std::exception&) {
    inferred_.clear();
  }
  return absl::OkStatus();
}

absl::Status Importer::AddInitializers(
    const absl::flat_hash_set<std::string>& static_only) {
  for (const onnx::TensorProto& init : model_.graph().initializer()) {
    if (init.name().empty()) {
      return absl::InvalidArgumentError("an initializer has no name");
    }
    absl::StatusOr<Tensor> t = TensorFromOnnx(init, model_dir_);
    if (!t.ok()) return t.status();
    if (static_only.contains(init.name())) {
      static_values_[init.name()] = *std::move(t);
      continue;
    }
    Value p = b_.Parameter(init.name(), *std::move(t));
    if (!b_.ok()) return b_.status();
    values_[init.name()] = p;
    onnx_named_.insert(p.id());
  }
  return absl::OkStatus();
}

absl::Status Importer::AddInputs() {
  absl::flat_hash_set<std::string> inits, inputs;
  for (const onnx::TensorProto& init : model_.graph().initializer()) {
    inits.insert(init.name());
  }
  for (const onnx::ValueInfoProto& in : model_.graph().input()) {
    if (!inits.contains(in.name())) inputs.insert(in.name());
  }
  for (const auto& [name, t] : options_.constant_inputs) {
    if (!inputs.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ImportOptions::constant_inputs names '", name,
                       "', which is not a graph input of the model"));
    }
  }
  for (const auto& [name, d] : options_.input_dims) {
    if (!inputs.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ImportOptions::input_dims names '", name,
                       "', which is not a graph input of the model"));
    }
  }
  for (const onnx::ValueInfoProto& in : model_.graph().input()) {
    const std::string& name = in.name();
    if (inits.contains(name)) continue;
    const std::string what = absl::StrCat("graph input '", name, "'");
    if (!in.type().has_tensor_type()) {
      return absl::UnimplementedError(absl::StrCat(
          what,
          " is not a tensor (sequence, map and optional types are not "
          "supported)"));
    }
    const onnx::TypeProto::Tensor& tt = in.type().tensor_type();
    auto frozen = options_.constant_inputs.find(name);
    if (frozen != options_.constant_inputs.end()) {
      std::optional<DType> dtype = DTypeFromOnnx(tt.elem_type());
      if (dtype && *dtype != frozen->second.dtype()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, " is ", DTypeName(*dtype), " but its constant value is ",
            frozen->second.type().ToString()));
      }
      static_values_[name] = frozen->second;
      continue;
    }
    ADC_ASSIGN_OR_RETURN(DType dtype, RequireDType(tt.elem_type(), what));
    auto pinned = options_.input_dims.find(name);
    Dims dims;
    std::string symbolic;
    if (!tt.has_shape()) {
      symbolic = "its shape is unknown";
    } else {
      std::vector<std::string> shown;
      for (int i = 0; i < tt.shape().dim_size(); ++i) {
        const onnx::TensorShapeProto::Dimension& d = tt.shape().dim(i);
        if (d.has_dim_value()) {
          dims.push_back(d.dim_value());
          shown.push_back(absl::StrCat(d.dim_value()));
          if (pinned != options_.input_dims.end() &&
              (i >= static_cast<int>(pinned->second.size()) ||
               pinned->second[i] != d.dim_value())) {
            return absl::InvalidArgumentError(
                absl::StrCat(what, ": ImportOptions::input_dims ",
                             DimsToString(pinned->second), " contradicts dim ",
                             i, " = ", d.dim_value()));
          }
        } else {
          dims.push_back(-1);
          shown.push_back(d.dim_param().empty() ? "?" : d.dim_param());
          if (symbolic.empty()) {
            symbolic = d.dim_param().empty()
                           ? absl::StrCat("dim ", i, " is unknown")
                           : absl::StrCat("dim ", i, " is symbolic ('",
                                          d.dim_param(), "')");
          }
        }
      }
      if (!symbolic.empty()) {
        absl::StrAppend(&symbolic, " in [", absl::StrJoin(shown, ","), "]");
      }
    }
    if (pinned != options_.input_dims.end()) {
      if (tt.has_shape() && pinned->second.size() != dims.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": ImportOptions::input_dims ", DimsToString(pinned->second),
            " has another rank than the declared shape"));
      }
      dims = pinned->second;
    } else if (!symbolic.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": ", symbolic,
                       "; adc needs static shapes (pin them with "
                       "ImportOptions::input_dims)"));
    }
    Value v = b_.Input(name, dtype, dims);
    if (!b_.ok()) return b_.status();
    values_[name] = v;
    onnx_named_.insert(v.id());
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> Importer::Lookup(const std::string& name) {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  auto s = static_values_.find(name);
  if (s != static_values_.end()) {
    const int first_new = b_.graph()->num_nodes();
    Value v = Constant(b_, s->second);
    if (!b_.ok()) return b_.status();
    ADC_RETURN_IF_ERROR(NameValue(v, name, first_new));
    values_[name] = v;
    return v;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", name,
                   "' is not a graph input, an initializer or an output of an "
                   "earlier node"));
}

absl::Status Importer::NameValue(Value v, const std::string& name,
                                 int first_new) {
  if (v.id() < first_new || onnx_named_.contains(v.id())) {
    return absl::OkStatus();
  }
  Graph* g = b_.graph();
  std::optional<ValueId> holder = g->Find(name);
  if (holder && *holder != v.id()) {
    if (onnx_named_.contains(*holder)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value name '", name, "' is used twice"));
    }
    // A helper node took the name first: it yields.
    const bool renamed = g->Rename(*holder, g->UniqueName(name));
    ADC_CHECK(renamed);
  }
  if (!b_.Named(v, name).valid()) return b_.status();
  onnx_named_.insert(v.id());
  return absl::OkStatus();
}

absl::StatusOr<Tensor> Importer::StaticValue(const std::string& name) {
  auto s = static_values_.find(name);
  if (s != static_values_.end()) return s->second;
  auto v = values_.find(name);
  if (v == values_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", name,
        "' is not a graph input, an initializer or an output of an earlier "
        "node"));
  }
  absl::StatusOr<Tensor> t = folder_.Evaluate(v->second.id());
  if (!t.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "it is not an initializer, a Constant or computed from those: ",
        t.status().message(),
        " (give graph inputs used this way a value with "
        "ImportOptions::constant_inputs)"));
  }
  return t;
}

std::string DescribeNode(const onnx::NodeProto& node, int index) {
  if (!node.name().empty()) {
    return absl::StrCat("node '", node.name(), "' (", node.op_type(), ")");
  }
  return absl::StrCat(
      "node #", index, " (", node.op_type(), ")",
      node.output_size() > 0 ? absl::StrCat(" -> '", node.output(0), "'") : "");
}

absl::Status Importer::ImportNode(const onnx::NodeProto& node, int index) {
  const OpImport& op = OpTable().at(TableKey(node));
  const std::string where = DescribeNode(node, index);
  for (int i = 0; i < op.min_inputs; ++i) {
    if (i >= node.input_size() || node.input(i).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": needs at least ", op.min_inputs,
                       " inputs, input ", i, " is missing"));
    }
  }
  std::vector<Value> inputs(node.input_size());
  for (int i = 0; i < node.input_size(); ++i) {
    if (node.input(i).empty() || IsStaticOperand(node, i)) continue;
    absl::StatusOr<Value> v = Lookup(node.input(i));
    if (!v.ok()) return Annotate(v.status(), where);
    inputs[i] = *v;
  }
  const int first_new = b_.graph()->num_nodes();
  NodeCtx ctx(
      &b_, [this](const std::string& name) { return StaticValue(name); }, node,
      opset_, std::move(inputs));
  Outs outs;
  {
    NameScope scope(
        b_, node.name().empty()
                ? (node.output_size() > 0 ? node.output(0) : node.op_type())
                : node.name());
    outs = op.fn(ctx);
  }
  if (!ctx.ok()) return Annotate(ctx.status(), where);
  if (!b_.ok()) return Annotate(b_.status(), where);
  for (int i = 0; i < node.output_size(); ++i) {
    const std::string& name = node.output(i);
    if (name.empty()) continue;
    if (i >= static_cast<int>(outs.size()) || !outs[i].valid()) {
      return absl::UnimplementedError(absl::StrCat(
          where, ": output ", i, " ('", name, "') is not supported"));
    }
    ADC_RETURN_IF_ERROR(Annotate(NameValue(outs[i], name, first_new), where));
    values_[name] = outs[i];
  }
  return absl::OkStatus();
}

absl::Status Importer::CheckDeclaredType(const onnx::ValueInfoProto& info) {
  auto it = values_.find(info.name());
  if (it == values_.end() || !info.type().has_tensor_type()) {
    return absl::OkStatus();
  }
  const onnx::TypeProto::Tensor& tt = info.type().tensor_type();
  const TensorType& actual = it->second.type();
  bool match = true;
  std::string declared = OnnxDTypeName(tt.elem_type());
  if (tt.elem_type() != 0) {
    std::optional<DType> dtype = DTypeFromOnnx(tt.elem_type());
    match = dtype && *dtype == actual.dtype;
    if (dtype) declared = std::string(DTypeName(*dtype));
  }
  if (tt.has_shape()) {
    std::vector<std::string> dims;
    match = match && tt.shape().dim_size() == actual.rank();
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const onnx::TensorShapeProto::Dimension& d = tt.shape().dim(i);
      if (d.has_dim_value()) {
        match = match && i < actual.rank() && d.dim_value() == actual.dims[i];
        dims.push_back(absl::StrCat(d.dim_value()));
      } else {
        dims.push_back(d.dim_param().empty() ? "?" : d.dim_param());
      }
    }
    absl::StrAppend(&declared, "[", absl::StrJoin(dims, ","), "]");
  }
  if (match) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("ONNX value '", info.name(), "' is declared as ", declared,
                   " but imports as ", actual.ToString()));
}

absl::StatusOr<Graph> Importer::Run() {
  ADC_RETURN_IF_ERROR(CheckModel());
  const onnx::GraphProto& graph = model_.graph();
  absl::flat_hash_set<std::string> static_uses, tensor_uses, static_only;
  CollectUses(graph, &static_uses, &tensor_uses);
  for (const std::string& name : static_uses) {
    if (!tensor_uses.contains(name)) static_only.insert(name);
  }
  // Inputs first, then parameters (the default order of gradients).
  ADC_RETURN_IF_ERROR(AddInputs());
  ADC_RETURN_IF_ERROR(AddInitializers(static_only));
  for (int i = 0; i < graph.node_size(); ++i) {
    ADC_RETURN_IF_ERROR(ImportNode(graph.node(i), i));
  }
  for (const onnx::ValueInfoProto& out : graph.output()) {
    absl::StatusOr<Value> v = Lookup(out.name());
    if (!v.ok()) {
      return Annotate(v.status(),
                      absl::StrCat("graph output '", out.name(), "'"));
    }
    b_.Output(out.name(), *v);
    if (!b_.ok()) return b_.status();
  }
  for (const onnx::ValueInfoProto& info : graph.output()) {
    ADC_RETURN_IF_ERROR(CheckDeclaredType(info));
  }
  for (const onnx::ValueInfoProto& info : graph.value_info()) {
    ADC_RETURN_IF_ERROR(CheckDeclaredType(info));
  }
  for (const onnx::ValueInfoProto& info : inferred_) {
    ADC_RETURN_IF_ERROR(
        Annotate(CheckDeclaredType(info), "ONNX shape inference disagrees"));
  }
  return b_.Build();
}

}  // namespace
}  // namespace onnx_import

absl::StatusOr<Graph> ImportOnnxModel(const onnx::ModelProto& model,
                                      const ImportOptions& options,
                                      const std::string& model_dir) {
  if (model.graph().node_size() > options.limits.max_nodes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the model has ", model.graph().node_size(),
        " nodes, more than the limit of ", options.limits.max_nodes,
        " (GraphLimits::max_nodes, adc --max_graph_nodes)"));
  }
  return onnx_import::Importer(model, options, model_dir).Run();
}

namespace {

constexpr char kNotAModel[] =
    "not an ONNX model: the bytes do not parse as an onnx.ModelProto";

}  // namespace

absl::StatusOr<Graph> ImportOnnxBytes(const std::string& bytes,
                                      const ImportOptions& options,
                                      const std::string& model_dir) {
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(kNotAModel);
  }
  return ImportOnnxModel(model, options, model_dir);
}

absl::StatusOr<onnx::ModelProto> ReadOnnxModel(const std::string& path,
                                               int64_t max_bytes) {
  absl::StatusOr<std::string> bytes = ReadFileAtMost(
      path, max_bytes, "GraphLimits::max_file_bytes, adc --max_graph_bytes");
  if (!bytes.ok()) return bytes.status();
  onnx::ModelProto model;
  if (!model.ParseFromString(*bytes)) {
    return onnx_import::Annotate(absl::InvalidArgumentError(kNotAModel), path);
  }
  return model;
}

std::string OnnxModelDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

absl::StatusOr<Graph> ImportOnnx(const std::string& path,
                                 const ImportOptions& options) {
  absl::StatusOr<onnx::ModelProto> model =
      ReadOnnxModel(path, options.limits.max_file_bytes);
  if (!model.ok()) return model.status();
  absl::StatusOr<Graph> graph =
      ImportOnnxModel(*model, options, OnnxModelDir(path));
  if (!graph.ok()) return onnx_import::Annotate(graph.status(), path);
  return graph;
}

std::vector<std::string> StaticOperandInputs(const onnx::ModelProto& model) {
  const onnx::GraphProto& graph = model.graph();
  absl::flat_hash_set<std::string> static_uses, tensor_uses, inits;
  onnx_import::CollectUses(graph, &static_uses, &tensor_uses);
  for (const onnx::TensorProto& init : graph.initializer()) {
    inits.insert(init.name());
  }
  absl::flat_hash_map<std::string, const onnx::NodeProto*> producer;
  for (const onnx::NodeProto& node : graph.node()) {
    for (const std::string& out : node.output()) producer[out] = &node;
  }
  // Walk back from the static operands through the nodes computing them;
  // Shape and Size need only static shapes, not values.
  std::vector<std::string> work(static_uses.begin(), static_uses.end());
  absl::flat_hash_set<std::string> needed(static_uses.begin(),
                                          static_uses.end());
  while (!work.empty()) {
    const std::string name = work.back();
    work.pop_back();
    auto it = producer.find(name);
    if (it == producer.end() || it->second->op_type() == "Shape" ||
        it->second->op_type() == "Size") {
      continue;
    }
    for (const std::string& in : it->second->input()) {
      if (!in.empty() && needed.insert(in).second) work.push_back(in);
    }
  }
  std::vector<std::string> names;
  for (const onnx::ValueInfoProto& in : graph.input()) {
    if (needed.contains(in.name()) && !inits.contains(in.name())) {
      names.push_back(in.name());
    }
  }
  return names;
}

std::vector<std::string> SupportedOnnxOps() {
  std::vector<std::string> ops;
  for (const auto& [name, op] : onnx_import::OpTable()) ops.push_back(name);
  return ops;
}

}  // namespace adc
