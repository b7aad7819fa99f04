"""com.microsoft.MoE / QMoE written from the definition in float64: the
NumPy reference of the end-to-end checks (moe_cpu_check.py, qmoe_check.py).
"""
import numpy as np


def int8_blocks(v, block=32):
    """`v` as int8 activations see it: each `block` values scaled by
    max|v| / 127 (1 where all are 0), rounded to nearest even, scaled back
    (the int8-activations mode of the CPU pipeline)."""
    out = np.empty_like(v)
    for s in range(0, v.shape[0], block):
        part = v[s:s + block].astype(np.float32)
        amax = np.abs(part).max()
        scale = np.float32(amax / np.float32(127)) if amax else np.float32(1)
        out[s:s + block] = np.rint(part / scale) * np.float64(scale)
    return out


def moe_reference(x, logits, w1, w2, k, act, renorm, fusion=1, b1=None, b2=None,
                  quantize=None):
    """x [T, H], logits [T, E], w1 [E, F1, H], w2 [E, H, I] (dequantized for
    QMoE), optional biases b1 [E, F1], b2 [E, H]. Softmax routing, top-k with
    ties to the lower expert id, optionally renormalized; act is relu, gelu
    (onnxruntime's tanh approximation), silu or swiglu (fusion 1: gate/up
    rows interleaved, 2: concatenated). `quantize`, if given, is applied to
    the input of each expert GEMM (e.g. int8_blocks)."""
    q = quantize or (lambda v: v)
    xs = x.astype(np.float64)
    lg = logits.astype(np.float64)
    inter = w2.shape[2]
    probs = np.exp(lg - lg.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    out = np.zeros_like(xs)
    for t in range(xs.shape[0]):
        ids = np.argsort(-probs[t], kind="stable")[:k]
        w = probs[t, ids]
        if renorm:
            w = w / w.sum()
        for e, wt in zip(ids, w):
            a = w1[e] @ q(xs[t]) + (b1[e] if b1 is not None else 0)
            if act == "swiglu":
                g, u = (a[0::2], a[1::2]) if fusion == 1 else (a[:inter], a[inter:])
                h = g / (1 + np.exp(-g)) * u
            elif act == "relu":
                h = np.maximum(a, 0)
            elif act == "gelu":
                h = 0.5 * a * (1 + np.tanh(0.7978845608 * (a + 0.044715 * a ** 3)))
            else:
                h = a / (1 + np.exp(-a))
            out[t] += wt * (w2[e] @ q(h) + (b2[e] if b2 is not None else 0))
    return out
