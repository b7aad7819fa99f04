"""moe: compile ONNX Mixture-of-Experts models with moe-opt and run the
compiled libraries on NumPy arrays, through their C ABI (ctypes)."""
from .compiler import compile, find_moe_opt
from .errors import (CompileError, CompilerNotFoundError, DeviceError,
                     InvalidInputError, LoadError, MoEError, OutOfMemoryError,
                     RunError, RuntimeCheckError, WeightsError)
from .model import (BenchmarkResult, Function, Model, TensorInfo, load,
                    use_cuda_emulator)

__version__ = "0.10.0"

__all__ = [
    "BenchmarkResult", "CompileError", "CompilerNotFoundError", "DeviceError",
    "Function", "InvalidInputError", "LoadError", "MoEError", "Model",
    "OutOfMemoryError", "RunError", "RuntimeCheckError", "TensorInfo",
    "WeightsError", "compile", "find_moe_opt", "load", "use_cuda_emulator",
]
