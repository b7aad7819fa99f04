"""Calls a compiled model many times with an input its run-time checks
reject part-way (after it allocated buffers) and reports how much the
process grew: the failed calls must free what they allocated.

usage: failing_calls.py MODEL.onnx WORKDIR TOKENS [CALLS]
"""
import ctypes
import os
import sys

import numpy as np
import onnx

from moe_e2e import Model, Tensor, compile_model

model_path, workdir, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
os.makedirs(workdir, exist_ok=True)
graph = onnx.load(model_path, load_external_data=False).graph
dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
model = Model(compile_model(model_path, os.path.join(workdir, "model.so"),
                            extra=["--onnx-remarks=false"]))
x = np.ones([tokens if n == 0 else n for n in dims], np.float32)
ins = (Tensor * 1)()
ins[0].data = x.ctypes.data
ins[0].dtype = 0
ins[0].rank = x.ndim
for d, n in enumerate(x.shape):
    ins[0].shape[d] = n
outs = (Tensor * 1)()
err = ctypes.create_string_buffer(256)


def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6


rc = model.so.moe_model_run(ins, 1, outs, 1, err, 256)
print(f"rc={rc} {err.value.decode()}")
before = rss_mb()
for _ in range(calls):
    model.so.moe_model_run(ins, 1, outs, 1, err, 256)
growth = rss_mb() - before
print(f"{calls} failed calls: growth {'below' if growth < 1 else 'above'} "
      f"1 MB ({growth:.2f} MB)")
