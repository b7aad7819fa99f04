"""Calls a CUDA model that fails part-way (an expert id out of range, found
by the routing-plan kernel after its buffers exist) many times under the
CUDA emulator, and prints how many device buffers the process holds more
than after one good call.

usage: cuda_failing_calls.py WORKDIR [CALLS]
"""
import ctypes
import os
import sys

import numpy as np

from moe_e2e import Model, compile_model, use_cuda_emulator

here = os.path.dirname(os.path.abspath(__file__))
workdir = sys.argv[1]
calls = int(sys.argv[2]) if len(sys.argv) > 2 else 200
os.makedirs(workdir, exist_ok=True)
lib = compile_model(os.path.join(here, "Inputs", "dispatch.mlir"),
                    os.path.join(workdir, "model.so"), "cuda")
use_cuda_emulator()
emulator = ctypes.CDLL(os.environ["MOE_CUDA_DRIVER"])
emulator.moe_cuda_emulator_live_buffers.restype = ctypes.c_longlong
emulator.moe_cuda_emulator_live_buffers.argtypes = [ctypes.c_void_p]


def live():
    return emulator.moe_cuda_emulator_live_buffers(None)


model = Model(lib)
x = np.ones((3, 4), np.float32)
good = np.array([[0, 3], [3, 1], [1, 3]], np.int32)
bad = np.array([[0, 3], [7, 1], [1, 3]], np.int32)
rc, message, _ = model.call([x, good], 1)
print(f"good call: rc={rc}")
before = live()
for _ in range(calls):
    rc, message, _ = model.call([x, bad], 1)
print(f"rc={rc} {message}")
print(f"{calls} failed calls: {live() - before} more device buffers")
