// Loading a model's state from an ONNX file: PyTorch's load_state_dict for
// a graph built with the builder. torch.onnx.export names a model's
// initializers after its state_dict ("conv1.weight", "bn1.running_mean",
// ...), so a builder model with torchvision's parameter names takes a
// torchvision model's trained values:
//
//   absl::StatusOr<adc::Graph> g = adc::train::ResNet18(1, 224, 1000, 0,
//                                                        false);
//   absl::StatusOr<std::vector<std::string>> unused =
//       adc::LoadOnnxState("resnet18.onnx", &*g);
//
// Every parameter of the graph takes the value of the initializer of the
// same name, exactly: no dtype conversion, no reshaping. Errors (the graph
// is then unchanged):
// - NotFound, listing the parameters the file has no initializer for
//   (PyTorch's "missing keys");
// - InvalidArgument naming the parameter when the initializer's dtype or
//   shape differs: "m.onnx: parameter 'fc.weight': the ONNX initializer
//   is f32[10,512], the graph's parameter f32[100,512]";
// - the errors of reading the file (ReadOnnxModel) and of converting the
//   initializer (TensorFromOnnx: an unsupported dtype, data missing or of
//   the wrong size), with the path in front.
// A graph with optimizer state (AddTrainStep) has parameters no exported
// model holds: load into the model before adding the training step.
#ifndef ADC_TOOLS_ONNX_STATE_H_
#define ADC_TOOLS_ONNX_STATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace adc {

// Sets the stored values of `graph`'s parameters from the initializers of
// the ONNX model in `path` (external data relative to its directory).
// Returns the names of the initializers no parameter took, in file order
// (PyTorch's "unexpected keys": constants of the exported graph, or state
// the graph lacks); whether they matter is the caller's decision.
absl::StatusOr<std::vector<std::string>> LoadOnnxState(const std::string& path,
                                                       Graph* graph);

}  // namespace adc

#endif  // ADC_TOOLS_ONNX_STATE_H_
