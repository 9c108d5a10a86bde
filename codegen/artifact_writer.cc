#include "codegen/artifact_writer.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/check.h"

namespace adc::codegen {
namespace {

constexpr char kArtifactAbi[] =
#include "codegen/artifact_abi.inc"
    ;

constexpr char kArtifactSupport[] =
#include "codegen/artifact_support.inc"
    ;

// A C string literal for arbitrary bytes.
std::string CString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '/' || c == '-' ||
        c == ' ' || c == ':' || c == ',') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "\\%03o", c);
    }
  }
  return out + "\"";
}

const char* AbiDType(DType d) {
  switch (d) {
    case DType::kF32:
      return "ADC_F32";
    case DType::kF64:
      return "ADC_F64";
    case DType::kI32:
      return "ADC_I32";
    case DType::kI64:
      return "ADC_I64";
    case DType::kBool:
      return "ADC_BOOL";
  }
  ADC_CHECK(false);
}

// One signature argument.
struct Arg {
  std::string name;
  const char* kind;
  TensorType type;
  bool is_gradient = false;
  int64_t blob_offset = -1;  // Parameters: offset of the value in the blob.
};

std::vector<Arg> SignatureArgs(const Graph& graph, std::string* blob) {
  std::vector<Arg> args;
  for (ValueId id : graph.inputs()) {
    args.push_back({graph.node(id).name, "ADC_ARG_INPUT", graph.type(id)});
  }
  for (ValueId id : graph.parameters()) {
    Arg a{graph.node(id).name, "ADC_ARG_PARAMETER", graph.type(id)};
    blob->resize((blob->size() + 63) / 64 * 64, '\0');
    a.blob_offset = static_cast<int64_t>(blob->size());
    std::vector<uint8_t> bytes =
        graph.node(id).attrs.GetTensor("value").ToBytes();
    blob->append(bytes.begin(), bytes.end());
    args.push_back(a);
  }
  for (const GraphOutput& out : graph.outputs()) {
    Arg a{out.name, "ADC_ARG_OUTPUT", graph.type(out.value)};
    a.is_gradient = out.is_gradient;
    args.push_back(a);
  }
  return args;
}

// The steps of one compiled graph (the run entry point's, or a function's).
struct Body {
  std::vector<StageCall> stages;
  std::vector<TensorType> temporaries;
};

// Bytes of a temporary: whole 64-byte blocks, at least one.
int64_t TemporaryBytes(const TensorType& t) {
  return std::max<int64_t>(
      64, (t.num_elements() * DTypeSize(t.dtype) + 63) / 64 * 64);
}

int64_t Bytes(const TensorType& t) {
  return t.num_elements() * DTypeSize(t.dtype);
}

std::string BufferExpr(const StageBuffer& b) {
  return absl::StrCat(b.kind == StageBuffer::kArgument ? "args[" : "temps[",
                      b.index, "]");
}

