// Writes the C side of an artifact: the embedded signature, the parameter
// values and the entry points of runtime/artifact_abi.h around the graph's
// Halide stages (compiled with the UserContext feature: each stage's entry
// point is `<function>_argv(void** args)`, args[0] = &user_context, then one
// halide_buffer_t* per buffer). The run entry point allocates temporaries
// (64-byte aligned) before the stage that writes them, frees them after the
// last stage that reads them, and calls the stages in order.
#ifndef ADC_CODEGEN_ARTIFACT_WRITER_H_
#define ADC_CODEGEN_ARTIFACT_WRITER_H_

#include <string>

#include "absl/status/statusor.h"
#include "codegen/stages.h"
#include "graph/graph.h"

namespace adc::codegen {

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
