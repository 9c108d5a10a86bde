// adc bench OUT.so [--in NAME=FILE.npy]... [--reps N] [--threads N]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <random>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/check.h"
#include "tools/commands.h"

ABSL_FLAG(int, reps, 20, "Number of timed runs, after one warm-up run.");

namespace adc::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Deterministic stand-in data for an input nobody fed: uniform in [-1, 1) for
// floats, integers in [0, 10), random bools. The generator is seeded once per
// invocation, so the same artifact always sees the same data.
rt::Tensor RandomTensor(const rt::ArgSpec& spec, std::mt19937_64& rng) {
  rt::Tensor t(spec.dtype, spec.dims);
  const int64_t n = t.num_elements();
  // Doubles in [0, 1) from the top 53 bits (same on every platform, unlike
  // std::uniform_real_distribution).
  auto unit = [&rng] { return static_cast<double>(rng() >> 11) * 0x1p-53; };
  for (int64_t i = 0; i < n; ++i) {
    switch (spec.dtype) {
      case rt::DType::kF32:
        t.data_as<float>()[i] = static_cast<float>(2 * unit() - 1);
        break;
      case rt::DType::kF64:
        t.data_as<double>()[i] = 2 * unit() - 1;
        break;
      case rt::DType::kI32:
        t.data_as<int32_t>()[i] = static_cast<int32_t>(rng() % 10);
        break;
      case rt::DType::kI64:
        t.data_as<int64_t>()[i] = static_cast<int64_t>(rng() % 10);
        break;
      case rt::DType::kBool:
        t.data_as<uint8_t>()[i] = static_cast<uint8_t>(rng() & 1);
        break;
    }
  }
  return t;
}

double Milliseconds(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

absl::Status RunBench(const Args& args) {
  const int reps = absl::GetFlag(FLAGS_reps);
  if (reps < 1) return UsageError("bench", "--reps must be at least 1");
  const std::string& path = args.positional[0];
  ADC_ASSIGN_OR_RETURN(std::unique_ptr<rt::Module> module, LoadArtifact(path));
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0) return UsageError("bench", "--threads must be 0 or more");
  module->set_num_threads(threads);
  const rt::Signature& signature = module->signature();
  ADC_ASSIGN_OR_RETURN(auto arrays, ReadFeeds("bench", args.Repeated("in"),
                                              SignatureArgs(signature),
                                              /*require_inputs=*/false));

  // Inputs: --in files, else random data; parameters: --in, else stored.
  std::mt19937_64 rng(20240229);
  std::map<std::string, rt::Tensor> owned;
  for (const rt::ArgSpec& spec : signature.inputs) {
    auto it = arrays.find(spec.name);
    if (it == arrays.end()) {
      owned.emplace(spec.name, RandomTensor(spec, rng));
      std::cout << "input " << spec.name << " " << spec.TypeString()
                << ": random\n";
    }
  }
  for (const auto& [name, array] : arrays) {
    rt::Tensor t(ToRuntime(array.dtype), array.dims);
    ADC_CHECK(t.size_bytes() == array.data.size());
    if (!array.data.empty()) {
      std::memcpy(t.data(), array.data.data(), array.data.size());
    }
    owned.emplace(name, std::move(t));
  }
  std::map<std::string, rt::ConstBuffer> inputs;
  for (const auto& [name, t] : owned) inputs.emplace(name, t.buffer());
  std::vector<rt::Tensor> output_storage;
  output_storage.reserve(signature.outputs.size());
  std::map<std::string, rt::Buffer> outputs;
  for (const rt::ArgSpec& spec : signature.outputs) {
    output_storage.emplace_back(spec.dtype, spec.dims);
    outputs.emplace(spec.name, output_storage.back().buffer());
  }

  auto run_once = [&]() -> absl::Status {
    rt::Status s = module->Run(inputs, outputs);
    if (!s.ok()) {
      return absl::InternalError(absl::StrCat(path, ": ", s.message()));
    }
    return absl::OkStatus();
  };

  // Warm-up (first-touch allocations, thread pool start-up).
  module->PeakIntermediateBytes(/*reset=*/true);
  const Clock::time_point start = Clock::now();
  ADC_RETURN_IF_ERROR(run_once());
  std::vector<double> times;
  times.reserve(reps);
  // A progress indicator on stderr once the run takes longer than 1 s,
  // updated every 0.5 s: in place on a terminal, else one line per update.
  const bool tty = isatty(STDERR_FILENO);
  Clock::time_point last_progress = start;
  bool progress = false;
  for (int i = 0; i < reps; ++i) {
    const Clock::time_point t0 = Clock::now();
    ADC_RETURN_IF_ERROR(run_once());
    const Clock::time_point t1 = Clock::now();
    times.push_back(Milliseconds(t1 - t0));
    if (Milliseconds(t1 - start) > 1000 &&
        (Milliseconds(t1 - last_progress) > 500 ||
         (progress && i + 1 == reps))) {
      progress = true;
      last_progress = t1;
      std::cerr << (tty ? "\r" : "") << "bench: " << (i + 1) << "/" << reps
                << " reps" << (tty ? "" : "\n") << std::flush;
    }
  }
  if (progress && tty) std::cerr << "\n";

  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median =
      n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  std::cout << "artifact " << path << " (graph " << signature.graph_name
            << ", target " << signature.target << ")\n";
  int64_t output_bytes = 0;
  for (const rt::Tensor& t : output_storage) output_bytes += t.size_bytes();
  std::cout << "peak_intermediate_bytes=" << module->PeakIntermediateBytes()
            << " output_bytes=" << output_bytes << "\n";
  std::cout << absl::StrFormat("median_ms=%.6f min_ms=%.6f reps=%d\n", median,
                               sorted.front(), reps);
  return absl::OkStatus();
}

}  // namespace

Command BenchCommand() {
  return {
      "bench",
      "OUT.so [--in NAME=FILE.npy]... [--reps N] [--threads N]",
      "time a compiled artifact",
      "Runs a compiled artifact --reps times after one warm-up run and "
      "prints,\n"
      "as the last line of its output:\n"
      "  median_ms=<float> min_ms=<float> reps=<int>\n"
      "after a line with the most intermediate memory in use at once over\n"
      "the runs and the bytes of the outputs (-1: not measured, as in\n"
      "memory-checked builds):\n"
      "  peak_intermediate_bytes=<int> output_bytes=<int>\n"
      "Inputs not given with --in are filled with deterministic random values\n"
      "(fixed seed; uniform in [-1, 1) for floats, integers in [0, 10),\n"
      "random bools); parameters use their stored values unless --in\n"
      "overrides them. Shows progress on stderr for runs longer than 1 s.",
      {{"in", "NAME=FILE.npy", "", /*repeated=*/true},
       {"reps", "N"},
       {"threads", "N"}},
      {"OUT.so"},
      RunBench,
  };
}

}  // namespace adc::cli
