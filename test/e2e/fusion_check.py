"""A fusion is an optimization, not a change of meaning: compiles one moe IR
file twice for the CPU (pipeline options A, then B), runs both with moe-run
on the same random inputs (dynamic dims = --tokens) and checks that the
outputs agree within --tolerance (max relative error). Exits 1 otherwise.
With --reference qwen, B is also compared with a float64 NumPy model of
test/e2e/Inputs/shared-qwen.mlir's layer (softmax top-2 routing,
concatenated SwiGLU experts, a sigmoid-gated shared expert).

usage: fusion_check.py WORKDIR MODEL.mlir --a OPTIONS --b OPTIONS [--tokens T]
       [--reference qwen]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

import numpy as np

from moe_e2e import compile_model

p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("model")
p.add_argument("--a", default="", help="pipeline options of the reference")
p.add_argument("--b", required=True, help="pipeline options under test")
p.add_argument("--tokens", type=int, default=37)
p.add_argument("--tolerance", type=float, default=1e-5)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--reference", choices=["qwen"], default=None)
args = p.parse_args()

shutil.rmtree(args.workdir, ignore_errors=True)
os.makedirs(args.workdir)
text = open(args.model).read()
signature = re.search(r"func\.func @\w+\((.*?)\)\s*->", text, re.S).group(1)
shapes = [[args.tokens if d == "?" else int(d) for d in m.split("x")]
          for m in re.findall(r"tensor<([?\dx]+)xf32>", signature)]
rng = np.random.default_rng(args.seed)
inputs = []
arrays = []
for i, shape in enumerate(shapes):
    path = os.path.join(args.workdir, f"in{i}.npy")
    arrays.append((rng.standard_normal(shape) * 0.5).astype(np.float32))
    np.save(path, arrays[-1])
    inputs += ["--input", path]


def silu_glu(a):
    g, u = np.split(a, 2, axis=-1)  # concatenated gate | up
    return g / (1 + np.exp(-g)) * u


def qwen_reference(x, logits, w1, w2, s1, s2, gate):
    x, logits = x.astype(np.float64), logits.astype(np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    out = np.zeros_like(x)
    for t in range(x.shape[0]):
        for e in np.argsort(-probs[t], kind="stable")[:2]:
            out[t] += probs[t, e] * (w2[e] @ silu_glu(w1[e] @ x[t]))
    shared = silu_glu(x @ s1.T) @ s2.T
    return out + shared / (1 + np.exp(-(x @ gate.T)))

outputs = {}
for name, options in (("a", args.a), ("b", args.b)):
    lib = compile_model(args.model, os.path.join(args.workdir, f"{name}.so"),
                        options=options)
    out = os.path.join(args.workdir, f"{name}.npy")
    subprocess.run(["moe-run", lib, *inputs, "--output", out, "--threads",
                    "2"], check=True)
    outputs[name] = np.load(out)

a, b = outputs["a"], outputs["b"]
if args.reference == "qwen":
    ref = qwen_reference(*[v.astype(np.float64) for v in arrays])
    ref_err = float(np.max(np.abs(b - ref)) / np.max(np.abs(ref)))
    print(f"{'ok' if ref_err <= 1e-5 else 'FAIL'}: [{args.b}] vs the NumPy "
          f"model: max relative error {ref_err:.3e}")
    if ref_err > 1e-5:
        sys.exit(1)
err = float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a))), 1e-30))
ok = a.shape == b.shape and np.all(np.isfinite(b)) and err <= args.tolerance
print(f"{'ok' if ok else 'FAIL'}: {os.path.basename(args.model)} "
      f"[{args.b}] vs [{args.a}]: shape {list(b.shape)} max relative error "
      f"{err:.3e} (tolerance {args.tolerance:g})")
sys.exit(0 if ok else 1)
