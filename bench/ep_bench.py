"""Expert parallelism: measured overlap on CPU ranks, and a model of an
N-GPU machine.

Measured: the bench shapes (coarse: hidden 1024, inter 2048, 8 experts,
k=2; fine: hidden 1024, inter 256, 64 experts, k=6; f32 SwiGLU) compiled with
`--moe-cpu-pipeline="ranks=R rank=r chunks=C"` and run under
`mpirun -np R moe-run ... --benchmark N` with MOE_TRACE set. Each rank's
runtime writes a Chrome trace (the communication thread's exchanges, the
model thread's compute and waits); this script merges them into one trace
per configuration (open in chrome://tracing or ui.perfetto.dev) and prints
the median time and the overlap fraction: the part of the exchanges' time
during which the model thread was computing.

Modelled: the same layers on 8 and 64 GPUs, the expert compute of the
busiest GPU from `moe-opt --moe-cost-report=device=h100` (given its expert
counts), the exchanges from the link bandwidths stated below, serial
(dispatch exchange, experts, return exchange) against the chunk-pipelined
schedule moe-overlap produces, by simulating the two resources (the links,
in the order the exchanges are issued, and the SMs).

usage: ep_bench.py [--ranks 2] [--tokens 256] [--chunks 1,4]
       [--cases coarse,fine] [--runs 5] [--threads 1] [--workdir DIR]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
sys.path.insert(0, os.path.join(ROOT, "examples"))
from make_moe_model import build_moe_model  # noqa: E402
import onnx  # noqa: E402

CASES = {"coarse": dict(H=1024, I=2048, E=8, K=2),
         "fine": dict(H=1024, I=256, E=64, K=6)}

p = argparse.ArgumentParser()
p.add_argument("--ranks", type=int, default=2)
p.add_argument("--tokens", type=int, default=256, help="tokens per rank")
p.add_argument("--chunks", default="1,4")
p.add_argument("--cases", default="coarse,fine")
p.add_argument("--runs", type=int, default=5)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--workdir", default=None)
p.add_argument("--model-only", action="store_true",
               help="print the N-GPU model without measuring")
args = p.parse_args()


def intervals(events, name, tid):
    return sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                  if e.get("ph") == "X" and e["name"] == name and e["tid"] == tid)


def union_length(iv):
    total, end = 0.0, -1e300
    for a, b in iv:
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def intersection_length(a, b):
    """Length of (union of a) intersected with (union of b)."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def measure(workdir):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    rng = np.random.default_rng(0)
    rows = []
    for case in args.cases.split(","):
        c = CASES[case]
        model = build_moe_model(c["E"], c["H"], c["I"], c["K"], name=case)
        path = os.path.join(workdir, f"{case}.onnx")
        onnx.save(model, path)
        for r in range(args.ranks):
            np.save(os.path.join(workdir, f"x{r}.npy"),
                    rng.standard_normal((args.tokens, c["H"])).astype(np.float32))
            np.save(os.path.join(workdir, f"l{r}.npy"),
                    rng.standard_normal((args.tokens, c["E"])).astype(np.float32))
        for chunks in [int(x) for x in args.chunks.split(",")]:
            tag = f"{case}-r{args.ranks}-c{chunks}"
            for r in range(args.ranks):
                subprocess.run(
                    [os.path.join(BIN, "moe-opt"), path,
                     f"--moe-cpu-pipeline=ranks={args.ranks} rank={r} chunks={chunks}",
                     "--emit=shared", "-o", os.path.join(workdir, f"{tag}.rank{r}.so")],
                    check=True)
            prefix = os.path.join(workdir, f"trace-{tag}")
            out = subprocess.run(
                ["mpirun", "-np", str(args.ranks), "--oversubscribe",
                 "--mca", "btl_vader_single_copy_mechanism", "none",
                 "-x", f"MOE_TRACE={prefix}",
                 os.path.join(BIN, "moe-run"), os.path.join(workdir, f"{tag}.rank{{rank}}.so"),
                 "--input", os.path.join(workdir, "x{rank}.npy"),
                 "--input", os.path.join(workdir, "l{rank}.npy"),
                 "--threads", str(args.threads), "--benchmark", str(args.runs)],
                env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{tag}: mpirun failed:\n{out.stdout}{out.stderr}")
            medians = [float(m) for m in re.findall(r"median_ms: ([0-9.]+)", out.stdout)]
            merged, fractions, waits = [], [], []
            runs = args.runs + 4  # moe-run: one check run, 3 warm-up runs
            for r in range(args.ranks):
                with open(f"{prefix}.rank{r}.json") as f:
                    events = json.load(f)["traceEvents"]
                merged += events
                # The first run includes MPI's start-up: leave it out.
                per_run = (1 + max(e["args"]["exchange"] for e in events
                                   if e.get("ph") == "X")) // runs
                events = [e for e in events if e.get("ph") == "X"
                          and e["args"]["exchange"] >= per_run]
                comm = intervals(events, "all_to_all", 1)
                compute = intervals(events, "compute", 0)
                exchange = union_length(comm)
                fractions.append(intersection_length(comm, compute) / exchange
                                 if exchange else 0.0)
                waits.append(union_length(intervals(events, "wait", 0)))
            with open(f"{prefix}.json", "w") as f:
                json.dump({"traceEvents": merged}, f)
            rows.append((case, chunks, max(medians), float(np.mean(fractions)),
                         float(np.mean(waits)) / (runs - 1) / 1e3,
                         f"{prefix}.json"))
    print(f"\nMeasured on this machine: {args.ranks} MPI ranks x "
          f"{args.threads} thread(s), {args.tokens} tokens per rank, f32")
    print("| case | chunks | median ms | exchange time overlapped | "
          "model thread blocked ms/run | trace |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for case, chunks, median, frac, wait, trace in rows:
        print(f"| {case} | {chunks} | {median:.2f} | {100 * frac:.0f}% | "
              f"{wait:.2f} | {os.path.basename(trace)} |")


# --- The N-GPU model --------------------------------------------------------
GPU = dict(name="H100 SXM", flops=989e12, hbm=3.35e12, gemm_efficiency=0.6,
           nvlink=450e9, ib=50e9, gpus_per_node=8, exchange_latency=15e-6)
ELT = 2  # f16/bf16 activations


def simulate(dispatch, compute, ret, chunks, latency):
    """Finish time of `chunks` pipelined chunks: exchanges share the links in
    the order moe-overlap issues them (dispatch of chunk i + 1 before the
    return of chunk i), experts run on the SMs in chunk order."""
    d, x, r = dispatch / chunks, compute / chunks, ret / chunks
    link = sm = 0.0
    done_dispatch, done_compute = [0.0] * chunks, [0.0] * chunks
    order = [("d", 0)]
    for i in range(chunks):
        if i + 1 < chunks:
            order.append(("d", i + 1))
        order.append(("r", i))
    finish = 0.0
    for kind, i in order:
        if kind == "d":
            link = link + latency + d
            done_dispatch[i] = link
        else:
            sm = max(sm, done_dispatch[i]) + x
            done_compute[i] = sm
            link = max(link, done_compute[i]) + latency + r
            finish = link
    return finish


def cost_report(model, tokens, counts):
    """Roofline microseconds of the expert compute (grouped GEMMs and the
    activation) that `moe-opt --moe-cost-report` gives for `counts` copies
    per expert on the H100."""
    out = subprocess.run(
        [os.path.join(BIN, "moe-opt"), model, "-o", "/dev/null",
         f"--moe-cost-report=device=h100 tokens={tokens} expert-counts="
         + ",".join(str(c) for c in counts)],
        check=True, capture_output=True, text=True).stdout
    total = 0.0
    for line in out.splitlines():
        if re.search(r"\d+\s+(grouped GEMM|activation\s)", line):
            total += float(re.findall(r"[0-9]+\.[0-9]+", line)[-1])
    return total * 1e-6


def gpu_model(workdir):
    g = GPU
    print(f"\nModel of an N-GPU machine ({g['name']}: expert compute from "
          f"moe-opt --moe-cost-report=device=h100 (roofline: {g['flops'] / 1e12:.0f} "
          f"TFLOP/s f16 tensor cores, HBM {g['hbm'] / 1e12:.2f} TB/s) at an assumed "
          f"{100 * g['gemm_efficiency']:.0f}% of it, NVLink {g['nvlink'] / 1e9:.0f} GB/s "
          f"per direction inside a node of {g['gpus_per_node']}, "
          f"{g['ib'] / 1e9:.0f} GB/s per GPU between nodes, "
          f"{g['exchange_latency'] * 1e6:.0f} us per exchange)")
    print("Assumptions: f16 (as bf16); uniform routing; contiguous placement; "
          "the busiest GPU sets the time (it receives tokens*k*N/min(E, N) "
          "copies, spread over its experts, given to the cost report as "
          "expert counts); exchanges move every copy whose expert is on "
          "another GPU; routing and combine are not modelled; chunks do not "
          "lose GEMM efficiency.")
    print("| case | GPUs | tokens/GPU | exchange ms | experts ms | serial ms | "
          "best chunks | overlapped ms | speedup |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for case in args.cases.split(","):
        c = CASES[case]
        H, I, E, K = c["H"], c["I"], c["E"], c["K"]
        model = os.path.join(workdir, f"{case}-f16.onnx")
        if not os.path.exists(model):
            onnx.save(build_moe_model(E, H, I, K, dtype=np.float16, name=case),
                      model)
        for n in (8, 64):
            for tokens in (256, 4096):
                holders = min(E, n)  # GPUs that hold experts
                copies = tokens * K * n / holders  # copies the busiest receives
                local = max(E // holders, 1)
                counts = [round(copies / local) if e < local else 0
                          for e in range(E)]
                compute = cost_report(model, tokens, counts) / g["gemm_efficiency"]
                # Bytes leaving (and, symmetric, arriving at) a GPU per
                # exchange; inside a node over NVLink, the rest over the NIC.
                away = copies * H * ELT * (n - 1) / n
                node = min(n, g["gpus_per_node"])
                on_node = away * (node - 1) / max(n - 1, 1)
                off_node = away - on_node
                exchange = max(on_node / g["nvlink"], off_node / g["ib"])
                lat = g["exchange_latency"]
                serial = simulate(exchange, compute, exchange, 1, lat)
                best = min((simulate(exchange, compute, exchange, ch, lat), ch)
                           for ch in (1, 2, 4, 8, 16))
                print(f"| {case} | {n} | {tokens} | {exchange * 1e3:.3f} | "
                      f"{compute * 1e3:.3f} | {serial * 1e3:.3f} | {best[1]} | "
                      f"{best[0] * 1e3:.3f} | {serial / best[0]:.2f} |")


workdir = args.workdir or tempfile.mkdtemp(prefix="ep-bench-")
os.makedirs(workdir, exist_ok=True)
if not args.model_only:
    if not shutil.which("mpirun"):
        sys.exit("mpirun not found (install openmpi-bin)")
    measure(workdir)
    print(f"(traces in {workdir})")
gpu_model(workdir)
