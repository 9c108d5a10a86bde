#!/usr/bin/python3
"""ResNet-18 from torchvision (num_classes=10) exported to ONNX (opset 13,
TrainingMode.PRESERVE, no constant folding; eval mode, so batch norm uses its
running statistics), and PyTorch's reference values, computed in float64
(model.double()) from the float32 values in the ONNX file: the logits for a
2x3x32x32 input and the gradients of sum(logits * r) (r a fixed 2x10 seed)
with respect to the input and all 62 parameters.

Every parameter and buffer (the running statistics), the input and the seed
come from a formula that C++ reproduces bit for bit
(models/resnet18/resnet18_test.cc), so the test suite needs neither Python
nor the 45 MB of weights:
  seed(name) = FNV-1a 32-bit hash of the tensor's name (UTF-8 bytes)
  h(i)       = lowbias32((i * 0x9E3779B9 + seed) mod 2^32), i = flat index,
               lowbias32(x): x ^= x >> 16; x *= 0x7FEB352D; x ^= x >> 15;
               x *= 0x846CA68B; x ^= x >> 16 (all mod 2^32)
  u          = (h >> 8) * 2^-24, in [0, 1)
  value      = float32(lo + (hi - lo) * u), computed in double
with [lo, hi] by kind: conv and fc weights +-1/sqrt(fan_in) (fan_in: the
product of the dims after the first), biases +-0.2, batch-norm weights
[0.5, 1.5], running_mean +-0.2, running_var [0.5, 1.5]; the input "input"
[-1, 1]; the seed "seed" [0.5, 1.5].

Usage (Debian's python3 with python3-torch, python3-torchvision,
python3-onnx):

  /usr/bin/python3 models/resnet18/make_resnet18.py OUT_DIR
      The full model and references for compare.py: OUT_DIR/resnet18.onnx
      (45 MB) and .npy files named like adc's outputs (input.npy, seed.npy,
      logits.npy, input.grad.npy, <parameter>.grad.npy).

  /usr/bin/python3 models/resnet18/make_resnet18.py --testdata
      The test suite's data, in models/resnet18/testdata/ (checked in):
      resnet18_structure.onnx  the exported model with every initializer's
                               name, dims and data type but no data;
      input.npy, seed.npy      x (float32 2x3x32x32) and r (float32 2x10);
      logits.npy               logits (float64);
      input.grad.npy           d sum(logits * r) / d x (float64);
      reference.txt            per initializer a checksum of its float32
                               bits (the test checks its formula against
                               them), per parameter gradient a summary, and
                               the training-mode references: the loss and
                               summaries of every running statistic after
                               one forward pass (TRAIN_SHAPE, TRAIN_LABELS).
"""
import copy
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
M32 = np.uint64(0xFFFFFFFF)
# The training-mode reference: batch norm with the batch's statistics on
# the input "train_input" (float32 4x3x32x32 in [-1, 1] from the formula;
# with 2 images, layer4's 1x1 maps give each channel two values, and
# normalizing those is so ill-conditioned that PyTorch's own float32 loss is
# off by 2e-4), the mean cross entropy for these labels.
TRAIN_SHAPE = (4, 3, 32, 32)
TRAIN_LABELS = [3, 7, 1, 5]


def fnv1a32(name):
    h = 0x811C9DC5
    for byte in name.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def formula(name, shape, lo, hi):
    """The tensor `name` of `shape`, float32 (see the module docstring)."""
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.uint64)
    x = (i * np.uint64(0x9E3779B9) + np.uint64(fnv1a32(name))) & M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & M32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & M32
    x ^= x >> np.uint64(16)
    u = (x >> np.uint64(8)).astype(np.float64) * 2.0**-24
    return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)


def bounds(name, shape):
    """[lo, hi] of a parameter or buffer by its kind."""
    if name.endswith(".weight") and len(shape) >= 2:
        bound = 1.0 / np.sqrt(float(np.prod(shape[1:])))
        return -bound, bound
    if name.endswith(".weight") or name.endswith(".running_var"):
        return 0.5, 1.5
    if name.endswith(".bias") or name.endswith(".running_mean"):
        return -0.2, 0.2
    raise ValueError(f"no formula for {name}")


def make_model():
    """torchvision's ResNet-18 (10 classes), every parameter and running
    statistic from the formula, in eval mode."""
    m = torchvision.models.resnet18(num_classes=10)
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            lo, hi = bounds(name, tuple(t.shape))
            t.copy_(torch.from_numpy(formula(name, tuple(t.shape), lo, hi)))
    return m.eval()


def model_and_inputs():
    """The model, the input x and the seed r, from the formula."""
    return (make_model(), formula("input", (2, 3, 32, 32), -1.0, 1.0),
            formula("seed", (2, 10), 0.5, 1.5))


