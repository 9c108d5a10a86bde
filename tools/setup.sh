#!/bin/bash
# Sets up a Debian 12 machine for adc (installs whatever Debian packages are
# missing; idempotent, needs root) and then runs the demo or the tests:
#
#   tools/setup.sh demo    # build, differentiate, compile and run the examples
#   tools/setup.sh test    # the whole test suite (bazel test //...), the
#                          # sanitizer builds and bounded fuzzing
#   tools/setup.sh         # only install
set -euo pipefail
cd "$(dirname "$0")/.."

# What each package is for (see README.md, "Dependencies").
packages=(
  bazel-bootstrap      # Bazel 4.2.3, the build
  bazel-rules-proto    # @rules_proto for proto_library
  g++                  # C++17 compiler; also links artifacts at `adc compile`
  pkg-config           # regenerating third_party/system/absl.BUILD
  protobuf-compiler    # protoc for graph/graph.proto
  libprotobuf-dev      # the graph format (GraphDef), text format
  libabsl-dev          # Status, StrCat, flags, hash maps
  libgtest-dev         # tests
  libgmock-dev         # tests (matchers)
  libbenchmark-dev     # micro-benchmarks
  libhalide14-0-dev    # code generation (Halide 14 with LLVM)
  libonnx-dev          # ONNX import
  libonnx-testdata     # ONNX per-op conformance cases
  graphviz             # `adc dot` pictures (.svg)
  gnuplot-nox          # `adc plot` pictures, training loss curves
  python3-sklearn      # the handwritten digits (a data file; no Python runs)
  dataset-fashion-mnist  # Fashion-MNIST (IDX files)
  zlib1g-dev           # reading the gzipped datasets
  libopenmpi-dev       # data-parallel training (models/train/distributed)
  openmpi-bin          # mpirun, which starts the workers
  clang                # fuzzing: libFuzzer targets (tools/fuzz.sh)
  libclang-rt-14-dev   # fuzzing: libFuzzer and the sanitizer runtimes for clang
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

sanitized=(//graph/... //passes/... //runtime/... //tests/... //tools/...)
case "${1:-}" in
  demo) exec bazel run //models/demo -- demo_out ;;
  test)
    # The suite, then the core, runtime and tools tests under
    # AddressSanitizer + UndefinedBehaviorSanitizer, then each fuzz target
    # for a fixed number of inputs from a fixed seed, so that a commit's
    # result does not depend on luck (README "Testing").
    bazel test //...
    bazel test --config=asan --config=ubsan "${sanitized[@]}"
    fuzz_dir="$(mktemp -d)"
    ADC_FUZZ_DIR="$fuzz_dir" ADC_FUZZ_RUNS=100000 ADC_FUZZ_SEED=1 tools/fuzz.sh
    rm -rf "$fuzz_dir"
    ;;
  "") ;;
  *) echo "usage: tools/setup.sh [demo|test]" >&2; exit 2 ;;
esac
