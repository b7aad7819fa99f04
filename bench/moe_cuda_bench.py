"""GPU benchmark of the MoE layer compiled by --moe-cuda-pipeline.

Same shapes as the CPU benchmark (coarse: hidden 1024, inter 2048, 8
experts, k=2; fine-grained: hidden 1024, inter 256, 64 experts, k=6; SwiGLU),
in f16 (tensor-core expert GEMMs) and f32, at 1, 16 and 256 tokens. Each case
is run by `moe-run --device cuda --benchmark N`; the kernels are timed with
CUDA events (device_median_ms). Prints, per case, the device time, the
roofline time on this GPU (max of FLOPs / peak FLOP/s and bytes of the
selected experts' weights / memory bandwidth, from the table below), and our
fraction of it.

usage: moe_cuda_bench.py [--runs N] [--cases coarse,fine] [--tokens 1,16,256]
       [--dtypes f16,f32] [--sm 90] [--workdir DIR]
Exits 2 with a message when no CUDA GPU is present.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
sys.path.insert(0, os.path.join(ROOT, "examples"))

CASES = {"coarse": dict(H=1024, I=2048, E=8, K=2),
         "fine": dict(H=1024, I=256, E=64, K=6)}

# Dense peak throughput (TFLOP/s: f16 tensor cores with f32 accumulation,
# f32 on CUDA cores) and memory bandwidth (TB/s), from the vendors' data
# sheets; matched against nvidia-smi's name.
DEVICES = [
    ("H200", dict(f16=989.0, f32=67.0, tbs=4.8)),
    ("H100 PCIe", dict(f16=756.0, f32=51.0, tbs=2.0)),
    ("H100", dict(f16=989.0, f32=67.0, tbs=3.35)),  # SXM
    ("A100", dict(f16=312.0, f32=19.5, tbs=2.0)),
    ("L40S", dict(f16=362.0, f32=91.6, tbs=0.864)),
]


def gpu_name():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    r = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"],
                       capture_output=True, text=True)
    return r.stdout.splitlines()[0].strip() if r.returncode == 0 and r.stdout else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--cases", default="coarse,fine")
    p.add_argument("--tokens", default="1,16,256")
    p.add_argument("--dtypes", default="f16,f32")
    p.add_argument("--sm", default="90")
    p.add_argument("--workdir", default=None)
    p.add_argument("--options", default="",
                   help="extra pipeline options, e.g. 'fuse-routing-plan=0 "
                        "fuse-combine=0' to time the unfused schedule")
    args = p.parse_args()

    name = gpu_name()
    if name is None:
        print("moe_cuda_bench: no CUDA GPU (nvidia-smi finds none); nothing "
              "to measure", file=sys.stderr)
        return 2
    peaks = next((v for k, v in DEVICES if k in name), None)

    import numpy as np
    import onnx
    from make_moe_model import build_moe_model

    work = args.workdir or tempfile.mkdtemp(prefix="moe-cuda-bench-")
    print(f"device: {name}" + (f" (peaks: {peaks['f16']} TFLOP/s f16, "
                               f"{peaks['f32']} TFLOP/s f32, {peaks['tbs']} TB/s)"
                               if peaks else " (no peak figures: roofline omitted)"))
    print(f"{'case':8} {'dtype':5} {'tokens':>6} {'device_ms':>10} {'call_ms':>9} "
          f"{'roof_ms':>9} {'%roof':>6} {'TFLOP/s':>8} {'TB/s':>6}")
    for case in args.cases.split(","):
        c = CASES[case]
        H, I, E, K = c["H"], c["I"], c["E"], c["K"]
        for dtype in args.dtypes.split(","):
            np_type = np.float16 if dtype == "f16" else np.float32
            model = os.path.join(work, f"{case}_{dtype}.onnx")
            lib = os.path.join(work, f"{case}_{dtype}.so")
            onnx.save(build_moe_model(E=E, H=H, I=I, K=K, dtype=np_type,
                                      name="moe_bench"), model)
            subprocess.run([os.path.join(BIN, "moe-opt"), model,
                            f"--moe-cuda-pipeline=sm={args.sm} {args.options}",
                            "--emit=shared",
                            "-o", lib], check=True)
            for t in [int(x) for x in args.tokens.split(",")]:
                rng = np.random.default_rng(1)
                x = rng.standard_normal((t, H)).astype(np_type)
                logits = rng.standard_normal((t, E)).astype(np_type)
                xp, lp = os.path.join(work, "x.npy"), os.path.join(work, "l.npy")
                np.save(xp, x)
                np.save(lp, logits)
                out = subprocess.run(
                    [os.path.join(BIN, "moe-run"), lib, "--device", "cuda",
                     "--input", xp, "--input", lp, "--benchmark", str(args.runs)],
                    check=True, capture_output=True, text=True).stdout
                dev = float(re.search(r"device_median_ms: (\S+)", out).group(1))
                call = float(re.search(r"^median_ms: (\S+)", out, re.M).group(1))
                flops = 2 * t * K * 3 * H * I
                touched = min(E, t * K)
                nbytes = touched * 3 * H * I * np.dtype(np_type).itemsize
                line = (f"{case:8} {dtype:5} {t:>6} {dev:>10.4f} {call:>9.4f}")
                if peaks:
                    roof = max(flops / (peaks[dtype] * 1e12),
                               nbytes / (peaks["tbs"] * 1e12)) * 1e3
                    line += (f" {roof:>9.4f} {100 * roof / dev:>5.1f}% "
                             f"{flops / (dev * 1e-3) / 1e12:>8.2f} "
                             f"{nbytes / (dev * 1e-3) / 1e12:>6.3f}")
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
