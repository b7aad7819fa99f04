"""Weights files (pipeline option weights=external): MODEL compiled with its
weights embedded and in a weights file gives the same outputs bit for bit;
the library shrinks by the weights' size; the file is found beside the
library, or where moe.load(weights=) / moe-run --weights say; a missing,
truncated, foreign or non-weights file is refused with a message naming
it; small models keep embedding by default (weights=auto).

usage: weights_file.py MODEL INPUTS.npz WORKDIR
(INPUTS.npz holds x0 / x1, the inputs of a one-input model, or the
example's hidden/logits pair when it has none.)
"""
import os
import shutil
import struct
import sys

import numpy as np

import moe

source, inputs_npz, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
path = lambda name: os.path.join(work, name)
failures = 0


def check(label, ok, detail=""):
    global failures
    print(f"{label}: {'ok' if ok else 'FAILED'}{' ' + detail if detail else ''}")
    failures += not ok


def refused(label, expect, fn):
    try:
        fn()
        check(label, False, "not refused")
    except moe.WeightsError as e:
        check(label, expect in str(e) and e.code == 5, str(e))


embedded = moe.compile(source, path("embedded.so"),
                       options={"weights": "embed"})
external = moe.compile(source, path("model.so"),
                       options={"weights": "external"})
auto = moe.compile(source, path("auto.so"))
weights = path("model.weights")
check("weights file beside the library", os.path.isfile(weights))
check("small model embeds by default",
      not os.path.exists(path("auto.weights")))
lib_saved = os.path.getsize(embedded) - os.path.getsize(external)
check("library shrinks by the weights",
      lib_saved >= 0.9 * (os.path.getsize(weights) - 64),
      f"{os.path.getsize(embedded)} -> {os.path.getsize(external)} bytes, "
      f"weights file {os.path.getsize(weights)} bytes")

saved = np.load(inputs_npz)
cases = [[saved[k]] for k in ("x0", "x1") if k in saved.files]
if not cases:
    rng = np.random.default_rng(0)
    cases = [[rng.standard_normal((n, 32)).astype(np.float32),
              rng.standard_normal((n, 8)).astype(np.float32)] for n in (1, 9)]
ref = moe.load(embedded)
ext = moe.load(external)
check("weights file name", ext.weights_file == "model.weights"
      and ref.weights_file is None, str(ext.weights_file))
for i, args in enumerate(cases):
    (want,) = ref.run(*args)
    (got,) = ext.run(*args)
    check(f"case {i} equal to embedded", np.array_equal(want, got),
          f"shape {list(got.shape)}")

# Found beside the library wherever it goes; elsewhere only when named.
moved = os.path.join(work, "moved")
os.makedirs(moved, exist_ok=True)
shutil.copy(external, os.path.join(moved, "model.so"))
refused("missing", f"cannot open weights file '{moved}/model.weights'",
        lambda: moe.load(os.path.join(moved, "model.so")))
named = moe.load(os.path.join(moved, "model.so"), weights=weights)
check("named with weights=", np.array_equal(named.run(*cases[0])[0],
                                            ref.run(*cases[0])[0]))


def damaged(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    # A fresh copy of the library: the one above already mapped its file.
    lib = os.path.join(work, name + ".so")
    shutil.copy(external, lib)
    return lib


good = open(weights, "rb").read()
lib = damaged("truncated.weights", good[:len(good) // 2])
refused("truncated", "it is truncated",
        lambda: moe.load(lib, weights=path("truncated.weights")))
header = bytearray(good[:64])
header[16:24] = struct.pack("<Q", 12345)
lib = damaged("foreign.weights", bytes(header) + good[64:])
refused("another compile", "belongs to another compile",
        lambda: moe.load(lib, weights=path("foreign.weights")))
lib = damaged("text.weights", b"not weights at all\n" * 8)
refused("not a weights file", "not a weights file",
        lambda: moe.load(lib, weights=path("text.weights")))

# The path is fixed once the weights are mapped.
try:
    ext._lib.moe_model_set_weights_path(weights.encode(), None, 0)
    rc = ext._lib.moe_model_set_weights_path(weights.encode(), None, 0)
    check("path fixed after loading", rc == 1, f"rc {rc}")
except Exception as e:  # noqa: BLE001
    check("path fixed after loading", False, repr(e))

# --weights-file picks the name the library looks for.
custom = moe.compile(source, path("custom.so"), options="weights=external",
                     extra_args=["--weights-file", path("params.bin")])
check("custom name", os.path.isfile(path("params.bin"))
      and moe.load(custom).weights_file == "params.bin")

print(f"{failures} failed")
sys.exit(1 if failures else 0)
