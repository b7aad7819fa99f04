"""Writes examples/mixtral_moe.onnx, the bundled example model: one
com.microsoft.MoE block (Mixtral-style: 8 experts, top-2 softmax routing,
renormalized, SwiGLU experts with interleaved gate/up rows), hidden size 32,
intermediate size 64, a dynamic token count, random weights (seed 0).

usage: make_moe_model.py [OUTPUT]   (default: mixtral_moe.onnx beside this file)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

E, H, I, K = 8, 32, 64, 2
rng = np.random.default_rng(0)
w1 = (rng.standard_normal((E, 2 * I, H)) / np.sqrt(H)).astype(np.float32)
w2 = (rng.standard_normal((E, H, I)) / np.sqrt(I)).astype(np.float32)
node = helper.make_node(
    "MoE", ["hidden_states", "router_logits", "fc1_experts_weights", "",
            "fc2_experts_weights"], ["output"], domain="com.microsoft",
    name="/model/layers.0/mlp/MoE", k=K, activation_type="swiglu",
    swiglu_fusion=1, normalize_routing_weights=1)
graph = helper.make_graph(
    [node], "mixtral_moe",
    [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, ["tokens", H]),
     helper.make_tensor_value_info("router_logits", TensorProto.FLOAT, ["tokens", E])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["tokens", H])],
    [numpy_helper.from_array(w1, "fc1_experts_weights"),
     numpy_helper.from_array(w2, "fc2_experts_weights")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.microsoft", 1)])
model.ir_version = 8
onnx.checker.check_model(model)
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "mixtral_moe.onnx")
onnx.save(model, out)
