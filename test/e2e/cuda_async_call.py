"""A CUDA model called the way an application that holds device tensors
calls it: moe_model_run_async on device buffers it allocated itself, on
streams it created, then a stream synchronization and
moe_model_async_status. Prints what the third asynchronous call with the
same buffers cost in driver calls (the CUDA emulator's counters: no
synchronization, no copy, no allocation; with CUDA graphs, one graph
launch: the first call ran eagerly, the second was captured), and how the
outputs compare with moe_model_run's on the same inputs, on one stream and
then alternating between two.

Works on any CUDA driver (MOE_CUDA_DRIVER, default: the emulator); counters
are printed only under the emulator.

usage: cuda_async_call.py WORKDIR MODEL [--tokens T] [--input X.npy ...]
           [--options OPTS] [--graphs on|off] [--wrong-output-shape]
           [--bad-input I:X.npy]
"""
import argparse
import ctypes
import os
import sys

import numpy as np

from moe_e2e import DTYPE_CODES, EMULATOR_FIELDS, EmulatorCounters, Model, \
    Tensor, compile_model, random_inputs, use_cuda_emulator

p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("model")
p.add_argument("--tokens", type=int, default=4)
p.add_argument("--input", action="append", default=[])
p.add_argument("--options", default="")
p.add_argument("--wrong-output-shape", action="store_true")
p.add_argument("--graphs", choices=["on", "off"],
               help="CUDA graphs of the calls (moe_model_set_cuda_graphs; "
               "default: the library's, on unless MOE_CUDA_GRAPHS=0)")
p.add_argument("--bad-input", metavar="I:X.npy",
               help="last, a call with input I replaced by X, then a good one")
args = p.parse_args()
os.makedirs(args.workdir, exist_ok=True)

lib = compile_model(args.model, os.path.join(args.workdir, "model.so"),
                    "cuda", args.options)
if "MOE_CUDA_DRIVER" not in os.environ:
    use_cuda_emulator()
cuda = ctypes.CDLL(os.environ["MOE_CUDA_DRIVER"])
emulated = hasattr(cuda, "moe_cuda_emulator_get_counters")


def check(rc, what):
    if rc != 0:
        sys.exit(f"{what} failed: CUresult {rc}")


# The application's own context, buffers and streams.
check(cuda.cuInit(0), "cuInit")
device, context = ctypes.c_int(), ctypes.c_void_p()
check(cuda.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
check(cuda.cuDevicePrimaryCtxRetain(ctypes.byref(context), device),
      "cuDevicePrimaryCtxRetain")
check(cuda.cuCtxSetCurrent(context), "cuCtxSetCurrent")
cuda.cuMemcpyHtoD_v2.argtypes = [ctypes.c_uint64, ctypes.c_void_p,
                                 ctypes.c_size_t]
cuda.cuMemcpyDtoH_v2.argtypes = [ctypes.c_void_p, ctypes.c_uint64,
                                 ctypes.c_size_t]
cuda.cuStreamSynchronize.argtypes = [ctypes.c_void_p]


def device_buffer(nbytes):
    ptr = ctypes.c_uint64()
    check(cuda.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(max(nbytes,
                                                                     1))),
          "cuMemAlloc")
    return ptr.value


def stream():
    s = ctypes.c_void_p()
    check(cuda.cuStreamCreate(ctypes.byref(s), 1), "cuStreamCreate")
    return s


if args.input:
    inputs = [np.load(f) for f in args.input]
else:
    inputs = random_inputs(args.model, args.tokens)

class Info(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("num_inputs", ctypes.c_int32),
                ("num_outputs", ctypes.c_int32)]


model = Model(lib)
if args.graphs:
    model.so.moe_model_set_cuda_graphs(1 if args.graphs == "on" else 0)
model.so.moe_model_get_info.restype = ctypes.POINTER(Info)
num_outputs = model.so.moe_model_get_info().contents.num_outputs
rc, message, expected = model.call(inputs, num_outputs)
if rc != 0:
    sys.exit(f"moe_model_run failed ({rc}): {message}")


