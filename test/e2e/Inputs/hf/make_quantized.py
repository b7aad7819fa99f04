"""Writes weight-quantized variants of the Mixtral causal LM fixture, as
onnxruntime's own quantizer (MatMulNBitsQuantizer) writes them: every MatMul
by a constant weight becomes com.microsoft.MatMulNBits.

  mixtral_lm.q4.onnx      4-bit, blocks of 16, zero points (asymmetric)
  mixtral_lm.q4_sym.onnx  4-bit, blocks of 32, no zero points
  mixtral_lm.q8.onnx      8-bit, blocks of 16, zero points
  mixtral_lm.qdq4.onnx    QDQ format: DequantizeLinear of uint4 weights in
                          blocks of 16 with zero points, then MatMul
  mixtral_lm.qdq4_sym.onnx  the same with int4 weights, no zero points

The tests compare against onnxruntime on the same files (the weights are
no longer PyTorch's). Needs onnx and onnxruntime; run after make_hf_moe.py.
"""
import argparse
import logging
import os

import onnx
from onnxruntime.quantization import QuantFormat
from onnxruntime.quantization.matmul_nbits_quantizer import \
    MatMulNBitsQuantizer

VARIANTS = {"q4": dict(bits=4, block_size=16, is_symmetric=False),
            "q4_sym": dict(bits=4, block_size=32, is_symmetric=True),
            "q8": dict(bits=8, block_size=16, is_symmetric=False),
            "qdq4": dict(bits=4, block_size=16, is_symmetric=False,
                         quant_format=QuantFormat.QDQ),
            "qdq4_sym": dict(bits=4, block_size=16, is_symmetric=True,
                             quant_format=QuantFormat.QDQ)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--dir", default=here)
    args = p.parse_args()
    logging.disable(logging.INFO)
    src = os.path.join(args.dir, "mixtral_lm.dynamo.onnx")
    for name, settings in VARIANTS.items():
        q = MatMulNBitsQuantizer(onnx.load(src), **settings)
        q.process()
        out = os.path.join(args.dir, f"mixtral_lm.{name}.onnx")
        q.model.save_model_to_file(out)
        print("wrote", out)


if __name__ == "__main__":
    main()
