#include "codegen/compile.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "Halide.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/artifact_writer.h"
#include "codegen/bounds_check.h"
#include "codegen/lower.h"
#include "codegen/math_kernels.h"
#include "codegen/process.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/verifier.h"
#include "passes/inline_calls.h"
#include "passes/pipeline.h"
#include "runtime/seal.h"

namespace adc {
namespace {

constexpr char kNeedsCc[] =
    "adc compile needs a C compiler and binutils (apt-get install gcc)";

// Loads the autoscheduler plugin `name` (CompileOptions::schedule) once.
absl::Status LoadAutoscheduler(const std::string& name) {
  static std::mutex mu;
  static std::set<std::string>* loaded = new std::set<std::string>();
  std::lock_guard<std::mutex> lock(mu);
  if (loaded->count(name) > 0) return absl::OkStatus();
  const std::string path = absl::StrCat(
      "/usr/lib/x86_64-linux-gnu/halide14/libautoschedule_", name, ".so");
  try {
    Halide::load_plugin(path);
  } catch (const Halide::Error& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the ", name, " autoscheduler (", path,
                     ", from libhalide14-0-dev): ", e.what()));
  }
  loaded->insert(name);
  return absl::OkStatus();
}

std::string CCompiler() {
  const char* cc = std::getenv("CC");
  return cc && *cc ? cc : "cc";
}

std::string HalideIncludeDir() {
  const char* dir = std::getenv("ADC_HALIDE_INCLUDE");
  return dir && *dir ? dir : "/usr/include/halide14";
}

// Halide 14 reports AVX512_SapphireRapids on CPUs with only part of it (AMD
// Zen 4: VNNI and BF16 but no AVX512-FP16), and LLVM then emits FP16
// instructions (vmovw) that fault. Keep the feature only when the CPU has
// AVX512-FP16.
Halide::Target WithoutMissingHostFeatures(Halide::Target t) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (t.has_feature(Halide::Target::AVX512_SapphireRapids) &&
      !__builtin_cpu_supports("avx512fp16")) {
    t = t.without_feature(Halide::Target::AVX512_SapphireRapids);
  }
#endif
  return t;
}

// A Halide target for this machine: "host" (this CPU's features), "host-"
// followed by more features (e.g. host-asan), or an explicit target string
// whose architecture, bit width and OS are this machine's (the artifact's C
// entry point is compiled and linked here), without GPU features (adc
// generates CPU code). The x86-64 feature levels the test suite covers are
// in codegen/testing.h.
absl::StatusOr<Halide::Target> ParseTarget(const std::string& name) {
  Halide::Target t;
  const Halide::Target host = Halide::get_host_target();
  try {
    t = Halide::Target(name);
  } catch (const Halide::Error&) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Halide target '", name,
                     "' (expected 'host', host-feature-..., or "
                     "arch-bits-os[-feature...], e.g. "
                     "x86-64-linux-avx-avx2-f16c-fma-sse41)"));
  }
  if (name == "host" || absl::StartsWith(name, "host-")) {
    t = WithoutMissingHostFeatures(t);
  }
  auto platform = [](const Halide::Target& x) {
    return Halide::Target(x.os, x.arch, x.bits).to_string();
  };
  if (t.arch != host.arch || t.bits != host.bits || t.os != host.os) {
    return absl::InvalidArgumentError(
        absl::StrCat("target '", name, "' is for ", platform(t),
                     ", but artifacts are linked and run on this machine (",
                     platform(host), "): cross-compilation is not supported"));
  }
  if (t.has_gpu_feature()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target '", name, "' has a GPU feature; adc generates CPU code only"));
  }
  return t.with_feature(Halide::Target::UserContext);
}

