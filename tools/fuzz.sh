#!/bin/bash
# Fuzzes adc's input readers with libFuzzer (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer: bazel --config=fuzz).
#
#   tools/fuzz.sh [SECONDS] [TARGET...]
#
# Runs each target (default: all of tests/fuzz) for SECONDS (default 60),
# starting from its seed corpus (tests/fuzz/corpus/<name>) and its
# regressions (tests/fuzz/regressions/<name>); inputs it finds that grow
# coverage go to a scratch corpus under $ADC_FUZZ_DIR (default
# /tmp/adc-fuzz), not into the repository. A crash, leak, timeout or
# undefined behaviour stops the target and fails the script; the input is
# left in $ADC_FUZZ_DIR/<name>/crashes: check it in under
# tests/fuzz/regressions/<name> with the fix, and the suite replays it.
#
# Reproducible runs (what CI does): ADC_FUZZ_RUNS=N ADC_FUZZ_SEED=S run each
# target for N inputs from seed S instead of for SECONDS, so the same commit
# always tries the same inputs; use a fresh ADC_FUZZ_DIR, as the scratch
# corpus is part of the start. Open-ended campaigns find new bugs; CI must
# not fail on a commit for a bug that an earlier commit already had.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(graph graph_text grad onnx npy artifact)
fi
if ! command -v clang >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "ok installed"; then
  if [ "$(id -u)" != 0 ]; then
    echo "fuzz: needs clang and libclang-rt-14-dev (apt-get install -y clang libclang-rt-14-dev)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev >&2
fi
labels=()
for t in "${targets[@]}"; do labels+=("//tests/fuzz:${t}_fuzzer"); done
bazel build --config=fuzz "${labels[@]}"
bin="$(bazel info --config=fuzz bazel-bin)/tests/fuzz"
work="${ADC_FUZZ_DIR:-/tmp/adc-fuzz}"
failed=()
for t in "${targets[@]}"; do
  dir="$work/$t"
  mkdir -p "$dir/corpus" "$dir/crashes"
  mkdir -p "tests/fuzz/regressions/$t"
  if [ -n "${ADC_FUZZ_RUNS:-}" ]; then
    budget=(-runs="$ADC_FUZZ_RUNS" -seed="${ADC_FUZZ_SEED:-1}")
    echo "fuzz: $t for $ADC_FUZZ_RUNS inputs from seed ${ADC_FUZZ_SEED:-1}"
  else
    budget=(-max_total_time="$seconds")
    [ -n "${ADC_FUZZ_SEED:-}" ] && budget+=(-seed="$ADC_FUZZ_SEED")
    echo "fuzz: $t for ${seconds}s"
  fi
  # -rss_limit_mb: the machine has 24 GB and two targets never run at once;
  # a graph or array that asks for more must be refused, not allocated.
  if ! ADC_FUZZ_ARTIFACT="$bin/${t}_fuzzer.runfiles/adc/runtime/testdata/libfake_affine.so" \
      "$bin/${t}_fuzzer" "${budget[@]}" -timeout=20 \
      -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$dir/crashes/" \
      "$dir/corpus" "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" \
      2> "$dir/log"; then
    failed+=("$t")
    tail -40 "$dir/log" >&2
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "$dir/log" || true
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $work/<target>/crashes)" >&2
  exit 1
fi
if [ -n "${ADC_FUZZ_RUNS:-}" ]; then
  echo "fuzz: ${targets[*]}: no crash in $ADC_FUZZ_RUNS inputs each"
else
  echo "fuzz: ${targets[*]}: no crash in ${seconds}s each"
fi
