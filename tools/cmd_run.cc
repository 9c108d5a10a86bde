// adc run OUT.so [--in NAME=FILE.npy]... [--out-dir DIR] [--threads N]
// adc run --interpret GRAPH.pb [--in NAME=FILE.npy]... [--out-dir DIR]
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/interpreter.h"
#include "tools/commands.h"
#include "tools/npy.h"

ABSL_FLAG(std::string, out_dir, ".",
          "Directory for the outputs, created if missing (default: the current "
          "directory).");
ABSL_FLAG(bool, interpret, false,
          "The positional argument is a graph (.pb/.pbtxt): evaluate it with "
          "the reference interpreter instead of running compiled code.");

namespace adc::cli {
namespace {

// One output to write.
struct OutputFile {
  std::string name;
  std::string path;
  DType dtype;
  Dims dims;
  std::vector<uint8_t> bytes;
};

// Creates the output directory and checks that no two outputs map to the same
// file ("a/b" and "a_b" both become a_b.npy).
absl::StatusOr<std::string> PrepareOutputDir(
    const std::vector<std::string>& output_names) {
  const std::string dir = absl::GetFlag(FLAGS_out_dir);
  std::error_code error;
  if (!dir.empty()) std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat(
        "--out-dir: cannot create '", dir, "': ", error.message()));
  }
  std::map<std::string, std::string> by_path;
  for (const std::string& name : output_names) {
    auto [it, inserted] = by_path.emplace(OutputPath(dir, name), name);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("outputs '", it->second, "' and '", name,
                       "' would both be written to '", it->first, "'"));
    }
  }
  return dir;
}

absl::Status WriteOutputs(const std::vector<OutputFile>& outputs) {
  for (const OutputFile& out : outputs) {
    ADC_RETURN_IF_ERROR(WriteNpy(out.path, out.dtype, out.dims, out.bytes));
    std::cout << out.name << " " << TensorType{out.dtype, out.dims}.ToString()
              << " -> " << out.path << "\n";
  }
  return absl::OkStatus();
}

absl::Status Interpret(const Args& args) {
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  ADC_ASSIGN_OR_RETURN(auto arrays,
                       ReadFeeds("run", args.Repeated("in"), GraphArgs(graph),
                                 /*require_inputs=*/true));
  std::map<std::string, Tensor> feeds;
  for (const auto& [name, array] : arrays) {
    ADC_ASSIGN_OR_RETURN(feeds[name], NpyToTensor(array));
  }
  std::vector<std::string> names;
  for (const GraphOutput& out : graph.outputs()) names.push_back(out.name);
  ADC_ASSIGN_OR_RETURN(const std::string dir, PrepareOutputDir(names));
  ADC_ASSIGN_OR_RETURN(auto results, adc::Interpret(graph, feeds));
  std::vector<OutputFile> outputs;
  for (const GraphOutput& out : graph.outputs()) {
    const Tensor& t = results.at(out.name);
    outputs.push_back({out.name, OutputPath(dir, out.name), t.dtype(), t.dims(),
                       t.ToBytes()});
  }
  return WriteOutputs(outputs);
}

absl::Status RunCompiled(const Args& args) {
  ADC_ASSIGN_OR_RETURN(std::unique_ptr<rt::Module> module,
                       LoadArtifact(args.positional[0]));
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0) return UsageError("run", "--threads must be 0 or more");
  module->set_num_threads(threads);
  const rt::Signature& signature = module->signature();
  ADC_ASSIGN_OR_RETURN(auto arrays, ReadFeeds("run", args.Repeated("in"),
                                              SignatureArgs(signature),
                                              /*require_inputs=*/true));
  std::map<std::string, rt::Tensor> inputs;
  for (const auto& [name, array] : arrays) {
    rt::Tensor t(ToRuntime(array.dtype), array.dims);
    ADC_CHECK(t.size_bytes() == array.data.size());
    if (!array.data.empty()) {
      std::memcpy(t.data(), array.data.data(), array.data.size());
    }
    inputs.emplace(name, std::move(t));
  }
  std::vector<std::string> names;
  for (const rt::ArgSpec& spec : signature.outputs) names.push_back(spec.name);
  ADC_ASSIGN_OR_RETURN(const std::string dir, PrepareOutputDir(names));
  rt::StatusOr<std::map<std::string, rt::Tensor>> results = module->Run(inputs);
  if (!results.ok()) {
    return absl::InternalError(
        absl::StrCat(args.positional[0], ": ", results.status().message()));
  }
  std::vector<OutputFile> outputs;
  for (const rt::ArgSpec& spec : signature.outputs) {
    auto it = results->find(spec.name);
    if (it == results->end()) {
      return absl::InternalError(
          absl::StrCat("the runtime returned no output '", spec.name, "'"));
    }
    const rt::Tensor& t = it->second;
    const auto* data = static_cast<const uint8_t*>(t.data());
    outputs.push_back({spec.name, OutputPath(dir, spec.name),
                       FromRuntime(t.dtype()), t.dims(),
                       std::vector<uint8_t>(data, data + t.size_bytes())});
  }
  return WriteOutputs(outputs);
}

absl::Status RunRun(const Args& args) {
  if (absl::GetFlag(FLAGS_interpret)) return Interpret(args);
  return RunCompiled(args);
}

}  // namespace

Command RunCommand() {
  return {
      "run",
      "OUT.so [--in NAME=FILE.npy]... [--out-dir DIR] [--threads N]\n"
      "       adc run --interpret GRAPH.pb [--in NAME=FILE.npy]... "
      "[--out-dir DIR]",
      "run a compiled artifact (or interpret a graph) on .npy inputs",
      "Runs a compiled artifact on inputs read from NumPy .npy files and\n"
      "writes every output to DIR/<output>.npy ('/' in an output name becomes\n"
      "'_'), printing one line per output. Every input must be given with\n"
      "--in; parameters use their stored values unless --in overrides them.\n"
      "Each file must hold exactly the argument's dtype and shape\n"
      "(little-endian, C order; f32, f64, i32, i64 or bool).\n"
      "\n"
      "With --interpret, the positional argument is a graph (.pb or .pbtxt),\n"
      "evaluated by the reference interpreter (the oracle for compiled code;\n"
      "--threads does not apply).",
      {{"in", "NAME=FILE.npy", "", /*repeated=*/true},
       {"out-dir", "DIR"},
       {"threads", "N"},
       {"interpret", ""}},
      {"OUT.so"},
      RunRun,
  };
}

}  // namespace adc::cli
