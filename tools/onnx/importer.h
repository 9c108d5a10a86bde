// ONNX import: reads an ONNX model (the protobuf schema of Debian's libonnx)
// and builds an adc graph with the GraphBuilder, so broadcasting, dtype
// promotion and shape rules are the builder's.
//
//   absl::StatusOr<adc::Graph> g = adc::ImportOnnx("mlp.onnx");
//
// The mapping:
// - Initializers become parameters with their ONNX names and stored values;
//   an initializer that is also listed as a graph input is a parameter. An
//   initializer used only as a static operand (a Reshape's shape, Squeeze's
//   axes, Pad's pads, Slice's bounds, ...) is folded into the graph and is not
//   a parameter (overriding it at run time could not change the shapes).
// - The other graph inputs become inputs. Their shapes must be static: a
//   symbolic or unknown dimension is an error naming the input, unless
//   ImportOptions::input_dims pins it.
// - Graph outputs become outputs with the same names.
// - Each node output that the import computes as a new value keeps its ONNX
//   name (so users can take gradients w.r.t. intermediates by name); helper
//   nodes are named "<onnx node name>/<op>". An output that is an existing
//   value (Identity, a no-op Reshape, ...) is that value, under its first name.
// - Static operands must be known at import time: initializers, Constant
//   nodes, ImportOptions::constant_inputs, or ops on those (folded with the
//   reference kernels). A static operand computed from a graph input is an
//   error naming the node, the operand and the input.
//
// Errors are absl::Status, never crashes: a file that does not parse or fails
// onnx::checker is InvalidArgument; unsupported ops (one error listing every
// unsupported op type of the model with its node count), unsupported
// attribute variants (e.g. Pad mode 'reflect') and unsupported dtypes
// (float16, uint8, string, ...; naming the value) are Unimplemented; static
// operands or shapes that are not static are FailedPrecondition; errors of a
// node say which node.
//
// Ops of the default domain, opsets 1 to 17; SupportedOnnxOps() lists them,
// from the table whose fragments each op family's file contributes (each op's
// import beside its rows, with its ONNX semantics in a comment):
//   tools/onnx/ops_elementwise.cc  arithmetic, unary functions, activations,
//                                  comparisons and logic, Where, Clip, casts;
//   tools/onnx/ops_linalg.cc       Gemm, MatMul;
//   tools/onnx/ops_reduction.cc    Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax;
//   tools/onnx/ops_shape.cc        reshapes, slicing, gathers, concatenation,
//                                  padding (constant mode), Shape, Size, ...;
//   tools/onnx/ops_constant.cc     Constant, ConstantOfShape, Range (of
//                                  static operands);
//   tools/onnx/ops_layers.cc       BatchNormalization (both modes),
//                                  Instance- and LayerNormalization,
//                                  Dropout (both modes; training mode's
//                                  seed is the node's `seed` attribute,
//                                  else an i64 scalar parameter
//                                  "dropout_seed" (stored 0) fed per
//                                  step).
// Attribute-vs-input forms (Squeeze, Unsqueeze and ReduceSum axes; Slice
// bounds; Clip bounds; Pad pads and value; Split sizes) are both accepted,
// and Softmax/LogSoftmax follow the model's opset (before 13: coerced to
// 2-D at `axis`). Gather and GatherElements clamp out-of-range indices (an
// error in ONNX); integer division truncates toward zero.
#ifndef ADC_TOOLS_ONNX_IMPORTER_H_
#define ADC_TOOLS_ONNX_IMPORTER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "graph/serialize.h"
#include "graph/types.h"
#include "onnx/onnx_pb.h"

namespace adc {

struct ImportOptions {
  // Values for graph inputs that are used as static operands (e.g. a shape
  // fed as a graph input): these inputs become constants. Every name must be
  // a graph input of the model.
  std::map<std::string, Tensor> constant_inputs;
  // Static dims for graph inputs declared with symbolic or unknown dims (like
  // a fixed batch size); they must agree with the dims that are declared.
  std::map<std::string, Dims> input_dims;
  // Limits on the model file's size and its node count (as for graph files;
  // the graph that results is held to them too).
  GraphLimits limits;
};

// Imports the model in `path` (external tensor data is read relative to the
// model's directory).
absl::StatusOr<Graph> ImportOnnx(const std::string& path,
                                 const ImportOptions& options = {});

// Reads and parses the model file `path`, without further checks: NotFound
// if it cannot be opened, InvalidArgument (naming the file) if it does not
// parse as an onnx.ModelProto.
absl::StatusOr<onnx::ModelProto> ReadOnnxModel(
    const std::string& path, int64_t max_bytes = GraphLimits().max_file_bytes);
// The directory of the model file `path` (where its external tensor data
// lives): "." for a bare file name.
std::string OnnxModelDir(const std::string& path);

// Imports a serialized ModelProto. `model_dir` is where external tensor data
// lives ("" if the model has none).
absl::StatusOr<Graph> ImportOnnxBytes(const std::string& bytes,
                                      const ImportOptions& options = {},
                                      const std::string& model_dir = "");

// Imports a parsed ModelProto.
absl::StatusOr<Graph> ImportOnnxModel(const onnx::ModelProto& model,
                                      const ImportOptions& options = {},
                                      const std::string& model_dir = "");

// The graph inputs (not initializers) whose values static operands depend on
// (directly, or through the nodes computing them; Shape and Size need only
// shapes), in graph-input order: an import needs their values in
// ImportOptions::constant_inputs.
std::vector<std::string> StaticOperandInputs(const onnx::ModelProto& model);

// Converts an ONNX tensor (raw or typed data, or external data relative to
// `model_dir`). Unsupported dtypes are Unimplemented and name the tensor.
absl::StatusOr<Tensor> TensorFromOnnx(const onnx::TensorProto& tensor,
                                      const std::string& model_dir = "");

// The ONNX op types the importer supports (default domain), sorted.
std::vector<std::string> SupportedOnnxOps();

}  // namespace adc

#endif  // ADC_TOOLS_ONNX_IMPORTER_H_
