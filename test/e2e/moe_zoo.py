"""Runs moe_cpu_check.py over every configuration of Inputs/zoo.txt.

usage: moe_zoo.py WORKDIR [moe_cpu_check.py options...]
e.g. `--device cuda --compile-only --sm 90` (ptxas checks without a GPU) or
`--device cuda` (run on the GPU and compare with the reference). Prints one
line per model and exits 1 if any fails.
"""
import os
import shlex
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
workdir, extra = sys.argv[1], sys.argv[2:]
failed = 0
with open(os.path.join(here, "Inputs", "zoo.txt")) as f:
    configs = [l.strip() for l in f if l.strip() and not l.startswith("#")]
for i, config in enumerate(configs):
    args = [sys.executable, os.path.join(here, "moe_cpu_check.py"),
            os.path.join(workdir, str(i))] + shlex.split(config) + extra
    r = subprocess.run(args, capture_output=True, text=True)
    status = "ok" if r.returncode == 0 else "FAILED"
    last = (r.stdout.strip().splitlines() or [""])[-1]
    print(f"{status}: {config}: {last}")
    if r.returncode:
        failed += 1
        sys.stdout.write(r.stderr[-2000:])
print(f"{len(configs) - failed} of {len(configs)} models passed")
sys.exit(1 if failed else 0)
