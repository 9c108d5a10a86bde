#include "codegen/compile.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "Halide.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/artifact_writer.h"
#include "codegen/lower.h"
#include "graph/check.h"
#include "graph/verifier.h"
#include "passes/pipeline.h"

extern char** environ;

namespace adc {
namespace {

// A temporary directory removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(base && *base ? base : "/tmp", "/adc-XXXXXX");
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  bool ok() const { return !path_.empty(); }
  std::string File(const std::string& name) const {
    return absl::StrCat(path_, "/", name);
  }

 private:
  std::string path_;
};

absl::Status WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.close();
  if (!f)
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write '", path, "'"));
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs argv[0] (looked up in PATH) with stderr captured to `log`.
absl::Status RunTool(const std::vector<std::string>& argv,
                     const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);
  pid_t pid;
  const int err =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot run '", argv[0], "' (", std::strerror(err),
        "); adc compile needs a C compiler (apt-get install gcc)"));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string out = ReadFile(log);
    if (out.size() > 2000) out = out.substr(0, 2000) + "...";
    return absl::InternalError(
        absl::StrCat("'", absl::StrJoin(argv, " "), "' failed: ", out));
  }
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
Halide::Target HostTarget() {
  Halide::Target t = Halide::get_host_target();
  __builtin_cpu_init();
  if (t.has_feature(Halide::Target::AVX512_SapphireRapids) &&
      !__builtin_cpu_supports("avx512fp16")) {
    t = t.without_feature(Halide::Target::AVX512_SapphireRapids);
  }
  return t;
}

// A Halide target for this machine: "host" or an explicit target string
// whose architecture, bit width and OS are this machine's (the artifact's C
// entry point is compiled and linked here), without GPU features (adc
// generates CPU code).
absl::StatusOr<Halide::Target> ParseTarget(const std::string& name) {
  Halide::Target t;
  try {
    t = name == "host" ? HostTarget() : Halide::Target(name);
  } catch (const Halide::Error&) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Halide target '", name,
                     "' (expected 'host' or arch-bits-os[-feature...], e.g. "
                     "x86-64-linux-avx2-fma)"));
  }
  const Halide::Target host = Halide::get_host_target();
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

// Lowers the graph and compiles its stages into one static library (Halide
// runtime included). Fills the stage calls and temporaries for the artifact
// writer.
// The graph code generation sees: optimized unless asked not to.
absl::StatusOr<Graph> Prepare(const Graph& graph,
                              const CompileOptions& options) {
  Graph g = graph;
  if (options.optimize) {
    OptimizationOptions opt;
    opt.keep_stop_gradient = false;  // The artifact is not differentiated.
    ADC_RETURN_IF_ERROR(OptimizationPipeline(opt)->Run(&g).status());
  }
  return g;
}

