"""ctypes mirrors of include/moe/Runtime/ModelABI.h and the dtype mapping."""
import ctypes

import numpy as np

MAX_RANK = 8


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("shape", ctypes.c_int64 * MAX_RANK)]


class TensorInfoC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("shape", ctypes.c_int64 * MAX_RANK),
                ("dims", ctypes.c_char_p * MAX_RANK)]


class ModelInfoC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("num_inputs", ctypes.c_int32),
                ("num_outputs", ctypes.c_int32),
                ("inputs", ctypes.POINTER(TensorInfoC)),
                ("outputs", ctypes.POINTER(TensorInfoC))]


RunFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(Tensor), ctypes.c_int32,
                         ctypes.POINTER(Tensor), ctypes.c_int32,
                         ctypes.c_char_p, ctypes.c_size_t)

# moe_dtype codes. bfloat16 is ml_dtypes' type when it is installed; without
# it bf16 tensors travel as their raw uint16 bits.
try:
    import ml_dtypes
    _BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:
    _BF16 = np.dtype(np.uint16)

NUMPY_OF_CODE = {0: np.dtype(np.float32), 1: np.dtype(np.float16), 2: _BF16,
                 3: np.dtype(np.int32), 4: np.dtype(np.int64),
                 5: np.dtype(np.bool_), 6: np.dtype(np.int8),
                 7: np.dtype(np.int16)}
NAME_OF_CODE = {0: "float32", 1: "float16", 2: "bfloat16", 3: "int32",
                4: "int64", 5: "bool", 6: "int8", 7: "int16"}

_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None


def free(pointer):
    """Releases a buffer the model malloc'd (the process's C allocator)."""
    _libc.free(pointer)