def tensors(arrays, pointers):
    ts = (Tensor * max(len(arrays), 1))()
    for i, (a, ptr) in enumerate(zip(arrays, pointers)):
        ts[i].data = ptr
        ts[i].dtype = DTYPE_CODES[a.dtype]
        ts[i].rank = a.ndim
        for d, n in enumerate(a.shape):
            ts[i].shape[d] = n
    return ts


in_ptrs = []
for a in inputs:
    a = np.require(a, requirements="C")
    in_ptrs.append(device_buffer(a.nbytes))
    check(cuda.cuMemcpyHtoD_v2(in_ptrs[-1], a.ctypes.data, a.nbytes),
          "cuMemcpyHtoD")
out_ptrs = [device_buffer(e.nbytes) for e in expected]
ins = tensors(inputs, in_ptrs)
outs = tensors(expected, out_ptrs)
err = ctypes.create_string_buffer(512)
run_async = model.so.moe_model_run_async
run_async.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p,
                      ctypes.c_int32, ctypes.c_void_p, ctypes.c_char_p,
                      ctypes.c_size_t]

if args.wrong_output_shape:
    outs[0].shape[0] += 1
    rc = run_async(ins, len(inputs), outs, len(expected), None, err, 512)
    print(f"wrong output shape: rc {rc}: {err.value.decode()}")
    sys.exit(0)


def call(s):
    rc = run_async(ins, len(inputs), outs, len(expected), s, err, 512)
    if rc != 0:
        print(f"moe_model_run_async: rc {rc}: {err.value.decode()}")
        sys.exit(0)


def compare(label, s):
    check(cuda.cuStreamSynchronize(s), "cuStreamSynchronize")
    rc = model.so.moe_model_async_status(err, 512)
    print(f"{label}: status {rc}" + (f": {err.value.decode()}" if rc else ""))
    if rc:
        return
    worst = 0.0
    for e, ptr in zip(expected, out_ptrs):
        got = np.empty_like(e)
        check(cuda.cuMemcpyDtoH_v2(got.ctypes.data, ptr, e.nbytes),
              "cuMemcpyDtoH")
        diff = np.abs(got.astype(np.float64) - e.astype(np.float64))
        # NaN where both are NaN is a match; NaN on one side is not.
        diff[np.isnan(got.astype(np.float64)) &
             np.isnan(e.astype(np.float64))] = 0
        worst = max(worst, float(np.nanmax(np.where(np.isnan(diff), np.inf,
                                                    diff)))
                    if diff.size else 0.0)
    print(f"{label}: max difference from moe_model_run {worst:.3g}")


a, b = stream(), stream()
for _ in range(2):
    call(a)
compare("one stream", a)
if emulated:
    cuda.moe_cuda_emulator_get_counters.argtypes = [
        ctypes.POINTER(EmulatorCounters)]
    before, after = EmulatorCounters(), EmulatorCounters()
    cuda.moe_cuda_emulator_get_counters(ctypes.byref(before))
    call(a)
    cuda.moe_cuda_emulator_get_counters(ctypes.byref(after))
    for f in EMULATOR_FIELDS:
        print(f"async {f}: {getattr(after, f) - getattr(before, f)}")
compare("warm call", a)
for s in (b, a, b):
    call(s)
compare("two streams", b)
if args.graphs != "off":
    # Turning graphs off releases them (their buffers back to the cache);
    # the calls after run eagerly.
    model.so.moe_model_set_cuda_graphs(0)
    call(a)
    compare("graphs released", a)

if args.bad_input:
    # A check that kernels make, read only once the stream gets there: the
    # call returns at once, the status after the synchronization fails; the
    # next call is unaffected.
    index, path = args.bad_input.split(":", 1)
    i = int(index)
    good = np.require(inputs[i], requirements="C")
    bad = np.require(np.load(path), requirements="C")
    assert bad.shape == good.shape and bad.dtype == good.dtype
    check(cuda.cuMemcpyHtoD_v2(in_ptrs[i], bad.ctypes.data, bad.nbytes),
          "cuMemcpyHtoD")
    call(a)
    print("bad input: queued")
    compare("bad input", a)
    check(cuda.cuMemcpyHtoD_v2(in_ptrs[i], good.ctypes.data, good.nbytes),
          "cuMemcpyHtoD")
    call(a)
    compare("after it", a)
