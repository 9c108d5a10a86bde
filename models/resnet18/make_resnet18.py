#!/usr/bin/python3
"""ResNet-18 from torchvision exported to ONNX (opset 13, TrainingMode.PRESERVE,
no constant folding; eval mode, so batch norm uses its running statistics),
with random batch-norm parameters and statistics (distinct initializers), and
PyTorch's reference values: the logits for a fixed 2x3x32x32 input and the
gradients of sum(logits * r) (r fixed) with respect to the input and every
parameter. Writes OUT_DIR/resnet18.onnx and .npy files named like adc's
outputs. Needs python3-torch, python3-torchvision, python3-onnx.
Usage: /usr/bin/python3 models/resnet18/make_resnet18.py OUT_DIR"""
import os
import sys

import numpy as np
import torch
import torchvision


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=10)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    m.eval()
    x = torch.randn(2, 3, 32, 32)
    r = torch.rand(2, 10) + 0.5
    torch.onnx.export(m, x, f"{out}/resnet18.onnx", opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False, input_names=["input"],
                      output_names=["logits"])
    x.requires_grad_(True)
    logits = m(x)
    (logits * r).sum().backward()
    np.save(f"{out}/input.npy", x.detach().numpy())
    np.save(f"{out}/seed.npy", r.numpy())
    np.save(f"{out}/logits.npy", logits.detach().numpy())
    np.save(f"{out}/input.grad.npy", x.grad.numpy())
    for name, p in m.named_parameters():
        np.save(f"{out}/{name}.grad.npy", p.grad.numpy())
    print(len(list(m.parameters())), "parameters")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
