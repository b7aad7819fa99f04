"""Exercises the installed Python package (moe) the way a user would:
compiles Hugging Face MoE exports from test/e2e/Inputs/hf with moe.compile,
runs them with moe.load(...).run on NumPy arrays, and compares with
onnxruntime at the same thread count (relative L2 error <= 1e-4 for f32,
1e-2 for f16) and with PyTorch's outputs saved beside the models; then the
signature, thread setting, benchmark, several entry functions, and every
error path (compile diagnostics, not a model, wrong inputs, a failed
run-time check) as exceptions.

usage: check_package.py REPO WORKDIR
"""
import os
import sys

import numpy as np
import onnxruntime as ort

import moe

repo, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
hf = os.path.join(repo, "test", "e2e", "Inputs", "hf")
failures = 0


def check(label, ok, detail=""):
    global failures
    print(f"{label}: {'ok' if ok else 'FAILED'}{' ' + detail if detail else ''}")
    failures += not ok


def rel_l2(ours, ref):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    return float(np.linalg.norm(ours - ref) / max(np.linalg.norm(ref), 1e-30))


def onnxruntime_outputs(path, feeds, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


print("moe-opt:", "installed" if "/p/bin/" in moe.find_moe_opt() else
      moe.find_moe_opt())

# Models exported by transformers' own exporter (int64 token ids in) and by
# torch.onnx (an f16 MoE block), against onnxruntime and PyTorch.
for family, export, tol in (("mixtral_lm", "hf", 1e-4),
                            ("qwen3_moe_f16", "dynamo_bmm", 1e-2)):
    source = os.path.join(hf, f"{family}.{export}.onnx")
    lib = moe.compile(source, os.path.join(work, f"{family}.so"),
                      target="cpu", options={"fuse-combine": True})
    model = moe.load(lib)
    (info,) = model.inputs
    print(f"{family}: {info!r} -> {model.outputs[0]!r}")
    check(f"{family} signature", info.shape[0] == 1 and info.shape[1] is None)
    saved = np.load(os.path.join(hf, f"{family}.npz"))
    for threads in (1, 2):
        model.set_num_threads(threads)
        for case in ("x0", "x1"):
            x = saved[case]
            (ours,) = model.run(x)
            (ref,) = onnxruntime_outputs(source, {info.name: x}, threads)
            err_ort = rel_l2(ours, ref)
            err_torch = rel_l2(ours, saved["y" + case[1:]])
            check(f"{family} {case} threads={threads}",
                  ours.shape == ref.shape and ours.dtype == ref.dtype
                  and err_ort <= tol and err_torch <= tol,
                  f"shape {list(ours.shape)} {ours.dtype} vs onnxruntime "
                  f"{err_ort:.1e}, vs torch {err_torch:.1e}")
    # By name gives the same result as by position.
    (by_name,) = model.run({info.name: saved["x1"]})
    (by_pos,) = model.run(saved["x1"])
    check(f"{family} inputs by name", np.array_equal(by_name, by_pos))
    bench = model.benchmark(saved["x1"], iterations=5, warmup=1)
    check(f"{family} benchmark",
          bench.iterations == 5 and len(bench.times_ms) == 5
          and 0 < bench.min_ms <= bench.median_ms <= bench.max_ms
          and bench.device_ms is None)

# Outputs are the model's buffers, freed with the last array that uses them.
model = moe.load(os.path.join(work, "mixtral_lm.so"))
ids = np.load(os.path.join(hf, "mixtral_lm.npz"))["x1"]
(first,) = model.run(ids)
view = first[0, 2:4]
del first
(second,) = model.run(ids)
check("output outlives its parent array", np.array_equal(view, second[0, 2:4]))

# Wrong inputs are InvalidInputError (a ValueError) naming the input.
for label, args, expect in (
        ("dtype", (ids.astype(np.int32),), "is int32, expected int64"),
        ("rank", (ids[0],), "has rank 1, expected 2"),
        ("static size", (np.concatenate([ids, ids]),),
         "dimension 0 is 2, expected 1"),
        ("count", (ids, ids), "1 inputs expected, got 2")):
    try:
        model.run(*args)
        check(f"invalid {label}", False, "no exception")
    except ValueError as e:
        check(f"invalid {label}",
              isinstance(e, moe.InvalidInputError) and expect in str(e), str(e))

# A failed run-time check is RuntimeCheckError with the runtime's message.
plan = moe.load(moe.compile(os.path.join(repo, "test", "e2e", "Inputs",
                                         "dispatch.mlir"),
                            os.path.join(work, "dispatch.so")))
x = np.ones((3, 4), np.float32)
(offsets,) = plan.run(x, np.array([[0, 3], [3, 1], [1, 3]], np.int32))
check("dispatch offsets", offsets.tolist() == [0, 1, 3, 3, 6], str(offsets))
try:
    plan.run(x, np.array([[0, 3], [7, 1], [1, 3]], np.int32))
    check("expert id out of range", False, "no exception")
except moe.RuntimeCheckError as e:
    check("expert id out of range",
          e.code == 3 and "expert id out of range [0, 4)" in e.message, str(e))

# Several entry functions.
two = moe.load(moe.compile(os.path.join(repo, "test", "Python", "Inputs",
                                        "two_functions.mlir"),
                           os.path.join(work, "two.so")))
doubled = two.functions["double"].run(np.arange(8, dtype=np.float32)
                                      .reshape(2, 4))[0]
negated = two.functions["negate"].run(np.array([1, -2, 3], np.int32))[0]
check("two functions", sorted(two.functions) == ["double", "negate"]
      and doubled.tolist() == [[0, 2, 4, 6], [8, 10, 12, 14]]
      and negated.tolist() == [-1, 2, -3])
try:
    two.run(x)
    check("ambiguous entry function", False, "no exception")
except moe.MoEError as e:
    check("ambiguous entry function", "use model.functions[name]" in str(e))

# Compile errors carry moe-opt's diagnostics with the source location.
bad = os.path.join(work, "bad.mlir")
with open(bad, "w") as f:
    f.write("func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
            "  return %y : tensor<4xf32>\n}\n")
try:
    moe.compile(bad, os.path.join(work, "bad.so"))
    check("compile error", False, "no exception")
except moe.CompileError as e:
    check("compile error", "bad.mlir:2:10: error: use of undeclared SSA value"
          in e.diagnostics and not os.path.exists(os.path.join(work, "bad.so")),
          str(e))
try:
    moe.compile(bad, target="tpu")
    check("unknown target", False, "no exception")
except ValueError as e:
    check("unknown target", "target must be one of" in str(e))

# A file that is not a compiled model.
try:
    moe.load(bad)
    check("not a model", False, "no exception")
except moe.LoadError as e:
    check("not a model", "cannot load" in str(e))

print(f"{failures} failed")
sys.exit(1 if failures else 0)
