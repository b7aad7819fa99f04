"""What one warmed-up call of a CUDA model costs in driver calls, counted by
the CUDA emulator: kernel launches, synchronizations (stream, context,
event), device allocations and frees, copies, fills, kernel lookups and
stream creations; and the blocks the launches ran and the warp-wide
mma.sync operations they executed. Last, how many of the buffers the warm-up
calls made were device memory and how many unified (managed) memory. Compiles MODEL (ONNX or MLIR) with --moe-cuda-pipeline,
calls it twice on random inputs of TOKENS rows (dynamic dimensions), then
counts a third call, and compares its outputs with the first call's.
CUDA graphs are off unless --graphs: the counts are then of the work a call
queues, kernel by kernel; with --graphs the third call replays the graph
the second captured. --bad-input I:X.npy adds a call with input I replaced
by X (its status and message), then one with the first inputs again.

usage: cuda_call_counters.py WORKDIR MODEL [--tokens T] [--options OPTS]
                             [--graphs] [--bad-input I:X.npy]
"""
import argparse
import ctypes
import os

import numpy as np

import onnx

from moe_e2e import EMULATOR_FIELDS as FIELDS, EmulatorCounters as Counters, \
    Model, compile_model, random_inputs, use_cuda_emulator


p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("model")
p.add_argument("--tokens", type=int, default=4)
p.add_argument("--options", default="")
p.add_argument("--graphs", action="store_true")
p.add_argument("--bad-input", metavar="I:X.npy")
args = p.parse_args()
os.environ["MOE_CUDA_GRAPHS"] = "1" if args.graphs else "0"
os.makedirs(args.workdir, exist_ok=True)

lib = compile_model(args.model, os.path.join(args.workdir, "model.so"), "cuda",
                    args.options)
use_cuda_emulator()
emulator = ctypes.CDLL(os.environ["MOE_CUDA_DRIVER"])
emulator.moe_cuda_emulator_get_counters.argtypes = [ctypes.POINTER(Counters)]

graph = onnx.load(args.model, load_external_data=False).graph
inputs = random_inputs(args.model, args.tokens)



def difference(got, expected):
    return max((float(np.max(np.abs(g.astype(np.float64) -
                                    e.astype(np.float64)), initial=0))
                for g, e in zip(got, expected)), default=0.0)


model = Model(lib)
first = model.run(inputs, len(graph.output))
model.run(inputs, len(graph.output))
before, after = Counters(), Counters()
emulator.moe_cuda_emulator_get_counters(ctypes.byref(before))
third = model.run(inputs, len(graph.output))
emulator.moe_cuda_emulator_get_counters(ctypes.byref(after))
for f in FIELDS:
    print(f"{f}: {getattr(after, f) - getattr(before, f)}")
print(f"third call: max difference from the first "
      f"{difference(third, first):.3g}")
if args.bad_input:
    index, path = args.bad_input.split(":", 1)
    bad = list(inputs)
    bad[int(index)] = np.load(path)
    rc, message, _ = model.call(bad, len(graph.output))
    print(f"bad input: status {rc}: {message}")
    again = model.run(inputs, len(graph.output))
    print(f"after it: max difference from the first "
          f"{difference(again, first):.3g}")
# The buffers the warm-up calls made: device memory, or unified memory for
# what the host touches.
managed = before.managed_allocations
print(f"buffers made while warming up: {before.allocations - managed} device, "
      f"{managed} managed")