// The C code of a control step (codegen/stages.h ControlCall). `scratch`:
// the while loop's temporaries, its two sets of carried values then the
// condition's byte.
void WriteControl(const ControlCall& call, const std::string& prefix,
                  const std::vector<int>& scratch, std::string* c) {
  auto function = [&](int j) { return absl::StrCat(prefix, "_f", j); };
  const int num_operands = static_cast<int>(call.operands.size());
  if (!call.is_loop) {
    const int n = num_operands - 1;
    absl::StrAppend(c, "  {\n    void* fargs[", n + call.results.size(),
                    "];\n");
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(c, "    fargs[", i,
                      "] = ", BufferExpr(call.operands[i + 1]), ";\n");
    }
    for (size_t r = 0; r < call.results.size(); ++r) {
      absl::StrAppend(c, "    fargs[", n + r,
                      "] = ", BufferExpr(call.results[r]), ";\n");
    }
    absl::StrAppend(c, "    result = (*(const uint8_t*)",
                    BufferExpr(call.operands[0]), " != 0 ? ",
                    function(call.first), " : ", function(call.second),
                    ")(fargs, ctx);\n    if (result != 0) goto done;\n");
  } else {
    const int n = call.num_carried;
    const std::string go = absl::StrCat("temps[", scratch[2 * n], "]");
    absl::StrAppend(c, "  {\n    void* cur[", n, "];\n    void* nxt[", n,
                    "];\n    void* fargs[", num_operands + n,
                    "];\n    void* swap;\n    int64_t iteration;\n");
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(c, "    cur[", i, "] = temps[", scratch[i],
                      "];\n    nxt[", i, "] = temps[", scratch[n + i], "];\n",
                      "    memcpy(cur[", i, "], ", BufferExpr(call.operands[i]),
                      ", ", Bytes(call.operand_types[i]), ");\n");
    }
    for (int i = n; i < num_operands; ++i) {
      absl::StrAppend(c, "    fargs[", i, "] = ", BufferExpr(call.operands[i]),
                      ";\n");
    }
    absl::StrAppend(c, "    for (iteration = 0;; ++iteration) {\n");
    absl::StrAppend(c, "      for (i = 0; i < ", n,
                    "; ++i) fargs[i] = cur[i];\n      fargs[", num_operands,
                    "] = ", go, ";\n      result = ", function(call.first),
                    "(fargs, ctx);\n      if (result != 0) goto done;\n",
                    "      if (*(const uint8_t*)", go, " == 0) break;\n");
    const std::string message =
        absl::StrCat("while_loop '", call.name,
                     "' exceeded max_iterations = ", call.max_iterations,
                     " (its condition still held)");
    absl::StrAppend(c, "      if (iteration == ", call.max_iterations,
                    ") {\n        adc_record_error(ctx, ", CString(message),
                    ");\n        result = -1;\n        goto done;\n      }\n");
    absl::StrAppend(c, "      for (i = 0; i < ", n, "; ++i) fargs[",
                    num_operands,
                    " + i] = nxt[i];\n      result = ", function(call.second),
                    "(fargs, ctx);\n      if (result != 0) goto done;\n",
                    "      for (i = 0; i < ", n,
                    "; ++i) {\n        swap = cur[i];\n        cur[i] = "
                    "nxt[i];\n        nxt[i] = swap;\n      }\n    }\n");
    for (int r = 0; r < n; ++r) {
      absl::StrAppend(c, "    memcpy(", BufferExpr(call.results[r]), ", cur[",
                      r, "], ", Bytes(call.result_types[r]), ");\n");
    }
  }
  for (const auto& [r, b] : call.copies) {
    absl::StrAppend(c, "    memcpy(", BufferExpr(b), ", ",
                    BufferExpr(call.results[r]), ", ",
                    Bytes(call.result_types[r]), ");\n");
  }
  absl::StrAppend(c, "  }\n");
}

