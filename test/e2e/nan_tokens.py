"""Runs a compiled MoE model on tokens of which some are NaN or infinite:
those tokens' outputs are non-finite, every other token's is what it is
without them (as in PyTorch and onnxruntime; up to rounding, as the expert
tiles regroup), and the call succeeds.

usage: nan_tokens.py MODEL.onnx WORKDIR
"""
import sys

import numpy as np

from moe_e2e import compile_onnx

model, dims = compile_onnx(*sys.argv[1:3])
tokens = 9
shape = [tokens if n == 0 else n for n in dims]
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
clean = model.run([x], 1)[0].reshape(tokens, -1)
bad = x.copy().reshape(tokens, -1)
bad[2, 3] = np.nan
bad[6, :] = np.inf
got = model.run([bad.reshape(shape)], 1)[0].reshape(tokens, -1)
others = [t for t in range(tokens) if t not in (2, 6)]
same = np.allclose(got[others], clean[others], rtol=1e-6, atol=1e-6)
print(f"other tokens unchanged: {same}")
print(f"NaN token non-finite: {not np.isfinite(got[2]).any()}")
print(f"inf token non-finite: {not np.isfinite(got[6]).any()}")
