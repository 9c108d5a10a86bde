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


GFLOP = {"matmul": 2 * 256 * 784 * 512 / 1e9,
         "matmul_tn": 2 * 784 * 256 * 512 / 1e9,
         "matmul_nt": 2 * 256 * 512 * 784 / 1e9}


def describe_machine(threads):
    """The CPU, its vector features and PyTorch's BLAS, with PyTorch's own
    sgemm rate: a baseline is only honest with a real BLAS behind it."""
    model, flags = "unknown", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    vector = [x for x in ("sse4_1", "avx", "avx2", "fma", "avx512f",
                          "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16")
              if x in flags]
    print(f"cpu: {model}, {os.cpu_count()} cores; vector: {' '.join(vector)}")
    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\S+?),", config)
    print(f"torch {torch.__version__}: BLAS_INFO={blas.group(1) if blas else '?'}"
          f", threads={threads}, oneDNN for convolutions: "
          f"{torch.backends.mkldnn.is_available()}")
    libs = set()
    with open(f"/proc/{os.getpid()}/maps") as f:
        for line in f:
            name = line.split()[-1]
            if "blas" in name and name.endswith(tuple("0123456789")):
                libs.add(os.path.realpath(name))
    print("BLAS loaded:", ", ".join(sorted(libs)) or "none found",
          f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
    if not any("openblas" in lib for lib in libs):
        sys.exit("bench: PyTorch is not using OpenBLAS; install "
                 "libopenblas0-openmp (bench.sh does) so the baseline is fair")
    a = torch.rand(1024, 1024)
    b = torch.rand(1024, 1024)
    ms = torch_bench(lambda: a @ b, 20)
    print(f"torch sgemm 1024^3: {2 * 1024 ** 3 / ms / 1e6:.1f} GFLOP/s")


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

    a_tn = torch.rand(256, 784, generator=g)
    b_tn = torch.rand(256, 512, generator=g)

    def matmul_tn():
        return a_tn.t() @ b_tn

    a_nt = torch.rand(256, 512, generator=g)
    b_nt = torch.rand(784, 512, generator=g)

    def matmul_nt():
        return a_nt @ b_nt.t()

    s = torch.rand(256, 10000, generator=g)
    dy = torch.rand(256, 10000, generator=g)

    def softmax():
        xs = s.clone().requires_grad_()
        y = torch.log_softmax(xs, dim=1)
        y.backward(dy)
        return xs.grad

    px = torch.rand(4, 64, 112, 112, generator=g)
    pdy = torch.rand(4, 64, 56, 56, generator=g)

    def maxpool():
        xs = px.clone().requires_grad_()
        y = torch.nn.functional.max_pool2d(xs, 3, stride=2, padding=1)
        y.backward(pdy)
        return y, xs.grad

    dx = torch.rand(256, 4096, generator=g)
    ddy = torch.rand(256, 4096, generator=g)

    def dropout():
        xs = dx.clone().requires_grad_()
        y = torch.nn.functional.dropout(xs, 0.5, training=True)
        y.backward(ddy)
        return y, xs.grad

    cases = {"composite_grad": composite, "mlp_step": mlp_step,
             "matmul": matmul, "matmul_tn": matmul_tn, "matmul_nt": matmul_nt,
             "softmax_grad": softmax, "maxpool_grad": maxpool,
             "dropout_grad": dropout}
    for name, cin, cout, size, k, stride in CONV_SHAPES:
        cx = torch.rand(CONV_BATCH, cin, size, size, generator=g)
        cw = torch.rand(cout, cin, k, k, generator=g) / (cin * k * k) ** 0.5
        out = (size + 2 * (k // 2) - k) // stride + 1
        cdy = torch.rand(CONV_BATCH, cout, out, out, generator=g)

        def conv(cx=cx, cw=cw, stride=stride, k=k):
            return torch.nn.functional.conv2d(cx, cw, stride=stride,
                                              padding=k // 2)

        def conv_grad(cx=cx, cw=cw, cdy=cdy, stride=stride, k=k):
            xs = cx.clone().requires_grad_()
            ws = cw.clone().requires_grad_()
            y = torch.nn.functional.conv2d(xs, ws, stride=stride,
                                           padding=k // 2)
            y.backward(cdy)
            return y, xs.grad, ws.grad

        flop = 2 * CONV_BATCH * cout * out * out * cin * k * k / 1e9
        cases[f"conv_{name}"] = conv
        GFLOP[f"conv_{name}"] = flop
        DESCRIPTIONS[f"conv_{name}"] = (
            f"conv {cin}->{cout} {k}x{k}/{stride}, {CONV_BATCH}x{size}x{size}")
        cases[f"conv_{name}_grad"] = conv_grad
        GFLOP[f"conv_{name}_grad"] = 3 * flop
        DESCRIPTIONS[f"conv_{name}_grad"] = "  its value + dx + dw"
    return cases


# ResNet-18's convolutions at 224x224 (bench_graphs.cc's kConvShapes):
# name, in and out channels, image size, kernel, stride.
CONV_BATCH = 4
CONV_SHAPES = [("conv1", 3, 64, 224, 7, 2), ("layer1", 64, 64, 56, 3, 1),
               ("layer2_0", 64, 128, 56, 3, 2), ("layer2", 128, 128, 28, 3, 1),
               ("layer3", 256, 256, 14, 3, 1), ("layer4", 512, 512, 7, 3, 1),
               ("downsample3", 256, 512, 14, 1, 2)]


DESCRIPTIONS = {
    "composite_grad": "f=(1+sin x2)/(x2+exp x1)+x1 x2, 2^22 elems, value+grads",
    "mlp_step": "MLP 784-512-512-10 tanh, batch 256, CE loss + all grads",
    "matmul": "matmul 256x784 @ 784x512",
    "matmul_tn": "matmul (256x784)^T @ 256x512 (weight gradient)",
    "matmul_nt": "matmul 256x512 @ (784x512)^T (input gradient)",
    "softmax_grad": "log_softmax rows of 256x10000, value + VJP",
    "maxpool_grad": "max pool 3x3/2 pad 1 on 4x64x112x112, value + VJP",
    "dropout_grad": "dropout p=0.5 on 256x4096, value + VJP",
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--adc", required=True)
    p.add_argument("--graphs", required=True)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--only", default="",
                   help="a regular expression: the cases whose names match")
    p.add_argument("--target", default="host",
                   help="adc's Halide target, e.g. "
                        "x86-64-linux-avx-avx2-f16c-fma-sse41 for AVX2 code")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([args.graphs, d], check=True)
        cases = torch_cases()
        describe_machine(args.threads)
        print(f"threads={args.threads} reps={args.reps}; adc target: "
              f"{args.target}")
        print(f"{'case':16s} {'adc ms':>9s} {'torch ms':>9s} {'speedup':>8s}  what")
        for name, fn in cases.items():
            if not re.search(args.only, name):
                continue
            so = os.path.join(d, name + ".so")
            subprocess.run([args.adc, "compile", os.path.join(d, name + ".pb"),
                            "-o", so, "--target", args.target], check=True)
            time.sleep(0.3)  # Let other threads settle between libraries.
            adc_ms = adc_bench(args.adc, so, args.reps, args.threads)
            time.sleep(0.3)
            torch_ms = torch_bench(fn, args.reps)
            rate = ""
            if name in GFLOP:
                rate = (f" [adc {GFLOP[name] / adc_ms * 1e3:.0f}, torch "
                        f"{GFLOP[name] / torch_ms * 1e3:.0f} GFLOP/s]")
            print(f"{name:16s} {adc_ms:9.3f} {torch_ms:9.3f} {torch_ms / adc_ms:7.2f}x"
                  f"  {DESCRIPTIONS[name]}{rate}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
