# lit configuration of the moe IR test suite: *.mlir and *.test files under
# test/, run with moe-opt and LLVM's FileCheck.
import os
import shutil

import lit.formats

config.name = "moe"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test", ".onnxtxt"]
# Unit/ is its own suite; Inputs/ hold what the tests read.
config.excludes = ["Inputs", "Unit"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moe_obj_root, "test")

bin_dir = os.path.join(config.moe_obj_root, "bin")
config.environment["PATH"] = os.pathsep.join(
    [bin_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
# A FileCheck variable defined before a CHECK-LABEL does not leak past it.
config.environment["FILECHECK_OPTS"] = "--enable-var-scope"
for var in ("HOME", "TMPDIR", "MOE_NUM_THREADS"):
    if var in os.environ:
        config.environment[var] = os.environ[var]

config.substitutions.append(("%moe_src", config.moe_src_root))
config.substitutions.append(("%moe_bin", bin_dir))
config.substitutions.append(("%moe_docs", os.path.join(config.moe_obj_root, "docs")))
python = config.moe_python or "python3"
# A sanitizer build's model libraries carry its instrumented runtime: the
# interpreter that loads them gets the sanitizer's runtime preloaded, and
# no leak check (the interpreter's own allocations outlive it by design);
# its sitecustomize keeps the preload from the processes it starts.
if config.moe_asan_runtime:
    config.available_features.add("asan")
    asan_options = os.environ.get("ASAN_OPTIONS", "")
    python = "env LD_PRELOAD={} ASAN_OPTIONS={} PYTHONPATH={} {}".format(
        config.moe_asan_runtime,
        ":".join(o for o in (asan_options, "detect_leaks=0") if o),
        os.path.join(config.moe_src_root, "test", "Inputs", "asan-python"),
        python)
# Tests that measure the process's memory growth: the sanitizer's quarantine
# of freed blocks would count as growth.
python_rss = python.replace("detect_leaks=0", "detect_leaks=0:quarantine_size_mb=0")
config.substitutions.append(("%python_rss", python_rss))
config.substitutions.append(("%python", python))

# CPU features that tests of their instructions need to run them.
try:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = next((line.split(":", 1)[1].split() for line in cpuinfo
                      if line.startswith("flags")), [])
except OSError:
    flags = []
if "avx512_bf16" in flags:
    config.available_features.add("avx512bf16")

# The CUDA toolkit is optional: ptxas-based checks need it, GPU execution
# tests need a GPU as well.
if config.moe_ptxas and os.path.exists(config.moe_ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.moe_ptxas))
    config.substitutions.append(("%cuda_root", config.moe_cuda_root))
# The CUDA emulator (runtime/cuda-emulator) runs every CUDA model's kernels
# on this CPU: GPU execution tests run under it everywhere the toolkit is
# (compiling the kernels still needs ptxas and libdevice).
emulator_lib = os.path.join(config.moe_obj_root, "lib", "libmoe_cuda_emulator.so")
if "ptxas" in config.available_features and os.path.exists(emulator_lib):
    config.available_features.add("cuda-emulator")
    config.substitutions.append(("%cuda_emulator", emulator_lib))
    for var in ("MOE_CUDA_EMULATOR_SEED", "MOE_CUDA_EMULATOR_THREADS"):
        if var in os.environ:
            config.environment[var] = os.environ[var]
if shutil.which("nvidia-smi"):
    import subprocess
    try:
        if subprocess.run(["nvidia-smi", "-L"], capture_output=True,
                          timeout=30).returncode == 0:
            config.available_features.add("cuda-gpu")
            gpus = subprocess.run(["nvidia-smi", "-L"], capture_output=True,
                                  text=True, timeout=30).stdout
            if sum(l.startswith("GPU ") for l in gpus.splitlines()) >= 2:
                config.available_features.add("cuda-multi-gpu")
    except (OSError, subprocess.SubprocessError):
        pass

# Expert-parallel runs need MPI (the runtime's collectives) and a launcher.
if config.moe_have_mpi.upper() in ("TRUE", "ON", "1", "YES") and \
        config.moe_mpirun and os.path.exists(config.moe_mpirun):
    config.available_features.add("mpi")
    config.environment["PATH"] = os.pathsep.join(
        [os.path.dirname(config.moe_mpirun), config.environment["PATH"]])
