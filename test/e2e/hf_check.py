"""Checks a model exported from Hugging Face transformers classes
(test/e2e/Inputs/hf): compiles it for the CPU with moe-opt, runs it on the
inputs saved beside it (`<family>.npz`: x0/y0, the tracing input, and
x1/y1, another token count that routes to other experts) and compares with
PyTorch's outputs (relative L2 error <= 1e-4 for f32, 1e-2 for f16). Prints
how many MoE blocks were raised to moe.layer.

usage: hf_check.py MODEL.onnx WORKDIR [--npz FILE] [--cases x0,x1]
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

from moe_e2e import Model, compare, compile_model

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("workdir")
p.add_argument("--npz", help="default: <family>.npz beside the model")
p.add_argument("--cases", default="0,1", help="which saved inputs to run")
args = p.parse_args()
os.makedirs(args.workdir, exist_ok=True)

npz = args.npz or re.sub(r"\.[a-z_]+\.onnx$", ".npz", args.model)
saved = np.load(npz)
mlir = subprocess.run(["moe-opt", args.model, "--onnx-remarks=false"],
                      check=True, capture_output=True, text=True).stdout
print(f"raised: {len(re.findall(r'= moe.layer ', mlir))} moe.layer")
lib = compile_model(args.model, os.path.join(args.workdir, "model.so"))
model = Model(lib)
ok = True
for case in args.cases.split(","):
    x, y = saved[f"x{case}"], saved[f"y{case}"]
    ours = model.run([x], 1)[0]
    tokens = int(np.prod(x.shape[:-1]))
    ok &= compare(f"{tokens} tokens", ours, y.reshape(ours.shape)
                  if ours.size == y.size else y)
sys.exit(0 if ok else 1)
