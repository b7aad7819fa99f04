"""Runs a compiled model on several threads, forks, and calls it again in
the child (and in the parent): both give the parent's first answer. A child
that hangs is killed after a deadline and reported.

usage: fork_after_run.py MODEL.onnx WORKDIR
"""
import os
import signal
import sys

import numpy as np

from moe_e2e import compile_onnx

os.environ["MOE_NUM_THREADS"] = "4"
model, dims = compile_onnx(*sys.argv[1:3])
shape = [256 if n == 0 else n for n in dims]
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
first = model.run([x], 1)[0]

pid = os.fork()
if pid == 0:
    signal.alarm(60)  # a hang in the child ends it (SIGALRM)
    again = model.run([x], 1)[0]
    os._exit(0 if np.array_equal(again, first) else 1)
_, status = os.waitpid(pid, 0)
if os.WIFSIGNALED(status):
    print(f"child: killed by signal {os.WTERMSIG(status)} (hung)")
else:
    print(f"child: {'same result' if os.WEXITSTATUS(status) == 0 else 'different result'}")
parent = model.run([x], 1)[0]
print(f"parent after fork: {'same result' if np.array_equal(parent, first) else 'different result'}")
