"""Runs Inputs/mma.ll's kernel under the CUDA emulator on random f16
matrices and compares D with NumPy's A @ B.

usage: mma_check.py EMULATOR_LIB IMAGE --swap 0|1
Prints the relative L2 error; exits 1 when it exceeds 1e-6 (products of
f16 values are exact in f32).
"""
import sys

import numpy as np

from emu_launch import Emulator

lib, image, _, swap = sys.argv[1:5]
rng = np.random.default_rng(0)
a = rng.standard_normal((16, 16)).astype(np.float16)
bt = rng.standard_normal((8, 16)).astype(np.float16)
d = np.zeros((16, 8), np.float32)
rc, message, (_, _, out) = Emulator(lib).launch(image, "mma", 1, 32,
                                                [a, bt, d, int(swap)])
if rc:
    sys.exit(f"launch failed: {message}")
ref = a.astype(np.float64) @ bt.astype(np.float64).T
err = np.linalg.norm(out - ref) / np.linalg.norm(ref)
print(f"mma.m16n8k16 swap={swap}: relative L2 error {err:.1e}")
sys.exit(0 if err <= 1e-6 else 1)