// The graph code generation sees: optimized unless asked not to. (A
// function body shares its graph's library: Graph::ShareFunctions.)
absl::StatusOr<Graph> Prepare(const Graph& graph,
                              const CompileOptions& options) {
  Graph g = graph;
  // Calls compile as their forward functions' code. Control flow still
  // calls the library's functions (each compiled apart, calls inlined too).
  ADC_RETURN_IF_ERROR(InlineCalls(&g));
  if (options.optimize) {
    OptimizationOptions opt;
    opt.keep_stop_gradient = false;  // The artifact is not differentiated.
    ADC_RETURN_IF_ERROR(OptimizationPipeline(opt)->Run(&g).status());
  }
  return g;
}

// A function of `graph`'s library as code generation sees it, with the
// graph's library (its calls and constructs resolve there).
absl::StatusOr<Graph> PrepareFunction(const Graph& graph,
                                      const std::string& name,
                                      const CompileOptions& options) {
  const Graph* body = graph.function(name);
  ADC_CHECK_MSG(body != nullptr,
                absl::StrCat("function '", name, "' is not in the library"));
  Graph f = *body;
  f.ShareFunctions(graph);
  std::vector<std::string> inputs;
  for (ValueId id : f.inputs()) inputs.push_back(f.node(id).name);
  ADC_ASSIGN_OR_RETURN(Graph prepared, Prepare(f, options));
  // Its C function takes the inputs in the interpreter's order.
  std::vector<std::string> after;
  for (ValueId id : prepared.inputs()) after.push_back(prepared.node(id).name);
  if (after != inputs || !prepared.parameters().empty() ||
      prepared.outputs().size() != body->outputs().size()) {
    return absl::InternalError(
        absl::StrCat("optimizing function '", name, "' changed its signature"));
  }
  return prepared;
}

}  // namespace

absl::StatusOr<std::string> DescribeFusionPlan(const Graph& graph,
                                               const CompileOptions& options) {
  ADC_ASSIGN_OR_RETURN(Graph g, Prepare(graph, options));
  auto describe = [&](const Graph& g) {
    const codegen::Plan plan = codegen::MakePlan(g);
    int materialized = 0;
    for (const std::string& why : plan.why) materialized += !why.empty();
    return absl::StrCat(g.num_nodes(), " nodes",
                        options.optimize ? " after optimization" : "", ": ",
                        materialized, " materialized in ", plan.num_stages,
                        plan.num_stages == 1 ? " stage" : " stages",
                        ", the rest fused into their consumers\n",
                        codegen::PlanToString(g, plan));
  };
  std::string out = describe(g);
  // The functions control flow calls, each once, in order of first use.
  std::vector<std::string> functions;
  std::set<std::string> seen;
  auto called = [&](const Graph& g) {
    for (const Node& node : g.nodes()) {
      if (!IsControlFlow(node)) continue;
      for (const std::string& name : FunctionNames(node)) {
        if (seen.insert(name).second) functions.push_back(name);
      }
    }
  };
  called(g);
  for (size_t j = 0; j < functions.size(); ++j) {
    ADC_ASSIGN_OR_RETURN(Graph prepared,
                         PrepareFunction(graph, functions[j], options));
    called(prepared);
    absl::StrAppend(&out, "function '", functions[j],
                    "': ", describe(prepared));
  }
  return out;
}

namespace {

// Halide addresses buffers with 32-bit extents, strides and offsets (its
// large_buffers feature would make every index computation 64-bit), and
// generated code runs without Halide's checks: a tensor it cannot address
// is refused here rather than mis-addressed at run time.
absl::Status CheckAddressable(const Graph& graph) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  for (ValueId v = 0; v < graph.num_nodes(); ++v) {
    const TensorType& type = graph.type(v);
    const int64_t bytes = type.num_elements() * DTypeSize(type.dtype);
    bool too_large = bytes > kMax;
    for (int64_t d : type.dims) too_large = too_large || d > kMax;
    if (too_large) {
      return absl::InvalidArgumentError(absl::StrCat(
          "value '", graph.node(v).name, "' (", type.ToString(), ", ", bytes,
          " bytes) is too large for compiled code, which addresses at most "
          "2^31 - 1 bytes per tensor; split it, or evaluate the graph with "
          "the interpreter (adc run --interpret)"));
    }
  }
  return absl::OkStatus();
}

