#!/usr/bin/env python3
"""Compile time and peak memory of moe-opt against graph size.

Generates ONNX graphs of N nodes (onnx.helper only, no torch), compiles each
with `moe-opt --moe-cpu-pipeline --emit=shared`, and prints wall time and
peak resident memory (from wait4's rusage) per shape and size:

- chain:   a chain of Adds (elementwise; fuses into few loop nests)
- layers:  repeated layers of MatMul by a distinct [64, 64] weight, bias
           Add, Sigmoid, Mul (SiLU), a residual Add and a scaling by 0.5
           (which keeps values bounded over thousands of layers): six nodes,
           one of them a GEMM, per layer (weights differ, code repeats)
- outputs: N Adds, every one a graph output

    .venv/bin/python bench/compile_time.py --sizes 1000,10000,50000
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F = TensorProto.FLOAT


def model(shape, n):
    nodes, inits, outputs = [], [], []
    inits.append(helper.make_tensor("b", F, [64], [0.5] * 64))
    inits.append(helper.make_tensor("half", F, [], [0.5]))
    prev = "x"
    rng = np.random.default_rng(0)
    i = 0
    while len(nodes) < n:
        if shape == "layers":
            w = f"w{i}"
            inits.append(numpy_helper.from_array(
                (rng.standard_normal((64, 64)) / 16).astype(np.float32), w))
            nodes += [
                helper.make_node("MatMul", [prev, w], [f"m{i}"]),
                helper.make_node("Add", [f"m{i}", "b"], [f"a{i}"]),
                helper.make_node("Sigmoid", [f"a{i}"], [f"s{i}"]),
                helper.make_node("Mul", [f"a{i}", f"s{i}"], [f"g{i}"]),
                helper.make_node("Add", [f"g{i}", prev], [f"r{i}"]),
                helper.make_node("Mul", [f"r{i}", "half"], [f"t{i}"]),
            ]
        else:
            nodes.append(helper.make_node("Add", [prev, "b"], [f"t{i}"]))
            if shape == "outputs":
                outputs.append(
                    helper.make_tensor_value_info(f"t{i}", F, ["T", 64]))
        prev = f"t{i}"
        i += 1
    if shape != "outputs":
        outputs = [helper.make_tensor_value_info(prev, F, ["T", 64])]
    graph = helper.make_graph(
        nodes, shape, [helper.make_tensor_value_info("x", F, ["T", 64])],
        outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def compile_once(path, out):
    start = time.perf_counter()
    proc = subprocess.Popen(
        [os.path.join(ROOT, "build", "bin", "moe-opt"), path,
         "--moe-cpu-pipeline", "--emit=shared", "-o", out],
        stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"moe-opt failed on {path}: {proc.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,50000")
    p.add_argument("--shapes", default="chain,layers,outputs")
    p.add_argument("--max-outputs", type=int, default=5000,
                   help="largest 'outputs' graph (a model rarely has more)")
    args = p.parse_args()
    print("| graph | nodes | compile s | peak MB |")
    print("| --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as work:
        for shape in args.shapes.split(","):
            for n in [int(s) for s in args.sizes.split(",")]:
                if shape == "outputs":
                    n = min(n, args.max_outputs)
                path = os.path.join(work, f"{shape}{n}.onnx")
                onnx.save(model(shape, n), path)
                seconds, mb = compile_once(path, path + ".so")
                print(f"| {shape} | {n} | {seconds:.1f} | {mb:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
