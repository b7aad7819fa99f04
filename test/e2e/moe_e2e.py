"""What the end-to-end checks share: compiling a model with moe-opt,
running the library (in process through its C entry point, or with
moe-run), and comparing outputs with a reference.

The ABI mirrors include/moe/Runtime/ModelABI.h.
"""
import ctypes
import os
import shutil
import subprocess
import sys

import numpy as np

MAX_RANK = 8


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("shape", ctypes.c_int64 * MAX_RANK)]


# moe_dtype codes and their NumPy types.
DTYPE_CODES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1,
               np.dtype(np.int32): 3, np.dtype(np.int64): 4,
               np.dtype(np.bool_): 5, np.dtype(np.int8): 6,
               np.dtype(np.int16): 7}
try:  # bfloat16 as NumPy knows it (ml_dtypes comes with onnx)
    import ml_dtypes
    DTYPE_CODES[np.dtype(ml_dtypes.bfloat16)] = 2
except ImportError:
    pass
NUMPY_OF_CODE = {code: t for t, code in DTYPE_CODES.items()}


# The CUDA emulator's driver-call counters
# (moe_cuda_emulator_get_counters, runtime/cuda-emulator/driver.c).
EMULATOR_FIELDS = ["launches", "synchronizations", "allocations", "frees",
                   "copies", "fills", "function_lookups", "stream_creations",
                   "mma_operations", "blocks", "managed_allocations",
                   "host_functions", "graph_launches", "wgmma_operations",
                   "ldmatrix_bank_conflicts"]


class EmulatorCounters(ctypes.Structure):
    _fields_ = [(f, ctypes.c_longlong) for f in EMULATOR_FIELDS]


def pipeline_flag(device="cpu", options="", sm=None):
    """--moe-<device>-pipeline with `options` (and sm= for CUDA); the CUDA
    emulator runs what the CUDA pipeline compiles."""
    if device == "cuda-emulator":
        device = "cuda"
    if device == "cuda" and sm is not None:
        options = " ".join(o for o in (f"sm={sm}", options) if o)
    return f"--moe-{device}-pipeline" + (f"={options}" if options else "")


def use_cuda_emulator():
    """Makes CUDA models loaded in this process run under the CUDA emulator
    (the driver library installed beside moe-run)."""
    lib = os.path.join(os.path.dirname(shutil.which("moe-run")), os.pardir,
                       "lib", "libmoe_cuda_emulator.so")
    os.environ["MOE_CUDA_DRIVER"] = os.path.abspath(lib)


