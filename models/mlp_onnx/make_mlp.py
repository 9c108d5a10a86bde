#!/usr/bin/python3
"""Exports a small PyTorch MLP to ONNX and writes reference values.

Run with Debian's python3 (python3-torch, python3-onnx, numpy):

    /usr/bin/python3 models/mlp_onnx/make_mlp.py

Writes, next to this script:
  mlp.onnx     Linear(4, 8) -> Tanh -> Linear(8, 8) -> Relu -> Linear(8, 3)
               -> LogSoftmax(dim=1), opset 13 (Gemm ops), input "x" [4, 4],
               output "log_probs" [4, 3], initializers fc1.weight, fc1.bias,
               fc2.weight, ...
  mlp_ref.txt  The input batch, the output, fixed loss weights w, the loss
               sum(log_probs * w) and its gradients with respect to x and
               every parameter, all computed in float64 by torch autograd
               from the float32 values stored in mlp.onnx. One tensor per
               line: "<name> <dims, comma-separated, or -> <values...>";
               gradients are named "<name>.grad" after the ONNX names.

tools/onnx/mlp_test.cc imports mlp.onnx and checks adc's values and
gradients against mlp_ref.txt; the test needs no Python.
"""
import os

import numpy as np
import onnx
from onnx import numpy_helper
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.fc2 = torch.nn.Linear(8, 8)
        self.fc3 = torch.nn.Linear(8, 3)

    def forward(self, x):
        h = torch.tanh(self.fc1(x))
        h = torch.relu(self.fc2(h))
        return torch.log_softmax(self.fc3(h), dim=1)


def fmt(a):
    a = np.asarray(a)
    dims = ",".join(str(d) for d in a.shape) or "-"
    values = " ".join("%.10g" % v for v in a.reshape(-1))
    return "%s %s" % (dims, values)


def main():
    torch.manual_seed(0)
    model = Mlp().eval()
    x = torch.randn(4, 4, dtype=torch.float32)
    path = os.path.join(HERE, "mlp.onnx")
    torch.onnx.export(model, (x,), path, opset_version=13,
                      input_names=["x"], output_names=["log_probs"],
                      do_constant_folding=True)
    onnx_model = onnx.load(path)
    onnx.checker.check_model(onnx_model)
    ops = [n.op_type for n in onnx_model.graph.node]
    assert ops.count("Gemm") == 3, ops
    inits = {t.name: numpy_helper.to_array(t)
             for t in onnx_model.graph.initializer}

    # Reference in float64 from the exact float32 values of the file.
    model64 = Mlp().double()
    params = dict(model64.named_parameters())
    assert sorted(params) == sorted(inits), (sorted(params), sorted(inits))
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(torch.from_numpy(inits[name].astype(np.float64)))
    x64 = x.double().requires_grad_(True)
    log_probs = model64(x64)
    w = torch.linspace(-1.0, 1.0, steps=12, dtype=torch.float64).reshape(4, 3)
    loss = (log_probs * w).sum()
    loss.backward()

    lines = [
        "# Reference values for mlp.onnx from PyTorch %s in float64 "
        "(written by make_mlp.py)." % torch.__version__,
        "# <name> <dims, comma-separated, or - for a scalar> <values...>",
        "x " + fmt(x.numpy()),
        "log_probs " + fmt(log_probs.detach().numpy()),
        "w " + fmt(w.numpy()),
        "loss " + fmt(loss.detach().numpy()),
        "x.grad " + fmt(x64.grad.numpy()),
    ]
    for t in onnx_model.graph.initializer:
        lines.append("%s.grad %s" % (t.name, fmt(params[t.name].grad.numpy())))
    with open(os.path.join(HERE, "mlp_ref.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote mlp.onnx (%d bytes) and mlp_ref.txt" % os.path.getsize(path))


if __name__ == "__main__":
    main()
