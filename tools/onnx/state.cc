#include "tools/onnx/state.h"

#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx/onnx_pb.h"
#include "tools/onnx/importer.h"
#include "tools/onnx/onnx_tensor.h"

namespace adc {

absl::StatusOr<std::vector<std::string>> LoadOnnxState(const std::string& path,
                                                       Graph* graph) {
  absl::StatusOr<onnx::ModelProto> model = ReadOnnxModel(path);
  if (!model.ok()) return model.status();
  std::map<std::string, const onnx::TensorProto*> initializers;
  for (const onnx::TensorProto& t : model->graph().initializer()) {
    initializers.emplace(t.name(), &t);
  }
  // Every value is converted and checked before any parameter changes.
  std::vector<std::pair<ValueId, Tensor>> values;
  std::vector<std::string> missing;
  for (ValueId id : graph->parameters()) {
    const std::string& name = graph->node(id).name;
    auto it = initializers.find(name);
    if (it == initializers.end()) {
      missing.push_back(name);
      continue;
    }
    absl::StatusOr<Tensor> value =
        TensorFromOnnx(*it->second, OnnxModelDir(path));
    if (!value.ok()) return onnx_import::Annotate(value.status(), path);
    if (value->type() != graph->type(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": parameter '", name,
                       "': the ONNX initializer is ", value->type().ToString(),
                       ", the graph's parameter ", graph->type(id).ToString()));
    }
    values.emplace_back(id, *std::move(value));
    initializers.erase(it);
  }
  if (!missing.empty()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no initializer for ", missing.size(), " of the ",
                     graph->parameters().size(), " parameters of graph '",
                     graph->name(), "': ", absl::StrJoin(missing, ", ")));
  }
  for (auto& [id, value] : values) {
    graph->mutable_node(id).attrs.Set("value", std::move(value));
  }
  std::vector<std::string> unused;
  for (const onnx::TensorProto& t : model->graph().initializer()) {
    if (initializers.count(t.name())) unused.push_back(t.name());
  }
  return unused;
}

}  // namespace adc
