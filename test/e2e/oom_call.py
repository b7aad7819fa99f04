"""Calls a compiled model under a memory limit with more tokens than fit:
the call returns MOE_ERROR_OUT_OF_MEMORY with the size asked for (not a
crash), and a later call that fits still works.

The limit is an address-space limit; under AddressSanitizer (whose shadow
memory defeats one) it is the sanitizer's largest allocation, 256 MB, with
failed allocations returning NULL as the C library's do.

usage: oom_call.py MODEL.onnx WORKDIR
"""
import mmap
import os
import resource
import sys

import numpy as np

preload = os.environ.get("MOE_SANITIZER_PRELOAD")
limit_option = "allocator_may_return_null=1:max_allocation_size_mb=256"
if preload and limit_option not in os.environ.get("ASAN_OPTIONS", ""):
    env = dict(os.environ, LD_PRELOAD=preload,
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":" + limit_option)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

from moe_e2e import compile_onnx  # noqa: E402

os.environ["MOE_NUM_THREADS"] = "1"
model, dims = compile_onnx(*sys.argv[1:3])
small = np.ones([4 if n == 0 else n for n in dims], np.float32)
expected = model.run([small], 1)[0]

shape = [1 << 22 if n == 0 else n for n in dims]
if preload:
    # Mapped directly: the sanitizer's allocation limit is for the model's.
    size = int(np.prod(shape)) * 4
    big = np.frombuffer(mmap.mmap(-1, size), np.float32).reshape(shape)
    big[...] = 1
else:
    big = np.ones(shape, np.float32)
    limit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
rc, message, _ = model.call([big], 1)
print(f"rc={rc} {message}")
again = model.run([small], 1)[0]
print(f"after: {'same result' if np.array_equal(again, expected) else 'different'}")