// Compiles a prepared graph and the functions its control flow calls
// (recursively, each once) into Halide objects, the calls of their steps and
// their temporaries, for the artifact writer.
// Threads that compile stages: one per core, or ADC_COMPILE_THREADS (the
// ThreadSanitizer config sets 1: libHalide is not instrumented, and TSan
// misreads its synchronization as races between compiling threads).
size_t CompileThreads() {
  if (const char* env = std::getenv("ADC_COMPILE_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return static_cast<size_t>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

class Compilation {
 public:
  Compilation(const Graph& graph, const Halide::Target& target,
              const CompileOptions& options, std::string pipeline_name,
              std::string library_path, std::string assembly_path)
      : graph_(graph),
        target_(target),
        options_(options),
        pipeline_name_(std::move(pipeline_name)),
        library_path_(std::move(library_path)),
        assembly_path_(std::move(assembly_path)) {}

  // Compiles `prepared` (graph_ as Prepare returned it) and its functions,
  // then archives every object with the Halide runtime at library_path.
  absl::Status Run(const Graph& prepared) {
    ADC_RETURN_IF_ERROR(CompileGraph(prepared, pipeline_name_, "", "stage",
                                     &calls_, &temporaries_));
    // Functions are appended as control steps find them.
    for (size_t j = 0; j < functions_.size(); ++j) {
      const std::string name = functions_[j].name;
      ADC_ASSIGN_OR_RETURN(Graph f, PrepareFunction(graph_, name, options_));
      ADC_RETURN_IF_ERROR(CheckAddressable(f));
      codegen::FunctionBody body;
      body.name = name;
      body.num_inputs = static_cast<int>(f.inputs().size());
      body.num_outputs = static_cast<int>(f.outputs().size());
      absl::Status s = CompileGraph(f, absl::StrCat(pipeline_name_, "_f", j),
                                    absl::StrCat("function '", name, "': "),
                                    absl::StrCat("f", j, ".stage"),
                                    &body.stages, &body.temporaries);
      if (!s.ok()) {
        return absl::Status(
            s.code(), absl::StrCat("in function '", name, "': ", s.message()));
      }
      functions_[j] = std::move(body);
    }
    return Archive();
  }

  const std::vector<codegen::StageCall>& calls() const { return calls_; }
  const std::vector<TensorType>& temporaries() const { return temporaries_; }
  const std::vector<codegen::FunctionBody>& functions() const {
    return functions_;
  }

 private:
  // The index of function `name` (compiled later by Run).
  int FunctionIndex(const std::string& name) {
    auto [it, added] =
        function_index_.emplace(name, static_cast<int>(functions_.size()));
    if (added) {
      functions_.emplace_back();
      functions_.back().name = name;
    }
    return it->second;
  }

  // Lowers `graph` and compiles its Halide stages to objects (all cores),
  // named `pipeline_name`_s<k>; control stages call their functions.
  // Files of stage k (ADC_DUMP_STMT, assembly) are named <...>.<file_tag><k>.
  absl::Status CompileGraph(const Graph& graph,
                            const std::string& pipeline_name,
                            const std::string& what,
                            const std::string& file_tag,
                            std::vector<codegen::StageCall>* calls,
                            std::vector<TensorType>* temporaries) {
    const bool verbose = std::getenv("ADC_VERBOSE") != nullptr;
    auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           t0)
          .count();
    };
    const bool autoschedule = options_.schedule != "default";
    ADC_ASSIGN_OR_RETURN(
        codegen::LoweredGraph lowered,
        codegen::LowerGraph(graph, target_, options_.limits, autoschedule));
    if (verbose) {
      std::fprintf(stderr,
                   "adc: %slowered %d nodes: %zu materialized values in %zu "
                   "stages (%.2fs)\n",
                   what.c_str(), graph.num_nodes(), lowered.materialized.size(),
                   lowered.stages.size(), seconds());
      for (const auto& [v, why] : lowered.materialized) {
        const Node& node = graph.node(v);
        std::fprintf(stderr, "adc:   v_%d %s %s (%s)\n", v, node.name.c_str(),
                     node.type.ToString().c_str(), why.c_str());
      }
    }
    *temporaries = lowered.temporaries;
    // The artifact's entry point builds every buffer from the signature, so
    // Halide's argument checks and bounds queries would be dead code.
    const Halide::Target stage_target =
        target_.with_feature(Halide::Target::NoRuntime)
            .with_feature(Halide::Target::NoAsserts)
            .with_feature(Halide::Target::NoBoundsQuery);
    const size_t num_stages = lowered.stages.size();
    std::vector<size_t> halide;  // The pipeline stages to compile.
    absl::flat_hash_map<std::string, std::vector<size_t>> by_shape;
    std::vector<std::string> objects(num_stages);
    for (size_t k = 0; k < num_stages; ++k) {
      codegen::LoweredStage& stage = lowered.stages[k];
      codegen::StageCall call;
      if (stage.control) {
        codegen::ControlCall control = *stage.control;
        const Node& node = graph.node(stage.control_node);
        const std::array<std::string, 2> called = FunctionNames(node);
        control.first = FunctionIndex(called[0]);
        control.second = FunctionIndex(called[1]);
        call.buffers = control.operands;
        call.types = control.operand_types;
        call.buffers.insert(call.buffers.end(), control.results.begin(),
                            control.results.end());
        call.types.insert(call.types.end(), control.result_types.begin(),
                          control.result_types.end());
        for (const auto& [r, b] : control.copies) {
          call.buffers.push_back(b);
          call.types.push_back(control.result_types[r]);
        }
        call.control = std::move(control);
        calls->push_back(std::move(call));
        continue;
      }
      // A stage computing what an earlier one does calls its code.
      std::vector<size_t>& same = by_shape[stage.shape];
      const auto earlier =
          std::find_if(same.begin(), same.end(), [&](size_t j) {
            return codegen::SameShape(lowered.stages[j], stage);
          });
      if (earlier != same.end()) {
        call.function = (*calls)[*earlier].function;
      } else {
        same.push_back(k);
        call.function = absl::StrCat(pipeline_name, "_s", k);
        objects[k] = absl::StrCat(library_path_, ".", file_tag, k, ".o");
        halide.push_back(k);
      }
      call.buffers = stage.inputs;
      call.buffers.insert(call.buffers.end(), stage.outputs.begin(),
                          stage.outputs.end());
      call.types = stage.input_types;
      call.types.insert(call.types.end(), stage.output_types.begin(),
                        stage.output_types.end());
      calls->push_back(call);
    }
    if (autoschedule) {
      ADC_RETURN_IF_ERROR(AutoSchedule(lowered.stages, halide, stage_target));
    }
    // Each stage is lowered by Halide and compiled by LLVM into an object
    // of its own (LLVM time grows with module size), on all cores.
    std::vector<std::string> errors(num_stages);
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t h = next++; h < halide.size(); h = next++) {
        const size_t k = halide[h];
        try {
          codegen::AddMathLoweringPasses(lowered.stages[k].pipeline,
                                         stage_target);
          codegen::BoundsCheck* pass = nullptr;
          if (options_.check_bounds) {
            pass = new codegen::BoundsCheck();  // Owned by the pipeline.
            lowered.stages[k].pipeline.add_custom_lowering_pass(
                pass, [pass] { delete pass; });
          }
          Halide::Module module = lowered.stages[k].pipeline.compile_to_module(
              lowered.stages[k].args, (*calls)[k].function, stage_target);
          if (pass != nullptr && verbose) {
            std::fprintf(stderr,
                         "adc: %sstage %zu: %d loads and stores "
                         "bounds-checked, %d masked ones not\n",
                         what.c_str(), k, pass->checked(), pass->unchecked());
          }
          if (const char* stmt = std::getenv("ADC_DUMP_STMT")) {
            // Developers: Halide's lowered statement of each stage.
            module.compile({{Halide::OutputFileType::stmt,
                             absl::StrCat(stmt, ".", file_tag, k, ".stmt")}});
          }
          module.compile({{Halide::OutputFileType::object, objects[k]}});
          if (!assembly_path_.empty()) {
            module.compile(
                {{Halide::OutputFileType::assembly,
                  absl::StrCat(assembly_path_, ".", file_tag, k, ".s")}});
          }
        } catch (const Halide::Error& e) {
          errors[k] = e.what();
        }
      }
    };
    const size_t num_threads =
        std::min<size_t>(halide.size(), CompileThreads());
    std::vector<std::thread> threads;
    for (size_t t = 1; t < num_threads; ++t) threads.emplace_back(worker);
    worker();
    for (std::thread& t : threads) t.join();
    for (size_t k = 0; k < num_stages; ++k) {
      if (errors[k].empty()) continue;
      // Name the nodes of the stage that failed (all of them when few).
      const std::vector<std::string>& nodes = lowered.stages[k].nodes;
      constexpr size_t kShown = 12;
      std::string which = absl::StrJoin(
          nodes.begin(), nodes.begin() + std::min(nodes.size(), kShown), ", ");
      if (nodes.size() > kShown) {
        absl::StrAppend(&which, " and ", nodes.size() - kShown, " more");
      }
      return absl::InternalError(absl::StrCat(
          "Halide failed to compile stage ", k + 1, " of ", num_stages,
          " (nodes ", which, "): ", absl::StripAsciiWhitespace(errors[k])));
    }
    for (size_t k : halide) objects_.push_back(objects[k]);
    if (verbose) {
      std::fprintf(stderr,
                   "adc: %s%zu distinct pipeline stages compiled at %.2fs\n",
                   what.c_str(), halide.size(), seconds());
    }
    return absl::OkStatus();
  }

  // Schedules the `halide` stages with options_.schedule's autoscheduler,
  // one at a time (the autoschedulers keep global state).
  absl::Status AutoSchedule(std::vector<codegen::LoweredStage>& stages,
                            const std::vector<size_t>& halide,
                            const Halide::Target& target) {
    ADC_RETURN_IF_ERROR(LoadAutoscheduler(options_.schedule));
    // The plugin registers its name capitalized ("li2018": "Li2018").
    std::string name = options_.schedule;
    name[0] = static_cast<char>(std::toupper(name[0]));
    // 40: the autoschedulers' default ratio of a load's cost to an
    // arithmetic op's; the last-level cache of a 2-core share.
    const Halide::MachineParams machine(
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
        32 << 20, 40);
    // Their progress reports go to stderr: kept for ADC_VERBOSE only.
    const bool verbose = std::getenv("ADC_VERBOSE") != nullptr;
    std::fflush(stderr);
    const int saved = verbose ? -1 : dup(STDERR_FILENO);
    if (saved >= 0) {
      const int null = open("/dev/null", O_WRONLY);
      if (null >= 0) {
        dup2(null, STDERR_FILENO);
        close(null);
      }
    }
    std::string error;
    size_t failed = 0;
    for (size_t k : halide) {
      try {
        stages[k].pipeline.auto_schedule(name, target, machine);
      } catch (const Halide::Error& e) {
        error = e.what();
        failed = k;
        break;
      }
    }
    if (saved >= 0) {
      std::fflush(stderr);
      dup2(saved, STDERR_FILENO);
      close(saved);
    }
    if (!error.empty()) {
      return absl::InternalError(
          absl::StrCat("the ", options_.schedule,
                       " autoscheduler failed on stage ", failed + 1, " of ",
                       stages.size(), ": ", absl::StripAsciiWhitespace(error)));
    }
    return absl::OkStatus();
  }

  absl::Status Archive() {
    const bool verbose = std::getenv("ADC_VERBOSE") != nullptr;
    try {
      objects_.push_back(library_path_ + ".runtime.o");
      Halide::compile_standalone_runtime(
          {{Halide::OutputFileType::object, objects_.back()}}, target_);
      std::vector<std::string> ar = {"ar", "rcs", library_path_};
      ar.insert(ar.end(), objects_.begin(), objects_.end());
      ADC_RETURN_IF_ERROR(RunTool(ar, library_path_ + ".ar.log", kNeedsCc));
      if (verbose) std::fprintf(stderr, "adc: LLVM done\n");
    } catch (const Halide::Error& e) {
      return absl::InternalError(
          absl::StrCat("Halide failed to compile the pipeline: ", e.what()));
    }
    return absl::OkStatus();
  }

  const Graph& graph_;
  const Halide::Target target_;
  const CompileOptions options_;
  const std::string pipeline_name_, library_path_, assembly_path_;
  std::vector<codegen::StageCall> calls_;
  std::vector<TensorType> temporaries_;
  std::vector<codegen::FunctionBody> functions_;
  std::map<std::string, int> function_index_;
  std::vector<std::string> objects_;
};

