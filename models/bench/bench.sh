#!/bin/bash
# Runs bench_vs_torch.py with the built adc and bench_graphs (bazel run).
#
# The baseline is Debian's PyTorch with OpenBLAS: without
# libopenblas0-pthread, Debian's torch silently multiplies matrices with the
# slow reference BLAS. Both are installed here if missing (as root). Where
# the environment sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (older OpenBLAS
# builds needed them on some CPUs), both are unset for PyTorch only, so that
# OpenBLAS picks its kernel for this CPU; adc's side never reads them.
set -euo pipefail
missing=()
for p in python3-torch libopenblas0-pthread; do
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
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 \
  "$runfiles/models/bench/bench_vs_torch.py" \
  --adc "$runfiles/tools/adc" --graphs "$runfiles/models/bench/bench_graphs" "$@"
