#!/usr/bin/env python3
"""PTX metrics of the expert GEMMs for real MoE shapes, without weights.

Writes a `moe.layer` (weights as function arguments, so any size compiles
in seconds) for the routed experts of Mixtral-8x7B, Qwen3-30B-A3B and
DeepSeek-V3, compiles it with `--moe-cuda-pipeline --emit=ptx` for each sm
and dtype, and prints bench/ptx_metrics.py's figures per GEMM kernel.

usage: moe_cuda_ptx.py [--moe-opt PATH] [--ptxas PATH] [--sm 80,90]
                       [--dtypes f16,bf16] [--cases mixtral,qwen3,deepseek]
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CASES = {  # hidden, intermediate, experts, k
    "mixtral": (4096, 14336, 8, 2),
    "qwen3": (2048, 768, 128, 8),
    "deepseek": (7168, 2048, 256, 8),
}

LAYER = """func.func @moe_block(%x: tensor<?x{h}x{t}>, %logits: tensor<?x{e}x{t}>,
                     %fc1: tensor<{e}x{i2}x{h}x{t}>, %fc2: tensor<{e}x{h}x{i}x{t}>)
    -> tensor<?x{h}x{t}> {{
  %out = moe.layer %x : tensor<?x{h}x{t}>
      logits(%logits : tensor<?x{e}x{t}>)
      fc1(%fc1 : tensor<{e}x{i2}x{h}x{t}>)
      fc2(%fc2 : tensor<{e}x{h}x{i}x{t}>)
      routing <softmax, k = {k}, renormalize>
      activation <silu, gated = interleaved> -> tensor<?x{h}x{t}>
  return %out : tensor<?x{h}x{t}>
}}
"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--moe-opt", default=os.path.join(ROOT, "build", "bin", "moe-opt"))
    p.add_argument("--ptxas", default="/usr/local/cuda/bin/ptxas")
    p.add_argument("--sm", default="80,90")
    p.add_argument("--dtypes", default="f16,bf16")
    p.add_argument("--cases", default=",".join(CASES))
    args = p.parse_args()
    ptxas = args.ptxas if os.path.exists(args.ptxas) else None
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            h, i, e, k = CASES[case]
            for dtype in args.dtypes.split(","):
                src = os.path.join(tmp, f"{case}_{dtype}.mlir")
                with open(src, "w") as f:
                    f.write(LAYER.format(h=h, i=i, i2=2 * i, e=e, k=k, t=dtype))
                for sm in args.sm.split(","):
                    ptx = os.path.join(tmp, f"{case}_{dtype}_{sm}.ptx")
                    subprocess.run([args.moe_opt, src,
                                    f"--moe-cuda-pipeline=sm={sm}",
                                    "--emit=ptx", "-o", ptx], check=True)
                    cmd = [sys.executable, os.path.join(HERE, "ptx_metrics.py"),
                           ptx, "--arch", f"sm_{sm}"]
                    if ptxas:
                        cmd += ["--ptxas", ptxas]
                    out = subprocess.run(cmd, check=True, capture_output=True,
                                         text=True).stdout
                    print(f"== {case} (hidden {h}, inter {i}, {e} experts, "
                          f"k={k}) {dtype} sm_{sm}")
                    print(out, end="")


if __name__ == "__main__":
    main()
