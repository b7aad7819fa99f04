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
import ctypes
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, TensorProto

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

lib = os.path.join(args.workdir, "model.so")
subprocess.run(["moe-opt", path, "--moe-cpu-pipeline", "--emit=shared", "-o", lib],
               check=True)

# The ABI, as in include/moe/Runtime/ModelABI.h.
MAX_RANK = 8
class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("shape", ctypes.c_int64 * MAX_RANK)]
DTYPES = {TensorProto.FLOAT: (0, np.float32), TensorProto.FLOAT16: (1, np.float16),
          TensorProto.INT32: (3, np.int32), TensorProto.INT64: (4, np.int64),
          TensorProto.BOOL: (5, np.bool_)}
NP_OF = {code: t for code, t in DTYPES.values()}

rng = np.random.default_rng(args.seed)
so = ctypes.CDLL(lib)
sess = None if args.no_onnxruntime else ort.InferenceSession(
    path, providers=["CPUExecutionProvider"])


def run_case(given, expected, label):
    """Runs the compiled model and onnxruntime on `given` inputs (random
    where absent) and compares; `expected` holds saved outputs by name."""
    feeds, keep, ins = {}, [], []
    for vi in model.graph.input:
        if any(init.name == vi.name for init in model.graph.initializer):
            continue
        tt = vi.type.tensor_type
        code, np_type = DTYPES[tt.elem_type]
        shape = [d.dim_value if d.HasField("dim_value") else args.dim for d in tt.shape.dim]
        if vi.name in given:
            a = given[vi.name].astype(np_type)
        elif np_type == np.bool_:
            a = rng.random(shape) > 0.5
        elif np.issubdtype(np_type, np.integer):
            a = rng.integers(0, 3, shape).astype(np_type)
        else:
            a = rng.standard_normal(shape).astype(np_type)
        a = np.ascontiguousarray(a)
        feeds[vi.name] = a
        keep.append(a)
        t = Tensor(a.ctypes.data, code, a.ndim)
        for i, d in enumerate(a.shape):
            t.shape[i] = d
        ins.append(t)

    n_out = len(model.graph.output)
    outs = (Tensor * n_out)()
    in_arr = (Tensor * len(ins))(*ins)
    err = ctypes.create_string_buffer(512)
    so.moe_model_run.restype = ctypes.c_int
    rc = so.moe_model_run(in_arr, len(ins), outs, n_out, err, 512)
    if rc != 0:
        sys.exit(f"moe_model_run failed: {err.value.decode()}")

    refs = sess.run(None, feeds) if sess else [None] * n_out
    ok = True
    for o, ref in zip(range(n_out), refs):
        t = outs[o]
        shape = [t.shape[i] for i in range(t.rank)]
        np_type = NP_OF[t.dtype]
        count = int(np.prod(shape)) if shape else 1
        buf = (ctypes.c_char * (count * np.dtype(np_type).itemsize)).from_address(t.data)
        ours = np.frombuffer(bytes(buf), dtype=np_type).reshape(shape)
        name = model.graph.output[o].name
        against = [("onnxruntime", ref)] if ref is not None else []
        if name in expected:
            against.append(("saved", expected[name]))
        for who, want in against:
            if list(ours.shape) != list(want.shape):
                print(f"{label}{name}: shape {list(ours.shape)}, {who} {list(want.shape)}")
                ok = False
                continue
            if np.issubdtype(want.dtype, np.floating):
                e = np.linalg.norm(ours.astype(np.float64) - want.astype(np.float64)) / max(
                    np.linalg.norm(want.astype(np.float64)), 1e-30)
                tol = 1e-2 if want.dtype == np.float16 else 1e-4
                suffix = "" if who == "onnxruntime" else f" (vs {who})"
                print(f"{label}{name}: {list(ours.shape)} relative L2 error {e:.2e}{suffix}")
                ok &= e <= tol
            else:
                same = np.array_equal(ours, want)
                print(f"{label}{name}: {list(ours.shape)} {'exact' if same else 'DIFFERS'}")
                ok &= same
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
