// The runtime's checks of what an artifact file and its signature claim,
// before anything trusts them (module.cc). Not part of the API: exposed for
// the fuzz targets (tests/fuzz/artifact_fuzzer.cc).
#ifndef ADC_RUNTIME_MODULE_INTERNAL_H_
#define ADC_RUNTIME_MODULE_INTERNAL_H_

#include <cstdint>
#include <string>

#include "runtime/artifact_abi.h"
#include "runtime/module.h"

namespace adc::rt::internal {

// dlopen maps an ELF file's segments without checking that the file holds
// them, and touching a page past the end of a truncated file raises SIGBUS.
// This rejects such files, and ELF files for another architecture, before
// dlopen. Anything that is not a well-formed ELF header of this machine's
// class is left for dlopen to diagnose.
Status CheckSegmentsInFile(const std::string& path, uint64_t file_size,
                           const std::string& where);

// OK if the host can run code compiled for Halide target string `target`
// (its architecture, and every CPU feature its x86 features need).
Status CheckTargetRunsHere(const std::string& target, const std::string& where);

// Converts and validates the artifact's signature. `where` prefixes errors.
Status ConvertSignature(const adc_signature& raw, const std::string& where,
                        Signature* signature);

}  // namespace adc::rt::internal

#endif  // ADC_RUNTIME_MODULE_INTERNAL_H_