// The body of a compiled graph's C function, in a scope where `args` (its
// arguments) and `ctx` (adc_call_context*) are defined: declares `temps`,
// `i` and `result`, runs the steps (allocating each temporary before the
// step that first uses it and freeing it after the last), and ends at the
// label `done` with every temporary freed. `table`: the prefix of the
// stages' tables, which go to `decls` (file scope, before the function).
//
// Halide stages are data, not code: one adc_step per stage (its function,
// buffer table, buffers and the temporaries it allocates and frees), run by
// a loop over each run of consecutive ones. Straight-line C per stage made
// the C compiler the slowest part of compiling a 10,000-op graph (21 s at
// -O2 for 502 stages).
void WriteSteps(const Body& body, const std::string& prefix,
                const std::string& table, std::string* decls, std::string* c) {
  const std::vector<StageCall>& stages = body.stages;
  // Temporaries: the lowering's, then each while loop's scratch.
  std::vector<TensorType> temporaries = body.temporaries;
  std::vector<std::vector<int>> scratch(stages.size());
  for (size_t k = 0; k < stages.size(); ++k) {
    if (!stages[k].control || !stages[k].control->is_loop) continue;
    const ControlCall& call = *stages[k].control;
    for (int copy = 0; copy < 2; ++copy) {
      for (int i = 0; i < call.num_carried; ++i) {
        scratch[k].push_back(static_cast<int>(temporaries.size()));
        temporaries.push_back(call.operand_types[i]);
      }
    }
    scratch[k].push_back(static_cast<int>(temporaries.size()));
    temporaries.push_back(TensorType{DType::kBool, {}});
  }
  absl::StrAppend(c, "  enum { kNumTemps = ", temporaries.size(),
                  " };\n  void* temps[kNumTemps + 1];\n"
                  "  int i, result = 0;\n"
                  "  for (i = 0; i <= kNumTemps; ++i) temps[i] = NULL;\n");
  // Temporaries live from the step that writes them to the last that reads.
  std::vector<int> first(temporaries.size(), -1), last(temporaries.size(), -1);
  auto use = [&](int t, int k) {
    if (first[t] < 0) first[t] = k;
    last[t] = k;
  };
  for (size_t k = 0; k < stages.size(); ++k) {
    for (const StageBuffer& b : stages[k].buffers) {
      if (b.kind == StageBuffer::kTemporary) use(b.index, static_cast<int>(k));
    }
    for (int t : scratch[k]) use(t, static_cast<int>(k));
  }
  std::vector<std::vector<int>> allocs(stages.size()), frees(stages.size());
  for (size_t t = 0; t < temporaries.size(); ++t) {
    if (first[t] < 0) continue;
    allocs[first[t]].push_back(static_cast<int>(t));
    frees[last[t]].push_back(static_cast<int>(t));
  }
  if (!temporaries.empty()) {
    std::vector<int64_t> bytes;
    for (const TensorType& t : temporaries) bytes.push_back(TemporaryBytes(t));
    absl::StrAppend(decls, "static const int64_t ", table, "_temp_bytes[] = {",
                    absl::StrJoin(bytes, ", "), "};\n");
  }
  const std::string temp_bytes =
      temporaries.empty() ? "NULL" : absl::StrCat(table, "_temp_bytes");
  // A Halide stage's step.
  auto list = [&](size_t k, const char* what, const std::vector<int>& v) {
    if (v.empty()) return std::string("NULL");
    const std::string name = absl::StrCat(table, "_s", k, "_", what);
    absl::StrAppend(decls, "static const int ", name, "[] = {",
                    absl::StrJoin(v, ", "), "};\n");
    return name;
  };
  std::vector<std::string> steps(
      stages.size(), "  {NULL, NULL, 0, NULL, 0, NULL, 0, NULL},\n");
  for (size_t k = 0; k < stages.size(); ++k) {
    const StageCall& stage = stages[k];
    if (stage.control) continue;
    std::vector<int> buffers;
    for (const StageBuffer& b : stage.buffers) {
      buffers.push_back(b.kind == StageBuffer::kArgument ? b.index
                                                         : -1 - b.index);
    }
    const std::string b = list(k, "buffers", buffers);
    const std::string a = list(k, "allocs", allocs[k]);
    const std::string f = list(k, "frees", frees[k]);
    steps[k] =
        absl::StrCat("  {", stage.function, "_argv, ", table, "_s", k, ", ",
                     buffers.size(), ", ", b, ", ", allocs[k].size(), ", ", a,
                     ", ", frees[k].size(), ", ", f, "},\n");
  }
  const bool any_halide =
      std::any_of(stages.begin(), stages.end(),
                  [](const StageCall& stage) { return !stage.control; });
  if (any_halide) {
    absl::StrAppend(decls, "static const adc_step ", table, "_steps[] = {\n",
                    absl::StrJoin(steps, ""), "};\n");
  }
  for (size_t k = 0; k < stages.size();) {
    const StageCall& stage = stages[k];
    if (!stage.control) {
      size_t end = k;
      while (end < stages.size() && !stages[end].control) ++end;
      absl::StrAppend(c, "  /* Stages ", k, " to ", end - 1,
                      ". */\n  for (i = ", k, "; i < ", end,
                      "; ++i) {\n    result = adc_run_step(&", table,
                      "_steps[i], args, temps, ", temp_bytes,
                      ", ctx);\n    if (result != 0) goto done;\n  }\n");
      k = end;
      continue;
    }
    absl::StrAppend(c, "  /* Stage ", k, ": ",
                    stage.control->is_loop ? "while_loop" : "cond", " ",
                    CString(stage.control->name), ". */\n");
    if (!allocs[k].empty()) {
      absl::StrAppend(c, "  result = adc_alloc_temps(temps, ", temp_bytes, ", ",
                      list(k, "allocs", allocs[k]), ", ", allocs[k].size(),
                      ", ctx);\n  if (result != 0) goto done;\n");
    }
    WriteControl(*stage.control, prefix, scratch[k], c);
    if (!frees[k].empty()) {
      absl::StrAppend(c, "  adc_free_temps(temps, ", list(k, "frees", frees[k]),
                      ", ", frees[k].size(), ");\n");
    }
    ++k;
  }
  absl::StrAppend(c,
                  "done:\n  for (i = 0; i < kNumTemps; ++i) adc_free(NULL, "
                  "temps[i]);\n");
}

}  // namespace

