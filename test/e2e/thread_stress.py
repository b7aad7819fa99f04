"""Calls one compiled model from several threads at once (different inputs
and token counts) and compares every result with a sequential run of the
same inputs: the entry points serialize calls, so results are identical.

usage: thread_stress.py MODEL.onnx WORKDIR [--threads 8] [--calls 200]
                        [--deadline SECONDS]
"""
import argparse
import os
import threading
import time

import numpy as np

from moe_e2e import compile_onnx

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("workdir")
p.add_argument("--threads", type=int, default=8)
p.add_argument("--calls", type=int, default=200)
p.add_argument("--deadline", type=float, default=120,
               help="seconds before the calls count as deadlocked")
args = p.parse_args()
model, dims = compile_onnx(args.model, args.workdir)
rng = np.random.default_rng(0)
cases = []
for tokens in (1, 3, 7, 16, 33, 64):
    shape = [tokens if n == 0 else n for n in dims]
    cases.append(rng.standard_normal(shape).astype(np.float32))
expected = [model.run([x], 1)[0] for x in cases]

failures = []


def worker(seed):
    r = np.random.default_rng(seed)
    try:
        for _ in range(args.calls):
            i = int(r.integers(len(cases)))
            got = model.run([cases[i]], 1)[0]
            if not np.array_equal(got, expected[i], equal_nan=True):
                failures.append(f"thread {seed}: case {i} differs")
                return
    except SystemExit as e:  # Model.run's failure report
        failures.append(f"thread {seed}: {e}")


threads = [threading.Thread(target=worker, args=(s,), daemon=True)
           for s in range(args.threads)]
for t in threads:
    t.start()
end = time.monotonic() + args.deadline
for t in threads:
    t.join(timeout=max(0.0, end - time.monotonic()))
if any(t.is_alive() for t in threads):
    # (A deadlock in the pool: the daemon threads cannot be joined.)
    print(f"FAIL: calls still running after {args.deadline} s (deadlock)")
    os._exit(1)
for f in failures[:10]:
    print("FAIL", f)
print(f"{args.threads} threads x {args.calls} calls: "
      f"{len(failures)} threads saw a wrong or failed result")
raise SystemExit(1 if failures else 0)
