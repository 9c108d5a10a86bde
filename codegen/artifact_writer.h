// Writes the C side of an artifact: the embedded signature, the parameter
// values and the entry points of runtime/artifact_abi.h around the graph's
// Halide stages (compiled with the UserContext feature: each stage's entry
// point is `<function>_argv(void** args)`, args[0] = &user_context, then one
// halide_buffer_t* per buffer). The run entry point allocates temporaries
// (64-byte aligned) before the stage that writes them, frees them after the
// last stage that reads them, and calls the stages in order.
//
// Control flow (codegen/stages.h ControlCall) runs in this C code: each
// function a construct calls (branches, loop conditions and bodies, also
// those of nested constructs) is a static C function
//   static int <prefix>_f<j>(void* const* args, adc_call_context* ctx)
// over its buffers (its inputs, then its outputs) with the same steps and
// temporaries as the run entry point; a cond step reads the predicate's
// byte and calls one branch on the result buffers; a while step copies the
// initial values into two state sets of its own, calls the condition
// (into a one-byte buffer) and the body (from one set into the other) in
// turn, fails the run with an error naming the loop on the iteration after
// max_iterations, and copies the final carried values to the results.
// Nonzero from any call (a stage's, a function's) stops the run; the
// first error recorded in the context is the run's error message.
#ifndef ADC_CODEGEN_ARTIFACT_WRITER_H_
#define ADC_CODEGEN_ARTIFACT_WRITER_H_

#include <string>

#include "absl/status/statusor.h"
#include "codegen/stages.h"
#include "graph/graph.h"

namespace adc::codegen {

// A function of the graph's library, compiled: C function <prefix>_f<j>
// for functions[j].
struct FunctionBody {
  std::string name;  // In the graph's library (named in a comment).
  int num_inputs = 0;
  int num_outputs = 0;
  // Buffers: arguments are the inputs, then the outputs.
  std::vector<StageCall> stages;
  std::vector<TensorType> temporaries;
};

struct ArtifactSource {
  std::string c_source;     // The stub, including its own ABI declarations.
  std::string params_blob;  // Parameter values, 64-byte aligned each.
};

// `symbol_prefix` names the exported entry points: "adc_artifact" gives the
// ABI names (adc_artifact_signature, ...); the static-library flavour uses
// the user's function name so several libraries link into one binary.
// `params_path` is where the caller writes params_blob (referenced by an
// .incbin directive). `target` is recorded in the signature. With
// `exact_allocation` (memory-checked artifacts: Halide's asan feature) every
// block of memory is exactly the size asked for and freed at once;
// otherwise freed blocks are cached for reuse.
ArtifactSource WriteArtifactSource(const Graph& graph,
                                   const std::vector<StageCall>& stages,
                                   const std::vector<TensorType>& temporaries,
                                   const std::vector<FunctionBody>& functions,
                                   const std::string& symbol_prefix,
                                   const std::string& params_path,
                                   const std::string& target,
                                   bool override_halide_error,
                                   bool exact_allocation);

// A C++ header with a typed entry point for the static-library flavour.
std::string WriteTypedHeader(const Graph& graph,
                             const std::string& function_name);

// `name` as a C identifier (other characters become '_').
std::string CIdentifier(const std::string& name);

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_ARTIFACT_WRITER_H_