std::string CIdentifier(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    out += std::isalnum(c) ? static_cast<char>(c) : '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) {
    out = "_" + out;
  }
  return out;
}

ArtifactSource WriteArtifactSource(
    const Graph& graph, const std::vector<StageCall>& stages,
    const std::vector<TensorType>& temporaries,
    const std::vector<FunctionBody>& functions, const std::string& prefix,
    const std::string& params_path, const std::string& target,
    bool override_halide_error, bool exact_allocation) {
  ArtifactSource result;
  std::vector<Arg> args = SignatureArgs(graph, &result.params_blob);
  std::string& c = result.c_source;
  absl::StrAppend(
      &c, "/* Generated by adc for graph ", CString(graph.name()),
      ". */\n#include <stdint.h>\n#include <stdio.h>\n"
      "#include <pthread.h>\n#include <stdlib.h>\n#include <string.h>\n"
      "#include \"HalideRuntime.h\"\n\n",
      kArtifactAbi, "\n");
  auto declare = [&](const std::vector<StageCall>& calls) {
    for (const StageCall& stage : calls) {
      if (stage.control) continue;
      absl::StrAppend(&c, "extern int ", stage.function,
                      "_argv(void** args);\n");
    }
  };
  declare(stages);
  for (const FunctionBody& f : functions) declare(f.stages);
  absl::StrAppend(&c, "\n");
  if (!result.params_blob.empty()) {
    ADC_CHECK(params_path.find_first_of("\"\\\n") == std::string::npos);
    absl::StrAppend(&c, "__asm__(\".section .rodata\\n.balign 64\\n", prefix,
                    "_params:\\n.incbin \\\"", params_path,
                    "\\\"\\n.previous\\n\");\n", "extern const unsigned char ",
                    prefix,
                    "_params[] __attribute__((visibility(\"hidden\")));\n\n");
  }
  int total_rank = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].type.rank() == 0) continue;
    absl::StrAppend(&c, "static const int64_t ", prefix, "_dims", i, "[] = {",
                    absl::StrJoin(args[i].type.dims, ", "), "};\n");
    total_rank += args[i].type.rank();
  }
  absl::StrAppend(&c, "\nstatic const adc_arg_desc ", prefix, "_args[] = {\n");
  for (size_t i = 0; i < args.size(); ++i) {
    const Arg& a = args[i];
    absl::StrAppend(
        &c, "  {", CString(a.name), ", ", a.kind, ", ", AbiDType(a.type.dtype),
        ", ", a.type.rank(), ", ", a.is_gradient ? 1 : 0, ", ",
        a.type.rank() == 0 ? std::string("NULL")
                           : absl::StrCat(prefix, "_dims", i),
        ", ",
        a.blob_offset >= 0 ? absl::StrCat(prefix, "_params + ", a.blob_offset)
                           : std::string("NULL"),
        "},\n");
  }
  absl::StrAppend(&c, "};\n\n");
  absl::StrAppend(&c, "static const adc_signature ", prefix,
                  "_sig = {ADC_ABI_VERSION, ", args.size(), ", ", prefix,
                  "_args, ", CString(graph.name()), ", ", CString(target),
                  ", \"adc 0.1\"};\n\n");
  // The fixed part (codegen/artifact_support.c), configured.
  absl::StrAppend(&c, "#define ADC_OVERRIDE_HALIDE_ERROR ",
                  override_halide_error ? 1 : 0,
                  "\n#define ADC_EXACT_ALLOCATION ", exact_allocation ? 1 : 0,
                  "\n", kArtifactSupport, "\n");
  absl::StrAppend(&c, "\nstatic __thread char ", prefix, "_error[1024];\n\n");
  absl::StrAppend(&c, "ADC_EXPORT const adc_signature* ", prefix,
                  "_signature(void) { return &", prefix, "_sig; }\n\n");
  absl::StrAppend(&c, "ADC_EXPORT const char* ", prefix,
                  "_last_error(void) { return ", prefix, "_error; }\n\n");
  // Optional (artifacts before it lack it): the peak of intermediate memory.
  absl::StrAppend(
      &c, "ADC_EXPORT int64_t ", prefix,
      "_peak_bytes(int reset) { return adc_peak_bytes(reset); }\n\n");
  // Halide's pool does not shrink once its workers exist: shut it down first
  // (it restarts at the new size on the next parallel loop).
  absl::StrAppend(
      &c, "ADC_EXPORT int ", prefix,
      "_set_num_threads(int n) {\n  halide_shutdown_thread_pool();\n"
      "  return halide_set_num_threads(n);\n}\n\n");
  // Stage argument tables (dtype, rank and dims of every buffer of each
  // Halide stage), of the graph and of its functions.
  auto tables = [&](const std::string& table, const Body& body) {
    for (size_t k = 0; k < body.stages.size(); ++k) {
      const StageCall& stage = body.stages[k];
      if (stage.control) continue;
      for (size_t i = 0; i < stage.types.size(); ++i) {
        if (stage.types[i].rank() == 0) continue;
        absl::StrAppend(&c, "static const int64_t ", table, "_s", k, "_dims", i,
                        "[] = {", absl::StrJoin(stage.types[i].dims, ", "),
                        "};\n");
      }
      absl::StrAppend(&c, "static const adc_buffer_desc ", table, "_s", k,
                      "[] = {\n");
      for (size_t i = 0; i < stage.types.size(); ++i) {
        const TensorType& t = stage.types[i];
        absl::StrAppend(&c, "  {", AbiDType(t.dtype), ", ", t.rank(), ", ",
                        t.rank() == 0
                            ? std::string("NULL")
                            : absl::StrCat(table, "_s", k, "_dims", i),
                        "},\n");
      }
      absl::StrAppend(&c, "};\n");
    }
  };
  const Body main_body{stages, temporaries};
  std::vector<Body> bodies = {main_body};
  tables(prefix, main_body);
  for (size_t j = 0; j < functions.size(); ++j) {
    bodies.push_back({functions[j].stages, functions[j].temporaries});
    tables(absl::StrCat(prefix, "_f", j), bodies.back());
  }
  size_t max_buffers = 1;
  int max_rank = 1;
  for (const Body& body : bodies) {
    for (const StageCall& stage : body.stages) {
      if (stage.control) continue;
      max_buffers = std::max(max_buffers, stage.buffers.size());
      int rank = 0;
      for (const TensorType& t : stage.types) rank += t.rank();
      max_rank = std::max(max_rank, rank);
    }
  }
  absl::StrAppendFormat(&c, R"(
/* Calls one stage: builds a halide_buffer_t per buffer (dense row-major). */
static int adc_call_stage(int (*fn)(void**), const adc_buffer_desc* desc,
                          int n, void* const* ptrs, adc_call_context* ctx) {
  halide_dimension_t dims[%d];
  halide_buffer_t bufs[%d];
  void* argv[%d];
  void* user_context = ctx;
  int i, h, d = 0;
  argv[0] = &user_context;
  for (i = 0; i < n; ++i) {
    int64_t stride = 1;
    memset(&bufs[i], 0, sizeof(bufs[i]));
    bufs[i].host = (uint8_t*)ptrs[i];
    bufs[i].type.code = desc[i].dtype == ADC_F32 || desc[i].dtype == ADC_F64
                            ? halide_type_float
                            : desc[i].dtype == ADC_BOOL ? halide_type_uint
                                                        : halide_type_int;
    bufs[i].type.bits = desc[i].dtype == ADC_F64 || desc[i].dtype == ADC_I64 ? 64
                        : desc[i].dtype == ADC_BOOL ? 8 : 32;
    bufs[i].type.lanes = 1;
    bufs[i].dimensions = desc[i].rank;
    bufs[i].dim = &dims[d];
    for (h = 0; h < desc[i].rank; ++h) {
      int64_t extent = desc[i].dims[desc[i].rank - 1 - h];
      dims[d + h].min = 0;
      dims[d + h].extent = (int32_t)extent;
      dims[d + h].stride = (int32_t)stride;
      dims[d + h].flags = 0;
      stride *= extent;
    }
    d += desc[i].rank;
    argv[i + 1] = &bufs[i];
  }
  return fn(argv);
}

)",
                        max_rank + 1, max_buffers, max_buffers + 1);
  absl::StrAppendFormat(
      &c,
      R"(/* A Halide stage's step (WriteSteps): buffer b >= 0 is args[b], else
   temps[-1 - b]; allocates `allocs` before and frees `frees` after. */
typedef struct {
  int (*fn)(void**);
  const adc_buffer_desc* desc;
  int num_buffers;
  const int* buffers;
  int num_allocs;
  const int* allocs;
  int num_frees;
  const int* frees;
} adc_step;

/* Allocates temporaries list[0..n) (every step's, Halide or control). */
static int adc_alloc_temps(void** temps, const int64_t* temp_bytes,
                           const int* list, int n, adc_call_context* ctx) {
  int i;
  for (i = 0; i < n; ++i) {
    const int t = list[i];
    temps[t] = adc_malloc(NULL, (size_t)temp_bytes[t]);
    if (temps[t] == NULL) {
      char message[96];
      snprintf(message, sizeof(message),
               "out of memory for a temporary of %%lld bytes",
               (long long)temp_bytes[t]);
      adc_record_error(ctx, message);
      return -1;
    }
  }
  return 0;
}

static void adc_free_temps(void** temps, const int* list, int n) {
  int i;
  for (i = 0; i < n; ++i) {
    adc_free(NULL, temps[list[i]]);
    temps[list[i]] = NULL;
  }
}

static int adc_run_step(const adc_step* s, void* const* args, void** temps,
                        const int64_t* temp_bytes, adc_call_context* ctx) {
  void* ptrs[%d];
  int i, result;
  result = adc_alloc_temps(temps, temp_bytes, s->allocs, s->num_allocs, ctx);
  if (result != 0) return result;
  for (i = 0; i < s->num_buffers; ++i) {
    const int b = s->buffers[i];
    ptrs[i] = b >= 0 ? args[b] : temps[-1 - b];
  }
  result = adc_call_stage(s->fn, s->desc, s->num_buffers, ptrs, ctx);
  if (result != 0) return result;
  adc_free_temps(temps, s->frees, s->num_frees);
  return 0;
}

)",
      max_buffers);
  // Each body's step tables, then the functions' and the entry point's code.
  std::vector<std::string> code(bodies.size());
  for (size_t j = 0; j < bodies.size(); ++j) {
    WriteSteps(bodies[j], prefix,
               j == 0 ? prefix : absl::StrCat(prefix, "_f", j - 1), &c,
               &code[j]);
  }
  // The graph's functions: static, called by control steps.
  for (size_t j = 0; j < functions.size(); ++j) {
    absl::StrAppend(&c, "static int ", prefix, "_f", j,
                    "(void* const* args, adc_call_context* ctx);\n");
  }
  for (size_t j = 0; j < functions.size(); ++j) {
    const FunctionBody& f = functions[j];
    absl::StrAppend(&c, "\n/* Function ", CString(f.name), ": ", f.num_inputs,
                    " input(s), then ", f.num_outputs, " output(s). */\n",
                    "static int ", prefix, "_f", j,
                    "(void* const* args, adc_call_context* ctx) {\n");
    absl::StrAppend(&c, code[j + 1]);
    absl::StrAppend(&c, "  return result;\n}\n");
  }
  absl::StrAppendFormat(&c, R"(
ADC_EXPORT int %s_run(void* const* buffers) {
  enum { kNumArgs = %d };
  void* args[kNumArgs + 1];
  adc_call_context ctx_storage;
  adc_call_context* ctx = &ctx_storage;
  int a;
  ctx->has_error = 0;
  ctx->message[0] = 0;
  for (a = 0; a < kNumArgs; ++a) {
    /* A NULL parameter buffer means the stored value. */
    args[a] = buffers[a] != NULL || %s_args[a].default_data == NULL
                  ? buffers[a]
                  : (void*)%s_args[a].default_data;
  }
)",
                        prefix, static_cast<int>(args.size()), prefix, prefix);
  if (!override_halide_error) {
    absl::StrAppend(&c, "  halide_set_error_handler(adc_record_error);\n");
  }
  absl::StrAppend(&c, code[0]);
  absl::StrAppendFormat(&c, R"(  if (result != 0) {
    snprintf(%s_error, sizeof(%s_error), "%%s",
             ctx->has_error ? ctx->message : "the pipeline failed");
  } else {
    %s_error[0] = 0;
  }
  return result;
}
)",
                        prefix, prefix, prefix);
  return result;
}