absl::Status CheckSchedule(const std::string& schedule) {
  const std::vector<std::string>& names = ScheduleNames();
  if (std::find(names.begin(), names.end(), schedule) == names.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown schedule '", schedule,
                     "'; expected one of: ", absl::StrJoin(names, ", ")));
  }
  return absl::OkStatus();
}

// Artifact arguments (inputs, parameters, outputs) share one namespace.
absl::Status CheckArgumentNames(const Graph& graph) {
  for (const GraphOutput& out : graph.outputs()) {
    std::optional<ValueId> id = graph.Find(out.name);
    if (id && (graph.node(*id).op == OpKind::kInput ||
               graph.node(*id).op == OpKind::kParameter)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output '", out.name,
          "' has the name of an input or parameter; "
          "compiled arguments share one namespace, so rename the output"));
    }
  }
  if (graph.outputs().empty()) {
    return absl::InvalidArgumentError("the graph has no outputs to compute");
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& ScheduleNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>{
      "default", "adams2019", "li2018", "mullapudi2016"};
  return *names;
}

bool IsMemoryCheckedTarget(const std::string& target) {
  absl::StatusOr<Halide::Target> t = ParseTarget(target);
  return t.ok() && t->has_feature(Halide::Target::ASAN);
}

absl::Status CompileToSharedLibrary(const Graph& graph,
                                    const std::string& output_path,
                                    const CompileOptions& options) {
  ADC_RETURN_IF_ERROR(Verify(graph));
  ADC_RETURN_IF_ERROR(CheckArgumentNames(graph));
  ADC_RETURN_IF_ERROR(CheckAddressable(graph));
  ADC_RETURN_IF_ERROR(CheckSchedule(options.schedule));
  ADC_ASSIGN_OR_RETURN(Halide::Target target, ParseTarget(options.target));
  TempDir dir;
  if (!dir.ok())
    return absl::InternalError("cannot create a temporary directory");
  const std::string library = dir.File("pipeline.a");
  ADC_ASSIGN_OR_RETURN(Graph prepared, Prepare(graph, options));
  Compilation compilation(graph, target, options, "adc_pipeline", library,
                          options.emit_assembly ? output_path + ".s" : "");
  ADC_RETURN_IF_ERROR(compilation.Run(prepared));
  const std::string params = dir.File("params.bin");
  const std::string stub = dir.File("artifact.c");
  const std::string exports = dir.File("exports.map");
  codegen::ArtifactSource source = codegen::WriteArtifactSource(
      prepared, compilation.calls(), compilation.temporaries(),
      compilation.functions(), "adc_artifact", params, target.to_string(),
      /*override_halide_error=*/true,
      /*exact_allocation=*/target.has_feature(Halide::Target::ASAN));
  ADC_RETURN_IF_ERROR(WriteFile(params, source.params_blob));
  ADC_RETURN_IF_ERROR(WriteFile(stub, source.c_source));
  ADC_RETURN_IF_ERROR(WriteFile(
      exports,
      "{\n  global:\n    adc_artifact_signature;\n    adc_artifact_run;\n"
      "    adc_artifact_last_error;\n    adc_artifact_set_num_threads;\n"
      "    adc_artifact_peak_bytes;\n"
      "  local: *;\n};\n"));
  ADC_RETURN_IF_ERROR(RunTool(
      {CCompiler(), "-shared", "-fPIC", "-O2", "-I" + HalideIncludeDir(), stub,
       library, "-o", output_path, "-Wl,--exclude-libs,ALL",
       "-Wl,--version-script=" + exports, "-ldl", "-lpthread", "-lm"},
      dir.File("cc.log"), kNeedsCc));
  // The checksum the runtime verifies before loading it (runtime/seal.h).
  if (const rt::Status sealed = rt::SealArtifact(output_path); !sealed.ok()) {
    return absl::InternalError(sealed.message());
  }
  return absl::OkStatus();
}

