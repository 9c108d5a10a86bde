#!/bin/bash
# The seed graph straight from the command line (the compile-path issue's
# example): grad, compile, run; out/x1.grad.npy = 3 and out/x2.grad.npy =
# 2.98999 for x1 = 2, x2 = 3.
set -euo pipefail
adc="$PWD/$1"
seeds="$PWD/$(dirname "$2")"
data="$PWD/$(dirname "$3")"
cd "${TEST_TMPDIR}"
"$adc" grad "$seeds/scalar.pbtxt" --of y -o g.pb
"$adc" compile g.pb -o g.so
"$adc" run g.so --in "x1=$data/x1_2.npy" --in "x2=$data/x2_3.npy" --out-dir out/
# The value of a 0-d f32 .npy is its last 4 bytes.
value() { tail -c 4 "$1" | od -An -tf4 | tr -d ' '; }
check() {
  local got
  got="$(value "$1")"
  awk -v got="$got" -v want="$2" -v name="$1" 'BEGIN {
    d = got - want; if (d < 0) d = -d;
    if (d > 1e-5) { printf "%s: got %s, want %s\n", name, got, want; exit 1 }
    printf "%s = %s (want %s)\n", name, got, want }'
}
check out/y.npy 5.858880
check out/x1.grad.npy 3
check out/x2.grad.npy 2.989992
