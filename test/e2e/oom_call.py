"""Calls a compiled model under an address-space limit with more tokens
than fit: the call returns MOE_ERROR_OUT_OF_MEMORY with the size asked for
(not a crash), and a later call that fits still works.

usage: oom_call.py MODEL.onnx WORKDIR
"""
import ctypes
import os
import resource
import sys

import numpy as np
import onnx

from moe_e2e import Model, Tensor, compile_model

model_path, workdir = sys.argv[1:3]
os.makedirs(workdir, exist_ok=True)
os.environ["MOE_NUM_THREADS"] = "1"
graph = onnx.load(model_path, load_external_data=False).graph
dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
lib = compile_model(model_path, os.path.join(workdir, "model.so"),
                    extra=["--onnx-remarks=false"])
model = Model(lib)
small = np.ones([4 if n == 0 else n for n in dims], np.float32)
expected = model.run([small], 1)[0]

tokens = 1 << 22
big = np.ones([tokens if n == 0 else n for n in dims], np.float32)
limit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 + (1 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
ins = (Tensor * 1)()
ins[0].data = big.ctypes.data
ins[0].dtype = 0
ins[0].rank = big.ndim
for d, n in enumerate(big.shape):
    ins[0].shape[d] = n
outs = (Tensor * 1)()
err = ctypes.create_string_buffer(256)
rc = model.so.moe_model_run(ins, 1, outs, 1, err, 256)
print(f"rc={rc} {err.value.decode()}")
again = model.run([small], 1)[0]
print(f"after: {'same result' if np.array_equal(again, expected) else 'different'}")
