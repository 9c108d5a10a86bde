#include "tools/cli.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "graph/check.h"
#include "graph/graph.pb.h"
#include "graph/ops/op_kind.h"
#include "graph/serialize.h"

ABSL_FLAG(std::string, o, "", "Output file.");
ABSL_FLAG(
    std::vector<std::string>, in, {},
    "Feeds input or parameter NAME from a NumPy .npy file (little-endian, "
    "C order, exactly the argument's dtype and shape). Repeat for each "
    "input.");
ABSL_FLAG(int, threads, 0,
          "Size of the artifact's thread pool (0: one thread per core).");
ABSL_FLAG(int64_t, max_graph_bytes, adc::GraphLimits().max_file_bytes,
          "Refuses graph and ONNX files larger than this, before reading "
          "them.");
ABSL_FLAG(int64_t, max_graph_nodes, adc::GraphLimits().max_nodes,
          "Refuses graphs (functions included) and ONNX models with more "
          "nodes.");
ABSL_FLAG(int64_t, max_npy_header_bytes, adc::NpyLimits().max_header_bytes,
          "Refuses .npy files whose header is longer, before reading it.");

namespace adc::cli {
namespace {

// Marks a usage error (exit code 2) in the status payload.
constexpr char kUsagePayload[] = "adc.cli/usage";

std::string AbslName(const std::string& name) {
  return absl::StrReplaceAll(name, {{"-", "_"}});
}

// "-o" for one-letter flags, "--name" otherwise.
std::string Dashed(const std::string& name) {
  return name.size() == 1 ? absl::StrCat("-", name) : absl::StrCat("--", name);
}

absl::CommandLineFlag* FindFlag(const FlagUse& use) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(AbslName(use.name));
  ADC_CHECK_MSG(flag != nullptr,
                absl::StrCat("no Abseil flag for --", use.name));
  return flag;
}

const Command* FindCommand(const std::vector<Command>& commands,
                           absl::string_view name) {
  for (const Command& c : commands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Word-wraps `text` to `width` columns; continuation lines are indented by
// `indent` spaces.
std::string Wrap(const std::string& text, size_t width, size_t indent) {
  std::string out;
  size_t column = 0;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (column > 0 && column + 1 + word.size() > width) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = 0;
    } else if (column > 0) {
      out.push_back(' ');
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
  }
  return out;
}

// Limits on input files, accepted by every command.
const std::vector<FlagUse>& LimitFlags() {
  static const auto* flags = new std::vector<FlagUse>{
      {"max-graph-bytes", "N"},
      {"max-graph-nodes", "N"},
      {"max-npy-header-bytes", "N"},
  };
  return *flags;
}

// "  --name METAVAR     help", wrapped, for CommandHelp.
std::string FlagHelpLine(const FlagUse& use) {
  std::string left = Dashed(use.name);
  if (!use.metavar.empty()) absl::StrAppend(&left, " ", use.metavar);
  if (use.repeated) absl::StrAppend(&left, " ...");
  std::string out = absl::StrCat("  ", left);
  if (left.size() < 24) {
    out.append(24 - left.size(), ' ');
  } else {
    absl::StrAppend(&out, "\n", std::string(26, ' '));
  }
  absl::StrAppend(
      &out,
      Wrap(use.help.empty() ? FindFlag(use)->Help() : use.help, 80 - 26, 26),
      "\n");
  return out;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

}  // namespace

const std::vector<std::string>& Args::Repeated(const std::string& flag) const {
  static const std::vector<std::string>& empty =
      *new std::vector<std::string>();
  auto it = repeated.find(flag);
  return it == repeated.end() ? empty : it->second;
}

absl::Status UsageError(const std::string& command,
                        const std::string& message) {
  absl::Status status = absl::InvalidArgumentError(
      absl::StrCat(message, " (see 'adc ", command, " --help')"));
  status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

absl::StatusOr<Args> ParseArgs(const Command& command,
                               const std::vector<std::string>& argv) {
  Args args;
  bool flags_done = false;
  std::set<std::string> seen;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      args.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    absl::string_view body =
        absl::string_view(arg).substr(arg[1] == '-' ? 2 : 1);
    std::string name(body);
    std::optional<std::string> value;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
    }
    name = absl::StrReplaceAll(name, {{"_", "-"}});
    if (name == "help" || name == "h") {
      args.help = true;
      continue;
    }
    const FlagUse* use = nullptr;
    for (const FlagUse& f : command.flags) {
      if (f.name == name) use = &f;
    }
    for (const FlagUse& f : LimitFlags()) {
      if (f.name == name) use = &f;
    }
    if (use == nullptr) {
      return UsageError(
          command.name,
          absl::StrCat("unknown flag '", arg.substr(0, arg.find('=')), "'"));
    }
    absl::CommandLineFlag* flag = FindFlag(*use);
    const bool is_bool = flag->IsOfType<bool>();
    if (!value) {
      if (is_bool) {
        value = "true";
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        return UsageError(
            command.name,
            absl::StrCat("flag ", Dashed(use->name), " needs a value (",
                         Dashed(use->name), " ", use->metavar, ")"));
      }
    }
    if (use->repeated) {
      args.repeated[use->name].push_back(*value);
      continue;
    }
    if (!seen.insert(use->name).second) {
      return UsageError(command.name, absl::StrCat("flag ", Dashed(use->name),
                                                   " is given more than once"));
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      const char* expected =
          is_bool                                              ? "true or false"
          : flag->IsOfType<int>() || flag->IsOfType<int64_t>() ? "an integer"
          : flag->IsOfType<double>()                           ? "a number"
                                                               : nullptr;
      return UsageError(
          command.name,
          absl::StrCat("invalid value '", *value, "' for ", Dashed(use->name),
                       expected != nullptr
                           ? absl::StrCat(" (expected ", expected, ")")
                           : absl::StrCat(": ", OneLine(error))));
    }
  }
  if (args.help) return args;
  if (args.positional.size() < command.positional.size()) {
    return UsageError(
        command.name,
        absl::StrCat("missing ", command.positional[args.positional.size()]));
  }
  if (args.positional.size() > command.positional.size()) {
    return UsageError(
        command.name,
        absl::StrCat("unexpected argument '",
                     args.positional[command.positional.size()], "'"));
  }
  return args;
}

std::string GeneralUsage(const std::vector<Command>& commands) {
  std::string out =
      "adc: static-graph, ahead-of-time compiled automatic differentiation.\n\n"
      "usage: adc COMMAND [ARGS...]\n\ncommands:\n";
  for (const Command& c : commands) {
    std::string name = c.name;
    name.resize(std::max<size_t>(name.size() + 1, 10), ' ');
    absl::StrAppend(&out, "  ", name, c.summary, "\n");
  }
  absl::StrAppend(&out,
                  "\nRun 'adc COMMAND --help' (or 'adc help COMMAND') for a "
                  "command's flags.\nGraph arguments (.pb) may also be text "
                  "GraphDefs (.pbtxt).\n");
  return out;
}

std::string CommandHelp(const Command& command) {
  std::string out =
      absl::StrCat("usage: adc ", command.name, " ", command.synopsis, "\n\n",
                   command.description, "\n");
  absl::StrAppend(&out, "\nflags:\n");
  for (const FlagUse& use : command.flags) {
    absl::StrAppend(&out, FlagHelpLine(use));
  }
  absl::StrAppend(&out, "  -h, --help              Shows this help.\n");
  absl::StrAppend(&out, "\nlimits on input files (every command):\n");
  for (const FlagUse& use : LimitFlags()) {
    absl::StrAppend(&out, FlagHelpLine(use));
  }
  return out;
}

int Main(const std::vector<Command>& commands, int argc, char** argv) {
  std::vector<std::string> rest(argv + std::min(argc, 2), argv + argc);
  const std::string first = argc >= 2 ? argv[1] : "";
  if (argc < 2) {
    std::cerr << "adc: missing command (see 'adc help')\n";
    return 2;
  }
  if (first == "help" || first == "--help" || first == "-h") {
    if (first == "help" && !rest.empty()) {
      const Command* command = FindCommand(commands, rest[0]);
      if (command == nullptr || rest.size() > 1) {
        std::cerr << "adc help: unknown command '" << absl::StrJoin(rest, " ")
                  << "' (see 'adc help')\n";
        return 2;
      }
      std::cout << CommandHelp(*command);
      return 0;
    }
    std::cout << GeneralUsage(commands);
    return 0;
  }
  const Command* command = FindCommand(commands, first);
  if (command == nullptr) {
    std::cerr << "adc: unknown command '" << OneLine(first)
              << "' (see 'adc help')\n";
    return 2;
  }
  absl::StatusOr<Args> args = ParseArgs(*command, rest);
  if (!args.ok()) {
    std::cerr << "adc " << command->name << ": "
              << OneLine(args.status().message()) << "\n";
    return 2;
  }
  if (args->help) {
    std::cout << CommandHelp(*command);
    return 0;
  }
  absl::Status status = command->run(*args);
  std::cout.flush();
  if (!status.ok()) {
    std::cerr << "adc " << command->name << ": " << OneLine(status.message())
              << "\n";
    return IsUsageError(status) ? 2 : 1;
  }
  if (!std::cout) {
    std::cerr << "adc " << command->name << ": cannot write to stdout\n";
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------

GraphLimits CliGraphLimits() {
  GraphLimits limits;
  limits.max_file_bytes = absl::GetFlag(FLAGS_max_graph_bytes);
  limits.max_nodes = absl::GetFlag(FLAGS_max_graph_nodes);
  return limits;
}

NpyLimits CliNpyLimits() {
  NpyLimits limits;
  limits.max_header_bytes = absl::GetFlag(FLAGS_max_npy_header_bytes);
  return limits;
}

absl::StatusOr<Graph> LoadGraphFile(const std::string& path, int* version) {
  const GraphLimits limits = CliGraphLimits();
  ADC_ASSIGN_OR_RETURN(proto::GraphDef def, ReadGraphDef(path, limits));
  if (version != nullptr) *version = def.version() == 0 ? 1 : def.version();
  absl::StatusOr<Graph> graph = GraphFromProto(def, limits);
  if (!graph.ok()) {
    return absl::Status(graph.status().code(),
                        absl::StrCat(path, ": ", graph.status().message()));
  }
  return graph;
}

absl::Status SaveGraphFile(const Graph& graph, const std::string& path) {
  return SaveGraph(graph, path);
}

bool IsSharedLibrary(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char magic[4] = {};
  file.read(magic, 4);
  return file.gcount() == 4 && magic[0] == 0x7f && magic[1] == 'E' &&
         magic[2] == 'L' && magic[3] == 'F';
}

absl::StatusOr<std::unique_ptr<rt::Module>> LoadArtifact(
    const std::string& path) {
  if (!std::ifstream(path)) {
    return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  }
  rt::StatusOr<std::unique_ptr<rt::Module>> module = rt::Module::Load(path);
  if (!module.ok()) {
    std::string message = module.status().message();
    if (!absl::StrContains(message, path)) {
      message = absl::StrCat(path, ": ", message);
    }
    if (absl::EndsWith(path, ".pb") || absl::EndsWith(path, ".pbtxt")) {
      absl::StrAppend(&message,
                      " (this looks like a graph: compile it with 'adc "
                      "compile', or use --interpret)");
    }
    return absl::InvalidArgumentError(message);
  }
  return std::move(module.value());
}

absl::StatusOr<std::vector<InFlag>> ParseInFlags(
    const std::string& command, const std::vector<std::string>& values) {
  std::vector<InFlag> result;
  std::set<std::string> names;
  for (const std::string& value : values) {
    // "a=x.npy,b=y.npy" is two feeds when every piece is NAME=FILE.
    std::vector<std::string> pieces = absl::StrSplit(value, ',');
    bool all_pairs = pieces.size() > 1;
    for (const std::string& piece : pieces) {
      const size_t eq = piece.find('=');
      all_pairs = all_pairs && eq != std::string::npos && eq > 0 &&
                  eq + 1 < piece.size();
    }
    if (!all_pairs) pieces = {value};
    for (const std::string& piece : pieces) {
      const size_t eq = piece.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == piece.size()) {
        return UsageError(command, absl::StrCat("--in '", piece,
                                                "': expected NAME=FILE.npy"));
      }
      InFlag in{piece.substr(0, eq), piece.substr(eq + 1)};
      if (!names.insert(in.name).second) {
        return UsageError(command, absl::StrCat("--in: input '", in.name,
                                                "' is given twice"));
      }
      result.push_back(std::move(in));
    }
  }
  return result;
}

std::vector<ArgInfo> GraphArgs(const Graph& graph) {
  std::vector<ArgInfo> args;
  for (const Node& node : graph.nodes()) {
    if (node.op == OpKind::kInput || node.op == OpKind::kParameter) {
      args.push_back({node.name, node.type, node.op == OpKind::kParameter});
    }
  }
  return args;
}

std::vector<ArgInfo> SignatureArgs(const rt::Signature& signature) {
  std::vector<ArgInfo> args;
  for (const rt::ArgSpec& spec : signature.inputs) {
    args.push_back({spec.name, {FromRuntime(spec.dtype), spec.dims}, false});
  }
  for (const rt::ArgSpec& spec : signature.parameters) {
    args.push_back({spec.name, {FromRuntime(spec.dtype), spec.dims}, true});
  }
  return args;
}

absl::StatusOr<std::map<std::string, NpyArray>> ReadFeeds(
    const std::string& command, const std::vector<std::string>& in_values,
    const std::vector<ArgInfo>& args, bool require_inputs,
    bool any_float_width) {
  ADC_ASSIGN_OR_RETURN(std::vector<InFlag> ins,
                       ParseInFlags(command, in_values));
  std::map<std::string, NpyArray> feeds;
  for (const InFlag& in : ins) {
    const ArgInfo* arg = nullptr;
    for (const ArgInfo& a : args) {
      if (a.name == in.name) arg = &a;
    }
    if (arg == nullptr) {
      std::vector<std::string> names;
      for (const ArgInfo& a : args) names.push_back(a.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "--in ", in.name, ": no input or parameter named '", in.name, "' (",
          names.empty() ? std::string("there are none")
                        : absl::StrCat("it has ", absl::StrJoin(names, ", ")),
          ")"));
    }
    absl::StatusOr<NpyArray> array = ReadNpy(in.path, CliNpyLimits());
    if (!array.ok()) {
      return absl::Status(
          array.status().code(),
          absl::StrCat("--in ", in.name, ": ", array.status().message()));
    }
    const bool width_only = any_float_width && IsFloat(array->dtype) &&
                            IsFloat(arg->type.dtype) &&
                            array->dims == arg->type.dims;
    if (array->type() != arg->type && !width_only) {
      return absl::InvalidArgumentError(
          absl::StrCat("--in ", in.name, ": '", in.path, "' holds ",
                       array->type().ToString(), " but ",
                       arg->is_parameter ? "parameter '" : "input '", in.name,
                       "' is ", arg->type.ToString()));
    }
    feeds[in.name] = std::move(*array);
  }
  if (require_inputs) {
    std::vector<std::string> missing;
    for (const ArgInfo& a : args) {
      if (!a.is_parameter && feeds.count(a.name) == 0) {
        missing.push_back(absl::StrCat(a.name, " (", a.type.ToString(), ")"));
      }
    }
    if (!missing.empty()) {
      return UsageError(command, absl::StrCat("no value for input",
                                              missing.size() > 1 ? "s " : " ",
                                              absl::StrJoin(missing, ", "),
                                              ": give --in NAME=FILE.npy"));
    }
  }
  return feeds;
}

std::string OutputPath(const std::string& dir, const std::string& output_name) {
  std::string file =
      absl::StrCat(absl::StrReplaceAll(output_name, {{"/", "_"}}), ".npy");
  if (dir.empty() || dir == ".") return file;
  return absl::EndsWith(dir, "/") ? dir + file : absl::StrCat(dir, "/", file);
}

rt::DType ToRuntime(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return rt::DType::kF32;
    case DType::kF64:
      return rt::DType::kF64;
    case DType::kI32:
      return rt::DType::kI32;
    case DType::kI64:
      return rt::DType::kI64;
    case DType::kBool:
      return rt::DType::kBool;
  }
  ADC_CHECK_MSG(false, "bad dtype");
}

DType FromRuntime(rt::DType dtype) {
  switch (dtype) {
    case rt::DType::kF32:
      return DType::kF32;
    case rt::DType::kF64:
      return DType::kF64;
    case rt::DType::kI32:
      return DType::kI32;
    case rt::DType::kI64:
      return DType::kI64;
    case rt::DType::kBool:
      return DType::kBool;
  }
  ADC_CHECK_MSG(false, "bad runtime dtype");
}

std::string TypeString(rt::DType dtype, const std::vector<int64_t>& dims) {
  return TensorType{FromRuntime(dtype), dims}.ToString();
}

std::string OneLine(absl::string_view message) {
  std::string s(message);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return absl::StrReplaceAll(s, {{"\r\n", "; "}, {"\n", "; "}});
}

}  // namespace adc::cli
