"""Recomputes moe_app's inputs (sin(0.37 n + i)) and output summary with
onnxruntime and compares with the app's printed line.
usage: check_app.py MODEL.onnx TOKENS APP_OUTPUT"""
import re
import sys

import numpy as np
import onnxruntime as ort

model, tokens, app_out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
feeds = {}
for i, inp in enumerate(sess.get_inputs()):
    shape = [tokens if not isinstance(d, int) else d for d in inp.shape]
    n = np.arange(int(np.prod(shape)), dtype=np.float64)
    feeds[inp.name] = np.sin(0.37 * n + i).astype(np.float32).reshape(shape)
y = sess.run(None, feeds)[0]
m = re.search(r"first (\S+) sum (\S+)", open(app_out).read())
first, total = float(m.group(1)), float(m.group(2))
ok = abs(first - y.flat[0]) <= 1e-4 * max(1, abs(y.flat[0])) and \
    abs(total - y.sum()) <= 1e-3 * max(1, np.abs(y).sum())
print(f"app first {first} sum {total}; onnxruntime first {y.flat[0]} sum {y.sum()}")
sys.exit(0 if ok else 1)
