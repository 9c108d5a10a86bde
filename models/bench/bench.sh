#!/bin/bash
# Runs bench_vs_torch.py with the built adc and bench_graphs (bazel run).
#
# The baseline is Debian's PyTorch with OpenBLAS: without OpenBLAS,
# Debian's torch silently multiplies matrices with the slow reference BLAS.
# PyTorch runs on OpenBLAS's OpenMP build (libopenblas0-openmp, loaded
# through LD_LIBRARY_PATH; the system's libblas.so.3 choice is left alone):
# with the pthread build, OpenBLAS's threads and PyTorch's OpenMP threads
# spin against each other on the same cores (measured on 2 cores, the MLP
# step: 23-29 ms with pthread OpenBLAS, 3.6-13 ms with the OpenMP build;
# single products are the same). Both packages are installed here if
# missing (as root). Where the environment sets OPENBLAS_CORETYPE /
# OPENBLAS_L2_SIZE (older OpenBLAS builds needed them on some CPUs), both
# are unset for PyTorch, so that OpenBLAS picks its kernel for this CPU,
# unless --target asks for AVX2 code: then OpenBLAS runs its Haswell
# (AVX2) kernels too. adc's side never reads them.
set -euo pipefail
missing=()
for p in python3-torch python3-onnx libopenblas0-openmp; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench: needs ${missing[*]} (apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi
runfiles="${RUNFILES_DIR:-$0.runfiles}/adc"
coretype=()
for arg in "$@"; do
  case "$arg" in
    *avx2*) [[ "$arg" == *avx512* ]] || coretype=(OPENBLAS_CORETYPE=Haswell) ;;
  esac
done
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${coretype[@]}" \
  LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  /usr/bin/python3 \
  "$runfiles/models/bench/bench_vs_torch.py" \
  --adc "$runfiles/tools/adc" --graphs "$runfiles/models/bench/bench_graphs" "$@"
