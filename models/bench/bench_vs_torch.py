#!/usr/bin/env python3
"""Times adc's compiled artifacts against the same computations in PyTorch.

Both run in one run on this machine, with the same thread count; each
PyTorch case runs in a process of its own. Per case: median and min over
--reps runs after warm-up, peak memory, and where one applies the bound on
this machine (the arrays the case must move at the measured streaming
bandwidth, or its FLOPs at PyTorch's own sgemm rate) with adc's time as a
multiple of it; then the backward/forward time ratios and the compile time
of a 10,000-op chain (issue 10's W1-W6). adc's figures are from `adc bench`
(median_ms=... min_ms=... and peak_intermediate_bytes=...).

  bazel run //models/bench -- [--reps N] [--threads N] [--only REGEX]
"""
import argparse
import ctypes
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch


def adc_bench(adc, so, reps, threads):
    """adc bench's median and min (ms) and peak memory (bytes: the most
    intermediate memory in use at once, plus the outputs)."""
    out = subprocess.run([adc, "bench", so, "--reps", str(reps), "--threads",
                          str(threads)], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"median_ms=([0-9.]+) min_ms=([0-9.]+) reps=(\d+)\s*$", out)
    mem = re.search(r"peak_intermediate_bytes=(-?\d+) output_bytes=(\d+)", out)
    peak = int(mem.group(1)) + int(mem.group(2)) if int(mem.group(1)) >= 0 \
        else -1
    return float(m.group(1)), float(m.group(2)), peak


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
    ms, best = torch_bench(lambda: a @ b, 20)
    sgemm = 2 * 1024 ** 3 / best / 1e6  # The bound: the best run's rate.
    print(f"torch sgemm 1024^3: {2 * 1024 ** 3 / ms / 1e6:.1f} GFLOP/s "
          f"(median), {sgemm:.1f} (best)")
    # Streaming bandwidth: c = a + b on 2^24 floats (192 MiB moved), best of
    # 10 with these threads.
    n = 1 << 24
    sa, sb, sc = torch.rand(n), torch.rand(n), torch.empty(n)
    _, ms = torch_bench(lambda: torch.add(sa, sb, out=sc), 10)
    bandwidth = 3 * 4 * n / ms / 1e6
    print(f"streaming bandwidth (c = a + b, 2^24 f32): {bandwidth:.1f} GB/s")
    return sgemm, bandwidth


def torch_bench(fn, reps):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), float(np.min(times))


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

    def composite_fwd():
        with torch.no_grad():
            return (1 + torch.sin(x2)) / (x2 + torch.exp(x1)) + x1 * x2

    def mlp_fwd():
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(mlp(x), labels)

    s1 = torch.tensor(0.3, requires_grad=True)
    s2 = torch.tensor(-0.7, requires_grad=True)

    def scalar_grad():
        s1.grad = None
        s2.grad = None
        f = s1 * s2 - torch.sin(s2)
        f.backward()
        return f, s1.grad, s2.grad

    hx = torch.rand(1 << 20, generator=g) * 2 - 1
    hv = torch.rand(1 << 20, generator=g) * 2 - 1

    def hvp():
        xs = hx.clone().requires_grad_()
        f = (xs * xs * xs * torch.sin(xs)).sum()
        (grad,) = torch.autograd.grad(f, xs, create_graph=True)
        (h,) = torch.autograd.grad(grad, xs, hv)
        return f, h

    ha = torch.randn(64, 64, generator=g) * 0.125
    hx64 = torch.rand(64, generator=g) * 2 - 1

    def hessian():
        # vectorize=True batches the Hessian's rows (vmap): faster than the
        # default row-by-row loop on this size.
        return torch.autograd.functional.hessian(
            lambda v: torch.tanh(ha @ v).sum(), hx64, vectorize=True)

    cx28 = torch.rand(64, 1, 28, 28, generator=g)
    cy = torch.randint(0, 10, (64,), generator=g)
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 5 * 5, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))

    def cnn_step():
        cnn.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(cnn(cx28), cy)
        loss.backward()

    import torchvision
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=1000).train()
    rx = torch.rand(8, 3, 224, 224, generator=g)
    ry = torch.randint(0, 1000, (8,), generator=g)

    def resnet18_step():
        resnet.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(resnet(rx), ry)
        loss.backward()

    cases = {"composite_grad": composite, "composite_fwd": composite_fwd,
             "mlp_step": mlp_step, "mlp_fwd": mlp_fwd,
             "scalar_grad": scalar_grad, "hvp": hvp, "hessian": hessian,
             "cnn_step": cnn_step, "resnet18_step": resnet18_step,
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
    "composite_fwd": "  its forward part alone",
    "mlp_fwd": "  its forward part (the loss) alone",
    "scalar_grad": "f = x1 x2 - sin x2 on scalars, both gradients, per call",
    "hvp": "Hessian-vector product of sum(x^3 sin x), 2^20 elems",
    "hessian": "full Hessian of sum(tanh(A x)), n = 64",
    "cnn_step": "small CNN (2 conv, 2 linear) train step, batch 64, 28x28",
    "resnet18_step": "ResNet-18 fwd+bwd (batch norm in training), batch 8, "
                     "224x224",
}

