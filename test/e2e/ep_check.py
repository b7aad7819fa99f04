"""Expert parallelism end to end: a model compiled once for one rank and once
per rank of an N-rank sharding, the shards run under `mpirun -np N`, every
rank's output compared with the single-rank program on the same tokens.

usage: ep_check.py WORKDIR --ranks N --tokens T0,T1,... [--placement P |
       --map R,R,...] [--chunks C] [--model onnx|mlir] [model options]

--model onnx: com.microsoft.MoE (SwiGLU, optional biases, optional
RMSNorm + router MatMul + residual around it with --dense). --model mlir: a
DeepSeek-style moe.layer (sigmoid routing with a correction bias and
groups, router weight inside the layer, a gated shared expert). Prints one
line per rank and exits 1 unless every rank matches (max relative error
1e-5 for f32; 1e-4 with --device cuda, where the shards run on the GPU and
the reference is still the single-rank CPU program).
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from moe_e2e import compile_model, max_rel

p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("--ranks", type=int, required=True)
p.add_argument("--tokens", required=True,
               help="tokens of each rank, comma-separated (0 allowed)")
p.add_argument("--placement", default="contiguous")
p.add_argument("--map", default="", help="rank of each expert")
p.add_argument("--chunks", type=int, default=1)
p.add_argument("--model", choices=["onnx", "mlir"], default="onnx")
p.add_argument("--experts", type=int, default=8)
p.add_argument("--k", type=int, default=2)
p.add_argument("--hidden", type=int, default=32)
p.add_argument("--inter", type=int, default=24)
p.add_argument("--bias", action="store_true")
p.add_argument("--dense", action="store_true")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--weights", choices=["auto", "embed", "external"],
               default="auto", help="where the libraries keep their weights")
p.add_argument("--device", choices=["cpu", "cuda", "cuda-emulator"], default="cpu",
               help="where the shards run (the reference is the CPU program)")
p.add_argument("--sm", default="80")
p.add_argument("--collectives", choices=["mpi", "nccl"], default="mpi",
               help="the runtime's exchange backend (MOE_COLLECTIVES)")
args = p.parse_args()

tokens = [int(t) for t in args.tokens.split(",")]
if len(tokens) != args.ranks:
    sys.exit(f"--tokens names {len(tokens)} ranks, --ranks is {args.ranks}")
os.makedirs(args.workdir, exist_ok=True)
wd = lambda *p: os.path.join(args.workdir, *p)
rng = np.random.default_rng(args.seed)
E, H, I, K = args.experts, args.hidden, args.inter, args.k


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def onnx_model():
    w1 = rand(E, 2 * I, H, scale=H ** -0.5)
    w2 = rand(E, H, I, scale=I ** -0.5)
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]
    moe_in = ["h" if args.dense else "x", "logits", "w1", "", "w2", ""]
    if args.bias:
        inits += [numpy_helper.from_array(rand(E, 2 * I, scale=0.1), "b1"),
                  numpy_helper.from_array(rand(E, H, scale=0.1), "b2")]
        moe_in[3], moe_in[5] = "b1", "b2"
    moe = helper.make_node("MoE", moe_in, ["m" if args.dense else "y"],
                           domain="com.microsoft", name="moe", k=K,
                           activation_type="swiglu", swiglu_fusion=1,
                           normalize_routing_weights=1)
    nodes = [moe]
    graph_in = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", H])]
    if args.dense:
        inits += [numpy_helper.from_array(rand(H) + 1, "gamma"),
                  numpy_helper.from_array(rand(H, E, scale=H ** -0.5), "wr")]
        nodes = [helper.make_node("SimplifiedLayerNormalization", ["x", "gamma"],
                                  ["h"], name="norm", epsilon=1e-6, axis=-1),
                 helper.make_node("MatMul", ["h", "wr"], ["logits"], name="router"),
                 moe,
                 helper.make_node("Add", ["x", "m"], ["y"], name="residual")]
    else:
        graph_in.append(
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["T", E]))
    graph = helper.make_graph(
        nodes, "ep_check", graph_in,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", H])], inits)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    path = wd("model.onnx")
    onnx.save(model, path)
    return path, len(graph_in)


def mlir_constant(a):
    shape = "x".join(str(d) for d in a.shape)
    return f'arith.constant dense<"0x{a.astype("<f4").tobytes().hex().upper()}"> : tensor<{shape}xf32>'


def mlir_model():
    groups = 2 if E % 2 == 0 else 1
    weights = {
        "wg": rand(E, H, scale=H ** -0.5), "bias": rand(E, scale=0.1),
        "w1": rand(E, 2 * I, H, scale=H ** -0.5), "w2": rand(E, H, I, scale=I ** -0.5),
        "s1": rand(2 * I, H, scale=H ** -0.5), "s2": rand(H, I, scale=I ** -0.5),
        "sg": rand(1, H, scale=H ** -0.5)}
    lines = [f"func.func @deepseek(%x: tensor<?x{H}xf32>) -> tensor<?x{H}xf32> {{"]
    lines += [f"  %{n} = {mlir_constant(a)}" for n, a in weights.items()]
    lines += [
        f"  %y = moe.layer %x : tensor<?x{H}xf32> gate(%wg : tensor<{E}x{H}xf32>)",
        f"      router_bias(%bias : tensor<{E}xf32>)",
        f"      fc1(%w1 : tensor<{E}x{2 * I}x{H}xf32>) fc2(%w2 : tensor<{E}x{H}x{I}xf32>)",
        f"      shared_fc1(%s1 : tensor<{2 * I}x{H}xf32>) shared_fc2(%s2 : tensor<{H}x{I}xf32>)",
        f"      shared_gate(%sg : tensor<1x{H}xf32>)",
        f"      routing <sigmoid, k = {K}, renormalize, groups = {groups}, topk_groups = 1>",
        f"      activation <silu, gated = interleaved> -> tensor<?x{H}xf32>",
        f"  return %y : tensor<?x{H}xf32>", "}"]
    path = wd("model.mlir")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, 1


model, num_inputs = onnx_model() if args.model == "onnx" else mlir_model()


def compile(options, out, device="cpu"):
    compile_model(model, out, device, options,
                  sm=args.sm if device.startswith("cuda") else None)


compile(f"weights={args.weights}", wd("single.so"))
shard = (f"ranks={args.ranks} chunks={args.chunks} placement={args.placement}"
         f" weights={args.weights}")
if args.map:
    shard += f" map={args.map}"
for r in range(args.ranks):
    compile(f"{shard} rank={r}", wd(f"model.rank{r}.so"), args.device)

if args.weights == "external":
    # Each rank's weights file holds its own experts only.
    whole = os.path.getsize(wd("single.weights"))
    for r in range(args.ranks):
        size = os.path.getsize(wd(f"model.rank{r}.weights"))
        print(f"rank {r}: weights file {size} of {whole} bytes"
              + ("" if size < whole else " FAILED: not sharded"))
        if size >= whole:
            sys.exit(1)

for r, t in enumerate(tokens):
    np.save(wd(f"in0.rank{r}.npy"), rand(t, H))
    if num_inputs == 2:
        np.save(wd(f"in1.rank{r}.npy"), rand(t, E))
inputs = lambda rank: sum(
    (["--input", wd(f"in{i}.rank{rank}.npy")] for i in range(num_inputs)), [])
threads = ["--threads", str(args.threads)]
for r in range(args.ranks):
    subprocess.run(["moe-run", wd("single.so"), *inputs(r), *threads,
                    "--output", wd(f"ref.rank{r}.npy")], check=True)

env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1",
           MOE_COLLECTIVE_TIMEOUT="60", MOE_COLLECTIVES=args.collectives)
cmd = ["mpirun", "-np", str(args.ranks), "--oversubscribe",
       "--mca", "btl_vader_single_copy_mechanism", "none",
       "-x", "MOE_COLLECTIVES", "-x", "MOE_COLLECTIVE_TIMEOUT",
       shutil.which("moe-run"), wd("model.rank{rank}.so"), *inputs("{rank}"),
       *threads, "--device", args.device, "--output", wd("out.rank{rank}.npy")]
r = subprocess.run(cmd, env=env, timeout=300)
if r.returncode:
    sys.exit(f"mpirun failed with exit code {r.returncode}")

worst = 0.0
for rank in range(args.ranks):
    ours = np.load(wd(f"out.rank{rank}.npy"))
    ref = np.load(wd(f"ref.rank{rank}.npy"))
    if ours.shape != ref.shape:
        sys.exit(f"rank {rank}: shape {ours.shape}, single-rank {ref.shape}")
    err = max_rel(ours, ref)
    worst = max(worst, err)
    print(f"rank {rank}: {ref.shape[0]} tokens, max relative error {err:.2e}")
# On the GPU the expert GEMMs sum in another order than on the CPU.
tol = 1e-5 if args.device == "cpu" else 1e-4
print(f"{args.ranks} ranks, chunks {args.chunks}: worst max relative error "
      f"{worst:.2e} against the single-rank program (tolerance {tol:.0e})")
sys.exit(0 if worst <= tol else 1)
