"""Loading a compiled model and running it on NumPy arrays."""
import ctypes
import os
import statistics
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

from . import _abi
from .compiler import find_cuda_emulator
from .errors import InvalidInputError, LoadError, MoEError, run_error

_ERROR_SIZE = 1024


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of an entry function: `shape` has None where the
    size is dynamic; dynamic sizes with the same `dims` name must agree.
    `dtype_name` is the ABI's name (bfloat16 stays bfloat16 when NumPy
    carries it as raw uint16)."""
    name: str
    dtype: np.dtype
    shape: Tuple[Optional[int], ...]
    dims: Tuple[str, ...]
    dtype_name: str
    _code: int = field(repr=False, compare=False)

    @classmethod
    def _from_c(cls, c):
        shape = tuple(None if c.shape[d] < 0 else int(c.shape[d])
                      for d in range(c.rank))
        dims = tuple((c.dims[d] or b"").decode() for d in range(c.rank))
        return cls(c.name.decode(), _abi.NUMPY_OF_CODE[c.dtype], shape, dims,
                   _abi.NAME_OF_CODE[c.dtype], c.dtype)

    def __repr__(self):
        dims = ", ".join(
            str(s) if s is not None else (self.dims[i] or "?")
            for i, s in enumerate(self.shape))
        return f"TensorInfo({self.name!r}, {self.dtype_name}, [{dims}])"


@dataclass(frozen=True)
class BenchmarkResult:
    """Wall time per call (ms) over `iterations` calls after `warmup`;
    `device_ms` is the median kernel time of CUDA models (None on the CPU)."""
    iterations: int
    times_ms: Tuple[float, ...] = field(repr=False)
    median_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    stdev_ms: float
    device_ms: Optional[float] = None


def _owned_array(tensor, dtype):
    """A NumPy array over an output buffer the model malloc'd: no copy; the
    buffer is freed when the last array (or view) using it goes away."""
    shape = tuple(int(tensor.shape[d]) for d in range(tensor.rank))
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    pointer = tensor.data
    if not pointer or count == 0:
        if pointer:
            _abi.free(pointer)
        return np.empty(shape, dtype=dtype)
    buf = (ctypes.c_byte * (count * dtype.itemsize)).from_address(pointer)
    weakref.finalize(buf, _abi.free, pointer)
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


class Function:
    """One entry function of a compiled model (`<name>_run` in its C ABI)."""

    def __init__(self, model, info):
        self._model = model
        self.name = info.name.decode()
        self.inputs = tuple(TensorInfo._from_c(info.inputs[i])
                            for i in range(info.num_inputs))
        self.outputs = tuple(TensorInfo._from_c(info.outputs[i])
                             for i in range(info.num_outputs))
        symbol = getattr(model._lib, self.name + "_run")
        self._run = _abi.RunFn(ctypes.cast(symbol, ctypes.c_void_p).value)

    def __repr__(self):
        return (f"<moe.Function {self.name}: inputs {list(self.inputs)}, "
                f"outputs {list(self.outputs)}>")

    def _arrays(self, args, kwargs):
        """The inputs in signature order, as C-contiguous arrays that match
        the signature; InvalidInputError names the first mismatch."""
        if len(args) == 1 and isinstance(args[0], Mapping) and not kwargs:
            kwargs, args = dict(args[0]), ()
        if args and kwargs:
            raise InvalidInputError(
                f"{self.name}: pass inputs by position or by name, not both")
        if kwargs:
            names = [t.name for t in self.inputs]
            unknown = sorted(set(kwargs) - set(names))
            if unknown:
                raise InvalidInputError(
                    f"{self.name}: unknown input {unknown[0]!r} "
                    f"(inputs: {', '.join(names)})")
            missing = [n for n in names if n not in kwargs]
            if missing:
                raise InvalidInputError(
                    f"{self.name}: missing input {missing[0]!r}")
            args = [kwargs[n] for n in names]
        if len(args) != len(self.inputs):
            raise InvalidInputError(
                f"{self.name}: {len(self.inputs)} inputs expected, "
                f"got {len(args)}")
        arrays, named = [], {}
        for i, (value, want) in enumerate(zip(args, self.inputs)):
            where = f"{self.name}: input {i} ({want.name!r})"
            if not isinstance(value, np.ndarray):
                value = np.asarray(value, dtype=want.dtype)
            if value.dtype != want.dtype:
                raise InvalidInputError(
                    f"{where} is {value.dtype}, expected {want.dtype_name}")
            if value.ndim != len(want.shape):
                raise InvalidInputError(
                    f"{where} has rank {value.ndim}, expected "
                    f"{len(want.shape)} ({want!r})")
            for d, (got, size) in enumerate(zip(value.shape, want.shape)):
                if size is not None and got != size:
                    raise InvalidInputError(
                        f"{where} dimension {d} is {got}, expected {size}")
                dim = want.dims[d]
                if size is None and dim:
                    seen = named.setdefault(dim, (got, want.name))
                    if seen[0] != got:
                        raise InvalidInputError(
                            f"{where} dimension {d} ('{dim}') is {got}, but "
                            f"it is {seen[0]} in input {seen[1]!r}")
            arrays.append(np.require(value, requirements="C"))
        return arrays

    def _tensors(self, arrays):
        ins = (_abi.Tensor * max(len(arrays), 1))()
        for i, (a, want) in enumerate(zip(arrays, self.inputs)):
            ins[i].data = a.ctypes.data
            ins[i].dtype = want._code
            ins[i].rank = a.ndim
            for d, n in enumerate(a.shape):
                ins[i].shape[d] = n
        return ins

    def _call(self, ins, count):
        outs = (_abi.Tensor * max(len(self.outputs), 1))()
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        rc = self._run(ins, count, outs, len(self.outputs), error, _ERROR_SIZE)
        if rc != 0:
            raise run_error(rc, error.value.decode(errors="replace"))
        return outs

    def run(self, *inputs, **named):
        """Runs the function: inputs by position, as one mapping, or by
        keyword; returns the outputs as a list of NumPy arrays."""
        arrays = self._arrays(inputs, named)
        outs = self._call(self._tensors(arrays), len(arrays))
        return [_owned_array(outs[o], want.dtype)
                for o, want in enumerate(self.outputs)]

    __call__ = run

    def benchmark(self, *inputs, iterations=20, warmup=2, **named):
        """Times `iterations` calls (after `warmup` untimed ones) on the same
        inputs; the inputs are checked and marshalled once."""
        if iterations < 1 or warmup < 0:
            raise ValueError("iterations must be >= 1 and warmup >= 0")
        arrays = self._arrays(inputs, named)
        ins = self._tensors(arrays)
        times, device = [], []
        for i in range(warmup + iterations):
            start = time.perf_counter()
            outs = self._call(ins, len(arrays))
            elapsed = (time.perf_counter() - start) * 1e3
            for o in range(len(self.outputs)):
                if outs[o].data:
                    _abi.free(outs[o].data)
            if i >= warmup:
                times.append(elapsed)
                device.append(self._model.last_device_ms)
        return BenchmarkResult(
            iterations, tuple(times), statistics.median(times),
            statistics.fmean(times), min(times), max(times),
            statistics.pstdev(times),
            statistics.median(device) if self._model.device == "cuda" else None)


class Model:
    """A compiled model (`moe-opt --emit=shared`) loaded in this process.
    With one entry function, `run`, `benchmark`, `inputs` and `outputs` are
    that function's; `functions` maps every entry function's name to it."""

    def __init__(self, path, weights=None):
        self.path = os.path.abspath(os.fspath(path))
        try:
            self._lib = ctypes.CDLL(self.path)
        except OSError as e:
            raise LoadError(f"cannot load {self.path}: {e}") from None
        lib = self._lib
        try:
            lib.moe_model_num_functions.restype = ctypes.c_int32
            lib.moe_model_function_info.restype = ctypes.POINTER(_abi.ModelInfoC)
            lib.moe_model_function_info.argtypes = [ctypes.c_int32]
            lib.moe_model_device.restype = ctypes.c_char_p
            lib.moe_model_last_device_ms.restype = ctypes.c_double
            lib.moe_model_set_num_threads.argtypes = [ctypes.c_int32]
            lib.moe_model_set_weights_path.argtypes = [
                ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
            lib.moe_model_load_weights.argtypes = [ctypes.c_char_p,
                                                   ctypes.c_size_t]
            lib.moe_model_weights_file.restype = ctypes.c_char_p
        except AttributeError as e:
            raise LoadError(
                f"{self.path} is not a compiled model ({e}; compile it with "
                "moe.compile or moe-opt --emit=shared)") from None
        self.device = lib.moe_model_device().decode()
        self._load_weights(weights)
        self.functions = {}
        for i in range(lib.moe_model_num_functions()):
            f = Function(self, lib.moe_model_function_info(i).contents)
            self.functions[f.name] = f
        self.num_threads = None

    def _load_weights(self, weights):
        """Maps the weights file now (from `weights` if given), so that a
        missing or foreign file fails the load, not the first run."""
        lib = self._lib
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        if weights is not None:
            rc = lib.moe_model_set_weights_path(
                os.fsencode(os.path.abspath(os.fspath(weights))), error,
                _ERROR_SIZE)
            if rc != 0:
                raise run_error(rc, error.value.decode(errors="replace"))
        rc = lib.moe_model_load_weights(error, _ERROR_SIZE)
        if rc != 0:
            raise run_error(rc, error.value.decode(errors="replace"))
        name = lib.moe_model_weights_file()
        self.weights_file = name.decode() if name else None

    def __repr__(self):
        return (f"<moe.Model {os.path.basename(self.path)} ({self.device}): "
                f"{', '.join(self.functions)}>")

    def _only(self):
        if len(self.functions) != 1:
            raise MoEError(
                f"{self.path} has {len(self.functions)} entry functions "
                f"({', '.join(self.functions)}): use model.functions[name]")
        return next(iter(self.functions.values()))

    @property
    def name(self):
        return self._only().name

    @property
    def inputs(self):
        return self._only().inputs

    @property
    def outputs(self):
        return self._only().outputs

    def run(self, *inputs, **named):
        return self._only().run(*inputs, **named)

    __call__ = run

    def benchmark(self, *inputs, iterations=20, warmup=2, **named):
        return self._only().benchmark(*inputs, iterations=iterations,
                                      warmup=warmup, **named)

    def set_num_threads(self, n):
        """Threads of the model's parallel loops (its own pool)."""
        n = int(n)
        if n < 1:
            raise ValueError(f"thread count must be >= 1, not {n}")
        self._lib.moe_model_set_num_threads(n)
        self.num_threads = n

    @property
    def last_device_ms(self):
        """Kernel time of the last run on CUDA in ms (0 on the CPU)."""
        return float(self._lib.moe_model_last_device_ms())


def load(path, weights=None):
    """Loads a library written by `moe-opt --emit=shared` (or moe.compile).
    A model compiled with external weights maps its weights file now: the
    one beside the library, or `weights`; WeightsError when it is missing
    or belongs to another compile."""
    return Model(path, weights)


def use_cuda_emulator(library=None, moe_opt=None):
    """Makes CUDA models in this process run under the CUDA emulator (the
    library installed beside moe-opt unless `library` names one). Call it
    before the first CUDA run: the driver is chosen once per process."""
    path = os.path.abspath(library) if library else find_cuda_emulator(moe_opt)
    os.environ["MOE_CUDA_DRIVER"] = path
    return path
