"""Calls a CUDA model under the CUDA emulator with a small device memory
(MOE_CUDA_EMULATOR_MEMORY) and more tokens than fit: the call returns
MOE_ERROR_OUT_OF_MEMORY with the size asked for, frees what it had
allocated, and a later call that fits gives the same result as before.

usage: cuda_oom_call.py MODEL.onnx WORKDIR
"""
import ctypes
import os
import sys

import numpy as np

from moe_e2e import Model, compile_model, use_cuda_emulator

path, workdir = sys.argv[1:3]
os.makedirs(workdir, exist_ok=True)
import onnx
dims = [d.dim_value for d in onnx.load(path, load_external_data=False)
        .graph.input[0].type.tensor_type.shape.dim]
lib = compile_model(path, os.path.join(workdir, "model.so"), "cuda",
                    extra=["--onnx-remarks=false"])
use_cuda_emulator()
os.environ["MOE_CUDA_EMULATOR_MEMORY"] = "40M"
emulator = ctypes.CDLL(os.environ["MOE_CUDA_DRIVER"])
emulator.moe_cuda_emulator_live_buffers.restype = ctypes.c_longlong
emulator.moe_cuda_emulator_live_buffers.argtypes = [ctypes.c_void_p]

model = Model(lib)
small = np.ones([4 if n == 0 else n for n in dims], np.float32)
expected = model.run([small], 1)[0]
held = emulator.moe_cuda_emulator_live_buffers(None)
big = np.ones([1 << 18 if n == 0 else n for n in dims], np.float32)
rc, message, _ = model.call([big], 1)
print(f"rc={rc} {message}")
# Buffers the runtime keeps for reuse count as held: running out of memory
# gives them back, so the failed call may leave fewer, never more.
more = emulator.moe_cuda_emulator_live_buffers(None) - held
print(f"device buffers held after the failed call: "
      f"{'no' if more <= 0 else more} more")
again = model.run([small], 1)[0]
print(f"after: {'same result' if np.array_equal(again, expected) else 'different'}")
