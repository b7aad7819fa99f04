"""Scale benchmark (issue 18): synthetic com.microsoft.MoE (f32) and QMoE
(4-bit) models whose weights sit in ONNX external data, at several weight
sizes, through `moe-opt --moe-cpu-pipeline="weights=..." --emit=shared`.

Per model: compile time and peak RSS (the compiler's own, from /proc),
artifact sizes, then in a fresh process: weights load (map + check),
first call with a cold page cache (the weights file's pages dropped with
posix_fadvise) and warm, steady-state latency, and the weights file's
resident memory after one decode step (1 token, top-k experts) against its
size.

usage: scale.py WORKDIR [--sizes 0.25,1,4,8] [--kinds f32,q4]
                [--weights external|embed] [--threads N] [--keep]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

CHUNK = 1 << 26  # bytes of weights generated at a time


def write_external(f, name, shape, dtype, rng, scale=1.0):
    """Appends a tensor of random values to `f` without holding it whole;
    returns its TensorProto pointing there."""
    offset = f.tell()
    count = int(np.prod(shape))
    itemsize = np.dtype(dtype).itemsize
    done = 0
    while done < count:
        n = min(count - done, CHUNK // itemsize)
        if dtype == np.uint8:
            block = rng.integers(0, 256, n, dtype=np.uint8)
        else:
            block = ((rng.random(n, dtype=np.float32) - 0.5) * scale).astype(
                dtype)
        f.write(block.tobytes())
        done += n
    t = onnx.TensorProto()
    t.name = name
    t.data_type = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", os.path.basename(f.name)),
                 ("offset", str(offset)), ("length", str(count * itemsize))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def save(path, nodes, name, inputs, H, inits):
    """The model of `nodes` with output y [T, H] (opset 17 and the
    com.microsoft domain), its initializers in external data."""
    graph = helper.make_graph(
        nodes, name, inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", H])],
        inits)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.save(model, path)


def shape_for(gib, kind):
    """Experts, hidden, intermediate of a SwiGLU block with about `gib` GiB
    of expert weights (hidden 2048, intermediate 1408 like DeepSeek-V2-Lite
    experts, the expert count scaled)."""
    H, I = 2048, 1408
    per_expert = 3 * H * I * (4 if kind == "f32" else 0.5)
    E = max(2, int(round(gib * (1 << 30) / per_expert)))
    return E, H, I


def build(path, kind, gib):
    E, H, I = shape_for(gib, kind)
    rng = np.random.default_rng(0)
    data = path + ".data"
    with open(data, "wb") as f:
        if kind == "f32":
            inits = [write_external(f, "w1", [E, 2 * I, H], np.float32, rng,
                                    2 / np.sqrt(H)),
                     write_external(f, "w2", [E, H, I], np.float32, rng,
                                    2 / np.sqrt(I))]
            node = helper.make_node(
                "MoE", ["x", "logits", "w1", "", "w2"], ["y"],
                domain="com.microsoft", k=2, activation_type="swiglu",
                swiglu_fusion=1, normalize_routing_weights=1)
        else:
            inits = [write_external(f, "w1", [E, 2 * I, H // 2], np.uint8, rng),
                     write_external(f, "s1", [E, 2 * I], np.float32, rng,
                                    0.02),
                     write_external(f, "w2", [E, H, I // 2], np.uint8, rng),
                     write_external(f, "s2", [E, H], np.float32, rng, 0.02)]
            node = helper.make_node(
                "QMoE", ["x", "logits", "w1", "s1", "", "w2", "s2", ""], ["y"],
                domain="com.microsoft", k=2, activation_type="swiglu",
                swiglu_fusion=1, normalize_routing_weights=1,
                expert_weight_bits=4)
    save(path, [node], f"scale_{kind}",
         [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", H]),
          helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                        ["T", E])], H, inits)
    return E, H, I, os.path.getsize(data)


def build_stack(path, layers, E=8, H=4096, I=14336):
    """A Mixtral-8x7B-shaped stack of 4-bit MoE layers: per layer a router
    MatMul, com.microsoft.QMoE (8 experts, top-2, SwiGLU) and the residual
    Add; 32 layers hold about 22 GiB of expert weights."""
    rng = np.random.default_rng(0)
    data = path + ".data"
    nodes, inits = [], []
    x = "x"
    with open(data, "wb") as f:
        for l in range(layers):
            inits += [
                write_external(f, f"router{l}", [H, E], np.float32, rng, 0.05),
                write_external(f, f"w1_{l}", [E, 2 * I, H // 2], np.uint8, rng),
                write_external(f, f"s1_{l}", [E, 2 * I], np.float32, rng,
                               0.002),
                write_external(f, f"w2_{l}", [E, H, I // 2], np.uint8, rng),
                write_external(f, f"s2_{l}", [E, H], np.float32, rng, 0.002)]
            nodes += [
                helper.make_node("MatMul", [x, f"router{l}"], [f"logits{l}"]),
                helper.make_node(
                    "QMoE", [x, f"logits{l}", f"w1_{l}", f"s1_{l}", "",
                             f"w2_{l}", f"s2_{l}", ""], [f"moe{l}"],
                    domain="com.microsoft", k=2, activation_type="swiglu",
                    swiglu_fusion=1, normalize_routing_weights=1,
                    expert_weight_bits=4),
                helper.make_node("Add", [x, f"moe{l}"], [f"h{l}"])]
            x = f"h{l}"
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    save(path, nodes, "mixtral_stack_q4",
         [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", H])], H,
         inits)
    return E, H, I, os.path.getsize(data)


def compile_model(onnx_path, lib, weights):
    """(seconds, peak RSS in MB, peak anonymous RSS in MB) of moe-opt. The
    peaks come from /proc (VmHWM, the high-water mark of moe-opt's own
    address space, and RssAnon), polled every 5 ms: wait4's ru_maxrss would
    carry this script's own high-water mark across fork and exec."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["moe-opt", onnx_path, f"--moe-cpu-pipeline=weights={weights}",
         "--emit=shared", "-o", lib, "--onnx-remarks=false"])
    hwm = anon = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
                    elif line.startswith("RssAnon:"):
                        anon = max(anon, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"moe-opt failed on {onnx_path}")
    return seconds, hwm / 1024, anon / 1024


