#!/usr/bin/env python3
"""Times adc's compiled artifacts against the same computations in PyTorch.

Both run in this process's run on this machine, with the same thread count;
the figures are medians over --reps runs after warm-up. adc's are from
`adc bench` (its last line: median_ms=... min_ms=... reps=...).

  bazel run //models/bench -- [--reps N] [--threads N]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch


def adc_bench(adc, so, reps, threads):
    out = subprocess.run([adc, "bench", so, "--reps", str(reps), "--threads",
                          str(threads)], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"median_ms=([0-9.]+) min_ms=([0-9.]+) reps=(\d+)\s*$", out)
    return float(m.group(1))


def torch_bench(fn, reps):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def torch_cases():
    g = torch.Generator().manual_seed(0)

    n = 1 << 22
    x1 = torch.rand(n, generator=g) * 2 - 1
    x2 = torch.rand(n, generator=g) * 2 - 1

    def composite():
        a = x1.clone().requires_grad_()
        b = x2.clone().requires_grad_()
        f = (1 + torch.sin(b)) / (b + torch.exp(a)) + a * b
        f.backward(torch.ones_like(f))
        return a.grad, b.grad

    x = torch.rand(256, 784, generator=g) * 2 - 1
    labels = torch.randint(0, 10, (256,), generator=g)
    mlp = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.Tanh(),
                              torch.nn.Linear(512, 512), torch.nn.Tanh(),
                              torch.nn.Linear(512, 10))

    def mlp_step():
        mlp.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(mlp(x), labels)
        loss.backward()

    a = torch.rand(256, 784, generator=g)
    b = torch.rand(784, 512, generator=g)

    def matmul():
        return a @ b

    s = torch.rand(256, 10000, generator=g)
    dy = torch.rand(256, 10000, generator=g)

    def softmax():
        xs = s.clone().requires_grad_()
        y = torch.log_softmax(xs, dim=1)
        y.backward(dy)
        return xs.grad

    return {"composite_grad": composite, "mlp_step": mlp_step,
            "matmul": matmul, "softmax_grad": softmax}


DESCRIPTIONS = {
    "composite_grad": "f=(1+sin x2)/(x2+exp x1)+x1 x2, 2^22 elems, value+grads",
    "mlp_step": "MLP 784-512-512-10 tanh, batch 256, CE loss + all grads",
    "matmul": "matmul 256x784 @ 784x512",
    "softmax_grad": "log_softmax rows of 256x10000, value + VJP",
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--adc", required=True)
    p.add_argument("--graphs", required=True)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([args.graphs, d], check=True)
        cases = torch_cases()
        print(f"threads={args.threads} reps={args.reps} torch={torch.__version__}")
        print(f"{'case':16s} {'adc ms':>9s} {'torch ms':>9s} {'speedup':>8s}  what")
        for name, fn in cases.items():
            so = os.path.join(d, name + ".so")
            subprocess.run([args.adc, "compile", os.path.join(d, name + ".pb"),
                            "-o", so], check=True)
            time.sleep(0.3)  # Let other threads settle between libraries.
            adc_ms = adc_bench(args.adc, so, args.reps, args.threads)
            time.sleep(0.3)
            torch_ms = torch_bench(fn, args.reps)
            print(f"{name:16s} {adc_ms:9.3f} {torch_ms:9.3f} {torch_ms / adc_ms:7.2f}x"
                  f"  {DESCRIPTIONS[name]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
