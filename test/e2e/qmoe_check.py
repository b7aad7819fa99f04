"""End-to-end check of com.microsoft.QMoE (quantized expert weights).

Builds a QMoE model with random 4- or 8-bit weights (unsigned, symmetric
zero point 2^(bits-1) or random zero points, 4-bit packed two per byte,
lower nibble first) and per-row or per-block scales, compiles it with moe-opt (the weights stay
bytes; the grouped GEMM dequantizes as it reads them), runs it with moe-run
and compares with onnxruntime and with a NumPy reference written from the
definition. Exits 1 when the relative L2 error exceeds 1e-4 against either
(onnxruntime's 8-bit kernel with block-wise scales is 7e-3 to 1e-2 off the
definition at any token count, so such cases compare with NumPy only:
--reference numpy).

usage: qmoe_check.py WORKDIR [--bits 4|8] [--act swiglu|silu|relu|gelu]
       [--block B] [--tokens T] [--experts E] [--k K] [--hidden H]
       [--inter I] [--device cpu|cuda] [--compile-only] [--cpu NAME]
       [--int8 vnni|generic|auto] [--dtype float32|float16]
       [--zero-points]
"""
import argparse
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from moe_e2e import compile_model, rel_l2, run_cli
from moe_reference import moe_reference

p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("--bits", type=int, default=4)
p.add_argument("--act", default="swiglu")
p.add_argument("--block", type=int, default=0)
p.add_argument("--tokens", type=int, default=9)
p.add_argument("--experts", type=int, default=4)
p.add_argument("--k", type=int, default=2)
p.add_argument("--hidden", type=int, default=32)
p.add_argument("--inter", type=int, default=16)
p.add_argument("--device", choices=["cpu", "cuda", "cuda-emulator"], default="cpu")
p.add_argument("--compile-only", action="store_true")
p.add_argument("--dtype", choices=["float32", "float16"], default="float32",
               help="activations and scales (float16: checked within 2e-3, "
                    "the output's rounding)")
p.add_argument("--int8", default=None,
               help="compile with int8-activations=MODE (vnni, generic, "
                    "auto): checked against the exact reference within "
                    "3e-2 and against one with the activations rounded "
                    "the same way within 1e-5")
p.add_argument("--cpu", default=None,
               help="moe-opt --cpu (e.g. x86-64: a library for any x86-64)")
p.add_argument("--reference", choices=["both", "numpy"], default="both",
               help="numpy alone where onnxruntime computes differently "
                    "(its 8-bit block-wise path)")
p.add_argument("--zero-points", action="store_true",
               help="asymmetric weights: random fc1/fc2_zero_points (packed "
                    "as QMoE packs them)")
args = p.parse_args()
os.makedirs(args.workdir, exist_ok=True)

E, H, I, K, T, bits, block = (args.experts, args.hidden, args.inter, args.k,
                              args.tokens, args.bits, args.block)
rng = np.random.default_rng(0)
gated = args.act == "swiglu"
f1 = 2 * I if gated else I


ELT = TensorProto.FLOAT16 if args.dtype == "float16" else TensorProto.FLOAT


def pack(q):
    """4-bit values two per byte along the last axis, lower nibble first
    (an odd length padded with a zero nibble)."""
    if bits == 8:
        return q.astype(np.uint8)
    if q.shape[-1] % 2:
        q = np.concatenate([q, np.zeros(q.shape[:-1] + (1,), q.dtype)], -1)
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


def quantized(out, inn):
    q = rng.integers(0, 2 ** bits, (E, out, inn)).astype(np.uint8)
    blocks = inn // block if block else 1
    scales = (rng.random((E, out, blocks)) * 0.02 + 0.01).astype(args.dtype)
    zero = np.full((E, out, blocks), 2 ** (bits - 1), np.uint8)
    if args.zero_points:
        zero = rng.integers(0, 2 ** bits, (E, out, blocks)).astype(np.uint8)
    real = (q.astype(np.float64) - np.repeat(zero, inn // blocks, axis=2)) * \
        np.repeat(scales.astype(np.float64), inn // blocks, axis=2)
    # Per-row zero points are packed along the rows, per-block ones along
    # the blocks of a row.
    packed_zero = pack(zero) if block else pack(zero[:, :, 0])
    return pack(q), scales if block else scales[:, :, 0], real, packed_zero


p1, s1, w1, z1 = quantized(f1, H)
p2, s2, w2, z2 = quantized(H, I)
attrs = dict(k=K, activation_type=args.act, normalize_routing_weights=1,
             expert_weight_bits=bits)
if gated:
    attrs["swiglu_fusion"] = 1
if block:
    attrs["block_size"] = block
node_inputs = ["x", "logits", "w1", "s1", "", "w2", "s2", ""]
initializers = [numpy_helper.from_array(p1, "w1"),
                numpy_helper.from_array(s1, "s1"),
                numpy_helper.from_array(p2, "w2"),
                numpy_helper.from_array(s2, "s2")]
if args.zero_points:
    node_inputs += ["", "", "", "z1", "z2"]
    initializers += [numpy_helper.from_array(z1, "z1"),
                     numpy_helper.from_array(z2, "z2")]
node = helper.make_node("QMoE", node_inputs, ["y"], domain="com.microsoft",
                        name="qmoe", **attrs)
graph = helper.make_graph([node], "qmoe_check",
                          [helper.make_tensor_value_info("x", ELT, ["T", H]),
                           helper.make_tensor_value_info("logits", ELT, ["T", E])],
                          [helper.make_tensor_value_info("y", ELT, ["T", H])],
                          initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.microsoft", 1)])
model.ir_version = 8
path = os.path.join(args.workdir, "model.onnx")
onnx.save(model, path)

options = "fail-on-spills=1" if args.device.startswith("cuda") else ""
if args.int8:
    options = f"int8-activations={args.int8}"
lib = compile_model(path, os.path.join(args.workdir, "model.so"), args.device,
                    options,
                    extra=[f"--cpu={args.cpu}"] if args.cpu else [])
if args.compile_only:
    print(f"compiled for {args.device}")
    sys.exit(0)

x = rng.standard_normal((T, H)).astype(args.dtype)
logits = rng.standard_normal((T, E)).astype(args.dtype)
exact = 2e-3 if args.dtype == "float16" else 1e-4
ours = run_cli(lib, [x, logits], args.workdir, device=args.device)

ref = moe_reference(x, logits, w1, w2, K, args.act, renorm=True)
refs = [("numpy", ref, 3e-2 if args.int8 else exact)]
if args.int8:
    from moe_reference import int8_blocks
    refs.append(("numpy with int8 activations", moe_reference(
        x, logits, w1, w2, K, args.act, renorm=True, quantize=int8_blocks),
        exact if args.dtype == "float16" else 1e-5))
elif args.reference == "both":
    refs.append(("onnxruntime", ort.InferenceSession(
        path, providers=["CPUExecutionProvider"]).run(
            None, {"x": x, "logits": logits})[0].astype(np.float64), exact))
ok = True
for name, r, bound in refs:
    err = rel_l2(ours, r)
    print(f"{bits}-bit {args.act} block {block}: relative L2 error {err:.2e} against {name}")
    ok &= err <= bound
sys.exit(0 if ok else 1)
