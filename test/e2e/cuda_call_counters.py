"""What one warmed-up call of a CUDA model costs in driver calls, counted by
the CUDA emulator: kernel launches, synchronizations (stream, context,
event), device allocations and frees, copies, fills, kernel lookups and
stream creations; and the blocks the launches ran and the warp-wide
mma.sync operations they executed. Last, how many of the buffers the warm-up
calls made were device memory and how many unified (managed) memory. Compiles MODEL (ONNX or MLIR) with --moe-cuda-pipeline,
calls it twice on random inputs of TOKENS rows (dynamic dimensions), then
counts a third call.

usage: cuda_call_counters.py WORKDIR MODEL [--tokens T] [--options OPTS]
"""
import argparse
import ctypes
import os

import onnx

from moe_e2e import EMULATOR_FIELDS as FIELDS, EmulatorCounters as Counters, \
    Model, compile_model, random_inputs, use_cuda_emulator


p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("model")
p.add_argument("--tokens", type=int, default=4)
p.add_argument("--options", default="")
args = p.parse_args()
os.makedirs(args.workdir, exist_ok=True)

lib = compile_model(args.model, os.path.join(args.workdir, "model.so"), "cuda",
                    args.options)
use_cuda_emulator()
emulator = ctypes.CDLL(os.environ["MOE_CUDA_DRIVER"])
emulator.moe_cuda_emulator_get_counters.argtypes = [ctypes.POINTER(Counters)]

graph = onnx.load(args.model, load_external_data=False).graph
inputs = random_inputs(args.model, args.tokens)

model = Model(lib)
for _ in range(2):
    model.run(inputs, len(graph.output))
before, after = Counters(), Counters()
emulator.moe_cuda_emulator_get_counters(ctypes.byref(before))
model.run(inputs, len(graph.output))
emulator.moe_cuda_emulator_get_counters(ctypes.byref(after))
for f in FIELDS:
    print(f"{f}: {getattr(after, f) - getattr(before, f)}")
# The buffers the warm-up calls made: device memory, or unified memory for
# what the host touches.
managed = before.managed_allocations
print(f"buffers made while warming up: {before.allocations - managed} device, "
      f"{managed} managed")
