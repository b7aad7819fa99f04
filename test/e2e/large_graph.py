"""Compiles a generated graph of N nodes (bench/compile_time.py's shapes)
under a CPU-time limit, runs it with moe-run and checks every output
against NumPy. The limit is far above what a linear compile needs (seconds)
and far below what the quadratic one took (minutes to hours), so the test
catches a return of superlinear compile time without timing anything.

    large_graph.py SHAPE NODES WORKDIR [--cpu-limit SECONDS]
"""
import argparse
import os
import re
import resource
import subprocess
import sys

import numpy as np
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from compile_time import model  # noqa: E402


def reference(graph, x):
    """The graph evaluated with NumPy (the node kinds `model` emits)."""
    values = {"x": x}
    values.update({t.name: numpy_helper.to_array(t) for t in graph.initializer})
    ops = {
        "Add": lambda a, b: a + b,
        "Mul": lambda a, b: a * b,
        "MatMul": lambda a, b: a @ b,
        "Sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    }
    for node in graph.node:
        values[node.output[0]] = ops[node.op_type](
            *[values[i] for i in node.input]).astype(np.float32)
    return [values[o.name] for o in graph.output]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("shape")
    p.add_argument("nodes", type=int)
    p.add_argument("workdir")
    p.add_argument("--cpu-limit", type=int, default=300)
    args = p.parse_args()
    m = model(args.shape, args.nodes)
    path = os.path.join(args.workdir, f"{args.shape}.onnx")
    lib = path + ".so"
    with open(path, "wb") as f:
        f.write(m.SerializeToString())

    def limit():
        resource.setrlimit(resource.RLIMIT_CPU,
                           (args.cpu_limit, args.cpu_limit))

    subprocess.run(["moe-opt", path, "--moe-cpu-pipeline", "--emit=shared",
                    "-o", lib], check=True, preexec_fn=limit)
    x = np.random.default_rng(1).standard_normal((5, 64)).astype(np.float32)
    np.save(os.path.join(args.workdir, "x.npy"), x)
    expected = reference(m.graph, x)
    if len(expected) == 1:
        y = os.path.join(args.workdir, "y.npy")
        subprocess.run(["moe-run", lib, "--input",
                        os.path.join(args.workdir, "x.npy"), "--output", y],
                       check=True)
        got = [np.load(y)]
    else:
        # Many outputs: moe-run prints each one's first values.
        text = subprocess.run(["moe-run", lib, "--input",
                               os.path.join(args.workdir, "x.npy")],
                              check=True, capture_output=True,
                              text=True).stdout
        got = [np.array(v.split()[:8], np.float32) for v in
               re.findall(r"^\S+: f32 \[5, 64\] = (.*?) \.\.\.$", text, re.M)]
        expected = [e.reshape(-1)[:8] for e in expected]
    if len(got) != len(expected):
        sys.exit(f"{len(got)} outputs, expected {len(expected)}")
    error = max(float(np.max(np.abs(g - e) / (1 + np.abs(e))))
                for g, e in zip(got, expected))
    print(f"{args.shape} {args.nodes}: {len(got)} outputs, "
          f"max relative error {error:.1e}")
    if error > 1e-4:
        sys.exit("outputs differ from NumPy")


if __name__ == "__main__":
    main()
