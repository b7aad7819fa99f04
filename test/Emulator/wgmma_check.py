"""Runs Inputs/wgmma.ll's kernel (one warpgroup) under the CUDA emulator on
random f16 matrices and compares D with NumPy's A @ B.

usage: wgmma_check.py EMULATOR_LIB IMAGE --mode 0|1|2|3|4|5|6
Prints the launch's status and message and the relative L2 error; exits 1
when the launch fails or the error exceeds 1e-6 (products of f16 values
are exact in f32).
"""
import sys

import numpy as np

from emu_launch import Emulator

lib, image, _, mode = sys.argv[1:5]
rng = np.random.default_rng(0)
a = rng.standard_normal((64, 16)).astype(np.float16)
bt = rng.standard_normal((8, 16)).astype(np.float16)
d = np.zeros((64, 8), np.float32)
rc, message, (_, _, out) = Emulator(lib).launch(image, "wgmma", 1, 128,
                                                [a, bt, d, int(mode)])
print(f"rc: {rc} {message}")
if rc:
    sys.exit(1)
ref = a.astype(np.float64) @ bt.astype(np.float64).T
err = np.linalg.norm(out - ref) / np.linalg.norm(ref)
print(f"wgmma.m64n8k16 mode={mode}: relative L2 error {err:.1e}")
sys.exit(0 if err <= 1e-6 else 1)
