"""Device memory under the CUDA emulator: a buffer from cuMemAlloc is filled
and copied by the driver into unified memory, which the host reads; with
`--touch`, the host then reads the device buffer itself, which the emulator
stops (the process crashes with a report naming device memory).

usage: device_memory.py EMULATOR_LIB [--touch]"""
import ctypes
import sys

cu = ctypes.CDLL(sys.argv[1])
assert cu.cuInit(0) == 0
dev = ctypes.c_ulonglong()
managed = ctypes.c_ulonglong()
assert cu.cuMemAlloc_v2(ctypes.byref(dev), ctypes.c_size_t(64)) == 0
assert cu.cuMemAllocManaged(ctypes.byref(managed), ctypes.c_size_t(64), 1) == 0
assert cu.cuMemsetD32Async(dev, ctypes.c_uint(7), ctypes.c_size_t(16), None) == 0
assert cu.cuMemcpy(managed, dev, ctypes.c_size_t(64)) == 0
values = (ctypes.c_uint32 * 16).from_address(managed.value)
print("copied:", " ".join(str(v) for v in values), flush=True)
if "--touch" in sys.argv:
    direct = (ctypes.c_uint32 * 16).from_address(dev.value)
    print("read directly:", direct[0], flush=True)
