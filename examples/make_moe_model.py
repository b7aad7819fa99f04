"""Writes examples/mixtral_moe.onnx, the bundled example model: one
com.microsoft.MoE block (Mixtral-style: 8 experts, top-2 softmax routing,
renormalized, SwiGLU experts with interleaved gate/up rows), hidden size 32,
intermediate size 64, a dynamic token count, random weights (seed 0).

build_moe_model() makes the same kind of block at any size and element type;
the benchmarks in bench/ import it.

usage: make_moe_model.py [-h] [OUTPUT]   (default: mixtral_moe.onnx beside
this file)
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build_moe_model(E, H, I, K, dtype=np.float32, seed=0, name="mixtral_moe"):
    """A com.microsoft.MoE SwiGLU block: inputs hidden_states [tokens, H] and
    router_logits [tokens, E], output [tokens, H], weights [E, out, in]."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((E, 2 * I, H)) / np.sqrt(H)).astype(dtype)
    w2 = (rng.standard_normal((E, H, I)) / np.sqrt(I)).astype(dtype)
    elt = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node(
        "MoE", ["hidden_states", "router_logits", "fc1_experts_weights", "",
                "fc2_experts_weights"], ["output"], domain="com.microsoft",
        name="/model/layers.0/mlp/MoE", k=K, activation_type="swiglu",
        swiglu_fusion=1, normalize_routing_weights=1)
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info("hidden_states", elt, ["tokens", H]),
         helper.make_tensor_value_info("router_logits", elt, ["tokens", E])],
        [helper.make_tensor_value_info("output", elt, ["tokens", H])],
        [numpy_helper.from_array(w1, "fc1_experts_weights"),
         numpy_helper.from_array(w2, "fc2_experts_weights")])
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Write the bundled example model (one com.microsoft.MoE "
        "block, 8 experts, top-2, hidden 32, intermediate 64).")
    parser.add_argument(
        "output", nargs="?",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "mixtral_moe.onnx"),
        help="where to write the model (default: %(default)s)")
    args = parser.parse_args()
    onnx.save(build_moe_model(E=8, H=32, I=64, K=2), args.output)
