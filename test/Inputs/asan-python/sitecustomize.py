"""Loaded by the interpreter that runs the tests' Python drivers in a
sanitizer build: the sanitizer runtime is preloaded into this process only.
Child processes (moe-opt, moe-run: sanitized executables with their own
static runtime; cc) must not inherit the preload, which they would reject
as a second, incompatible runtime. A driver that restarts itself with other
sanitizer options finds the preload in MOE_SANITIZER_PRELOAD."""
import os

preload = os.environ.pop("LD_PRELOAD", None)
if preload:
    os.environ["MOE_SANITIZER_PRELOAD"] = preload
