// adc gradcheck IN.pb --of NAME [--wrt A,B] [--order 1|2] [--seed ones|NAME]
//               [--in NAME=FILE.npy]... [--eps E] [--atol A] [--rtol R]
#include <cmath>
#include <iostream>
#include <map>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "graph/check.h"
#include "graph/verifier.h"
#include "passes/promote_f64.h"
#include "tools/commands.h"
#include "tools/grad_check.h"

ABSL_DECLARE_FLAG(std::string, of);    // tools/cmd_grad.cc
ABSL_DECLARE_FLAG(std::string, wrt);   // tools/cmd_grad.cc
ABSL_DECLARE_FLAG(std::string, seed);  // tools/cmd_grad.cc
// torch.autograd.gradcheck's defaults.
ABSL_FLAG(int, order, 1,
          "1: gradients; 2: gradients of gradients (gradgradcheck).");
ABSL_FLAG(double, eps, 1e-6, "Central-difference step.");
ABSL_FLAG(double, atol, 1e-5,
          "Absolute tolerance: an element passes when |analytic - numeric| "
          "<= atol + rtol * |numeric|.");
ABSL_FLAG(double, rtol, 1e-3, "Relative tolerance (see --atol).");

namespace adc::cli {
namespace {

constexpr char kName[] = "gradcheck";
// Random inputs and seeds depend on this and the input's name only.
constexpr uint64_t kRandomSeed = 1;

absl::Status CheckFlags() {
  if (absl::GetFlag(FLAGS_of).empty()) {
    return UsageError(kName, "missing --of NAME");
  }
  const int order = absl::GetFlag(FLAGS_order);
  if (order != 1 && order != 2) {
    return UsageError(kName,
                      absl::StrCat("--order must be 1 or 2, not ", order));
  }
  const double eps = absl::GetFlag(FLAGS_eps);
  if (!(eps > 0) || !std::isfinite(eps)) {
    return UsageError(kName, "--eps must be a positive number");
  }
  for (const auto& [name, value] :
       {std::pair{"--atol", absl::GetFlag(FLAGS_atol)},
        std::pair{"--rtol", absl::GetFlag(FLAGS_rtol)}}) {
    if (!(value >= 0) || !std::isfinite(value)) {
      return UsageError(kName, absl::StrCat(name, " must be 0 or more"));
    }
  }
  return absl::OkStatus();
}

// The --in feeds, checked against the graph as loaded (a floating-point
// file may have either width) and converted to f64. `seed` (a --seed NAME
// that is not yet an input) may be fed too, with of's type.
absl::StatusOr<std::map<std::string, Tensor>> Feeds(const Args& args,
                                                    const Graph& graph,
                                                    const std::string& seed,
                                                    const TensorType& of_type) {
  std::vector<ArgInfo> arg_infos = GraphArgs(graph);
  if (!seed.empty() && seed != "ones" && !graph.Find(seed)) {
    arg_infos.push_back({seed, of_type, false});
  }
  ADC_ASSIGN_OR_RETURN(
      auto arrays,
      ReadFeeds(kName, args.Repeated("in"), arg_infos,
                /*require_inputs=*/false, /*any_float_width=*/true));
  std::map<std::string, Tensor> feeds;
  for (const auto& [name, array] : arrays) {
    ADC_ASSIGN_OR_RETURN(Tensor t, NpyToTensor(array));
    feeds[name] = IsFloat(t.dtype()) ? t.CastTo(DType::kF64) : t;
  }
  return feeds;
}

absl::Status RunGradCheck(const Args& args) {
  ADC_RETURN_IF_ERROR(CheckFlags());
  const std::string of = absl::GetFlag(FLAGS_of);
  const std::string seed = absl::GetFlag(FLAGS_seed);
  ADC_ASSIGN_OR_RETURN(Graph graph, LoadGraphFile(args.positional[0]));
  std::optional<ValueId> of_id = graph.FindOutputOrValue(of);
  if (!of_id) {
    return absl::NotFoundError(
        absl::StrCat("--of: no output or value named '", of, "'"));
  }
  ADC_ASSIGN_OR_RETURN(auto feeds,
                       Feeds(args, graph, seed, graph.type(*of_id)));
  // Finite differences in f64 (as torch.autograd.gradcheck requires).
  PromoteToF64 promote;
  ADC_RETURN_IF_ERROR(promote.Run(&graph).status());
  ADC_RETURN_IF_ERROR(Verify(graph));
  const TensorType of_type = graph.type(*of_id);

  // What was made up, printed once the check has run.
  std::vector<std::string> made_up;
  absl::StatusOr<std::vector<std::string>> random =
      AddRandomInputs(graph, kRandomSeed, &feeds);
  if (!random.ok()) {
    return UsageError(kName, absl::StrCat(random.status().message(),
                                          "; give --in NAME=FILE.npy"));
  }
  for (const std::string& name : *random) {
    made_up.push_back(absl::StrFormat("input %s %s: random in [%g, %g]", name,
                                      feeds.at(name).type().ToString(),
                                      kRandomInputLo, kRandomInputHi));
  }
  if (seed == "ones") {
    made_up.push_back("seed: ones");
  } else if (!seed.empty() && !feeds.count(seed)) {
    made_up.push_back(absl::StrFormat("seed %s %s: random in [%g, %g]", seed,
                                      of_type.ToString(), kRandomCotangentLo,
                                      kRandomCotangentHi));
  } else if (seed.empty() && of_type.num_elements() != 1) {
    made_up.push_back(absl::StrFormat(
        "seed: random projection of %s %s (weights in [%g, %g])", of,
        of_type.ToString(), kRandomCotangentLo, kRandomCotangentHi));
  }

  GradCheckOptions options;
  options.eps = absl::GetFlag(FLAGS_eps);
  options.atol = absl::GetFlag(FLAGS_atol);
  options.rtol = absl::GetFlag(FLAGS_rtol);
  options.seed = kRandomSeed;
  options.cotangent = seed;
  ADC_ASSIGN_OR_RETURN(GradCheckReport report,
                       CheckGradients(graph, of, feeds,
                                      absl::StrSplit(absl::GetFlag(FLAGS_wrt),
                                                     ',', absl::SkipEmpty()),
                                      options, absl::GetFlag(FLAGS_order)));
  for (const std::string& line : made_up) std::cout << line << "\n";
  for (const std::string& line : FormatReport(report)) {
    std::cout << line << "\n";
  }
  std::cout << ReportSummary(report) << "\n";
  if (report.ok()) return absl::OkStatus();
  std::vector<std::string> failing;
  for (const WrtCheck& c : report.wrt) {
    if (!c.ok()) {
      failing.push_back(absl::StrCat(c.wrt, " (", c.mismatches, " of ",
                                     c.type.num_elements(), " elements)"));
    }
  }
  return absl::InternalError(absl::StrCat(
      report.order == 1 ? "gradients" : "second derivatives", " of '", of,
      "' differ from finite differences: ", absl::StrJoin(failing, ", ")));
}

}  // namespace

Command GradCheckCommand() {
  return {
      kName,
      "IN.pb --of NAME [--wrt A,B,...] [--order 1|2] [--seed ones|NAME]\n"
      "       [--in NAME=FILE.npy]... [--eps E] [--atol A] [--rtol R]",
      "check derivatives against finite differences (torch's gradcheck)",
      "Compares the derivatives autodiff builds for --of with central finite\n"
      "differences of the reference interpreter, like "
      "torch.autograd.gradcheck\n"
      "(--order 2: gradgradcheck). The graph is promoted to f64 first (every\n"
      "f32 input, parameter, constant and cast), so differences are taken in\n"
      "f64. Inputs come from --in files (f32 or f64 for a floating-point\n"
      "input) or are random, uniform in [-1, 1], the same on every run;\n"
      "integer and bool inputs (indices, masks) must be given with --in.\n"
      "Parameters use their stored values unless --in overrides them.\n"
      "\n"
      "A non-scalar --of is checked through a seed v (the gradient of\n"
      "sum(of * v)): by default random weights (a random projection), 'ones'\n"
      "for sum(of), or NAME, a new input holding v (--in NAME=FILE.npy, else\n"
      "random). Order 2 checks the gradient of a random projection of the\n"
      "first-order gradients against their finite differences.\n"
      "\n"
      "Prints one line per --wrt: its worst element (the largest error\n"
      "relative to atol + rtol * |numeric|), the analytic and numeric\n"
      "derivatives there and their absolute and relative error, then\n"
      "'gradcheck: passed' or 'gradcheck: FAILED: ...'. Exits with 1 when\n"
      "any element is outside the tolerance.",
      {{"of", "NAME",
        "The output or value whose derivatives to check (required)."},
       {"wrt", "A,B,...",
        "Comma-separated inputs and parameters to check derivatives with "
        "respect to (default: every floating-point input and parameter)."},
       {"order", "1|2"},
       {"seed", "ones|NAME",
        "Seed of a non-scalar --of: random weights (default), 'ones', or the "
        "name of a new input holding the seed vector."},
       {"in", "NAME=FILE.npy",
        "Feeds input or parameter NAME (or the --seed input) from a NumPy "
        ".npy file (f32 or f64 for a floating-point argument).",
        /*repeated=*/true},
       {"eps", "E"},
       {"atol", "A"},
       {"rtol", "R"}},
      {"IN.pb"},
      RunGradCheck,
  };
}

}  // namespace adc::cli
