"""A fusion is an optimization, not a change of meaning: compiles one moe IR
file twice for the CPU (pipeline options A, then B), runs both with moe-run
on the same random inputs (dynamic dims = --tokens) and checks that the
outputs agree within --tolerance (max relative error). Exits 1 otherwise.

usage: fusion_check.py WORKDIR MODEL.mlir --a OPTIONS --b OPTIONS [--tokens T]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("model")
p.add_argument("--a", default="", help="pipeline options of the reference")
p.add_argument("--b", required=True, help="pipeline options under test")
p.add_argument("--tokens", type=int, default=37)
p.add_argument("--tolerance", type=float, default=1e-5)
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()

shutil.rmtree(args.workdir, ignore_errors=True)
os.makedirs(args.workdir)
text = open(args.model).read()
signature = re.search(r"func\.func @\w+\((.*?)\)\s*->", text, re.S).group(1)
shapes = [[args.tokens if d == "?" else int(d) for d in m.split("x")]
          for m in re.findall(r"tensor<([?\dx]+)xf32>", signature)]
rng = np.random.default_rng(args.seed)
inputs = []
for i, shape in enumerate(shapes):
    path = os.path.join(args.workdir, f"in{i}.npy")
    np.save(path, (rng.standard_normal(shape) * 0.5).astype(np.float32))
    inputs += ["--input", path]

outputs = {}
for name, options in (("a", args.a), ("b", args.b)):
    lib = os.path.join(args.workdir, f"{name}.so")
    pipeline = "--moe-cpu-pipeline" + (f"={options}" if options else "")
    subprocess.run(["moe-opt", args.model, pipeline, "--emit=shared", "-o",
                    lib], check=True)
    out = os.path.join(args.workdir, f"{name}.npy")
    subprocess.run(["moe-run", lib, *inputs, "--output", out, "--threads",
                    "2"], check=True)
    outputs[name] = np.load(out)

a, b = outputs["a"], outputs["b"]
err = float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a))), 1e-30))
ok = a.shape == b.shape and np.all(np.isfinite(b)) and err <= args.tolerance
print(f"{'ok' if ok else 'FAIL'}: {os.path.basename(args.model)} "
      f"[{args.b}] vs [{args.a}]: shape {list(b.shape)} max relative error "
      f"{err:.3e} (tolerance {args.tolerance:g})")
sys.exit(0 if ok else 1)
