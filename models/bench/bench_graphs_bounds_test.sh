#!/bin/bash
# The benchmark graphs at their real sizes (ResNet-18's training step at
# batch 8, the small CNN's, the convolutions' gradients, the MLP step),
# compiled with every load and store checked against its buffer and run
# once: schedules that tile, shift and guard loops differently at these
# shapes than at the unit tests' (a tiled copy of 1568 terms once stored a
# tile past its buffer) fail here with the buffer's name.
#   bench_graphs_bounds_test.sh BENCH_GRAPHS ADC
set -euo pipefail
bench_graphs=$1
adc=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bench_graphs" "$dir" >/dev/null
for g in resnet18_step cnn_step mlp_step conv_conv1_grad conv_layer1_grad \
  conv_layer2_0_grad conv_layer3_grad conv_layer4_grad \
  conv_downsample3_grad maxpool_grad softmax_grad; do
  "$adc" compile "$dir/$g.pb" -o "$dir/$g.so" --check-bounds
  if ! out=$("$adc" bench "$dir/$g.so" --reps 1 2>&1); then
    echo "FAIL: $g (bounds-checked run)"
    echo "$out" | tail -5
    exit 1
  fi
  echo "ok: $g"
done
