"""CPU benchmark of the MoE layer: moe-opt's compiled code against
onnxruntime's com.microsoft.MoE on the same model, inputs and thread count,
plus the machine's limits measured in the same run.

Shapes (issue #4): coarse (hidden 1024, inter 2048, 8 experts, k=2) and
fine-grained (hidden 1024, inter 256, 64 experts, k=6), f32 SwiGLU, at 1, 16
and 256 tokens. Prints one row per case: our median, onnxruntime's median,
the ratio (onnxruntime time / ours: above 1 means we are faster), our
GFLOP/s against the measured sgemm ceiling, and our effective bandwidth
against the measured stream bandwidth (bytes of the selected experts'
weights per run).

With --weights f16 the whole model is float16 (onnxruntime's f16 MoE);
with bf16 bfloat16, against onnxruntime on the f32 model of the same
weights (it has no CPU MoE for bfloat16).
With --weights q4 or q8 the experts are com.microsoft.QMoE's (4- or 8-bit
unsigned weights with a symmetric zero point, or random zero points with
--zero-points; f32 scales per row or per --block columns) against
onnxruntime's CPU QMoE; bandwidth then counts the
packed bytes and scales the selected experts read.

usage: moe_cpu_bench.py [--threads N] [--runs N] [--rounds N] [--cases coarse,fine]
       [--tokens 1,16,256] [--workdir DIR] [--skew S] [--weights f32|f16|bf16|q4|q8]
       [--block B] [--zero-points] [--options PIPELINE-OPTIONS]
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--runs", type=int, default=10)
p.add_argument("--rounds", type=int, default=3,
               help="alternating rounds of --runs calls, ours then "
                    "onnxruntime's; the median round counts")
p.add_argument("--cases", default="coarse,fine")
p.add_argument("--tokens", default="1,16,256")
p.add_argument("--workdir", default=None)
p.add_argument("--skew", type=float, default=0.0,
               help="added to the router logits of the first eighth of the "
                    "experts, so that routing is uneven (0: uniform)")
p.add_argument("--weights", choices=["f32", "f16", "bf16", "q4", "q8"],
               default="f32",
               help="f16: the whole model in float16 (weights and "
                    "activations), against onnxruntime's f16 MoE")
p.add_argument("--block", type=int, default=32,
               help="quantized weights: columns per scale (0: one per row)")
p.add_argument("--zero-points", action="store_true",
               help="q4/q8: random fc1/fc2_zero_points (asymmetric weights)")
p.add_argument("--options", default="",
               help="pipeline options, e.g. fuse-activation=0")
args = p.parse_args()
# Thread counts must be set before numpy/onnxruntime load their pools.
os.environ["OMP_NUM_THREADS"] = str(args.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "examples"))
from make_moe_model import build_moe_model  # noqa: E402
from alternating import alternate, timed  # noqa: E402

CASES = {"coarse": dict(H=1024, I=2048, E=8, K=2),
         "fine": dict(H=1024, I=256, E=64, K=6)}


def machine_limits():
    n = 1024
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    a @ b
    best = min(timed(lambda: a @ b) for _ in range(5))
    sgemm = 2 * n ** 3 / best / 1e9
    src = np.ones(64 * 1024 * 1024 // 4, np.float32)  # 64 MiB
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = min(timed(lambda: np.copyto(dst, src)) for _ in range(5))
    stream = 2 * src.nbytes / best / 1e9  # read + write
    return sgemm, stream


def build_model(path, H, I, E, K):
    if args.weights in ("f32", "f16", "bf16"):
        onnx.save(build_moe_model(E=E, H=H, I=I, K=K, dtype=float_type(),
                                  name="moe_bench"), path)
        return
    from onnx import TensorProto, helper, numpy_helper
    bits, block = (4 if args.weights == "q4" else 8), args.block
    rng = np.random.default_rng(0)

    def quantized(name, out, inn):
        q = rng.integers(0, 2 ** bits, (E, out, inn)).astype(np.uint8)
        if bits == 4:
            q = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
        blocks = inn // block if block else 1
        scales = (rng.random((E, out, blocks)) * 0.002 + 0.001).astype(np.float32)
        if not block:
            scales = scales[:, :, 0]
        zero = rng.integers(0, 2 ** bits, scales.shape).astype(np.uint8)
        if bits == 4:  # packed along the last axis (of even length here)
            zero = (zero[..., 0::2] | (zero[..., 1::2] << 4)).astype(np.uint8)
        return [numpy_helper.from_array(q, name),
                numpy_helper.from_array(scales, name + "_scales"),
                numpy_helper.from_array(zero, name + "_zero_points")]

    w1, w2 = quantized("w1", 2 * I, H), quantized("w2", H, I)
    inits = w1[:2] + w2[:2] + (w1[2:] + w2[2:] if args.zero_points else [])
    attrs = dict(k=K, activation_type="swiglu", swiglu_fusion=1,
                 normalize_routing_weights=1, expert_weight_bits=bits)
    if block:
        attrs["block_size"] = block
    node = helper.make_node(
        "QMoE", ["hidden_states", "router_logits", "w1", "w1_scales", "",
                 "w2", "w2_scales", ""] +
        (["", "", "", "w1_zero_points", "w2_zero_points"]
         if args.zero_points else []), ["y"], domain="com.microsoft",
        name="qmoe", **attrs)
    graph = helper.make_graph(
        [node], "qmoe_bench",
        [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, ["T", H]),
         helper.make_tensor_value_info("router_logits", TensorProto.FLOAT, ["T", E])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", H])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]), path)


def float_type():
    """The model's activation type (and its weights', when float)."""
    if args.weights == "bf16":
        import ml_dtypes
        return ml_dtypes.bfloat16
    return np.float16 if args.weights == "f16" else np.float32


def weight_bytes_per_expert(H, I):
    """Bytes of one expert's three matrices as stored (packed + scales)."""
    if args.weights in ("f32", "f16", "bf16"):
        return 3 * H * I * (4 if args.weights == "f32" else 2)
    bits = 4 if args.weights == "q4" else 8
    scales = 3 * H * I // args.block if args.block else 3 * H
    return 3 * H * I * bits // 8 + scales * 4


