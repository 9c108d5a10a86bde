// The `adc` command line: subcommand table, flag parsing and the helpers the
// subcommands share (loading graphs and artifacts with clear errors, --in).
//
// Flags are Abseil flags (ABSL_FLAG, read with absl::GetFlag), but argv is
// scanned here rather than by absl::ParseCommandLine, because every
// subcommand accepts only its own flags and errors must be one line:
//   - `--name value`, `--name=value`, `-name value` (one or two dashes);
//     '-' and '_' are interchangeable in names (--out-dir, --out_dir);
//   - bool flags take no separate value (`--emit-assembly`), but accept
//     `--emit-assembly=false`;
//   - repeatable flags (--in) collect every occurrence in order;
//   - `--` ends the flags; `-h`/`--help` asks for the subcommand's help;
//   - a flag the subcommand does not have, a missing or invalid value, or a
//     wrong number of positional arguments is a usage error.
#ifndef ADC_TOOLS_CLI_H_
#define ADC_TOOLS_CLI_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "graph/serialize.h"
#include "graph/types.h"
#include "runtime/module.h"
#include "tools/npy.h"

// Flags shared by several subcommands (defined in cli.cc). --in is
// repeatable: read it from Args::repeated.
ABSL_DECLARE_FLAG(std::string, o);
ABSL_DECLARE_FLAG(int, threads);

namespace adc::cli {

// How a subcommand uses one Abseil flag.
struct FlagUse {
  // As typed, without dashes: "of", "no-allow-unused", "o". The Abseil flag
  // has the same name with '-' replaced by '_'.
  std::string name;
  // Placeholder for the value in help ("NAME"); empty for bool flags.
  std::string metavar;
  // Help text for this command; empty: the Abseil flag's help.
  std::string help;
  // Collected from every occurrence (--in) into Args::repeated, which is
  // where to read them (the Abseil flag only documents them).
  bool repeated = false;
};

// The parsed command line of one subcommand.
struct Args {
  std::vector<std::string> positional;
  // Values of repeatable flags, by flag name.
  std::map<std::string, std::vector<std::string>> repeated;
  bool help = false;

  const std::vector<std::string>& Repeated(const std::string& flag) const;
};

struct Command {
  std::string name;
  // Arguments after "adc NAME", as in the usage line.
  std::string synopsis;
  // One line for `adc help`.
  std::string summary;
  // Paragraphs for `adc NAME --help`.
  std::string description;
  std::vector<FlagUse> flags;
  // Names of the positional arguments (all required), e.g. {"IN.pb"}.
  std::vector<std::string> positional;
  absl::Status (*run)(const Args& args) = nullptr;
};

// Parses argv[first..] for `command`; usage errors say what is wrong and
// point to `adc NAME --help`.
absl::StatusOr<Args> ParseArgs(const Command& command,
                               const std::vector<std::string>& argv);

// The limits on input files that --max-graph-bytes, --max-graph-nodes and
// --max-npy-header-bytes set (flags every command accepts).
GraphLimits CliGraphLimits();
NpyLimits CliNpyLimits();

// `adc help` and `adc NAME --help` text.
std::string GeneralUsage(const std::vector<Command>& commands);
std::string CommandHelp(const Command& command);

// Runs the tool: dispatches argv to one of `commands` (in `adc help` order)
// and returns the exit code: 0, 1 for a failed command, 2 for a usage error.
// Errors are printed to stderr as one line "adc NAME: message".
int Main(const std::vector<Command>& commands, int argc, char** argv);

// ---------------------------------------------------------------------------
// Helpers shared by the subcommands.
// ---------------------------------------------------------------------------

// A usage error: `message` plus a pointer to the command's help.
absl::Status UsageError(const std::string& command, const std::string& message);

// Loads and verifies a graph (.pb or .pbtxt); `version` (if non-null) gets
// the file's format version. Errors name the path.
absl::StatusOr<Graph> LoadGraphFile(const std::string& path,
                                    int* version = nullptr);
// Writes a graph (.pb or .pbtxt by extension).
absl::Status SaveGraphFile(const Graph& graph, const std::string& path);

// True if `path` starts like an ELF file (a compiled artifact).
bool IsSharedLibrary(const std::string& path);

// Loads a compiled artifact with the runtime. Errors name the path.
absl::StatusOr<std::unique_ptr<rt::Module>> LoadArtifact(
    const std::string& path);

// One `--in NAME=FILE.npy`.
struct InFlag {
  std::string name;
  std::string path;
};
// Parses --in values (each "NAME=FILE", or several joined by commas when every
// piece has that form). Errors: no '=', empty name or path, a name given twice.
// `command` names the subcommand for usage errors.
absl::StatusOr<std::vector<InFlag>> ParseInFlags(
    const std::string& command, const std::vector<std::string>& values);

// An input or parameter of a graph or an artifact, as --in sees it.
struct ArgInfo {
  std::string name;
  TensorType type;
  bool is_parameter = false;
};
std::vector<ArgInfo> GraphArgs(const Graph& graph);
std::vector<ArgInfo> SignatureArgs(const rt::Signature& signature);

// Reads the --in files of `command`, each checked against `args` (unknown
// name, wrong dtype or shape, malformed file: an error naming the input).
// With require_inputs, every non-parameter argument must be fed. With
// any_float_width, a floating-point file feeds a floating-point argument of
// either width (f32 or f64; the caller converts it: adc gradcheck computes
// in f64 whatever the files hold).
absl::StatusOr<std::map<std::string, NpyArray>> ReadFeeds(
    const std::string& command, const std::vector<std::string>& in_values,
    const std::vector<ArgInfo>& args, bool require_inputs,
    bool any_float_width = false);

// The file an output is written to: DIR/<name with '/' replaced by '_'>.npy.
std::string OutputPath(const std::string& dir, const std::string& output_name);

// dtype conversions between the compiler's and the runtime's enumerations.
rt::DType ToRuntime(DType dtype);
DType FromRuntime(rt::DType dtype);
// "f32[2,3]" for a runtime argument.
std::string TypeString(rt::DType dtype, const std::vector<int64_t>& dims);

// Replaces newlines so an error message stays on one line.
std::string OneLine(absl::string_view message);

}  // namespace adc::cli

#endif  // ADC_TOOLS_CLI_H_
