"""Compiles an ONNX model (binary or textual) for the CPU with moe-opt, runs
it through its generated C entry point on random inputs, and compares every
output with onnxruntime. Dynamic dimensions are set to --dim (default 5).
Exits 1 when an output's relative L2 error exceeds the tolerance (1e-4 for
f32, 1e-2 for f16) or, for integer and boolean outputs, any element differs.

usage: onnx_check.py MODEL WORKDIR [--dim N] [--seed S]
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
feeds, keep, ins = {}, [], []
for vi in model.graph.input:
    if any(init.name == vi.name for init in model.graph.initializer):
        continue
    tt = vi.type.tensor_type
    code, np_type = DTYPES[tt.elem_type]
    shape = [d.dim_value if d.HasField("dim_value") else args.dim for d in tt.shape.dim]
    if np_type == np.bool_:
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

so = ctypes.CDLL(lib)
n_out = len(model.graph.output)
outs = (Tensor * n_out)()
in_arr = (Tensor * len(ins))(*ins)
err = ctypes.create_string_buffer(512)
so.moe_model_run.restype = ctypes.c_int
rc = so.moe_model_run(in_arr, len(ins), outs, n_out, err, 512)
if rc != 0:
    sys.exit(f"moe_model_run failed: {err.value.decode()}")

sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
refs = sess.run(None, feeds)
ok = True
for o, ref in zip(range(n_out), refs):
    t = outs[o]
    shape = [t.shape[i] for i in range(t.rank)]
    np_type = NP_OF[t.dtype]
    count = int(np.prod(shape)) if shape else 1
    buf = (ctypes.c_char * (count * np.dtype(np_type).itemsize)).from_address(t.data)
    ours = np.frombuffer(bytes(buf), dtype=np_type).reshape(shape)
    name = model.graph.output[o].name
    if list(ours.shape) != list(ref.shape):
        print(f"{name}: shape {list(ours.shape)}, onnxruntime {list(ref.shape)}")
        ok = False
        continue
    if np.issubdtype(ref.dtype, np.floating):
        e = np.linalg.norm(ours.astype(np.float64) - ref.astype(np.float64)) / max(
            np.linalg.norm(ref.astype(np.float64)), 1e-30)
        tol = 1e-2 if ref.dtype == np.float16 else 1e-4
        print(f"{name}: {list(ours.shape)} relative L2 error {e:.2e}")
        ok &= e <= tol
    else:
        same = np.array_equal(ours, ref)
        print(f"{name}: {list(ours.shape)} {'exact' if same else 'DIFFERS'}")
        ok &= same
sys.exit(0 if ok else 1)
