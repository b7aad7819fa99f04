"""Near-miss fixtures: rewire one input of one node of an ONNX model.

usage: rewire_onnx.py IN OUT PRODUCED INDEX NEW_INPUT
  The node that produces the tensor PRODUCED reads NEW_INPUT (a tensor name)
  as its input number INDEX instead.
"""
import sys

import onnx


def main():
    src, dst, produced, index, new_input = sys.argv[1:6]
    model = onnx.load(src)
    nodes = [n for n in model.graph.node if produced in n.output]
    if len(nodes) != 1:
        sys.exit(f"no single node produces '{produced}'")
    nodes[0].input[int(index)] = new_input
    onnx.save(model, dst)


if __name__ == "__main__":
    main()
