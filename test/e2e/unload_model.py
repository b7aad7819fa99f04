"""Loads a compiled model, runs it on a 2-thread pool and unloads it
(dlclose), CALLS times: every run gives the first run's result, the library
is really unmapped after each dlclose, and no pool thread outlives it.

(Before, the pool's threads stayed blocked on the unloaded library's
condition variable: the library loaded again at the same address woke them
with its own work, and results went wrong.)

usage: unload_model.py MODEL.onnx WORKDIR [CALLS]
"""
import _ctypes
import os
import sys

import numpy as np

from moe_e2e import Model, compile_onnx

os.environ["MOE_NUM_THREADS"] = "2"
first, dims = compile_onnx(*sys.argv[1:3])
_ctypes.dlclose(first.so._handle)
lib = os.path.join(sys.argv[2], "model.so")
x = np.ones([8 if n == 0 else n for n in dims], np.float32)
calls = int(sys.argv[3]) if len(sys.argv) > 3 else 50
threads_before = len(os.listdir("/proc/self/task"))
expected, wrong, mapped = None, 0, 0
for _ in range(calls):
    model = Model(lib)
    out = model.run([x], 1)[0]
    expected = out if expected is None else expected
    wrong += not np.array_equal(out, expected)
    _ctypes.dlclose(model.so._handle)
    mapped += lib in open("/proc/self/maps").read()
extra = len(os.listdir("/proc/self/task")) - threads_before
print(f"{calls} loads: {wrong} wrong results, {mapped} still mapped, "
      f"{extra} threads left")
