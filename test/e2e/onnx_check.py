"""Compiles an ONNX model (binary or textual) for the CPU with moe-opt, runs
it through its generated C entry point on random inputs, and compares every
output with onnxruntime. Dynamic dimensions are set to --dim (default 5).
Exits 1 when an output's relative L2 error exceeds the tolerance (1e-4 for
f32, 1e-2 for f16) or, for integer and boolean outputs, any element differs.

With --npz FILE (arrays named after the graph's inputs and outputs, as the
PyTorch fixture generator writes them) the model also runs on those inputs,
and its outputs are compared with both onnxruntime and the saved outputs.

--no-onnxruntime compares only with the saved outputs (for models that
onnxruntime's CPU provider cannot run, e.g. f16 ScatterND with add).

usage: onnx_check.py MODEL WORKDIR [--dim N] [--seed S] [--npz FILE]
                     [--no-onnxruntime]
"""
import argparse
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto

from moe_e2e import Model, compare, compile_model

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("workdir")
p.add_argument("--dim", type=int, default=5)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--npz")
p.add_argument("--no-onnxruntime", action="store_true")
args = p.parse_args()
os.makedirs(args.workdir, exist_ok=True)

path = args.model
if path.endswith(".onnxtxt"):
    # onnxruntime reads binary models: convert with the same text parser
    # family moe-opt uses (onnx's).
    text = "\n".join(l for l in open(path) if not l.lstrip().startswith("#"))
    model = onnx.parser.parse_model(text)
    path = os.path.join(args.workdir, "model.onnx")
    onnx.save(model, path)
else:
    model = onnx.load(path)

lib = compile_model(path, os.path.join(args.workdir, "model.so"))
compiled = Model(lib)
rng = np.random.default_rng(args.seed)
sess = None if args.no_onnxruntime else ort.InferenceSession(
    path, providers=["CPUExecutionProvider"])
ONNX_TYPES = {TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16,
              TensorProto.INT32: np.int32, TensorProto.INT64: np.int64,
              TensorProto.INT8: np.int8, TensorProto.INT16: np.int16,
              TensorProto.BOOL: np.bool_}


def run_case(given, expected, label):
    """Runs the compiled model and onnxruntime on `given` inputs (random
    where absent) and compares; `expected` holds saved outputs by name."""
    feeds = {}
    for vi in model.graph.input:
        if any(init.name == vi.name for init in model.graph.initializer):
            continue
        tt = vi.type.tensor_type
        np_type = ONNX_TYPES[tt.elem_type]
        shape = [d.dim_value if d.HasField("dim_value") else args.dim for d in tt.shape.dim]
        if vi.name in given:
            a = given[vi.name].astype(np_type)
        elif np_type == np.bool_:
            a = rng.random(shape) > 0.5
        elif np_type in (np.int8, np.int16):
            # (Quantized codes: the whole signed range of int8.)
            a = rng.integers(-128, 128, shape).astype(np_type)
        elif np.issubdtype(np_type, np.integer):
            a = rng.integers(0, 3, shape).astype(np_type)
        else:
            a = rng.standard_normal(shape).astype(np_type)
        feeds[vi.name] = np.ascontiguousarray(a)

    n_out = len(model.graph.output)
    outs = compiled.run(list(feeds.values()), n_out)
    refs = sess.run(None, feeds) if sess else [None] * n_out
    ok = True
    for ours, ref, out in zip(outs, refs, model.graph.output):
        against = [("onnxruntime", ref)] if ref is not None else []
        if out.name in expected:
            against.append(("saved", expected[out.name]))
        for who, want in against:
            note = "" if who == "onnxruntime" else f" (vs {who})"
            ok &= compare(f"{label}{out.name}", ours, want, note=note)
    return ok


ok = True
if args.npz:
    saved = dict(np.load(args.npz))
    ok &= run_case(saved, saved, "saved inputs: ")
if sess:
    ok &= run_case({}, {}, "")
elif not args.npz:
    sys.exit("--no-onnxruntime needs --npz")
sys.exit(0 if ok else 1)
