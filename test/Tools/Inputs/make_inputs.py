"""Writes random .npy inputs: make_inputs.py DIR NAME=SHAPE[:DTYPE] ...
e.g. x=5,32 ids=5,2:int32 (default float32, seed 0)."""
import os
import sys

import numpy as np

rng = np.random.default_rng(0)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for spec in sys.argv[2:]:
    name, rest = spec.split("=")
    shape, _, dtype = rest.partition(":")
    dims = [int(d) for d in shape.split(",") if d]
    np.save(os.path.join(out, name + ".npy"),
            rng.standard_normal(dims).astype(dtype or "float32"))
