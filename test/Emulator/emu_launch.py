"""Launches one kernel of a CUDA emulator image (made by moe-emu-image from
hand-written NVVM LLVM IR) through the emulator's CUDA driver entry points,
as the runtime does for a model.

usage: emu_launch.py EMULATOR_LIB IMAGE KERNEL [--grid X] [--block X]
                     [--shared BYTES] [--allow-shared BYTES] [ARG ...]
--shared: the launch's dynamic shared memory; --allow-shared: the limit
cuFuncSetAttribute sets first (a kernel may have 48 KB without it).
ARG: `f32:N` (a device buffer of N floats, zero-filled, printed after the
launch), `f16in:FILE.npy` (a device buffer holding an f16 array), `i32:V`
(a scalar). Prints `rc: N`, the driver's message, each f32 buffer, and
the shared-memory wavefronts its ldmatrix lost to bank conflicts.
"""
import ctypes
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "e2e"))
from moe_e2e import EmulatorCounters  # noqa: E402

MAGIC = b"MOEGPUI1"


def container(image):
    """The image behind a moe_gpu_image_header (no fat binary)."""
    header = MAGIC + struct.pack("<4Q", 64, 0, 64, len(image)) + bytes(24)
    return header + image


class Emulator:
    def __init__(self, lib):
        self.cu = ctypes.CDLL(lib)
        self.check(self.cu.cuInit(0), "cuInit")

    def check(self, rc, what):
        if rc:
            raise RuntimeError(f"{what}: {rc} {self.message()}")

    def message(self):
        text = ctypes.c_char_p()
        self.cu.cuGetErrorString(0, ctypes.byref(text))
        return text.value.decode()

    def counters(self):
        """The driver's counters so far (moe_cuda_emulator_get_counters)."""
        c = EmulatorCounters()
        self.cu.moe_cuda_emulator_get_counters(ctypes.byref(c))
        return c

    def alloc(self, array):
        ptr = ctypes.c_ulonglong()
        self.check(self.cu.cuMemAllocManaged(ctypes.byref(ptr),
                                             ctypes.c_size_t(array.nbytes), 1),
                   "cuMemAllocManaged")
        ctypes.memmove(ptr.value, array.ctypes.data, array.nbytes)
        return ptr.value

    def launch(self, image_path, kernel, grid, block, args, shared=0,
               allow_shared=None):
        """(rc, message, [array per buffer argument])."""
        data = container(open(image_path, "rb").read())
        keep = ctypes.create_string_buffer(data, len(data))
        module = ctypes.c_void_p()
        self.check(self.cu.cuModuleLoadData(ctypes.byref(module), keep),
                   "cuModuleLoadData")
        fn = ctypes.c_void_p()
        self.check(self.cu.cuModuleGetFunction(ctypes.byref(fn), module,
                                               kernel.encode()),
                   "cuModuleGetFunction")
        if allow_shared is not None:
            # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            rc = self.cu.cuFuncSetAttribute(fn, 8, allow_shared)
            if rc:
                return rc, self.message(), []
        values, buffers = [], []
        for a in args:
            if isinstance(a, np.ndarray):
                ptr = self.alloc(a)
                buffers.append((ptr, a))
                values.append(ctypes.c_uint64(ptr))
            else:
                values.append(ctypes.c_int32(a))
        params = (ctypes.c_void_p * max(len(values), 1))(
            *[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
        rc = self.cu.cuLaunchKernel(fn, grid, 1, 1, block, 1, 1, shared, None,
                                    params, None)
        message = self.message() if rc else ""
        results = []
        for ptr, a in buffers:
            out = np.empty_like(a)
            ctypes.memmove(out.ctypes.data, ptr, a.nbytes)
            results.append(out)
        return rc, message, results


def main():
    lib, image, kernel = sys.argv[1:4]
    grid = block = 1
    shared, allow_shared = 0, None
    args = []
    rest = sys.argv[4:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("--grid", "--block", "--shared", "--allow-shared"):
            value = int(rest[i + 1])
            if a == "--grid":
                grid = value
            elif a == "--block":
                block = value
            elif a == "--shared":
                shared = value
            else:
                allow_shared = value
            i += 2
            continue
        kind, value = a.split(":", 1)
        if kind == "f32":
            args.append(np.zeros(int(value), np.float32))
        elif kind == "f16in":
            args.append(np.load(value).astype(np.float16))
        else:
            args.append(int(value))
        i += 1
    emulator = Emulator(lib)
    before = emulator.counters().ldmatrix_bank_conflicts
    rc, message, results = emulator.launch(image, kernel, grid, block, args,
                                           shared, allow_shared)
    print(f"rc: {rc}")
    if message:
        print(f"message: {message}")
    for r in results:
        if r.dtype == np.float32:
            print("f32:", " ".join(f"{v:g}" for v in r))
    conflicts = emulator.counters().ldmatrix_bank_conflicts - before
    print(f"ldmatrix bank conflicts: {conflicts}")


if __name__ == "__main__":
    main()