absl::Status CompilePipeline(const Graph& graph, const Halide::Target& target,
                             const std::string& pipeline_name,
                             const std::string& library_path,
                             const std::string& assembly_path,
                             std::vector<codegen::StageCall>* calls,
                             std::vector<TensorType>* temporaries) {
  const bool verbose = std::getenv("ADC_VERBOSE") != nullptr;
  auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
  };
  ADC_ASSIGN_OR_RETURN(codegen::LoweredGraph lowered,
                       codegen::LowerGraph(graph, target));
  if (verbose) {
    std::fprintf(stderr,
                 "adc: lowered %d nodes: %zu materialized values in %zu "
                 "stages (%.2fs)\n",
                 graph.num_nodes(), lowered.materialized.size(),
                 lowered.stages.size(), seconds());
  }
  *temporaries = lowered.temporaries;
  // The artifact's entry point builds every buffer from the signature, so
  // Halide's argument checks and bounds queries would be dead code.
  const Halide::Target stage_target =
      target.with_feature(Halide::Target::NoRuntime)
          .with_feature(Halide::Target::NoAsserts)
          .with_feature(Halide::Target::NoBoundsQuery);
  const size_t num_stages = lowered.stages.size();
  std::vector<std::string> objects(num_stages);
  for (size_t k = 0; k < num_stages; ++k) {
    codegen::LoweredStage& stage = lowered.stages[k];
    codegen::StageCall call;
    call.function = absl::StrCat(pipeline_name, "_s", k);
    call.buffers = stage.inputs;
    call.buffers.insert(call.buffers.end(), stage.outputs.begin(),
                        stage.outputs.end());
    call.types = stage.input_types;
    call.types.insert(call.types.end(), stage.output_types.begin(),
                      stage.output_types.end());
    calls->push_back(call);
    objects[k] = absl::StrCat(library_path, ".s", k, ".o");
  }
  // Each stage is lowered by Halide and compiled by LLVM into an object of
  // its own (LLVM time grows with module size), on all cores.
  std::vector<std::string> errors(num_stages);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t k = next++; k < num_stages; k = next++) {
      try {
        Halide::Module module = lowered.stages[k].pipeline.compile_to_module(
            lowered.stages[k].args, (*calls)[k].function, stage_target);
        if (const char* stmt = std::getenv("ADC_DUMP_STMT")) {
          // Developers: Halide's lowered statement of each stage.
          module.compile({{Halide::OutputFileType::stmt,
                           absl::StrCat(stmt, ".stage", k, ".stmt")}});
        }
        module.compile({{Halide::OutputFileType::object, objects[k]}});
        if (!assembly_path.empty()) {
          module.compile({{Halide::OutputFileType::assembly,
                           absl::StrCat(assembly_path, ".stage", k, ".s")}});
        }
      } catch (const Halide::Error& e) {
        errors[k] = e.what();
      }
    }
  };
  const size_t num_threads = std::min<size_t>(
      num_stages, std::max(1u, std::thread::hardware_concurrency()));
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
  if (verbose)
    std::fprintf(stderr, "adc: stages compiled at %.2fs\n", seconds());
  try {
    objects.push_back(library_path + ".runtime.o");
    Halide::compile_standalone_runtime(
        {{Halide::OutputFileType::object, objects.back()}}, target);
    std::vector<std::string> ar = {"ar", "rcs", library_path};
    ar.insert(ar.end(), objects.begin(), objects.end());
    ADC_RETURN_IF_ERROR(RunTool(ar, library_path + ".ar.log"));
    if (verbose) std::fprintf(stderr, "adc: LLVM done at %.2fs\n", seconds());
  } catch (const Halide::Error& e) {
    return absl::InternalError(
        absl::StrCat("Halide failed to compile the pipeline: ", e.what()));
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

absl::Status CompileToSharedLibrary(const Graph& graph,
                                    const std::string& output_path,
                                    const CompileOptions& options) {
  ADC_RETURN_IF_ERROR(Verify(graph));
  ADC_RETURN_IF_ERROR(CheckArgumentNames(graph));
  ADC_ASSIGN_OR_RETURN(Halide::Target target, ParseTarget(options.target));
  TempDir dir;
  if (!dir.ok())
    return absl::InternalError("cannot create a temporary directory");
  const std::string library = dir.File("pipeline.a");
  std::vector<codegen::StageCall> calls;
  std::vector<TensorType> temporaries;
  ADC_ASSIGN_OR_RETURN(Graph prepared, Prepare(graph, options));
  ADC_RETURN_IF_ERROR(CompilePipeline(
      prepared, target, "adc_pipeline", library,
      options.emit_assembly ? output_path + ".s" : "", &calls, &temporaries));
  const std::string params = dir.File("params.bin");
  const std::string stub = dir.File("artifact.c");
  const std::string exports = dir.File("exports.map");
  codegen::ArtifactSource source = codegen::WriteArtifactSource(
      prepared, calls, temporaries, "adc_artifact", params, target.to_string(),
      /*override_halide_error=*/true);
  ADC_RETURN_IF_ERROR(WriteFile(params, source.params_blob));
  ADC_RETURN_IF_ERROR(WriteFile(stub, source.c_source));
  ADC_RETURN_IF_ERROR(WriteFile(
      exports,
      "{\n  global:\n    adc_artifact_signature;\n    adc_artifact_run;\n"
      "    adc_artifact_last_error;\n    adc_artifact_set_num_threads;\n"
      "  local: *;\n};\n"));
  return RunTool(
      {CCompiler(), "-shared", "-fPIC", "-O2", "-I" + HalideIncludeDir(), stub,
       library, "-o", output_path, "-Wl,--exclude-libs,ALL",
       "-Wl,--version-script=" + exports, "-ldl", "-lpthread", "-lm"},
      dir.File("cc.log"));
}

absl::Status CompileToStaticLibrary(const Graph& graph,
                                    const std::string& prefix,
                                    const std::string& function_name,
                                    const CompileOptions& options) {
  ADC_RETURN_IF_ERROR(Verify(graph));
  ADC_RETURN_IF_ERROR(CheckArgumentNames(graph));
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
  std::vector<codegen::StageCall> calls;
  std::vector<TensorType> temporaries;
  ADC_ASSIGN_OR_RETURN(Graph prepared, Prepare(graph, options));
  ADC_RETURN_IF_ERROR(CompilePipeline(prepared, target, pipeline_name, library,
                                      "", &calls, &temporaries));
  const std::string params = dir.File("params.bin");
  const std::string stub = dir.File("artifact.c");
  const std::string object = dir.File("artifact.o");
  codegen::ArtifactSource source = codegen::WriteArtifactSource(
      prepared, calls, temporaries, function_name, params, target.to_string(),
      /*override_halide_error=*/false);
  ADC_RETURN_IF_ERROR(WriteFile(params, source.params_blob));
  ADC_RETURN_IF_ERROR(WriteFile(stub, source.c_source));
  ADC_RETURN_IF_ERROR(RunTool({CCompiler(), "-c", "-fPIC", "-O2",
                               "-I" + HalideIncludeDir(), stub, "-o", object},
                              dir.File("cc.log")));
  // The static library: Halide's objects plus the stub's.
  const std::string archive = prefix + ".a";
  std::remove(archive.c_str());
  const std::string mri = dir.File("merge.mri");
  ADC_RETURN_IF_ERROR(
      WriteFile(mri, absl::StrCat("create ", archive, "\naddlib ", library,
                                  "\naddmod ", object, "\nsave\nend\n")));
  ADC_RETURN_IF_ERROR(RunTool({"sh", "-c", absl::StrCat("ar -M < '", mri, "'")},
                              dir.File("ar.log")));
  return WriteFile(prefix + ".h",
                   codegen::WriteTypedHeader(prepared, function_name));
}

}  // namespace adc
