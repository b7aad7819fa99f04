//===- Passes.td - ONNXToCore stage passes -----------------*- tablegen -*-===//
//
// The lowering of the dense onnx ops to upstream core dialects.
// Each pass lives in its own .cpp file beside this one and has a lit test
// in test/Passes/ONNXToCore/.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_ONNXTOCORE_PASSES_TD
#define MOE_PASSES_ONNXTOCORE_PASSES_TD

include "mlir/Pass/PassBase.td"

def FoldDequantization : Pass<"moe-fold-dequantization"> {
  let summary = "Dequantize constant quantized weights at compile time";
  let description = [{
    Quantizing exporters store weights as integer codes and scales.
    `DequantizeLinear` of constants (per tensor, per axis or per block)
    becomes a float constant, and onnxruntime's `MatMulNBits` (2-, 4- or
    8-bit codes packed low bits first, per-block scales, zero points packed
    or in A's type, or `2^(bits-1)`) a `MatMul` by its dequantized `[K, N]`
    weight plus the bias. It runs before the raising, so quantized experts
    are recognized like float ones. A `MatMulNBits` whose weight, scales or
    zero points are computed at run time, or with `g_idx`, is an error at
    its node.
  }];
}

def ConvertONNXToCore : Pass<"moe-convert-onnx-to-core"> {
  let summary = "Lower dense onnx ops to linalg, tensor, arith and math";
  let description = [{
    Lowers the dense ONNX operators around MoE blocks to upstream dialects,
    one pattern set per op family:

    * elementwise (arithmetic, comparisons, logic, activations including both
      GELU forms, Cast, Where, Max/Min) -> one `linalg.generic` each, with
      numpy broadcasting in the indexing maps;
    * MatMul (2-D, N-D x 2-D, batched 3-D), Gemm -> `linalg.matmul` /
      `linalg.batch_matmul` accumulating in f32; Softmax -> `linalg.softmax`;
      ReduceSum/Mean/Max/Min over constant axes -> `linalg.reduce`;
      LayerNormalization and SimplifiedLayerNormalization (RMSNorm) ->
      `linalg.generic` with f32 statistics;
    * Constant -> `arith.constant` (blobs stay `dense_resource`), Identity,
      Transpose -> `linalg.transpose`, Reshape (0 and -1 resolved at run
      time) -> `tensor.reshape`, Squeeze/Unsqueeze -> collapse/expand_shape,
      Concat -> `tensor.concat`, Slice with constant bounds and positive
      steps -> `tensor.extract_slice`;
    * GatherND -> one `linalg.generic` reading index tuples; ScatterND and
      ScatterElements (reductions none/add/mul/max/min), NonZero and CumSum
      along a constant axis (exclusive, reverse) -> sequential `scf.for`
      loops over tensors (their definitions are sequential);
      SkipSimplifiedLayerNormalization -> the residual sum and RMS norm.

    Ops outside this set, or with unranked types, stay as they are; with
    `allow-partial=false` any leftover onnx op is an error at its node.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
  ];
  let options = [
    Option<"allowPartial", "allow-partial", "bool", /*default=*/"true",
           "Leave unsupported onnx ops in place instead of failing">,
    Option<"tileMatmuls", "tile-matmuls", "bool", /*default=*/"false",
           "MatMul by a constant 2-D weight as register-tiled loops in "
           "column chunks (the CPU pipeline's form; the weight is stored "
           "transposed)">,
    Option<"checksInLoops", "checks-in-loops", "bool", /*default=*/"false",
           "Check run-time Gather indices inside the gather's loop where "
           "each is read (the GPU pipeline's form: kernels report them "
           "through flags), not by a reduction before it">,
  ];
}

#endif // MOE_PASSES_ONNXTOCORE_PASSES_TD
