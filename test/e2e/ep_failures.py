"""Failure behaviour of expert-parallel runs: every scenario must end every
rank with a clear message and a non-zero exit, within a bounded time.

usage: ep_failures.py WORKDIR
Prints, per scenario, its exit status, its wall time bound and the lines of
interest of its output (for FileCheck); exits 1 if a scenario succeeds or
takes longer than its bound.
"""
import os
import shutil
import subprocess
import sys
import time

import numpy as np

from moe_e2e import compile_model

workdir = sys.argv[1]
os.makedirs(workdir, exist_ok=True)
wd = lambda *p: os.path.join(workdir, *p)
here = os.path.dirname(os.path.abspath(__file__))
model = os.path.join(here, "..", "..", "examples", "mixtral_moe.onnx")
moe_run = shutil.which("moe-run")


for r in range(2):
    compile_model(model, wd(f"c.rank{r}.so"), options=f"ranks=2 rank={r}")
    compile_model(model, wd(f"rr.rank{r}.so"),
                  options=f"ranks=2 rank={r} placement=round-robin")
rng = np.random.default_rng(0)
for r in range(2):
    np.save(wd(f"x{r}.npy"), rng.standard_normal((4, 32)).astype(np.float32))
    np.save(wd(f"l{r}.npy"), rng.standard_normal((4, 8)).astype(np.float32))

env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", MOE_COLLECTIVE_TIMEOUT="4")


def rank_script(name, body):
    """A per-rank launcher script: `body` sees $r, the rank."""
    path = wd(name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nr=$OMPI_COMM_WORLD_RANK\n" + body + "\n")
    os.chmod(path, 0o755)
    return path


def run_model(lib):
    return (f"exec {moe_run} {wd(lib)} --input {wd('x$((r % 2)).npy')} "
            f"--input {wd('l$((r % 2)).npy')} --threads 1")


mpirun = ["mpirun", "-np", "2", "--oversubscribe",
          "--mca", "btl_vader_single_copy_mechanism", "none"]
scenarios = [
    ("no launcher", [moe_run, wd("c.rank0.so"), "--input", wd("x0.npy"),
                     "--input", wd("l0.npy")], 60),
    ("wrong rank count", ["mpirun", "-np", "3", "--oversubscribe",
                          "--mca", "btl_vader_single_copy_mechanism", "none",
                          rank_script("three.sh", run_model("c.rank0.so"))], 60),
    ("different placements", mpirun + [rank_script(
        "mixed.sh", 'if [ $r = 0 ]; then lib=c.rank0.so; else lib=rr.rank1.so; fi\n'
        + run_model("$lib"))], 60),
    ("swapped shards", mpirun + [rank_script(
        "swap.sh", run_model("c.rank$((1 - r)).so"))], 60),
    ("dead rank", mpirun + [rank_script(
        "dead.sh", "if [ $r = 1 ]; then echo rank 1 dies >&2; exit 3; fi\n"
        + run_model("c.rank$r.so"))], 60),
    ("unknown backend", mpirun + ["-x", "MOE_COLLECTIVES=carrier-pigeon",
                                  rank_script("backend.sh", run_model("c.rank$r.so"))], 60),
    # NCCL needs libnccl.so.2 and a GPU on every rank; without them every
    # rank says why (and none enters a collective NCCL call).
    ("nccl without a GPU", mpirun + ["-x", "MOE_COLLECTIVES=nccl",
                                     rank_script("nccl.sh", run_model("c.rank$r.so"))], 60),
    # Rank 1 never joins: rank 0 gives up after 2 * MOE_COLLECTIVE_TIMEOUT
    # + 1 s (MPI's start-up waits for every rank) and ends the job.
    ("stuck rank", mpirun + [rank_script(
        "stuck.sh", "if [ $r = 1 ]; then sleep 100; exit 0; fi\n"
        + run_model("c.rank$r.so"))], 40),
]
bad = 0
for name, cmd, bound in scenarios:
    start = time.monotonic()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           timeout=bound + 30)
        code, out = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        code, out = "hung", ""
    elapsed = time.monotonic() - start
    within = elapsed <= bound
    print(f"== {name}: exit {code}, {'within' if within else 'OVER'} {bound} s")
    for line in out.splitlines():
        if ("moe-run" in line or "moe runtime" in line or
                "exited with non-zero status" in line):
            print(line)
    if code == 0 or code == "hung" or not within:
        bad += 1
sys.exit(1 if bad else 0)