def main():
    work = args.workdir or tempfile.mkdtemp(prefix="moe-bench-")
    os.makedirs(work, exist_ok=True)
    sgemm, stream = machine_limits()
    print(f"threads: {args.threads}, weights: {args.weights}"
          + (f", block {args.block}" if args.weights[0] == "q" else ""))
    print(f"machine: sgemm {sgemm:.1f} GFLOP/s (numpy BLAS, 1024^3), "
          f"stream copy {stream:.1f} GB/s")
    print(f"{'case':8} {'tokens':>6} {'ours_ms':>10} {'ort_ms':>10} "
          f"{'ort/ours':>9} {'GFLOP/s':>8} {'%sgemm':>7} {'GB/s':>7} {'%stream':>8}")
    ratios = []
    for case in args.cases.split(","):
        c = CASES[case]
        H, I, E, K = c["H"], c["I"], c["E"], c["K"]
        model = os.path.join(work, f"{case}.onnx")
        lib = os.path.join(work, f"{case}.so")
        build_model(model, H, I, E, K)
        subprocess.run([os.path.join(BIN, "moe-opt"), model, "--moe-cpu-pipeline" + (f"={args.options}" if args.options else ""),
                        "--emit=shared", "-o", lib], check=True)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        peer = model
        if args.weights == "bf16":
            # onnxruntime has no CPU MoE for bfloat16: its peer is the f32
            # model of the same (exactly widened) weights.
            peer = os.path.join(work, f"{case}-f32.onnx")
            onnx.save(build_moe_model(E=E, H=H, I=I, K=K, dtype=np.float32,
                                      name="moe_bench"), peer)
        sess = ort.InferenceSession(peer, so, providers=["CPUExecutionProvider"])
        for t in [int(x) for x in args.tokens.split(",")]:
            rng = np.random.default_rng(1)
            act = float_type()
            x = rng.standard_normal((t, H)).astype(act)
            logits = rng.standard_normal((t, E)).astype(act)
            logits[:, : max(1, E // 8)] += args.skew
            # moe-run reads bfloat16 as raw uint16.
            raw = (lambda a: a.view(np.uint16)) if args.weights == "bf16" \
                else (lambda a: a)
            np.save(os.path.join(work, "x.npy"), raw(x))
            np.save(os.path.join(work, "l.npy"), raw(logits))
            if args.weights == "bf16":
                x, logits = x.astype(np.float32), logits.astype(np.float32)
            feeds = {"hidden_states": x, "router_logits": logits}
            ours, theirs = alternate(
                lib, [os.path.join(work, "x.npy"), os.path.join(work, "l.npy")],
                sess, feeds, args.threads, args.runs, args.rounds, pause=0.5)
            flops = 2 * t * K * (3 * H * I)  # gate+up (2I x H) and down (H x I)
            experts_touched = min(E, t * K)
            weight_bytes = experts_touched * weight_bytes_per_expert(H, I)
            gflops = flops / (ours * 1e-3) / 1e9
            gbs = weight_bytes / (ours * 1e-3) / 1e9
            ratios.append(theirs / ours)
            print(f"{case:8} {t:>6} {ours:>10.3f} {theirs:>10.3f} {theirs / ours:>9.3f} "
                  f"{gflops:>8.2f} {100 * gflops / sgemm:>6.1f}% {gbs:>7.2f} "
                  f"{100 * gbs / stream:>7.1f}%")
    geo = float(np.exp(np.mean(np.log(ratios))))
    print(f"geomean ort/ours: {geo:.3f}")


main()
