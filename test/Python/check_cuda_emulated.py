"""The Python package with a CUDA model: moe.compile(target="cuda") and
moe.use_cuda_emulator() run the model's kernels under the CUDA emulator;
the outputs match the CPU build of the same model (relative L2 <= 1e-4),
with the weights in the library and in a weights file (copied to the
device from the mapping), and the benchmark reports device time.

usage: check_cuda_emulated.py MODEL WORKDIR CUDA_ROOT
"""
import os
import sys

import numpy as np

import moe

source, work, cuda_root = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
driver = moe.use_cuda_emulator()
print("driver:", os.path.basename(driver))
cpu = moe.load(moe.compile(source, os.path.join(work, "cpu.so")))
gpu = moe.load(moe.compile(source, os.path.join(work, "cuda.so"),
                           target="cuda",
                           options={"sm": 80, "toolkit": cuda_root}))
mapped = moe.load(moe.compile(source, os.path.join(work, "cuda_ext.so"),
                              target="cuda",
                              options={"sm": 80, "toolkit": cuda_root,
                                       "weights": "external"}))
print("devices:", cpu.device, gpu.device, "weights file:",
      mapped.weights_file)
rng = np.random.default_rng(0)
inputs = [rng.standard_normal([7 if s is None else s for s in t.shape])
          .astype(t.dtype) for t in cpu.inputs]
(want,) = cpu.run(*inputs)
for label, model in (("cuda vs cpu", gpu), ("cuda, weights file, vs cpu",
                                             mapped)):
    (got,) = model.run(*inputs)
    err = float(np.linalg.norm(got.astype(np.float64) - want) /
                np.linalg.norm(want.astype(np.float64)))
    print(f"{label}: {'ok' if err <= 1e-4 else 'FAILED'} {err:.1e}")
bench = gpu.benchmark(*inputs, iterations=2, warmup=0)
print("device time:", "ok" if bench.device_ms is not None
      and bench.device_ms > 0 else f"FAILED {bench.device_ms}")
