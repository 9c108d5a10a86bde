// memcheck_run ARTIFACT.so DIR
//
// Runs a memory-checked artifact (compiled for a target with Halide's asan
// feature, e.g. `adc compile --target=host-asan`) once, in a process built
// with AddressSanitizer, for the compiled tests (codegen/run_compiled.h):
// compiling stays in the test's own, uninstrumented process (LLVM runs
// several times slower under AddressSanitizer's allocator), and only the
// generated code runs here, with every load and store checked.
//
// Each input or parameter is read from DIR/<hex of its name>.in: its raw
// bytes (little-endian, row-major), exactly its size; a parameter without a
// file keeps its stored value. Each output is written to
// DIR/<hex of its name>.out. Every buffer is allocated to exactly its size, so
// an access past the end of any of them is reported. Exit status 0 on success,
// 1 with one line on stderr on an error, AddressSanitizer's report and exit
// status on a memory error.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "codegen/memcheck_protocol.h"
#include "runtime/module.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "memcheck_run: %s\n", message.c_str());
  return 1;
}

}  // namespace

// AddressSanitizer's defaults for this process: report every error, keep
// going to exit with a failure; leaks are not what this checks.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

int main(int argc, char** argv) {
  if (argc != 3) return Fail("usage: memcheck_run ARTIFACT.so DIR");
  const std::string dir = argv[2];
  auto module = adc::rt::Module::Load(argv[1]);
  if (!module.ok()) return Fail(module.status().message());
  const adc::rt::Signature& sig = (*module)->signature();
  std::vector<const adc::rt::ArgSpec*> args;
  for (const auto& a : sig.inputs) args.push_back(&a);
  for (const auto& a : sig.parameters) args.push_back(&a);
  std::map<std::string, adc::rt::Tensor> inputs;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string path =
        adc::memcheck::ArgumentFile(dir, args[k]->name, ".in");
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      if (k < sig.inputs.size()) return Fail("no input file " + path);
      continue;  // A parameter keeps its stored value.
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    adc::rt::Tensor t(args[k]->dtype, args[k]->dims);
    if (bytes.size() != t.size_bytes()) {
      return Fail(path + " holds " + std::to_string(bytes.size()) +
                  " bytes, argument '" + args[k]->name + "' needs " +
                  std::to_string(t.size_bytes()));
    }
    std::copy(bytes.begin(), bytes.end(), static_cast<char*>(t.data()));
    inputs.emplace(args[k]->name, std::move(t));
  }
  auto outputs = (*module)->Run(inputs);
  if (!outputs.ok()) return Fail(outputs.status().message());
  for (size_t k = 0; k < sig.outputs.size(); ++k) {
    const adc::rt::Tensor& t = outputs->at(sig.outputs[k].name);
    const std::string path =
        adc::memcheck::ArgumentFile(dir, sig.outputs[k].name, ".out");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(t.data()),
              static_cast<std::streamsize>(t.size_bytes()));
    if (!out.flush()) return Fail("cannot write " + path);
  }
  return 0;
}