absl::Status CompileToStaticLibrary(const Graph& graph,
                                    const std::string& prefix,
                                    const std::string& function_name,
                                    const CompileOptions& options) {
  ADC_RETURN_IF_ERROR(Verify(graph));
  ADC_RETURN_IF_ERROR(CheckArgumentNames(graph));
  ADC_RETURN_IF_ERROR(CheckAddressable(graph));
  ADC_RETURN_IF_ERROR(CheckSchedule(options.schedule));
  if (codegen::CIdentifier(function_name) != function_name) {
    return absl::InvalidArgumentError(absl::StrCat(
        "function name '", function_name, "' is not a C identifier"));
  }
  ADC_ASSIGN_OR_RETURN(Halide::Target target, ParseTarget(options.target));
  TempDir dir;
  if (!dir.ok())
    return absl::InternalError("cannot create a temporary directory");
  const std::string pipeline_name = function_name + "_pipeline";
  const std::string library = dir.File("pipeline.a");
  ADC_ASSIGN_OR_RETURN(Graph prepared, Prepare(graph, options));
  Compilation compilation(graph, target, options, pipeline_name, library, "");
  ADC_RETURN_IF_ERROR(compilation.Run(prepared));
  const std::string params = dir.File("params.bin");
  const std::string stub = dir.File("artifact.c");
  const std::string object = dir.File("artifact.o");
  codegen::ArtifactSource source = codegen::WriteArtifactSource(
      prepared, compilation.calls(), compilation.temporaries(),
      compilation.functions(), function_name, params, target.to_string(),
      /*override_halide_error=*/false,
      /*exact_allocation=*/target.has_feature(Halide::Target::ASAN));
  ADC_RETURN_IF_ERROR(WriteFile(params, source.params_blob));
  ADC_RETURN_IF_ERROR(WriteFile(stub, source.c_source));
  ADC_RETURN_IF_ERROR(RunTool({CCompiler(), "-c", "-fPIC", "-O2",
                               "-I" + HalideIncludeDir(), stub, "-o", object},
                              dir.File("cc.log"), kNeedsCc));
  // The static library: Halide's objects plus the stub's.
  const std::string archive = prefix + ".a";
  std::remove(archive.c_str());
  const std::string mri = dir.File("merge.mri");
  ADC_RETURN_IF_ERROR(
      WriteFile(mri, absl::StrCat("create ", archive, "\naddlib ", library,
                                  "\naddmod ", object, "\nsave\nend\n")));
  ADC_RETURN_IF_ERROR(RunTool({"sh", "-c", absl::StrCat("ar -M < '", mri, "'")},
                              dir.File("ar.log"), kNeedsCc));
  return WriteFile(prefix + ".h",
                   codegen::WriteTypedHeader(prepared, function_name));
}

}  // namespace adc
