#!/bin/bash
# Runs compiled end-to-end tests as they would run on another x86-64 CPU:
# the test binary runs under QEMU's user-mode emulator with that CPU's
# CPUID, so `host` code, the feature levels it can run and the ones it
# skips are those of that CPU. For developers on an AVX-512 machine who
# want to see the suite on an AVX2-only one (QEMU 7.2 emulates AVX2 and
# FMA; not AVX-512). Installs qemu-user if missing (as root).
#
#   tools/test_on_cpu.sh [CPU] [GTEST_FILTER]
#
# CPU is a QEMU model (`qemu-x86_64 -cpu help`); the default EPYC-Milan is
# an AMD Zen 3 with AVX2 and FMA and no AVX-512. The default filter is a
# cross-section that covers tails on every axis and the matrix products
# (about 8 minutes: emulation is 20 to 50 times slower).
set -euo pipefail
cd "$(dirname "$0")/.."
cpu="${1:-EPYC-Milan}"
filter="${2:-Levels/OpsE2eTest.Tails/*:Levels/OpsE2eTest.MatMulLarge/*}"
if ! command -v qemu-x86_64 >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "test_on_cpu: needs qemu-user (apt-get install -y qemu-user)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user >&2
fi
bazel build //codegen:ops_e2e_test
runfiles="$(bazel info bazel-bin)/codegen/ops_e2e_test.runfiles"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$runfiles/adc"
# QEMU warns once per CPUID feature it cannot emulate (not vector ones).
TEST_TMPDIR="$tmp" TEST_SRCDIR="$runfiles" \
  qemu-x86_64 -cpu "$cpu" ../../ops_e2e_test --gtest_filter="$filter" \
  2> >(grep -v "TCG doesn't support requested feature" >&2)
