// What the import of one ONNX node sees (internal to the importer): NodeCtx
// (the node's inputs, attributes and static operands, and its errors), the
// entry of an op type in the importer's table, the per-family table fragments
// (tools/onnx/ops_*.cc, merged by importer.cc) and small helpers the op
// imports share.
#ifndef ADC_TOOLS_ONNX_NODE_CTX_H_
#define ADC_TOOLS_ONNX_NODE_CTX_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "graph/builder.h"
#include "graph/types.h"
#include "onnx/onnx_pb.h"

namespace adc::onnx_import {

using Outs = std::vector<Value>;

// The value of an ONNX name at import time (the importer folds what static
// operands are computed from).
using StaticValueFn =
    std::function<absl::StatusOr<Tensor>(const std::string& name)>;

// The context of one node's import.
class NodeCtx {
 public:
  // `inputs` has a valid Value for each tensor input the node gives (none
  // for static operands, which come from `static_value`).
  NodeCtx(GraphBuilder* b, StaticValueFn static_value,
          const onnx::NodeProto& node, int opset, std::vector<Value> inputs)
      : b_(b),
        static_value_(std::move(static_value)),
        node_(node),
        opset_(opset),
        inputs_(std::move(inputs)) {}

  GraphBuilder& b() { return *b_; }
  int opset() const { return opset_; }
  const onnx::NodeProto& node() const { return node_; }
  // Whether input i is given (optional inputs may be absent or "").
  bool Has(int i) const {
    return i < node_.input_size() && !node_.input(i).empty();
  }
  // Whether output i is wanted.
  bool Wants(int i) const {
    return i < node_.output_size() && !node_.output(i).empty();
  }
  // A tensor input (valid for every required input; the importer checks
  // arity before calling the op's import).
  Value In(int i) {
    if (i < static_cast<int>(inputs_.size()) && inputs_[i].valid()) {
      return inputs_[i];
    }
    Error("input ", i, " is missing");
    return Value();
  }
  // All given inputs (variadic ops).
  std::vector<Value> Variadic() {
    std::vector<Value> xs;
    for (const Value& v : inputs_) {
      if (v.valid()) xs.push_back(v);
    }
    return xs;
  }

  // A static operand: its value at import time.
  Tensor Static(int i);
  // A static operand of integers (1-D, or a scalar).
  std::vector<int64_t> StaticInts(int i);
  // A static operand with one element.
  double StaticScalar(int i);

  // Attributes. A missing attribute gives the default; one of the wrong type
  // is an error.
  const onnx::AttributeProto* Attr(absl::string_view name) const {
    for (const onnx::AttributeProto& a : node_.attribute()) {
      if (a.name() == name) return &a;
    }
    return nullptr;
  }
  bool HasAttr(absl::string_view name) const { return Attr(name) != nullptr; }
  int64_t Int(absl::string_view name, int64_t def) {
    const onnx::AttributeProto* a = Typed(name, onnx::AttributeProto::INT);
    return a ? a->i() : def;
  }
  double Float(absl::string_view name, double def) {
    const onnx::AttributeProto* a = Typed(name, onnx::AttributeProto::FLOAT);
    return a ? a->f() : def;
  }
  std::string Str(absl::string_view name, std::string def) {
    const onnx::AttributeProto* a = Typed(name, onnx::AttributeProto::STRING);
    return a ? a->s() : def;
  }
  std::optional<std::vector<int64_t>> OptInts(absl::string_view name) {
    const onnx::AttributeProto* a = Typed(name, onnx::AttributeProto::INTS);
    if (!a) return std::nullopt;
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  std::vector<int64_t> RequiredInts(absl::string_view name) {
    std::optional<std::vector<int64_t>> v = OptInts(name);
    if (!v && ok()) Error("attribute '", name, "' is required");
    return v ? *v : std::vector<int64_t>();
  }
  // Integers given as static input i (newer opsets) or else as attribute
  // `name` (older ones); nullopt if neither is.
  std::optional<std::vector<int64_t>> IntsInputOrAttr(int i,
                                                      absl::string_view name) {
    if (Has(i)) return StaticInts(i);
    return OptInts(name);
  }

  // Records the first error; later ones are dropped. Returns no outputs.
  Outs Fail(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
    return {};
  }
  template <typename... Args>
  Outs Error(const Args&... args) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(args...)));
  }
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  const onnx::AttributeProto* Typed(absl::string_view name,
                                    onnx::AttributeProto::AttributeType type) {
    const onnx::AttributeProto* a = Attr(name);
    if (a == nullptr) return nullptr;
    if (a->type() != type) {
      Error("attribute '", name, "' has type ",
            onnx::AttributeProto::AttributeType_Name(a->type()), ", expected ",
            onnx::AttributeProto::AttributeType_Name(type));
      return nullptr;
    }
    return a;
  }

  GraphBuilder* b_;
  StaticValueFn static_value_;
  const onnx::NodeProto& node_;
  int opset_;
  std::vector<Value> inputs_;
  absl::Status status_;
};

// ---------------------------------------------------------------------------
// The table of supported ops: one fragment per op family, each op's import
// next to its rows. An import builds the node's outputs with the builder in
// ONNX's semantics. Its inputs are valid Values; attributes and static
// operands may fail (recorded in the context), so no accessor of a Value
// derived from them is used unchecked.
// ---------------------------------------------------------------------------
using ImportFn = Outs (*)(NodeCtx& c);
struct OpImport {
  ImportFn fn;
  int min_inputs;
  // Operands needed at import time (shapes, axes, pads, bounds, ...).
  std::vector<int> static_inputs;
  // For an attribute value the import does not support (Pad's mode
  // 'reflect'): its description ("Pad with mode 'reflect'"), counted in the
  // model's one error that lists unsupported ops; "" for supported ones.
  std::string (*unsupported)(const onnx::AttributeProto& a) = nullptr;
};
struct OnnxOpEntry {
  // Of the default domain; other domains' ops qualified:
  // "ai.onnx.preview.training.Adam".
  std::string op_type;
  OpImport import;
};

std::vector<OnnxOpEntry> ElementwiseOnnxOps();  // ops_elementwise.cc
std::vector<OnnxOpEntry> LinalgOnnxOps();       // ops_linalg.cc
std::vector<OnnxOpEntry> ReductionOnnxOps();    // ops_reduction.cc
std::vector<OnnxOpEntry> ShapeOnnxOps();        // ops_shape.cc
std::vector<OnnxOpEntry> ConstantOnnxOps();     // ops_constant.cc
std::vector<OnnxOpEntry> LayerOnnxOps();        // ops_layers.cc
std::vector<OnnxOpEntry> WindowOnnxOps();       // ops_window.cc
std::vector<OnnxOpEntry> TrainingOnnxOps();     // ops_training.cc

// ---------------------------------------------------------------------------
// Helpers of the op imports.
// ---------------------------------------------------------------------------

// Axis `a` of a rank-r tensor, negative counting from the end; nullopt if
// out of range.
std::optional<int64_t> NormalizeAxis(int64_t a, int64_t r);

Value CastIfNeeded(Value v, DType dtype);

// 0, 1, ..., rank - 1.
std::vector<int64_t> AllAxes(int rank);

}  // namespace adc::onnx_import

#endif  // ADC_TOOLS_ONNX_NODE_CTX_H_
