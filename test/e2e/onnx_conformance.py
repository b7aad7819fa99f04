"""The ONNX backend node tests (onnx.backend.test.case.node.collect_testcases,
the cases the onnx package ships), compiled with `moe-opt --moe-cpu-pipeline
--emit=shared` and run through the model's C entry point, every output
compared with the expected one (the case's rtol/atol, as onnx's backend
runner does).

A case whose model the compiler refuses with a clear error (an operator,
opset, domain or element type it does not support) is not run; every
other case must pass, except those listed in the expected-failures file
(NAME: reason lines). Prints one line per failing case and a summary:

  node tests: N total, P passed, F failed, X expected failures, R refused
  by the compiler (T of them for an element type only); K operators run

usage: onnx_conformance.py WORKDIR [--xfail FILE] [--filter REGEX]
                           [--jobs N] [--min-passed N] [--list-failures]
                           [--list-refused]
"""
import argparse
import collections
import concurrent.futures
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np

from moe_e2e import DTYPE_CODES, Model

# The importer's "cannot take this model" errors; anything else is a bug.
REFUSED = re.compile(r"unsupported ONNX operator|unsupported opset|"
                     r"unsupported ONNX element type|is not a tensor|"
                     r"has an unsupported kind|no entry function carries|"
                     r"C interface does not take|"
                     r"imports no opset of the default ONNX domain")


# Refusals of a model whose operators are all supported.
TYPE_REFUSAL = re.compile(r"element type|C interface does not take|"
                          r"at the C ABI")


def load_cases(pattern):
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    return [c for c in cases if re.search(pattern, c.name)]


def as_array(value):
    """A data set's value (an array, or a TensorProto for types NumPy lacks)
    as a NumPy array."""
    import onnx
    if isinstance(value, onnx.TensorProto):
        return onnx.numpy_helper.to_array(value)
    return np.asarray(value)


def is_float(dtype):
    """NumPy's floats and ml_dtypes' (bfloat16)."""
    return np.issubdtype(dtype, np.floating) or dtype.name == "bfloat16"


def run_case(case, workdir):
    """(status, detail): status is pass, fail, refused or skip."""
    import onnx
    d = os.path.join(workdir, case.name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(case.model, path)
    lib = os.path.join(d, "model.so")
    try:
        r = subprocess.run(["moe-opt", path, "--moe-cpu-pipeline",
                            "--emit=shared", "-o", lib, "--onnx-remarks=false"],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "fail", "compile timed out"
    if r.returncode:
        first = r.stderr.strip().splitlines()[0] if r.stderr.strip() else ""
        if REFUSED.search(r.stderr):
            return "refused", first
        return "fail", "compile: " + first[:300]
    graph = case.model.graph
    inputs_meta = [i for i in graph.input
                   if i.name not in {t.name for t in graph.initializer}]
    model = Model(lib)
    for inputs, outputs in case.data_sets:
        arrays = []
        for a in inputs:
            a = as_array(a)
            if a.dtype not in DTYPE_CODES:
                return "refused", f"input element type {a.dtype} at the C ABI"
            arrays.append(a)
        if len(arrays) != len(inputs_meta):
            return "fail", "optional inputs are not fed positionally"
        try:
            ours = model.run(arrays, len(outputs))
        except SystemExit as e:
            return "fail", "run: " + str(e)[:300]
        for i, (got, want) in enumerate(zip(ours, outputs)):
            want = as_array(want)
            if got.shape != want.shape:
                return "fail", (f"output {i}: shape {list(got.shape)}, "
                                f"expected {list(want.shape)}")
            try:
                if is_float(want.dtype):
                    np.testing.assert_allclose(
                        got.astype(np.float32).astype(np.float64),
                        want.astype(np.float32).astype(np.float64),
                        rtol=case.rtol, atol=case.atol)
                elif not np.array_equal(got, want):
                    return "fail", f"output {i}: values differ"
            except AssertionError as e:
                msg = [l for l in str(e).splitlines() if "Max" in l]
                return "fail", f"output {i}: " + "; ".join(msg)[:200]
    shutil.rmtree(d, ignore_errors=True)  # keeps failures only
    return "pass", ""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workdir")
    p.add_argument("--xfail", help="expected failures: NAME: reason lines")
    p.add_argument("--filter", default="")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--list-failures", action="store_true",
                   help="print every failure, expected ones too")
    p.add_argument("--min-passed", type=int, default=0,
                   help="fail when fewer cases pass (guards against new "
                        "refusals)")
    p.add_argument("--list-refused", action="store_true",
                   help="print every refused case with the importer's reason")
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    xfail = {}
    if args.xfail:
        for line in open(args.xfail):
            if line.strip() and not line.startswith("#"):
                name, reason = line.split(":", 1)
                xfail[name.strip()] = reason.strip()
    cases = load_cases(args.filter)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda c: run_case(c, args.workdir), cases))
    counts = collections.Counter()
    ran_ops = set()
    type_refused = 0  # refused for an element type, every op supported
    unexpected = 0
    for case, (status, detail) in zip(cases, results):
        ops = sorted({n.op_type for n in case.model.graph.node})
        if status == "fail" and case.name in xfail:
            status = "xfail"
            if args.list_failures:
                print(f"XFAIL {case.name}: {xfail[case.name]}")
        elif status == "fail":
            unexpected += 1
            print(f"FAIL {case.name} ({', '.join(ops)}): {detail}")
        elif status == "pass" and case.name in xfail:
            unexpected += 1
            print(f"XPASS {case.name}: listed as expected to fail")
        if status == "refused" and args.list_refused:
            print(f"REFUSED {case.name} ({', '.join(ops)}): {detail}")
        if status != "refused":
            ran_ops.update(ops)
        counts[status] += 1
    for case, (status, detail) in zip(cases, results):
        ops = {n.op_type for n in case.model.graph.node}
        if (status == "refused" and TYPE_REFUSAL.search(detail)
                and ops <= ran_ops):
            type_refused += 1
    print(f"node tests: {len(cases)} total, {counts['pass']} passed, "
          f"{counts['fail']} failed, {counts['xfail']} expected failures, "
          f"{counts['refused']} refused by the compiler ({type_refused} of "
          f"them for an element type of operators that run elsewhere); "
          f"{len(ran_ops)} operators run")
    if counts["pass"] < args.min_passed:
        unexpected += 1
        print(f"error: fewer than {args.min_passed} passed")
    sys.exit(1 if unexpected else 0)


if __name__ == "__main__":
    main()
