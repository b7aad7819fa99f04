"""The exceptions of the moe package: one base class, one subclass per way a
compile or a run fails (the run codes are those of ModelABI.h)."""


class MoEError(Exception):
    """Anything the moe package reports."""


class CompilerNotFoundError(MoEError, FileNotFoundError):
    """No moe-opt executable was found."""


class CompileError(MoEError):
    """moe-opt rejected the model; `diagnostics` holds what it printed."""

    def __init__(self, message, returncode=None, diagnostics=""):
        super().__init__(message)
        self.returncode = returncode
        self.diagnostics = diagnostics


class LoadError(MoEError, OSError):
    """The file is not a loadable compiled model."""


class RunError(MoEError):
    """A run failed; `code` is the entry point's status, `message` its text."""

    code = None

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInputError(RunError, ValueError):
    """The inputs do not match the model's signature (MOE_ERROR_INVALID_ARGUMENT)."""

    code = 1


class OutOfMemoryError(RunError, MemoryError):
    """An allocation failed during the run (MOE_ERROR_OUT_OF_MEMORY)."""

    code = 2


class RuntimeCheckError(RunError):
    """A run-time check of the model failed, e.g. an expert id out of range
    (MOE_ERROR_RUNTIME)."""

    code = 3


class DeviceError(RunError):
    """The model's device cannot be used: no GPU, no driver (MOE_ERROR_DEVICE)."""

    code = 4


class WeightsError(RunError, LoadError):
    """The model's weights file is missing, truncated, or from another
    compile (MOE_ERROR_WEIGHTS)."""

    code = 5


_RUN_ERRORS = {c.code: c for c in (InvalidInputError, OutOfMemoryError,
                                    RuntimeCheckError, DeviceError,
                                    WeightsError)}


def run_error(code, message):
    """The exception for status `code` of a run function."""
    cls = _RUN_ERRORS.get(code, RunError)
    return cls(message, code)
