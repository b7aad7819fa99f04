"""Compiling models: runs moe-opt, the compiler driver, as a subprocess."""
import os
import shutil
import subprocess
import tempfile

from .errors import CompileError, CompilerNotFoundError

TARGETS = ("cpu", "cuda")
EMIT_KINDS = ("shared", "obj", "header", "mlir", "llvm", "ptx")
_SUFFIX = {"shared": ".so", "obj": ".o", "header": ".h", "mlir": ".mlir",
           "llvm": ".ll", "ptx": ".ptx"}


def _installed_prefixes():
    """Prefixes this package may be installed under: `cmake --install`
    puts it in PREFIX/lib/python3/dist-packages/moe."""
    here = os.path.dirname(os.path.abspath(__file__))
    parent = here
    for _ in range(5):
        parent = os.path.dirname(parent)
        yield parent


def find_moe_opt(moe_opt=None):
    """The moe-opt to run: `moe_opt`, $MOE_OPT, the prefix this package is
    installed in, then PATH."""
    if moe_opt:
        candidates = [moe_opt]
    elif os.environ.get("MOE_OPT"):
        candidates = [os.environ["MOE_OPT"]]
    else:
        candidates = [os.path.join(p, "bin", "moe-opt")
                      for p in _installed_prefixes()]
        on_path = shutil.which("moe-opt")
        if on_path:
            candidates.append(on_path)
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise CompilerNotFoundError(
        "moe-opt not found (tried " + ", ".join(candidates or ["PATH"]) +
        "); pass moe_opt=, set MOE_OPT, or put moe-opt on PATH")


def find_cuda_emulator(moe_opt=None):
    """The CUDA emulator library installed beside moe-opt (PREFIX/lib)."""
    tool = find_moe_opt(moe_opt)
    lib = os.path.join(os.path.dirname(tool), os.pardir, "lib",
                       "libmoe_cuda_emulator.so")
    if not os.path.isfile(lib):
        raise CompilerNotFoundError(f"no CUDA emulator library at {lib}")
    return os.path.abspath(lib)


def _pipeline_options(options):
    """The text of --moe-<target>-pipeline=...: a string as it is, a mapping
    as key=value pairs (booleans as 1/0), a sequence joined by spaces."""
    if options is None:
        return ""
    if isinstance(options, str):
        return options.strip()
    if hasattr(options, "items"):
        parts = []
        for key, value in options.items():
            if isinstance(value, bool):
                value = int(value)
            parts.append(f"{key}={value}")
        return " ".join(parts)
    return " ".join(str(o) for o in options)


def compile(source, output=None, *, target="cpu", options=None, emit="shared",
            moe_opt=None, extra_args=()):
    """Compiles `source` (.onnx or .mlir) with `moe-opt
    --moe-<target>-pipeline[=options] --emit=<emit>` and returns the path of
    what it wrote: `output`, or a file in a new temporary directory (the
    caller's to remove). Raises CompileError with moe-opt's diagnostics."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    if emit not in EMIT_KINDS:
        raise ValueError(f"emit must be one of {EMIT_KINDS}, not {emit!r}")
    source = os.fspath(source)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"no model file {source!r}")
    tool = find_moe_opt(moe_opt)
    if output is None:
        stem = os.path.splitext(os.path.basename(source))[0]
        output = os.path.join(tempfile.mkdtemp(prefix="moe-"),
                              stem + _SUFFIX[emit])
    output = os.fspath(output)
    flag = f"--moe-{target}-pipeline"
    text = _pipeline_options(options)
    if text:
        flag += "=" + text
    cmd = [tool, source, flag, f"--emit={emit}", "-o", output, *extra_args]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        diagnostics = (done.stderr or done.stdout).strip()
        first = diagnostics.splitlines()[0] if diagnostics else ""
        raise CompileError(
            f"moe-opt failed on {source} (exit {done.returncode})"
            + (f": {first}" if first else ""), done.returncode, diagnostics)
    return output