# Elements (4 bytes each) that a case must read or write at least once: the
# bound at the measured streaming bandwidth. Only where they exceed the
# last-level cache (hvp's 12 MiB and dropout's 16 MiB may stay in cache,
# where the real bound is lower than the streaming one).
STREAM_ARRAYS = {"composite_grad": 5 * (1 << 22), "composite_fwd": 3 * (1 << 22),
                 "softmax_grad": 4 * 256 * 10000}
GFLOP["mlp_step"] = 3 * 2 * 256 * (784 * 512 + 512 * 512 + 512 * 10) / 1e9
GFLOP["mlp_fwd"] = 2 * 256 * (784 * 512 + 512 * 512 + 512 * 10) / 1e9
# torchvision's resnet18: 1.814 G multiply-adds per 224x224 image forward;
# the backward's two products per convolution and linear layer double it.
GFLOP["resnet18_step"] = 3 * 2 * 1.814 * 8


def rss_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def torch_case(name, reps):
    """Child process: times one PyTorch case, then measures its peak memory:
    the growth of the resident set over one more run (glibc held to
    returning every block over 64 KiB, as adc's allocator does, so cached
    free memory does not hide it), which includes its outputs."""
    fn = torch_cases()[name]
    median, low = torch_bench(fn, reps)
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD
    libc.malloc_trim(0)
    fn()
    libc.malloc_trim(0)
    base = rss_bytes("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Resets VmHWM to the current resident set.
    fn()
    peak = rss_bytes("VmHWM") - base
    print(f"torch_case median_ms={median} min_ms={low} peak_bytes={peak}")


def run_torch_case(name, reps, threads):
    out = subprocess.run([sys.executable, __file__, "--torch-case", name,
                          "--reps", str(reps), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"median_ms=(\S+) min_ms=(\S+) peak_bytes=(-?\d+)", out)
    return float(m.group(1)), float(m.group(2)), int(m.group(3))


def mib(b):
    return f"{b / 1048576:7.1f}" if b >= 0 else "      ?"


def chain_compile_time(adc, d, n):
    """W5: an n-op ONNX chain (sin, tanh, * 0.5, + x, sigmoid, repeated;
    then ReduceSum) through adc import, grad and compile, in seconds."""
    try:
        import onnx
        from onnx import helper, TensorProto
    except ImportError:
        print("chain: python3-onnx is not installed; skipped")
        return
    nodes, cur = [], "x"
    ops = ["Sin", "Tanh", "Mul", "Add", "Sigmoid"]
    for i in range(n):
        op, out = ops[i % 5], f"v{i}"
        inputs = [cur, "half"] if op == "Mul" else [cur, "x"] if op == "Add" \
            else [cur]
        nodes.append(helper.make_node(op, inputs, [out]))
        cur = out
    nodes.append(helper.make_node("ReduceSum", [cur], ["f"], keepdims=0))
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1024])],
        [helper.make_tensor_value_info("f", TensorProto.FLOAT, [])],
        initializer=[helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])])
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid("", 13)])
    path = os.path.join(d, "chain.onnx")
    onnx.save(model, path)
    times = []
    for cmd in ([adc, "import", path, "-o", path + ".pb"],
                [adc, "grad", path + ".pb", "--of", "f", "--wrt", "x", "-o",
                 path + ".grad.pb"],
                [adc, "compile", path + ".grad.pb", "-o", path + ".so"]):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    print(f"chain{n}: import {times[0]:.2f} s + grad {times[1]:.2f} s + "
          f"compile {times[2]:.1f} s = {sum(times):.1f} s "
          f"(the element-wise chain of {n} ONNX ops and its gradient)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--adc")
    p.add_argument("--graphs")
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--only", default="",
                   help="a regular expression: the cases whose names match "
                        "(chain: the W5 compile-time case)")
    p.add_argument("--target", default="host",
                   help="adc's Halide target, e.g. "
                        "x86-64-linux-avx-avx2-f16c-fma-sse41 for AVX2 code")
    p.add_argument("--schedule", default="default",
                   help="adc compile --schedule: default, adams2019, li2018 "
                        "or mullapudi2016")
    p.add_argument("--torch-case", help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.torch_case:
        return torch_case(args.torch_case, args.reps)
    if not args.adc or not args.graphs:
        p.error("--adc and --graphs are required")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([args.graphs, d], check=True)
        sgemm, bandwidth = describe_machine(args.threads)
        print(f"threads={args.threads} reps={args.reps}; adc target: "
              f"{args.target}, schedule: {args.schedule}; PyTorch runs each "
              f"case in a process of its own")
        print("ms: median (min) over the reps; MiB: peak memory beyond the "
              "inputs (adc: intermediates + outputs; PyTorch: resident set "
              "growth over a run); bound: the case's arrays at the streaming "
              "bandwidth, or its FLOPs at PyTorch's best sgemm rate")
        print(f"{'case':16s} {'adc ms':>17s} {'torch ms':>17s} {'speedup':>8s}"
              f" {'adc MiB':>7s} {'torch MiB':>9s} {'bound ms':>8s} "
              f"{'adc/bound':>9s}  what")
        medians = {}
        for name in torch_cases().keys():
            if not re.search(args.only, name):
                continue
            so = os.path.join(d, name + ".so")
            subprocess.run([args.adc, "compile", os.path.join(d, name + ".pb"),
                            "-o", so, "--target", args.target,
                            "--schedule", args.schedule], check=True)
            time.sleep(0.3)  # Let other threads settle between libraries.
            adc_ms, adc_min, adc_peak = adc_bench(args.adc, so, args.reps,
                                                  args.threads)
            time.sleep(0.3)
            torch_ms, torch_min, torch_peak = run_torch_case(
                name, args.reps, args.threads)
            medians[name] = (adc_ms, torch_ms)
            rate, bound = "", None
            if name in GFLOP:
                rate = (f" [adc {GFLOP[name] / adc_ms * 1e3:.0f}, torch "
                        f"{GFLOP[name] / torch_ms * 1e3:.0f} GFLOP/s]")
                bound = GFLOP[name] / sgemm * 1e3
            if name in STREAM_ARRAYS:
                bound = 4 * STREAM_ARRAYS[name] / bandwidth / 1e6
            bounds = (f"{bound:8.4g} {adc_ms / bound:8.2f}x" if bound
                      else f"{'':8s} {'':9s}")
            print(f"{name:16s} {adc_ms:8.4g} ({adc_min:6.4g}) "
                  f"{torch_ms:8.4g} ({torch_min:6.4g}) "
                  f"{torch_ms / adc_ms:7.2f}x {mib(adc_peak)} {mib(torch_peak):>9s}"
                  f" {bounds}  {DESCRIPTIONS[name]}{rate}", flush=True)
        for grad, fwd in (("composite_grad", "composite_fwd"),
                          ("mlp_step", "mlp_fwd")):
            if grad in medians and fwd in medians:
                print(f"backward/forward {grad}: adc "
                      f"{medians[grad][0] / medians[fwd][0]:.2f}, PyTorch "
                      f"{medians[grad][1] / medians[fwd][1]:.2f}")
        if re.search(args.only, "chain"):
            chain_compile_time(args.adc, d, 10000)


if __name__ == "__main__":
    sys.exit(main())
