"""Replaces each Relu of a tiny exported MoE block (ONNX text) with GELU
written out in elementary ops, the way torch exports nn.GELU below opset 20
(no Gelu op):

  --form torchscript  Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5)
  --form dynamo       Mul(x, Mul(0.5, Add(Erf(Div(x, sqrt2)), 1)))
  --form tanh         Mul(0.5, Mul(x, Add(1, Tanh(Mul(sqrt(2/pi),
                        Add(x, Mul(0.044715, Pow(x, 3))))))))
  --form wrong        the erf form with x / 2 instead of x / sqrt(2) (a
                      near miss: not GELU)

usage: write_out_gelu.py IN OUT --form FORM
"""
import argparse
import math
import re

p = argparse.ArgumentParser()
p.add_argument("input")
p.add_argument("output")
p.add_argument("--form", required=True,
               choices=["torchscript", "dynamo", "tanh", "wrong"])
args = p.parse_args()

constants = {"gelu_half": 0.5, "gelu_one": 1.0,
             "gelu_sqrt2": 2.0 if args.form == "wrong" else math.sqrt(2.0),
             "gelu_kappa": 0.044715, "gelu_beta": math.sqrt(2.0 / math.pi),
             "gelu_three": 3.0}
relu = re.compile(r"^(\s*)(\w+) = Relu \((\w+)\)$")
out = []
for line in open(args.input).read().split("\n"):
    m = relu.match(line)
    if not m:
        out.append(line)
        continue
    ind, y, x = m.groups()
    t = f"{y}_gelu"
    if args.form in ("torchscript", "wrong"):
        body = [f"{t}_div = Div ({x}, gelu_sqrt2)", f"{t}_erf = Erf ({t}_div)",
                f"{t}_add = Add ({t}_erf, gelu_one)",
                f"{t}_mul = Mul ({x}, {t}_add)",
                f"{y} = Mul ({t}_mul, gelu_half)"]
    elif args.form == "dynamo":
        body = [f"{t}_div = Div ({x}, gelu_sqrt2)", f"{t}_erf = Erf ({t}_div)",
                f"{t}_add = Add ({t}_erf, gelu_one)",
                f"{t}_half = Mul (gelu_half, {t}_add)",
                f"{y} = Mul ({x}, {t}_half)"]
    else:
        body = [f"{t}_cube = Pow ({x}, gelu_three)",
                f"{t}_kc = Mul (gelu_kappa, {t}_cube)",
                f"{t}_sum = Add ({x}, {t}_kc)",
                f"{t}_inner = Mul (gelu_beta, {t}_sum)",
                f"{t}_tanh = Tanh ({t}_inner)",
                f"{t}_add = Add (gelu_one, {t}_tanh)",
                f"{t}_mul = Mul ({x}, {t}_add)",
                f"{y} = Mul (gelu_half, {t}_mul)"]
    out.extend(ind + b for b in body)
text = "\n".join(out)
head, sep, rest = text.partition("\n{")
assert head.rstrip().endswith(">"), "initializer list not found"
inits = ", ".join(f"float {n} = {{{v!r}}}" for n, v in constants.items())
head = head.rstrip()[:-1] + ", " + inits + ">"
open(args.output, "w").write(head + sep + rest)
