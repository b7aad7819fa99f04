"""Writes binary ONNX models for the importer tests into the given directory:
well-formed ones that exercise what the textual syntax cannot express (node
names, typed data fields, external data) and malformed ones for every error
path. Run by lit (see binary.test, errors-binary.test)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def model(nodes, inputs, outputs, inits=(), opset=17, name="g"):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def save(m, name):
    with open(os.path.join(out, name), "wb") as f:
        f.write(m.SerializeToString())


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def external(tensor, location, offset=None, length=None):
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = tensor.external_data.add()
            entry.key, entry.value = key, str(value)
    return tensor


# A well-formed model: named nodes, typed-field initializers, external data.
w = np.arange(32, dtype=np.float32).reshape(4, 8)
with open(os.path.join(out, "weights.bin"), "wb") as f:
    f.write(b"\0" * 16 + w.tobytes())
w_ext = external(numpy_helper.from_array(w, "w"), "weights.bin", offset=16, length=w.nbytes)
bias = helper.make_tensor("bias", TensorProto.FLOAT16, [8],
                          vals=np.arange(8, dtype=np.float16))
flags = helper.make_tensor("flags", TensorProto.BOOL, [2], [True, False])
small = helper.make_tensor("small", TensorProto.INT8, [3], [-1, 0, 7])
save(model([helper.make_node("MatMul", ["x", "w"], ["xw"], name="/layers.0/proj/MatMul"),
            helper.make_node("Cast", ["xw"], ["h"], name="/layers.0/Cast", to=TensorProto.FLOAT16),
            helper.make_node("Add", ["h", "bias"], ["y"], name="/layers.0/Add")],
           [vi("x", TensorProto.FLOAT, ["T", 4])],
           [vi("y", TensorProto.FLOAT16, ["T", 8]), vi("flags", TensorProto.BOOL, [2]),
            vi("small", TensorProto.INT8, [3])],
           [w_ext, bias, flags, small]), "named.onnx")

relu = lambda: [helper.make_node("Relu", ["x"], ["y"], name="relu")]
io = ([vi("x", TensorProto.FLOAT, [4])], [vi("y", TensorProto.FLOAT, [4])])


def with_init(tensor, name):
    save(model(relu() + [helper.make_node("Add", ["y", tensor.name], ["z"], name="add")],
               io[0], [vi("z", TensorProto.FLOAT, [4])], [tensor]), name)


good = numpy_helper.from_array(np.ones(4, np.float32), "c")
save(model(relu() + [helper.make_node("Add", ["y", "c"], ["z"], name="add")], io[0],
           [vi("z", TensorProto.FLOAT, [4])], [good]), "good.onnx")
data = open(os.path.join(out, "good.onnx"), "rb").read()
open(os.path.join(out, "truncated.onnx"), "wb").write(data[: len(data) // 2])
open(os.path.join(out, "garbage.onnx"), "wb").write(b"\xff\xfe not a protobuf \x00" * 4)
open(os.path.join(out, "empty.onnx"), "wb").write(b"")

with open(os.path.join(out, "four_floats.bin"), "wb") as f:
    f.write(np.ones(4, np.float32).tobytes())
outside = os.path.join(out, "..", "outside.bin")
with open(outside, "wb") as f:
    f.write(np.ones(4, np.float32).tobytes())
link = os.path.join(out, "link.bin")
if os.path.lexists(link):
    os.remove(link)
os.symlink(os.path.abspath(outside), link)

c = lambda: numpy_helper.from_array(np.ones(4, np.float32), "c")
with_init(external(c(), os.path.abspath(os.path.join(out, "four_floats.bin"))), "ext_absolute.onnx")
with_init(external(c(), "../outside.bin"), "ext_dotdot.onnx")
with_init(external(c(), "link.bin"), "ext_symlink.onnx")
with_init(external(c(), "four_floats.bin", offset=8), "ext_short.onnx")
with_init(external(c(), "four_floats.bin", length=12), "ext_length.onnx")
with_init(external(c(), "four_floats.bin", offset=64), "ext_offset.onnx")
with_init(external(c(), "missing.bin"), "ext_missing.onnx")

raw = c()
raw.raw_data = b"\0" * 12
with_init(raw, "raw_size.onnx")
huge = TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40])
huge.raw_data = b""
with_init(huge, "overflow.onnx")
neg = c()
neg.dims[0] = -4
with_init(neg, "negative_dim.onnx")
strings = TensorProto(name="c", data_type=TensorProto.STRING, dims=[1], string_data=[b"a"])
with_init(strings, "string_init.onnx")
few = TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[4], float_data=[1.0, 2.0])
with_init(few, "few_values.onnx")

sub = helper.make_graph([], "sub", [], [])
node = helper.make_node("Relu", ["x"], ["y"], name="relu")
node.attribute.append(helper.make_attribute("body", sub))
save(model([node], *io), "graph_attr.onnx")
save(model(relu(), *io, opset=6), "opset6.onnx")
m = model(relu(), *io)
m.ClearField("graph")
save(m, "no_graph.onnx")
