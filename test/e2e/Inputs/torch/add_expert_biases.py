"""Adds a bias to each expert projection of a tiny exported MoE block (ONNX
text, as make_torch_moe.py writes it), the way torch exports nn.Linear with
bias=True: the dynamo exporter's Gemm gets the bias as its C input, the
TorchScript exporter's MatMul is followed by an Add of it.

usage: add_expert_biases.py IN OUT [--experts N] [--router]
  --experts N  bias only the first N experts (a near miss)
  --router     bias the router's linear map too (a near miss)
"""
import argparse
import re

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("input")
p.add_argument("output")
p.add_argument("--experts", type=int, default=None)
p.add_argument("--router", action="store_true")
args = p.parse_args()

lines = open(args.input).read().split("\n")
# Initializer shapes: "float[4,4] name = ".
shapes = {m.group(2): [int(d) for d in m.group(1).split(",")]
          for m in re.finditer(r"float\[([\d,]+)\] (\w+) =", "\n".join(lines))}
rng = np.random.default_rng(7)
added = []  # (name, size)


def bias_for(name, out):
    values = ",".join(f"{v:.6f}" for v in rng.uniform(-0.5, 0.5, out))
    added.append(f"float[{out}] {name} = {{{values}}}")
    return name


def wanted(expert):
    return args.experts is None or expert < args.experts


out_lines = []
# Dynamo: Gemm (x, experts_E_P_proj_weight) with transB = 1 ([out, in]).
gemm = re.compile(r"^(\s*\w+ = Gemm <[^>]*> \((\w+), ((experts_(\d+)_\w+_proj|gate)_weight))\)$")
# TorchScript: OUT = MatMul (x, W) with W [in, out], W named by position;
# the output's name says which projection it is.
matmul = re.compile(r"^(\s*)((experts_(\d+)_\w+_proj|gate)_MatMul_output_0) = MatMul \((\w+), (\w+)\)$")
for line in lines:
    m = gemm.match(line)
    if m:
        weight, prefix = m.group(3), m.group(4)
        expert = m.group(5)
        if (expert is not None and wanted(int(expert))) or (expert is None and args.router):
            line = f"{m.group(1)}, {bias_for(prefix + '_bias', shapes[weight][0])})"
    m = matmul.match(line)
    if m:
        indent, result, prefix, expert, x, weight = m.groups()
        if (expert is not None and wanted(int(expert))) or (expert is None and args.router):
            bias = bias_for(prefix + "_bias", shapes[weight][1])
            line = (f"{indent}{result}_unbiased = MatMul ({x}, {weight})\n"
                    f"{indent}{result} = Add ({result}_unbiased, {bias})")
    out_lines.append(line)
text = "\n".join(out_lines)
# The initializers are the "<...>" list after the graph's signature.
head, sep, rest = text.partition("\n{")
assert head.rstrip().endswith(">"), "initializer list not found"
head = head.rstrip()[:-1] + ", " + ", ".join(added) + ">"
open(args.output, "w").write(head + sep + rest)
