"""What the benchmarks against onnxruntime share: one compiled model (run
by moe-run --benchmark) and one onnxruntime session timed in alternating
rounds, so that a disturbance of this shared machine (another tenant's
memory traffic) hits both sides alike; each side's time is the median of
its round medians.
"""
import os
import re
import subprocess
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")


def timed(fn):
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(lib, npy_inputs, sess, feeds, threads, runs, rounds, pause):
    """(ours, onnxruntime) median milliseconds per call: `lib` on the .npy
    files `npy_inputs`, `sess` on `feeds` (the same arrays), `rounds`
    rounds of `runs` calls each after warm-up. `pause` seconds before each
    round let onnxruntime's spinning pool threads stop (on two cores they
    would take ours' cores)."""
    ours_rounds, theirs_rounds = [], []
    for _ in range(rounds):
        time.sleep(pause)
        args = [os.path.join(BIN, "moe-run"), lib]
        for npy in npy_inputs:
            args += ["--input", npy]
        args += ["--threads", str(threads), "--benchmark", str(runs)]
        out = subprocess.run(args, check=True, capture_output=True,
                             text=True).stdout
        ours_rounds.append(float(re.search(r"median_ms: (\S+)", out).group(1)))
        for _ in range(3):  # warm, as moe-run warms up
            sess.run(None, feeds)
        times = sorted(timed(lambda: sess.run(None, feeds)) * 1e3
                       for _ in range(runs))
        theirs_rounds.append(times[len(times) // 2])
    return float(np.median(ours_rounds)), float(np.median(theirs_rounds))