def random_inputs(model, tokens, seed=0):
    """Standard-normal inputs for ONNX file MODEL's graph inputs, in their
    element types, with every dynamic dimension TOKENS."""
    import onnx
    graph = onnx.load(model, load_external_data=False).graph
    rng = np.random.default_rng(seed)
    inputs = []
    for i in graph.input:
        t = i.type.tensor_type
        shape = [d.dim_value or tokens for d in t.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        inputs.append(rng.standard_normal(shape).astype(dtype))
    return inputs


def compile_model(model, lib, device="cpu", options="", sm=None, extra=()):
    """moe-opt MODEL --moe-<device>-pipeline --emit=shared -o LIB."""
    subprocess.run(["moe-opt", model, pipeline_flag(device, options, sm),
                    "--emit=shared", "-o", lib, *extra], check=True)
    return lib


class Model:
    """A compiled model loaded in this process, called through
    moe_model_run."""

    def __init__(self, lib):
        self.so = ctypes.CDLL(os.path.abspath(lib))
        self.so.moe_model_run.restype = ctypes.c_int

    def call(self, inputs, num_outputs):
        """(return code, message, outputs) for `inputs` (NumPy arrays); the
        outputs are NumPy copies, None when the call failed."""
        # (np.ascontiguousarray would make a scalar 1-D.)
        keep = [np.require(a, requirements="C") for a in inputs]
        ins = (Tensor * max(len(keep), 1))()
        for i, a in enumerate(keep):
            ins[i].data = a.ctypes.data
            ins[i].dtype = DTYPE_CODES[a.dtype]
            ins[i].rank = a.ndim
            for d, n in enumerate(a.shape):
                ins[i].shape[d] = n
        outs = (Tensor * max(num_outputs, 1))()
        err = ctypes.create_string_buffer(512)
        rc = self.so.moe_model_run(ins, len(keep), outs, num_outputs, err, 512)
        if rc != 0:
            return rc, err.value.decode(), None
        return 0, "", [self._take(outs[o]) for o in range(num_outputs)]

    def run(self, inputs, num_outputs):
        """The outputs for `inputs` (NumPy arrays), or SystemExit with the
        entry point's message."""
        rc, message, outputs = self.call(inputs, num_outputs)
        if rc != 0:
            sys.exit(f"moe_model_run failed ({rc}): {message}")
        return outputs

    @staticmethod
    def _take(t):
        shape = [t.shape[i] for i in range(t.rank)]
        np_type = NUMPY_OF_CODE[t.dtype]
        count = int(np.prod(shape)) if shape else 1
        size = count * np_type.itemsize
        buf = (ctypes.c_char * size).from_address(t.data) if size else b""
        return np.frombuffer(bytes(buf), dtype=np_type).reshape(shape).copy()


def compile_onnx(model_path, workdir):
    """MODEL compiled for the CPU into WORKDIR and loaded: (Model, the first
    input's dimensions, 0 where dynamic)."""
    import onnx
    os.makedirs(workdir, exist_ok=True)
    graph = onnx.load(model_path, load_external_data=False).graph
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    lib = compile_model(model_path, os.path.join(workdir, "model.so"),
                        extra=["--onnx-remarks=false"])
    return Model(lib), dims


def run_cli(lib, inputs, workdir, device="cpu", threads=None, name="run"):
    """Runs LIB with moe-run on `inputs` saved as .npy files; its output."""
    args = []
    for i, a in enumerate(inputs):
        path = os.path.join(workdir, f"{name}.in{i}.npy")
        if a.dtype.name == "bfloat16":  # moe-run reads it as raw uint16
            a = a.view(np.uint16)
        np.save(path, a)
        args += ["--input", path]
    out = os.path.join(workdir, f"{name}.out.npy")
    cmd = ["moe-run", lib, *args, "--device", device, "--output", out]
    if threads:
        cmd += ["--threads", str(threads)]
    subprocess.run(cmd, check=True)
    return np.load(out)


def rel_l2(ours, ref):
    """||ours - ref|| / ||ref|| in float64."""
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    return float(np.linalg.norm(ours - ref) / max(np.linalg.norm(ref), 1e-30))


def max_rel(ours, ref):
    """max |ours - ref| / max |ref|."""
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    if not ref.size:
        return 0.0
    return float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30))


def tolerance(dtype):
    """Relative L2 tolerance of a float output: 1e-2 for f16/bf16, 1e-4
    otherwise."""
    return 1e-2 if np.dtype(dtype).itemsize == 2 else 1e-4


def compare(label, ours, ref, tol=None, note=""):
    """Prints one comparison line (`note` appended); whether `ours` matches
    `ref` (float: relative L2 error within `tol`; integer and boolean:
    exactly)."""
    if list(ours.shape) != list(ref.shape):
        print(f"{label}: shape {list(ours.shape)}, expected "
              f"{list(ref.shape)}{note}")
        return False
    if np.issubdtype(ref.dtype, np.floating):
        tol = tolerance(ref.dtype) if tol is None else tol
        e = rel_l2(ours, ref)
        print(f"{label}: {list(ours.shape)} relative L2 error {e:.2e}{note}")
        return e <= tol
    same = np.array_equal(ours, ref)
    print(f"{label}: {list(ours.shape)} {'exact' if same else 'DIFFERS'}")
    return same
