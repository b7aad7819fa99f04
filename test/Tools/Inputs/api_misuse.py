"""Calls a compiled model's moe_model_run the wrong ways and prints the
return code and message of each."""
import ctypes
import sys

sys.path.insert(0, sys.argv[2])
from moe_e2e import Tensor  # noqa: E402

so = ctypes.CDLL(sys.argv[1])
info_inputs = int(sys.argv[3])
err = ctypes.create_string_buffer(256)
outs = (Tensor * 1)()
ins = (Tensor * info_inputs)()


def call(label, inputs, n_in, outputs, n_out):
    rc = so.moe_model_run(inputs, n_in, outputs, n_out, err, 256)
    print(f"{label}: rc={rc} {err.value.decode()}")


call("null-inputs", None, info_inputs, outs, 1)
call("null-outputs", ins, info_inputs, None, 1)
ins[0].rank = 2
ins[0].shape[0] = -1
ins[0].shape[1] = 64
call("negative-dim", ins, info_inputs, outs, 1)
