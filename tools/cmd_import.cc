// adc import MODEL.onnx -o OUT.pb [--input-shape NAME=D0,D1,...]...
#include <map>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "graph/check.h"
#include "tools/commands.h"
#include "tools/onnx/importer.h"

ABSL_FLAG(std::vector<std::string>, input_shape, {},
          "Static shape for a graph input declared with symbolic or unknown "
          "dims, e.g. --input-shape x=8,784 (a fixed batch size); '' for a "
          "scalar. Repeat for each input.");

namespace adc::cli {
namespace {

absl::StatusOr<std::map<std::string, Dims>> ParseInputShapes(
    const std::vector<std::string>& values) {
  std::map<std::string, Dims> shapes;
  for (const std::string& value : values) {
    const size_t eq = value.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError("import", absl::StrCat("--input-shape '", value,
                                               "': expected NAME=D0,D1,..."));
    }
    const std::string name = value.substr(0, eq);
    Dims dims;
    for (absl::string_view d :
         absl::StrSplit(value.substr(eq + 1), ',', absl::SkipEmpty())) {
      int64_t n;
      if (!absl::SimpleAtoi(d, &n) || n < 0) {
        return UsageError("import",
                          absl::StrCat("--input-shape '", value, "': '", d,
                                       "' is not a dimension"));
      }
      dims.push_back(n);
    }
    if (!shapes.emplace(name, dims).second) {
      return UsageError("import", absl::StrCat("--input-shape: input '", name,
                                               "' is given twice"));
    }
  }
  return shapes;
}

absl::Status RunImport(const Args& args) {
  const std::string out = absl::GetFlag(FLAGS_o);
  if (out.empty()) return UsageError("import", "missing -o OUT.pb");
  ImportOptions options;
  options.limits = CliGraphLimits();
  ADC_ASSIGN_OR_RETURN(options.input_dims,
                       ParseInputShapes(args.Repeated("input-shape")));
  ADC_ASSIGN_OR_RETURN(Graph graph, ImportOnnx(args.positional[0], options));
  return SaveGraphFile(graph, out);
}

}  // namespace

Command ImportCommand() {
  return {
      "import",
      "MODEL.onnx -o OUT.pb [--input-shape NAME=D0,D1,...]...",
      "convert an ONNX model to an adc graph",
      "Converts an ONNX model to an adc graph: initializers become parameters\n"
      "(with their stored values), the other graph inputs become inputs, "
      "graph\n"
      "outputs keep their names. Inputs with symbolic dims (e.g. a batch\n"
      "size) need --input-shape.",
      {{"o", "OUT.pb",
        "Where to write the graph (required; .pbtxt for text format)."},
       {"input-shape", "NAME=D0,D1,...", "", /*repeated=*/true}},
      {"MODEL.onnx"},
      RunImport,
  };
}

}  // namespace adc::cli