std::string WriteTypedHeader(const Graph& graph,
                             const std::string& function_name) {
  std::string blob;
  std::vector<Arg> args = SignatureArgs(graph, &blob);
  auto ctype = [](DType d) -> std::string {
    switch (d) {
      case DType::kF32:
        return "float";
      case DType::kF64:
        return "double";
      case DType::kI32:
        return "int32_t";
      case DType::kI64:
        return "int64_t";
      case DType::kBool:
        return "uint8_t";
    }
    ADC_CHECK(false);
  };
  const std::string guard =
      absl::StrCat("ADC_GENERATED_", CIdentifier(function_name), "_H_");
  std::string h = absl::StrCat(
      "// Generated by adc for graph ", graph.name(),
      ". Do not edit.\n#ifndef ", guard, "\n#define ", guard,
      "\n\n#include <cstdint>\n\nextern \"C\" {\nstruct adc_signature;\n"
      "const adc_signature* ",
      function_name, "_signature(void);\nint ", function_name,
      "_run(void* const* buffers);\nconst char* ", function_name,
      "_last_error(void);\nint ", function_name,
      "_set_num_threads(int n);\nint64_t ", function_name,
      "_peak_bytes(int reset);\n}\n\n");
  // Shapes as constants.
  absl::StrAppend(&h, "namespace ", function_name, "_shapes {\n");
  for (const Arg& a : args) {
    absl::StrAppend(&h, "inline constexpr int64_t ", CIdentifier(a.name),
                    "_num_elements = ", a.type.num_elements(), ";  // ",
                    a.type.ToString(), "\n");
  }
  absl::StrAppend(&h, "}  // namespace ", function_name, "_shapes\n\n");
  // Typed entry point: inputs, parameters (nullptr: the stored value), outputs.
  std::vector<std::string> params, call;
  for (const Arg& a : args) {
    const bool out = std::string(a.kind) == "ADC_ARG_OUTPUT";
    const bool param = std::string(a.kind) == "ADC_ARG_PARAMETER";
    params.push_back(absl::StrCat(out ? "" : "const ", ctype(a.type.dtype),
                                  "* ", CIdentifier(a.name)));
    (void)param;
    call.push_back(absl::StrCat("(void*)", CIdentifier(a.name)));
  }
  absl::StrAppend(
      &h,
      "// Runs the compiled graph. Arguments: inputs, parameters (nullptr "
      "uses the stored\n// value), outputs; dense row-major. Returns 0 on "
      "success, else see ",
      function_name, "_last_error().\n");
  absl::StrAppend(&h, "inline int ", function_name, "(",
                  absl::StrJoin(params, ", "),
                  ") {\n  void* const buffers[] = {", absl::StrJoin(call, ", "),
                  "};\n  return ", function_name,
                  "_run(buffers);\n}\n\n#endif  // ", guard, "\n");
  return h;
}

}  // namespace adc::codegen
