#!/usr/bin/python3
"""Compares adc's outputs (ADC_DIR/*.npy) with PyTorch's (REF_DIR/*.npy):
the largest relative error (max |a - b| / max |b|) per file.
Usage: /usr/bin/python3 models/resnet18/compare.py REF_DIR ADC_DIR"""
import glob
import os
import sys

import numpy as np

ref, got = sys.argv[1], sys.argv[2]
worst = 0.0
n = 0
for path in sorted(glob.glob(f"{ref}/*.npy")):
    name = os.path.basename(path)
    if name in ("input.npy", "seed.npy"):
        continue
    other = f"{got}/{name}"
    if not os.path.exists(other):
        print("missing", name)
        sys.exit(1)
    a, b = np.load(other), np.load(path)
    err = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
    worst = max(worst, err)
    n += 1
    if err > 1e-4:
        print(f"{name}: relative error {err:.2e}")
print(f"{n} outputs compared; worst relative error {worst:.2e}")
sys.exit(0 if worst < 1e-4 else 1)
