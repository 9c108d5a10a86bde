#!/bin/bash
# Runs bench_vs_torch.py with the built adc and bench_graphs (bazel run).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runfiles="${RUNFILES_DIR:-$0.runfiles}/adc"
exec /usr/bin/python3 "$runfiles/models/bench/bench_vs_torch.py" \
  --adc "$runfiles/tools/adc" --graphs "$runfiles/models/bench/bench_graphs" "$@"
