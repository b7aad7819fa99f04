"""GPU benchmark of the MoE layer compiled by --moe-cuda-pipeline.

Shapes (SwiGLU, softmax top-k routing, com.microsoft.MoE): the CPU
benchmark's coarse (hidden 1024, inter 2048, 8 experts, k=2) and fine
(hidden 1024, inter 256, 64 experts, k=6), and the routed experts of
Mixtral-8x7B (4096, 14336, 8, k=2), Qwen3-30B-A3B (2048, 768, 128, k=8)
and DeepSeek-V3 (7168, 2048, 256, k=8; its sigmoid group routing and shared
expert left out), in f16 and bf16 (tensor-core expert GEMMs) or f32, at 1,
16, 256 and 4096 tokens. Models with more than 1.5 GB of weights are saved
with ONNX external data and compiled with weights=external (DeepSeek-V3's
experts are 22.5 GB in f16). Each case is run by
`moe-run --benchmark N`; the kernels are timed with CUDA events
(device_median_ms), the call from the host (call_ms). --api async calls
moe_model_run_async on device buffers instead (moe-run --async: no input
or output copies, CUDA graphs replaying the calls) and adds queued_ms, the
time per call of N calls queued back to back (the decode loop's cost:
launch overhead hidden behind the previous call's kernels). Prints, per case, the
device time, the roofline time on this GPU (max of FLOPs / peak FLOP/s and
bytes of the selected experts' weights / memory bandwidth, from the table
below), and our fraction of it.

--device cuda-emulator with --scale S (hidden and intermediate sizes
divided by S) runs the same script under the CUDA emulator, without
timings worth reading: a check that the cases compile and run.

usage: moe_cuda_bench.py [--runs N] [--cases coarse,fine,mixtral,qwen3,deepseek]
       [--tokens 1,16,256,4096] [--dtypes f16,bf16,f32] [--sm auto|80|90|90a]
       [--device cuda|cuda-emulator] [--scale S] [--workdir DIR]
       [--api sync|async]
Exits 2 with a message when no CUDA GPU is present (--device cuda).
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
         "fine": dict(H=1024, I=256, E=64, K=6),
         "mixtral": dict(H=4096, I=14336, E=8, K=2),
         "qwen3": dict(H=2048, I=768, E=128, K=8),
         "deepseek": dict(H=7168, I=2048, E=256, K=8)}

# Weights above this go to ONNX external data (protobuf's 2 GB limit).
EXTERNAL_BYTES = 1.5e9

# Dense peak throughput (TFLOP/s: f16 tensor cores with f32 accumulation,
# f32 on CUDA cores) and memory bandwidth (TB/s), from the vendors' data
# sheets; matched against nvidia-smi's name.
DEVICES = [
    ("H200", dict(f16=989.0, bf16=989.0, f32=67.0, tbs=4.8)),
    ("H100 PCIe", dict(f16=756.0, bf16=756.0, f32=51.0, tbs=2.0)),
    ("H100", dict(f16=989.0, bf16=989.0, f32=67.0, tbs=3.35)),  # SXM
    ("A100", dict(f16=312.0, bf16=312.0, f32=19.5, tbs=2.0)),
    ("L40S", dict(f16=362.0, bf16=362.0, f32=91.6, tbs=0.864)),
]


def numpy_type(dtype):
    if dtype == "bf16":
        import ml_dtypes
        return ml_dtypes.bfloat16
    import numpy as np
    return np.float16 if dtype == "f16" else np.float32


def gpu_name():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    r = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"],
                       capture_output=True, text=True)
    return r.stdout.splitlines()[0].strip() if r.returncode == 0 and r.stdout else None


def gpu_sm():
    """The pipeline's sm= for the GPU: its compute capability, sm_90a (wgmma)
    on an H100/H200; None when nvidia-smi cannot tell."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    r = subprocess.run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
                       capture_output=True, text=True)
    if r.returncode or not r.stdout.strip():
        return None
    sm = r.stdout.splitlines()[0].strip().replace(".", "")
    return sm + "a" if sm == "90" else sm


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--cases", default="coarse,fine,mixtral,qwen3,deepseek")
    p.add_argument("--tokens", default="1,16,256,4096")
    p.add_argument("--dtypes", default="f16,bf16")
    p.add_argument("--device", choices=["cuda", "cuda-emulator"],
                   default="cuda")
    p.add_argument("--scale", type=int, default=1,
                   help="divide hidden and intermediate sizes by this")
    p.add_argument("--sm", default="auto",
                   help="the pipeline's sm= (auto: the GPU's compute "
                        "capability, 90a on H100/H200; 90a under the "
                        "emulator)")
    p.add_argument("--workdir", default=None)
    p.add_argument("--options", default="",
                   help="extra pipeline options, e.g. 'fuse-routing-plan=0 "
                        "fuse-combine=0' to time the unfused schedule")
    p.add_argument("--api", choices=["sync", "async"], default="sync",
                   help="moe_model_run (host buffers) or moe_model_run_async "
                        "(device buffers, CUDA graphs)")
    args = p.parse_args()

    name = gpu_name() if args.device == "cuda" else "CUDA emulator"
    if name is None:
        print("moe_cuda_bench: no CUDA GPU (nvidia-smi finds none); nothing "
              "to measure", file=sys.stderr)
        return 2
    peaks = next((v for k, v in DEVICES if k in name), None)
    if args.sm == "auto":
        args.sm = (gpu_sm() or "90a") if args.device == "cuda" else "90a"

    import numpy as np
    import onnx
    from make_moe_model import build_moe_model

    work = args.workdir or tempfile.mkdtemp(prefix="moe-cuda-bench-")
    os.makedirs(work, exist_ok=True)
    print(f"device: {name}, sm={args.sm}" + (f" (peaks: {peaks['f16']} TFLOP/s f16, "
                               f"{peaks['f32']} TFLOP/s f32, {peaks['tbs']} TB/s)"
                               if peaks else " (no peak figures: roofline omitted)"))
    queued_head = f" {'queued_ms':>9}" if args.api == "async" else ""
    print(f"{'case':8} {'dtype':5} {'tokens':>6} {'device_ms':>10} {'call_ms':>9}"
          f"{queued_head} {'roof_ms':>9} {'%roof':>6} {'TFLOP/s':>8} {'TB/s':>6}")
    for case in args.cases.split(","):
        c = CASES[case]
        H, I = c["H"] // args.scale, c["I"] // args.scale
        E, K = c["E"], c["K"]
        for dtype in args.dtypes.split(","):
            np_type = numpy_type(dtype)
            model = os.path.join(work, f"{case}_{dtype}.onnx")
            lib = os.path.join(work, f"{case}_{dtype}.so")
            big = E * 3 * H * I * np.dtype(np_type).itemsize > EXTERNAL_BYTES
            data = os.path.basename(model) + ".data"
            if os.path.exists(os.path.join(work, data)):
                os.remove(os.path.join(work, data))  # onnx will not overwrite
            onnx.save(build_moe_model(E=E, H=H, I=I, K=K, dtype=np_type,
                                      name="moe_bench"), model,
                      save_as_external_data=big, location=data)
            options = f"sm={args.sm} {args.options}" + (
                " weights=external" if big else "")
            subprocess.run([os.path.join(BIN, "moe-opt"), model,
                            f"--moe-cuda-pipeline={options}",
                            "--emit=shared",
                            "-o", lib], check=True)
            for t in [int(x) for x in args.tokens.split(",")]:
                rng = np.random.default_rng(1)
                x = rng.standard_normal((t, H)).astype(np_type)
                logits = rng.standard_normal((t, E)).astype(np_type)
                xp, lp = os.path.join(work, "x.npy"), os.path.join(work, "l.npy")
                # moe-run reads bfloat16 as raw uint16.
                raw = (lambda a: a.view(np.uint16)) if dtype == "bf16" \
                    else (lambda a: a)
                np.save(xp, raw(x))
                np.save(lp, raw(logits))
                out = subprocess.run(
                    [os.path.join(BIN, "moe-run"), lib, "--device", args.device,
                     "--input", xp, "--input", lp, "--benchmark", str(args.runs)]
                    + (["--async"] if args.api == "async" else []),
                    check=True, capture_output=True, text=True).stdout
                dev = float(re.search(r"device_median_ms: (\S+)", out).group(1))
                call = float(re.search(r"^median_ms: (\S+)", out, re.M).group(1))
                flops = 2 * t * K * 3 * H * I
                touched = min(E, t * K)
                nbytes = touched * 3 * H * I * np.dtype(np_type).itemsize
                line = (f"{case:8} {dtype:5} {t:>6} {dev:>10.4f} {call:>9.4f}")
                if args.api == "async":
                    queued = float(re.search(r"queued_ms_per_call: (\S+)",
                                             out).group(1))
                    line += f" {queued:>9.4f}"
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
