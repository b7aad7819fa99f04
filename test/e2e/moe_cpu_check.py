"""End-to-end check of the CPU (and CUDA) lowering of com.microsoft.MoE models.

Builds a com.microsoft.MoE model with random weights, compiles it with
`moe-opt --moe-cpu-pipeline --emit=shared` (import, raise to moe.layer,
reference lowering, bufferization, LLVM, linked with libmoe_runtime.a), runs
its C interface through ctypes and compares with onnxruntime (or the NumPy
reference) on the same inputs. Exits 1
when the relative L2 error exceeds the tolerance or the expert selection
differs.

With --device cuda the model is compiled with `--moe-cuda-pipeline` (sm
from --sm, failing on register spills) and run by `moe-run --device cuda`;
--compile-only stops after compiling (the ptxas checks of machines without
a GPU).

usage: moe_cpu_check.py WORKDIR [--tokens T] [--hidden H] [--inter I]
       [--experts E] [--k K] [--act relu|gelu|silu|swiglu] [--fusion 0|1|2]
       [--bias] [--renorm] [--batched] [--dtype f32|f16|bf16] [--seed S]
       [--device cpu|cuda] [--sm 80|86|89|90] [--compile-only]
       [--cpu NAME] [--count MNEMONIC] [--save-output NPY]
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from moe_e2e import Model, compile_model, rel_l2, run_cli, tolerance
from moe_reference import moe_reference

p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("--tokens", type=int, default=16)
p.add_argument("--hidden", type=int, default=32)
p.add_argument("--inter", type=int, default=24)
p.add_argument("--experts", type=int, default=8)
p.add_argument("--k", type=int, default=2)
p.add_argument("--act", default="swiglu")
p.add_argument("--fusion", type=int, default=1)
p.add_argument("--bias", action="store_true")
p.add_argument("--renorm", action="store_true")
p.add_argument("--batched", action="store_true")
p.add_argument("--dtype", default="f32")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--dense", action="store_true",
               help="wrap the MoE in a decoder-style block: RMSNorm "
                    "(SimplifiedLayerNormalization), a router MatMul, and the "
                    "residual Add")
p.add_argument("--reference", choices=["ort", "numpy"], default="ort",
               help="onnxruntime (default) or the NumPy reference below, for "
                    "settings onnxruntime's CPU MoE does not implement")
p.add_argument("--device", choices=["cpu", "cuda", "cuda-emulator"], default="cpu")
p.add_argument("--sm", default="80")
p.add_argument("--compile-only", action="store_true")
p.add_argument("--cpu", default=None,
               help="moe-opt --cpu (e.g. haswell: AVX2 code on an AVX-512 host)")
p.add_argument("--tolerance", type=float, default=None,
               help="relative L2 tolerance (default: 1e-4 for f32, 1e-2 "
                    "for f16)")
p.add_argument("--options", default="",
               help="extra pipeline options, e.g. fuse-activation=0")
p.add_argument("--count", default=None, metavar="MNEMONIC",
               help="print how many MNEMONIC instructions the library has "
                    "(objdump), e.g. vdpbf16ps")
p.add_argument("--save-output", default=None, metavar="NPY",
               help="also save our output (raw bits for bfloat16)")
args = p.parse_args()

os.makedirs(args.workdir, exist_ok=True)
rng = np.random.default_rng(args.seed)
if args.dtype == "bf16":  # NumPy's bfloat16 comes with onnx (ml_dtypes)
    import ml_dtypes
    np_type, onnx_type = ml_dtypes.bfloat16, TensorProto.BFLOAT16
else:
    np_type = np.float32 if args.dtype == "f32" else np.float16
    onnx_type = TensorProto.FLOAT if args.dtype == "f32" else TensorProto.FLOAT16
E, H, I, T = args.experts, args.hidden, args.inter, args.tokens
gated = args.act == "swiglu"
# swiglu_fusion = 0: the gate in fc1 and the up projection in fc3.
separate = gated and args.fusion == 0
f1 = 2 * I if gated and not separate else I


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np_type)


inits = [numpy_helper.from_array(rand(E, f1, H, scale=H ** -0.5), "w1"),
         numpy_helper.from_array(rand(E, H, I, scale=I ** -0.5), "w2")]
inputs = ["x", "logits", "w1", "", "w2", ""]
if args.bias:
    inits += [numpy_helper.from_array(rand(E, f1, scale=0.1), "b1"),
              numpy_helper.from_array(rand(E, H, scale=0.1), "b2")]
    inputs[3], inputs[5] = "b1", "b2"
if separate:
    inits += [numpy_helper.from_array(rand(E, I, H, scale=H ** -0.5), "w3")]
    inputs += ["w3", ""]
    if args.bias:
        inits += [numpy_helper.from_array(rand(E, I, scale=0.1), "b3")]
        inputs[7] = "b3"
attrs = dict(k=args.k, activation_type=args.act,
             normalize_routing_weights=int(args.renorm))
if gated:
    attrs["swiglu_fusion"] = args.fusion
lead = ["B", "S"] if args.batched else ["T"]
if args.dense:
    # y = x + MoE(rms(x), rms(x) @ Wr): the router is a MatMul on the
    # normalized states; the graph input `logits` is unused but kept so both
    # forms take the same inputs.
    # A 3-D router output is flattened to onnxruntime's [rows, E].
    inits += [numpy_helper.from_array(rand(H, scale=1.0) + np_type(1), "gamma"),
              numpy_helper.from_array(rand(H, E, scale=H ** -0.5), "wr"),
              numpy_helper.from_array(np.array([-1, E], np.int64), "rows_e")]
    nodes = [helper.make_node("SimplifiedLayerNormalization", ["x", "gamma"], ["h"],
                              name="norm", epsilon=1e-6, axis=-1),
             helper.make_node("MatMul", ["h", "wr"], ["router3"], name="router"),
             helper.make_node("Reshape", ["router3", "rows_e"], ["router"],
                              name="flatten"),
             helper.make_node("MoE", ["h", "router"] + inputs[2:], ["m"],
                              domain="com.microsoft", name="moe", **attrs),
             helper.make_node("Add", ["x", "m"], ["y"], name="residual"),
             helper.make_node("Identity", ["logits"], ["unused"], name="keep")]
    outputs = [helper.make_tensor_value_info("y", onnx_type, lead + [H])]
else:
    nodes = [helper.make_node("MoE", inputs, ["y"], domain="com.microsoft",
                              name="moe", **attrs)]
    outputs = [helper.make_tensor_value_info("y", onnx_type, lead + [H])]
graph = helper.make_graph(
    nodes, "moe_check",
    [helper.make_tensor_value_info("x", onnx_type, lead + [H]),
     # onnxruntime wants router_probs as [rows, E] even for a 3-D input.
     helper.make_tensor_value_info("logits", onnx_type, ["R", E])],
    outputs, inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.microsoft", 1)])
model.ir_version = 8
model_path = os.path.join(args.workdir, "model.onnx")
onnx.save(model, model_path)

# Compile: ONNX -> shared library, in one moe-opt call.
lib = compile_model(
    model_path, os.path.join(args.workdir, "model.so"), args.device,
    " ".join(o for o in (args.options, "fail-on-spills=1"
                         if args.device.startswith("cuda") else "") if o),
    sm=args.sm if args.device.startswith("cuda") else None,
    extra=[f"--cpu={args.cpu}"] if args.cpu else [])
if args.count:
    # objdump -d lines: "address:<TAB>bytes<TAB>mnemonic operands".
    text = subprocess.run(["objdump", "-d", lib], check=True,
                          capture_output=True, text=True).stdout
    fields = (line.split("\t") for line in text.splitlines())
    n = sum(1 for f in fields if len(f) > 2 and f[2].split()[:1] == [args.count])
    print(f"{args.count}: {n}")
if args.compile_only:
    print(f"compiled for {args.device}"
          + (f" sm_{args.sm} without register spills" if args.device.startswith("cuda") else ""))
    sys.exit(0)

shape = [2, (T + 1) // 2] if args.batched else [T]
x = rand(*shape, H)
logits = rand(int(np.prod(shape)), E, scale=2.0)
if args.device == "cpu":
    ours = Model(lib).run([x, logits], 1)[0]
else:
    # Through moe-run, which reports the device's failures.
    ours = run_cli(lib, [x, logits], args.workdir, device=args.device)
    if args.dtype == "bf16":  # moe-run writes bfloat16 as raw uint16
        ours = ours.view(np_type)


if args.save_output:
    np.save(args.save_output,
            ours.view(np.uint16) if args.dtype == "bf16" else ours)


def numpy_reference():
    """com.microsoft.MoE written from its definition, in float64."""
    named = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in inits}
    w1, b1 = named["w1"], named.get("b1")
    fusion = args.fusion
    if separate:
        # fc1 / fc3 are the concatenated halves of one projection.
        w1 = np.concatenate([w1, named["w3"]], axis=1)
        b1 = np.concatenate([b1, named["b3"]], axis=1) if args.bias else None
        fusion = 2
    out = moe_reference(
        x.reshape(-1, H), logits.reshape(-1, E), w1, named["w2"], args.k,
        args.act, args.renorm, fusion, b1, named.get("b2"))
    return out.reshape(x.shape)


if args.reference == "ort":
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x, "logits": logits})[0]
else:
    if args.dense:
        sys.exit("the NumPy reference covers the MoE block alone, not --dense")
    ref = numpy_reference()
err = rel_l2(ours, ref)
tol = args.tolerance or tolerance(np_type)
print(f"shape {list(ours.shape)} relative L2 error {err:.3e} against "
      f"{args.reference} (tolerance {tol:.0e})")
sys.exit(0 if err <= tol and ours.shape == ref.shape else 1)
