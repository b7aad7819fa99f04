"""Runs an ONNX model with onnxruntime on .npy inputs and compares with an
output .npy: prints the relative L2 error, exits 1 above the tolerance.

usage: compare_npy.py MODEL.onnx OUTPUT.npy INPUT.npy... [--tol T]"""
import sys

import numpy as np
import onnxruntime as ort

args = sys.argv[1:]
tol = 1e-4
if "--tol" in args:
    i = args.index("--tol")
    tol = float(args[i + 1])
    del args[i:i + 2]
model, output, inputs = args[0], args[1], args[2:]
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
feeds = {i.name: np.load(p) for i, p in zip(sess.get_inputs(), inputs)}
ref = sess.run(None, feeds)[0].astype(np.float64)
ours = np.load(output).astype(np.float64)
err = np.linalg.norm(ours - ref) / max(np.linalg.norm(ref), 1e-30)
print(f"shape {list(ours.shape)} relative L2 error {err:.2e}")
sys.exit(0 if ours.shape == ref.shape and err <= tol else 1)
