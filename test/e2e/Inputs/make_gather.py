"""Writes gather.onnx to DIR: y = Gather(table[10, 4], ids[tokens]) with a
constant table (an embedding lookup), and good.npy / bad.npy ids (bad: one
id past the table)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

out = sys.argv[1]
table = helper.make_tensor("table", TensorProto.FLOAT, [10, 4],
                           np.arange(40, dtype=np.float32).tolist())
graph = helper.make_graph(
    [helper.make_node("Gather", ["table", "ids"], ["y"], axis=0)], "gather",
    [helper.make_tensor_value_info("ids", TensorProto.INT64, ["tokens"])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["tokens", 4])],
    [table])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
          os.path.join(out, "gather.onnx"))
np.save(os.path.join(out, "good.npy"), np.array([0, 9, -1, 3], np.int64))
np.save(os.path.join(out, "bad.npy"), np.array([0, 10, -1, 3], np.int64))
