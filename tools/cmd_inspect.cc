// adc inspect IN.pb|OUT.so [--plan [--optimize=false]]
#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "codegen/compile.h"
#include "graph/check.h"
#include "graph/ops/op_def.h"
#include "runtime/artifact_abi.h"
#include "tools/commands.h"

ABSL_FLAG(bool, plan, false,
          "For a graph: also print the fusion plan code generation follows "
          "(codegen/fusion_plan.h): which values are computed into buffers "
          "of their own, why, and in which stage; everything else is fused "
          "into its consumers.");
ABSL_DECLARE_FLAG(bool, optimize);  // tools/cmd_compile.cc

namespace adc::cli {
namespace {

// Prints rows of cells as left-aligned columns, indented by two spaces.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line = " ";
    for (size_t i = 0; i < row.size(); ++i) {
      line += " " + row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
}

std::string Elements(int64_t n) {
  return absl::StrCat(n, n == 1 ? " element" : " elements");
}

absl::Status InspectGraph(const std::string& path) {
  int version = 0;
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(path, &version));
  std::cout << "graph " << graph.name() << "\n";
  std::cout << "format version " << version << "\n";

  const std::vector<ValueId> inputs = graph.inputs();
  std::cout << "inputs (" << inputs.size() << ")\n";
  std::vector<std::vector<std::string>> rows;
  for (ValueId id : inputs) {
    rows.push_back({graph.node(id).name, graph.type(id).ToString()});
  }
  PrintTable(rows);

  const std::vector<ValueId> parameters = graph.parameters();
  int64_t total = 0;
  rows.clear();
  for (ValueId id : parameters) {
    const int64_t n = graph.type(id).num_elements();
    total += n;
    rows.push_back(
        {graph.node(id).name, graph.type(id).ToString(), Elements(n)});
  }
  std::cout << "parameters (" << parameters.size() << ", " << Elements(total)
            << ")\n";
  PrintTable(rows);

  std::cout << "outputs (" << graph.outputs().size() << ")\n";
  rows.clear();
  for (const GraphOutput& out : graph.outputs()) {
    const Node& node = graph.node(out.value);
    std::vector<std::string> row = {out.name, node.type.ToString(),
                                    absl::StrCat("= ", node.name)};
    if (out.is_gradient) {
      row.push_back(node.grad_level > 0
                        ? absl::StrCat("gradient (level ", node.grad_level, ")")
                        : "gradient");
    }
    rows.push_back(std::move(row));
  }
  PrintTable(rows);

