#!/usr/bin/python3
"""The same small CNN and training as train_fashion.cc, in PyTorch, for the
time-per-epoch comparison in the README (Debian's python3-torch; not part of
the test suite). Usage: /usr/bin/python3 models/train/fashion_torch.py

PyTorch runs on OpenBLAS's OpenMP build (libopenblas0-openmp, loaded
through LD_LIBRARY_PATH as models/bench/bench.sh does): with the pthread
build, OpenBLAS's threads and PyTorch's OpenMP threads spin against each
other on the same cores (this epoch: 19.1 s that way, 11.1 s with the
OpenMP build), and a handicapped baseline would flatter adc."""
import gzip
import os
import sys
import time

OPENMP_BLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
if (os.path.isdir(OPENMP_BLAS)
        and OPENMP_BLAS not in os.environ.get("LD_LIBRARY_PATH", "")):
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = OPENMP_BLAS + (
        ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env.pop("OPENBLAS_CORETYPE", None)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np
import torch
from torch import nn

D = "/usr/share/datasets/fashion-mnist"


def load(split):
    with gzip.open(f"{D}/{split}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(f"{D}/{split}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    x = torch.tensor(x.reshape(-1, 1, 28, 28), dtype=torch.float32) / 255
    return x, torch.tensor(y, dtype=torch.int64)


def main():
    torch.set_num_threads(2)
    torch.manual_seed(1)
    cpu = [l for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
    print("torch", torch.__version__, "threads", torch.get_num_threads(),
          "mkldnn", torch.backends.mkldnn.is_available(), "|",
          cpu.split(":")[1].strip())
    # The baseline's own BLAS speed (Debian's torch needs OpenBLAS, or it
    # falls back to the slow reference BLAS).
    blas = sorted({os.path.realpath(l.split()[-1])
                   for l in open(f"/proc/{os.getpid()}/maps")
                   if "blas" in l.split()[-1]})
    print("BLAS loaded:", ", ".join(blas) or "none")
    if not any("openblas" in b for b in blas):
        sys.exit("fashion_torch: PyTorch is not using OpenBLAS; install "
                 "libopenblas0-openmp so the baseline is fair")
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(10):
        torch.mm(a, b)
    gflops = 10 * 2 * 1024**3 / (time.perf_counter() - start) / 1e9
    print(f"sgemm 1024x1024: {gflops:.1f} GFLOP/s")
    xt, yt = load("train")
    xe, ye = load("t10k")
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(2)
    order = torch.randperm(len(xt), generator=g)
    batch = 64
    steps = len(xt) // batch
    start = time.perf_counter()
    for s in range(steps):
        idx = order[s * batch:(s + 1) * batch]
        opt.zero_grad()
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        acc = (model(xe).argmax(1) == ye).float().mean().item()
    print(f"epoch 1: {seconds:.1f} s ({steps} steps of {batch}), "
          f"test accuracy {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
