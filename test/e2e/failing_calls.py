"""Calls a compiled model many times with an input its run-time checks
reject part-way (after it allocated buffers) and reports how much the
process grew: the failed calls must free what they allocated.

usage: failing_calls.py MODEL.onnx WORKDIR TOKENS [CALLS]
"""
import sys

import numpy as np

from moe_e2e import compile_onnx

tokens = int(sys.argv[3])
calls = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
model, dims = compile_onnx(*sys.argv[1:3])
x = np.ones([tokens if n == 0 else n for n in dims], np.float32)


def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6


rc, message, _ = model.call([x], 1)
print(f"rc={rc} {message}")
# The allocator's own caches fill in the first calls (a sanitizer's more
# slowly): growth is measured after them.
for _ in range(calls // 3):
    model.call([x], 1)
before = rss_mb()
for _ in range(calls):
    model.call([x], 1)
growth = rss_mb() - before
print(f"{calls} failed calls: growth {'below' if growth < 1 else 'above'} "
      f"1 MB ({growth:.2f} MB)")
