"""Calls a compiled model under an address-space limit with more tokens
than fit: the call returns MOE_ERROR_OUT_OF_MEMORY with the size asked for
(not a crash), and a later call that fits still works.

usage: oom_call.py MODEL.onnx WORKDIR
"""
import os
import resource
import sys

import numpy as np

from moe_e2e import compile_onnx

os.environ["MOE_NUM_THREADS"] = "1"
model, dims = compile_onnx(*sys.argv[1:3])
small = np.ones([4 if n == 0 else n for n in dims], np.float32)
expected = model.run([small], 1)[0]

tokens = 1 << 22
big = np.ones([tokens if n == 0 else n for n in dims], np.float32)
limit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 + (1 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
rc, message, _ = model.call([big], 1)
print(f"rc={rc} {message}")
again = model.run([small], 1)[0]
print(f"after: {'same result' if np.array_equal(again, expected) else 'different'}")