RUNNER = r"""
import json, os, sys, time
import numpy as np
import moe
lib, weights, E, H, threads, cold = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
if cold and os.path.exists(weights):
    fd = os.open(weights, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
def resident():
    # Rss of the weights file's mapping (the library's own pages when embedded).
    total, inside = 0, False
    target = os.path.realpath(weights if os.path.exists(weights) else lib)
    for line in open("/proc/self/smaps"):
        if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
            inside = line.rstrip().endswith(target)
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total
t0 = time.perf_counter()
model = moe.load(lib)
load_ms = (time.perf_counter() - t0) * 1e3
model.set_num_threads(threads)
rng = np.random.default_rng(1)
x = rng.standard_normal((1, H)).astype(np.float32)
args = [x] if len(model.inputs) == 1 else [x, rng.standard_normal((1, E)).astype(np.float32)]
t0 = time.perf_counter()
model.run(*args)
first_ms = (time.perf_counter() - t0) * 1e3
rss_one = resident()
bench = model.benchmark(*args, iterations=int(os.environ.get("SCALE_ITERATIONS", "20")), warmup=2)
print(json.dumps(dict(load_ms=load_ms, first_ms=first_ms,
                      resident_after_decode=rss_one,
                      steady_ms=bench.median_ms)))
"""


def run_model(lib, weights, E, H, threads, cold):
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, lib, weights, str(E), str(H),
         str(threads), "1" if cold else "0"], check=True,
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=os.path.join(
            os.path.dirname(os.path.abspath(__file__)), os.pardir, "python")))
    return json.loads(out.stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workdir")
    p.add_argument("--sizes", default="0.25,1,4,8")
    p.add_argument("--kinds", default="f32,q4")
    p.add_argument("--weights", default="external",
                   choices=["external", "embed"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mixtral-layers", type=int, default=0,
                   help="instead: a Mixtral-8x7B-shaped 4-bit stack of this "
                   "many layers (32: the whole model's MoE weights)")
    p.add_argument("--keep", action="store_true",
                   help="keep the generated models and artifacts")
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    print("| kind | weights GiB | experts | compile s | MB/s "
          "| peak RSS MB (anon) "
          "| .so MB | .weights MB | load ms | first call cold ms | warm ms "
          "| steady ms | resident after 1 token |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| ---: | ---: | ---: | ---: |")
    if args.mixtral_layers:
        jobs = [("mixtral-q4", args.mixtral_layers)]
    else:
        jobs = [(k, float(g)) for k in args.kinds.split(",")
                for g in args.sizes.split(",")]
    for kind, gib in jobs:
        stem = os.path.join(args.workdir, f"{kind}_{gib:g}")
        if kind == "mixtral-q4":
            E, H, I, data_bytes = build_stack(stem + ".onnx", gib)
        else:
            E, H, I, data_bytes = build(stem + ".onnx", kind, gib)
        lib = stem + ".so"
        seconds, peak, anon = compile_model(stem + ".onnx", lib,
                                            args.weights)
        weights = stem + ".weights"
        wbytes = os.path.getsize(weights) if os.path.exists(weights) else 0
        cold = run_model(lib, weights, E, H, args.threads, cold=True)
        warm = run_model(lib, weights, E, H, args.threads, cold=False)
        mb = 1 << 20
        print(f"| {kind} | {data_bytes / (1 << 30):.2f} | {E} "
              f"| {seconds:.1f} | {data_bytes / mb / seconds:.0f} "
              f"| {peak:.0f} ({anon:.0f}) "
              f"| {os.path.getsize(lib) / mb:.1f} "
              f"| {wbytes / mb:.0f} | {cold['load_ms']:.2f} "
              f"| {cold['first_ms']:.1f} | {warm['first_ms']:.1f} "
              f"| {warm['steady_ms']:.2f} "
              f"| {cold['resident_after_decode'] / mb:.0f} MB "
              + (f"({100 * cold['resident_after_decode'] / wbytes:.0f}%) |"
                 if wbytes else "(library) |"),
              flush=True)
        if not args.keep:
            for suffix in (".onnx", ".onnx.data", ".so", ".weights"):
                if os.path.exists(stem + suffix):
                    os.remove(stem + suffix)


if __name__ == "__main__":
    main()