def export(m, x, path):
    torch.onnx.export(m, torch.from_numpy(x), path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False, input_names=["input"],
                      output_names=["logits"])


def reference(m, x, r):
    """Logits, input gradient and parameter gradients in float64."""
    m64 = copy.deepcopy(m).double()
    x64 = torch.from_numpy(x).double().requires_grad_(True)
    logits = m64(x64)
    (logits * torch.from_numpy(r).double()).sum().backward()
    grads = {name: p.grad.numpy() for name, p in m64.named_parameters()}
    return logits.detach().numpy(), x64.grad.numpy(), grads


def train_reference(m):
    """Training mode in float64 on train_input: the mean cross entropy for
    TRAIN_LABELS and each batch norm's running statistics after that forward
    pass."""
    x = formula("train_input", TRAIN_SHAPE, -1.0, 1.0)
    m64 = copy.deepcopy(m).double().train()
    with torch.no_grad():
        logits = m64(torch.from_numpy(x).double())
        loss = torch.nn.functional.cross_entropy(
            logits, torch.tensor(TRAIN_LABELS))
    stats = {f"{name}.next": t.numpy() for name, t in m64.state_dict().items()
             if "running_" in name}
    return float(loss), stats


def summary(a):
    """sum, sum |a|, max |a| and 8 elements at fixed flat indices."""
    flat = a.reshape(-1)
    n = flat.size
    idx = sorted({k * (n - 1) // 7 for k in range(8)})
    fields = ["%.17g" % flat.sum(), "%.17g" % np.abs(flat).sum(),
              "%.17g" % np.abs(flat).max()]
    fields += [f"{i}:{flat[i]:.17g}" for i in idx]
    return " ".join(fields)


def checksum(a):
    """sum over i of bits(a[i]) * (2i + 1) mod 2^64 (float32 bits)."""
    bits = a.reshape(-1).view(np.uint32).astype(np.uint64)
    odd = np.arange(bits.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    return int(np.sum(bits * odd, dtype=np.uint64))


def write_testdata(out):
    os.makedirs(out, exist_ok=True)
    m, x, r = model_and_inputs()
    full = os.path.join(out, "resnet18_full.onnx.tmp")
    export(m, x, full)
    model = onnx.load(full)
    os.remove(full)
    lines = [
        "# ResNet-18 test references (models/resnet18/make_resnet18.py "
        "--testdata).",
        "# init NAME CHECKSUM: sum of float32 bits * (2i + 1) mod 2^64.",
        "# grad NAME SUM ABS_SUM MAX_ABS INDEX:VALUE...: gradient of "
        "sum(logits * seed), float64.",
        "# train_loss VALUE: training mode, input train_input "
        + "x".join(map(str, TRAIN_SHAPE)) + ", mean cross entropy for labels "
        + " ".join(map(str, TRAIN_LABELS)) + ".",
        "# train NAME SUM ABS_SUM MAX_ABS INDEX:VALUE...: training mode, a "
        "running statistic after the forward pass.",
    ]
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        lo, hi = bounds(t.name, a.shape)
        if not np.array_equal(a, formula(t.name, a.shape, lo, hi)):
            raise RuntimeError(f"initializer {t.name} is not the formula's")
        lines.append(f"init {t.name} {checksum(a)}")
        # The structure only: name, dims and data type stay.
        t.ClearField("raw_data")
        t.ClearField("float_data")
    logits, input_grad, grads = reference(m, x, r)
    for name, g in grads.items():
        lines.append(f"grad {name} {summary(g)}")
    loss, stats = train_reference(m)
    lines.append(f"train_loss {loss:.17g}")
    for name, s in stats.items():
        lines.append(f"train {name} {summary(s)}")
    onnx.save(model, os.path.join(out, "resnet18_structure.onnx"))
    np.save(os.path.join(out, "input.npy"), x)
    np.save(os.path.join(out, "seed.npy"), r)
    np.save(os.path.join(out, "logits.npy"), logits)
    np.save(os.path.join(out, "input.grad.npy"), input_grad)
    with open(os.path.join(out, "reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(len(model.graph.initializer), "initializers,", len(grads),
          "parameter gradients ->", out)


def write_full(out):
    os.makedirs(out, exist_ok=True)
    m, x, r = model_and_inputs()
    export(m, x, f"{out}/resnet18.onnx")
    logits, input_grad, grads = reference(m, x, r)
    np.save(f"{out}/input.npy", x)
    np.save(f"{out}/seed.npy", r)
    np.save(f"{out}/logits.npy", logits)
    np.save(f"{out}/input.grad.npy", input_grad)
    for name, g in grads.items():
        np.save(f"{out}/{name}.grad.npy", g)
    print(len(grads), "parameters")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--testdata":
        write_testdata(os.path.join(HERE, "testdata"))
    else:
        write_full(sys.argv[1] if len(sys.argv) > 1 else ".")
