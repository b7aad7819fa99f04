"""Checks models exported from Hugging Face transformers classes
(test/e2e/Inputs/hf, listed in its zoo.txt): each is compiled for the CPU
with moe-opt, run on the inputs saved beside it (`<family>.npz`: x0/y0, the
tracing input, and x1/y1, another token count that routes to other
experts) and compared with PyTorch's outputs (relative L2 error <= 1e-4 for
f32, 1e-2 for f16), or with onnxruntime's where the export itself differs
from PyTorch. The number of MoE blocks raised to moe.layer must be the one
the zoo lists.

zoo.txt lines: `MODEL raised=N [cases=0,1] [reference=torch|ort]
[fails=CASE:MESSAGE]`; `fails` names a case on which the compiled model
must fail with MESSAGE (a trace-specialized export on an input it does not
fit, as onnxruntime fails too).

With --device cuda-emulator the models are compiled with the CUDA pipeline
and run under the CUDA emulator, against the same references and
tolerances.

usage: hf_check.py ZOO WORKDIR [--filter REGEX] [--device cpu|cuda|cuda-emulator]
                   [--options PIPELINE_OPTIONS]
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

from moe_e2e import Model, compare, compile_model, use_cuda_emulator


def parse(line):
    fields = line.split()
    entry = {"model": fields[0], "cases": "0,1", "reference": "torch",
             "fails": None}
    for f in fields[1:]:
        key, value = f.split("=", 1)
        entry[key] = value
    entry["raised"] = int(entry["raised"])
    return entry


def check(entry, root, workdir, device, options=""):
    """Prints the model's lines; whether everything matches."""
    name = entry["model"]
    path = os.path.join(root, name)
    family = re.sub(r"\.[a-z_0-9]+\.onnx$", "", name)
    saved = np.load(os.path.join(root, family + ".npz"))
    mlir = subprocess.run(["moe-opt", path, "--onnx-remarks=false"],
                          check=True, capture_output=True, text=True).stdout
    raised = len(re.findall(r"= moe.layer ", mlir))
    ok = raised == entry["raised"]
    print(f"{name}: raised {raised} moe.layer"
          + ("" if ok else f" (expected {entry['raised']})"))
    os.makedirs(workdir, exist_ok=True)
    lib = compile_model(path, os.path.join(workdir, name + ".so"), device,
                        options, extra=["--onnx-remarks=false"])
    model = Model(lib)
    import onnx
    input_name = onnx.load(path, load_external_data=False).graph.input[0].name
    session = None
    if entry["reference"] == "ort":
        import onnxruntime as ort
        # The graph as written: onnxruntime's fusions (DequantizeLinear +
        # MatMul into MatMulNBits with int8 activations) approximate it.
        options = ort.SessionOptions()
        options.graph_optimization_level = \
            ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(path, options,
                                       providers=["CPUExecutionProvider"])
    fails = entry["fails"].split(":", 1) if entry["fails"] else None
    for case in entry["cases"].split(","):
        x = saved[f"x{case}"]
        # Token ids count one token each; hidden states one per row.
        tokens = int(x.size if np.issubdtype(x.dtype, np.integer)
                     else np.prod(x.shape[:-1]))
        if fails and fails[0] == case:
            import ctypes  # the failure comes back as moe_model_run's error
            try:
                model.run([x], 1)
                print(f"  {tokens} tokens: ran, expected a failure")
                ok = False
            except SystemExit as e:
                got = str(e)
                good = fails[1].replace("_", " ") in got
                print(f"  {tokens} tokens: fails as expected" if good else
                      f"  {tokens} tokens: {got}")
                ok &= good
            continue
        ours = model.run([x], 1)[0]
        ref = (session.run(None, {input_name: x})[0] if session
               else saved[f"y{case}"])
        ok &= compare(f"  {tokens} tokens vs {entry['reference']}", ours,
                      ref.reshape(ours.shape) if ours.size == ref.size
                      else ref)
    return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("zoo")
    p.add_argument("workdir")
    p.add_argument("--filter", default="")
    p.add_argument("--device", choices=["cpu", "cuda", "cuda-emulator"],
                   default="cpu")
    p.add_argument("--options", default="",
                   help="pipeline options, e.g. weights=external")
    args = p.parse_args()
    if args.device == "cuda-emulator":
        use_cuda_emulator()
    root = os.path.dirname(os.path.abspath(args.zoo))
    entries = [parse(l) for l in open(args.zoo)
               if l.strip() and not l.startswith("#")]
    entries = [e for e in entries if re.search(args.filter, e["model"])]
    passed = sum(check(e, root, args.workdir, args.device, args.options)
                 for e in entries)
    print(f"{passed} of {len(entries)} models match")
    sys.exit(0 if passed == len(entries) else 1)


if __name__ == "__main__":
    main()