  // Op counts (leaves included, so the counts add up to the node count).
  std::map<std::string, int> ops;
  std::map<int, int> levels;
  for (const Node& node : graph.nodes()) {
    ++ops[GetOpDef(node.op).name];
    ++levels[node.grad_level];
  }
  std::cout << "nodes (" << graph.num_nodes() << ")\n";
  rows.clear();
  for (const auto& [op, count] : ops) rows.push_back({op, absl::StrCat(count)});
  PrintTable(rows);
  std::cout << "grad levels (" << levels.size() << ")\n";
  rows.clear();
  for (const auto& [level, count] : levels) {
    rows.push_back({absl::StrCat(level),
                    level == 0 ? "forward" : absl::StrCat("autodiff #", level),
                    absl::StrCat(count, count == 1 ? " node" : " nodes")});
  }
  PrintTable(rows);
  // The function library (custom gradients), with signatures.
  if (graph.has_functions()) {
    const std::vector<std::string> names = graph.function_names();
    std::cout << "functions (" << names.size() << ")\n";
    rows.clear();
    for (const std::string& name : names) {
      const Graph& body = *graph.function(name);
      std::vector<std::string> in, out;
      for (ValueId id : body.inputs()) in.push_back(body.type(id).ToString());
      for (const GraphOutput& o : body.outputs()) {
        out.push_back(body.type(o.value).ToString());
      }
      rows.push_back(
          {name,
           absl::StrCat("(", absl::StrJoin(in, ", "), ") -> (",
                        absl::StrJoin(out, ", "), ")"),
           absl::StrCat(body.num_nodes() - body.inputs().size(), " nodes")});
    }
    PrintTable(rows);
  }
  if (absl::GetFlag(FLAGS_plan)) {
    CompileOptions options;
    options.optimize = absl::GetFlag(FLAGS_optimize);
    ADC_ASSIGN_OR_RETURN(std::string plan, DescribeFusionPlan(graph, options));
    std::cout << "fusion plan: " << plan;
  }
  return absl::OkStatus();
}

absl::Status InspectArtifact(const std::string& path) {
  ADC_ASSIGN_OR_RETURN(std::unique_ptr<rt::Module> module, LoadArtifact(path));
  const rt::Signature& s = module->signature();
  std::cout << "artifact " << path << "\n";
  std::cout << "graph " << s.graph_name << "\n";
  std::cout << "target " << s.target << "\n";
  // Load() rejects artifacts of any other ABI version.
  std::cout << "abi version " << ADC_ABI_VERSION << "\n";

  std::cout << "inputs (" << s.inputs.size() << ")\n";
  std::vector<std::vector<std::string>> rows;
  for (const rt::ArgSpec& a : s.inputs)
    rows.push_back({a.name, a.TypeString()});
  PrintTable(rows);

  int64_t total = 0;
  rows.clear();
  for (const rt::ArgSpec& a : s.parameters) {
    total += a.num_elements();
    rows.push_back({a.name, a.TypeString(), Elements(a.num_elements())});
  }
  std::cout << "parameters (" << s.parameters.size() << ", " << Elements(total)
            << ")\n";
  PrintTable(rows);

  std::cout << "outputs (" << s.outputs.size() << ")\n";
  rows.clear();
  for (const rt::ArgSpec& a : s.outputs) {
    std::vector<std::string> row = {a.name, a.TypeString()};
    if (a.is_gradient) row.push_back("gradient");
    rows.push_back(std::move(row));
  }
  PrintTable(rows);

  // Measured over one run on zero inputs (the sizes do not depend on the
  // values).
  std::map<std::string, rt::Tensor> zeros;
  for (const rt::ArgSpec& a : s.inputs)
    zeros[a.name] = rt::Tensor(a.dtype, a.dims);
  module->PeakIntermediateBytes(/*reset=*/true);
  auto run = module->Run(zeros);
  if (!run.ok()) {
    return absl::InternalError("running the artifact on zeros failed: " +
                               run.status().message());
  }
  const int64_t peak = module->PeakIntermediateBytes();
  if (peak < 0) {
    std::cout << "peak intermediate memory: not measured by this artifact\n";
  } else {
    std::cout << absl::StrFormat(
        "peak intermediate memory %d bytes (%.1f MiB; one run on zero "
        "inputs)\n",
        peak, peak / 1048576.0);
  }
  return absl::OkStatus();
}

absl::Status RunInspect(const Args& args) {
  const std::string& path = args.positional[0];
  if (IsSharedLibrary(path)) return InspectArtifact(path);
  return InspectGraph(path);
}

}  // namespace

Command InspectCommand() {
  return {
      "inspect",
      "IN.pb|OUT.so [--plan [--optimize=false]]",
      "describe a graph or a compiled artifact",
      "For a graph (.pb or .pbtxt): its name, format version, inputs,\n"
      "parameters (with element counts), outputs (gradient outputs marked),\n"
      "dtypes and shapes, node counts by op and by autodiff level; with\n"
      "--plan, the fusion plan of its compiled code (values computed into\n"
      "buffers, the reason and the stage; optimized first unless\n"
      "--optimize=false).\n"
      "For a compiled artifact (a shared library): its embedded signature\n"
      "(inputs, parameters, outputs, dtypes, shapes), target and ABI version,\n"
      "and its peak intermediate memory (measured over one run on zero\n"
      "inputs: the sizes do not depend on the values).",
      {{"plan", ""}, {"optimize", ""}},
      {"IN.pb|OUT.so"},
      RunInspect,
  };
}

}  // namespace adc::cli
