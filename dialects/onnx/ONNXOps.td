//===- ONNXOps.td - onnx dialect operations ------------------*- tablegen -*-===//
//
// One op per supported ONNX operator. Inputs, outputs and attributes carry
// their ONNX names; trailing optional inputs are `none` when absent.
//
//===----------------------------------------------------------------------===//

#ifndef ONNX_OPS_TD
#define ONNX_OPS_TD

include "ONNXDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def ONNX_Tensor : AnyTypeOf<[AnyTensor]>;
def ONNX_OptTensor : AnyTypeOf<[AnyTensor, NoneType]>;
def ONNX_OptResult : AnyTypeOf<[AnyTensor, NoneType]>;

class ONNX_Op<string mnemonic, list<Trait> traits = []>
    : Op<ONNX_Dialect, mnemonic, traits> {
  let assemblyFormat = [{
    `(` operands `)` attr-dict `:` functional-type(operands, results)
  }];
}

/// A reduction over `axes` (an input since opset 18; older forms are
/// rewritten on import): all axes when absent, unless noop_with_empty_axes.
class ONNX_ReduceOp<string mnemonic, string what>
    : ONNX_Op<mnemonic, [Pure]> {
  let summary = what # " over the given axes (axes as an input, opset 18 form)";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_OptTensor:$axes,
    DefaultValuedAttr<SI64Attr, "1">:$keepdims,
    DefaultValuedAttr<SI64Attr, "0">:$noop_with_empty_axes
  );
  let results = (outs
    ONNX_Tensor:$reduced
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

/// An elementwise function of one tensor.
class ONNX_UnaryOp<string mnemonic, string what>
    : ONNX_Op<mnemonic, [Pure]> {
  let summary = what;
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_NoValueOp : ONNX_Op<"NoValue", [Pure]> {
  let summary = "the absent value of an optional input";
  let results = (outs NoneType:$none);
  let assemblyFormat = "attr-dict";
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 0;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_AddOp : ONNX_Op<"Add", [Pure]> {
  let summary = "elementwise sum with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_SubOp : ONNX_Op<"Sub", [Pure]> {
  let summary = "elementwise difference with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_MulOp : ONNX_Op<"Mul", [Pure]> {
  let summary = "elementwise product with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_DivOp : ONNX_Op<"Div", [Pure]> {
  let summary = "elementwise quotient with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_PowOp : ONNX_Op<"Pow", [Pure]> {
  let summary = "elementwise power with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ModOp : ONNX_Op<"Mod", [Pure]> {
  let summary = "elementwise remainder with broadcasting";
  let description = [{
    With `fmod` 0 the remainder takes the divisor's sign, as NumPy's `mod`;
    with `fmod` 1 the dividend's, as C's `fmod`.
  }];
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B,
    DefaultValuedAttr<SI64Attr, "0">:$fmod
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_EqualOp : ONNX_Op<"Equal", [Pure]> {
  let summary = "elementwise == with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_LessOp : ONNX_Op<"Less", [Pure]> {
  let summary = "elementwise < with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_LessOrEqualOp : ONNX_Op<"LessOrEqual", [Pure]> {
  let summary = "elementwise <= with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_GreaterOp : ONNX_Op<"Greater", [Pure]> {
  let summary = "elementwise > with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_GreaterOrEqualOp : ONNX_Op<"GreaterOrEqual", [Pure]> {
  let summary = "elementwise >= with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_AndOp : ONNX_Op<"And", [Pure]> {
  let summary = "elementwise logical and";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_OrOp : ONNX_Op<"Or", [Pure]> {
  let summary = "elementwise logical or";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$C
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_FloorOp : ONNX_UnaryOp<"Floor", "elementwise floor">;
def ONNX_CeilOp : ONNX_UnaryOp<"Ceil", "elementwise ceiling">;
def ONNX_RoundOp
    : ONNX_UnaryOp<"Round", "elementwise rounding, halves to even">;
def ONNX_SignOp : ONNX_UnaryOp<"Sign", "elementwise sign (-1, 0 or 1)">;
def ONNX_CosOp : ONNX_UnaryOp<"Cos", "elementwise cosine">;
def ONNX_SinOp : ONNX_UnaryOp<"Sin", "elementwise sine">;
def ONNX_TanOp : ONNX_UnaryOp<"Tan", "elementwise tangent">;
def ONNX_AcosOp : ONNX_UnaryOp<"Acos", "elementwise arc cosine">;
def ONNX_AsinOp : ONNX_UnaryOp<"Asin", "elementwise arc sine">;
def ONNX_AtanOp : ONNX_UnaryOp<"Atan", "elementwise arc tangent">;
def ONNX_CoshOp : ONNX_UnaryOp<"Cosh", "elementwise hyperbolic cosine">;
def ONNX_SinhOp : ONNX_UnaryOp<"Sinh", "elementwise hyperbolic sine">;
def ONNX_AcoshOp
    : ONNX_UnaryOp<"Acosh", "elementwise inverse hyperbolic cosine">;
def ONNX_AsinhOp
    : ONNX_UnaryOp<"Asinh", "elementwise inverse hyperbolic sine">;
def ONNX_AtanhOp
    : ONNX_UnaryOp<"Atanh", "elementwise inverse hyperbolic tangent">;
def ONNX_SoftsignOp : ONNX_UnaryOp<"Softsign", "elementwise x / (1 + |x|)">;
def ONNX_IsNaNOp : ONNX_UnaryOp<"IsNaN", "elementwise test for NaN">;

def ONNX_SqrtOp : ONNX_Op<"Sqrt", [Pure]> {
  let summary = "elementwise square root";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ReciprocalOp : ONNX_Op<"Reciprocal", [Pure]> {
  let summary = "elementwise 1/x";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_NegOp : ONNX_Op<"Neg", [Pure]> {
  let summary = "elementwise negation";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ReluOp : ONNX_Op<"Relu", [Pure]> {
  let summary = "elementwise max(x, 0)";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_SigmoidOp : ONNX_Op<"Sigmoid", [Pure]> {
  let summary = "elementwise logistic function";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_TanhOp : ONNX_Op<"Tanh", [Pure]> {
  let summary = "elementwise tanh";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ErfOp : ONNX_Op<"Erf", [Pure]> {
  let summary = "elementwise error function";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ExpOp : ONNX_Op<"Exp", [Pure]> {
  let summary = "elementwise e^x";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_LogOp : ONNX_Op<"Log", [Pure]> {
  let summary = "elementwise natural logarithm";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_AbsOp : ONNX_Op<"Abs", [Pure]> {
  let summary = "elementwise absolute value";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_NotOp : ONNX_Op<"Not", [Pure]> {
  let summary = "elementwise logical not";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_IdentityOp : ONNX_Op<"Identity", [Pure]> {
  let summary = "the input itself";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_SoftplusOp : ONNX_Op<"Softplus", [Pure]> {
  let summary = "elementwise log(1 + e^x)";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_GeluOp : ONNX_Op<"Gelu", [Pure]> {
  let summary = "GELU (exact or tanh approximation)";
  let arguments = (ins
    ONNX_Tensor:$X,
    DefaultValuedStrAttr<StrAttr, "none">:$approximate
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_SoftmaxOp : ONNX_Op<"Softmax", [Pure]> {
  let summary = "softmax along one axis";
  let arguments = (ins
    ONNX_Tensor:$input,
    DefaultValuedAttr<SI64Attr, "-1">:$axis
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_MatMulOp : ONNX_Op<"MatMul", [Pure]> {
  let summary = "numpy-style batched matrix product";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_FusedMatMulOp : ONNX_Op<"FusedMatMul", [Pure]> {
  let summary = "alpha * MatMul of optionally transposed operands (com.microsoft)";
  let description = [{
    onnxruntime's contrib op: `transA`/`transB` swap an operand's last two
    dimensions before the numpy-style product, which is scaled by `alpha`.
  }];
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B,
    DefaultValuedAttr<F32Attr, "1.0">:$alpha,
    DefaultValuedAttr<SI64Attr, "0">:$transA,
    DefaultValuedAttr<SI64Attr, "0">:$transB,
    DefaultValuedAttr<SI64Attr, "0">:$transBatchA,
    DefaultValuedAttr<SI64Attr, "0">:$transBatchB
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_MatMulNBitsOp : ONNX_Op<"MatMulNBits", [Pure]> {
  let summary = "MatMul by a block-quantized weight (com.microsoft)";
  let description = [{
    onnxruntime's contrib op: `Y = A x dequant(B)^T (+ bias)`. B `[N,
    ceil(K / block_size), block_size * bits / 8]` packs `bits`-bit codes
    along K, lowest bits first; each block of a row dequantizes as
    `(code - zero_point) * scale` with its scale (`[N * blocks]` or `[N,
    blocks]`) and zero point (packed codes like B, `[N * ceil(blocks * bits
    / 8)]`, or A's type `[N * blocks]`; `2^(bits - 1)` when absent).
  }];
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B,
    ONNX_Tensor:$scales,
    ONNX_OptTensor:$zero_points,
    ONNX_OptTensor:$g_idx,
    ONNX_OptTensor:$bias,
    SI64Attr:$K,
    SI64Attr:$N,
    DefaultValuedAttr<SI64Attr, "4">:$bits,
    SI64Attr:$block_size,
    DefaultValuedAttr<SI64Attr, "0">:$accuracy_level
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 6;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_DequantizeLinearOp : ONNX_Op<"DequantizeLinear", [Pure]> {
  let summary = "(x - zero_point) * scale, per tensor, axis or block";
  let description = [{
    The scale and zero point are scalars (per tensor), 1-D along `axis`, or
    of x's rank with `axis` divided into blocks of `block_size`. The result
    has the scale's type unless `output_dtype` names another.
  }];
  let arguments = (ins
    ONNX_Tensor:$x,
    ONNX_Tensor:$x_scale,
    ONNX_OptTensor:$x_zero_point,
    DefaultValuedAttr<SI64Attr, "1">:$axis,
    DefaultValuedAttr<SI64Attr, "0">:$block_size,
    DefaultValuedAttr<SI64Attr, "0">:$output_dtype
  );
  let results = (outs
    ONNX_Tensor:$y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_GemmOp : ONNX_Op<"Gemm", [Pure]> {
  let summary = "alpha * A' * B' + beta * C";
  let arguments = (ins
    ONNX_Tensor:$A,
    ONNX_Tensor:$B,
    ONNX_OptTensor:$C,
    DefaultValuedAttr<F32Attr, "1.0">:$alpha,
    DefaultValuedAttr<F32Attr, "1.0">:$beta,
    DefaultValuedAttr<SI64Attr, "0">:$transA,
    DefaultValuedAttr<SI64Attr, "0">:$transB
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_TopKOp : ONNX_Op<"TopK", [Pure]> {
  let summary = "the K largest (or smallest) elements along an axis";
  let arguments = (ins
    ONNX_Tensor:$X,
    ONNX_Tensor:$K,
    DefaultValuedAttr<SI64Attr, "-1">:$axis,
    DefaultValuedAttr<SI64Attr, "1">:$largest,
    DefaultValuedAttr<SI64Attr, "1">:$sorted
  );
  let results = (outs
    ONNX_Tensor:$Values,
    ONNX_Tensor:$Indices
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 2;
  }];
}

def ONNX_ReduceSumOp : ONNX_ReduceOp<"ReduceSum", "sum">;
def ONNX_ReduceMeanOp : ONNX_ReduceOp<"ReduceMean", "mean">;
def ONNX_ReduceMaxOp : ONNX_ReduceOp<"ReduceMax", "max">;
def ONNX_ReduceMinOp : ONNX_ReduceOp<"ReduceMin", "min">;
def ONNX_ReduceProdOp : ONNX_ReduceOp<"ReduceProd", "product">;
def ONNX_ReduceL1Op : ONNX_ReduceOp<"ReduceL1", "sum of absolute values">;
def ONNX_ReduceL2Op : ONNX_ReduceOp<"ReduceL2", "Euclidean norm">;
def ONNX_ReduceSumSquareOp : ONNX_ReduceOp<"ReduceSumSquare", "sum of squares">;
def ONNX_ReduceLogSumOp : ONNX_ReduceOp<"ReduceLogSum", "log of the sum">;
def ONNX_ReduceLogSumExpOp
    : ONNX_ReduceOp<"ReduceLogSumExp", "log of the sum of exponentials">;

def ONNX_ArgMaxOp : ONNX_Op<"ArgMax", [Pure]> {
  let summary = "index of the maximum along an axis";
  let arguments = (ins
    ONNX_Tensor:$data,
    DefaultValuedAttr<SI64Attr, "0">:$axis,
    DefaultValuedAttr<SI64Attr, "1">:$keepdims,
    DefaultValuedAttr<SI64Attr, "0">:$select_last_index
  );
  let results = (outs
    ONNX_Tensor:$reduced
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_GatherOp : ONNX_Op<"Gather", [Pure]> {
  let summary = "take slices along an axis";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_Tensor:$indices,
    DefaultValuedAttr<SI64Attr, "0">:$axis
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_GatherElementsOp : ONNX_Op<"GatherElements", [Pure]> {
  let summary = "take elements along an axis";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_Tensor:$indices,
    DefaultValuedAttr<SI64Attr, "0">:$axis
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_GatherNDOp : ONNX_Op<"GatherND", [Pure]> {
  let summary = "take slices by index tuples";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_Tensor:$indices,
    DefaultValuedAttr<SI64Attr, "0">:$batch_dims
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ScatterNDOp : ONNX_Op<"ScatterND", [Pure]> {
  let summary = "write slices by index tuples";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_Tensor:$indices,
    ONNX_Tensor:$updates,
    DefaultValuedStrAttr<StrAttr, "none">:$reduction
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ScatterElementsOp : ONNX_Op<"ScatterElements", [Pure]> {
  let summary = "write elements along an axis";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_Tensor:$indices,
    ONNX_Tensor:$updates,
    DefaultValuedAttr<SI64Attr, "0">:$axis,
    DefaultValuedStrAttr<StrAttr, "none">:$reduction
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_WhereOp : ONNX_Op<"Where", [Pure]> {
  let summary = "elementwise select with broadcasting";
  let arguments = (ins
    ONNX_Tensor:$condition,
    ONNX_Tensor:$X,
    ONNX_Tensor:$Y
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_NonZeroOp : ONNX_Op<"NonZero", [Pure]> {
  let summary = "indices of the non-zero elements, [rank, count]";
  let arguments = (ins
    ONNX_Tensor:$X
  );
  let results = (outs
    ONNX_Tensor:$Y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_OneHotOp : ONNX_Op<"OneHot", [Pure]> {
  let summary = "one-hot encoding";
  let arguments = (ins
    ONNX_Tensor:$indices,
    ONNX_Tensor:$depth,
    ONNX_Tensor:$values,
    DefaultValuedAttr<SI64Attr, "-1">:$axis
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_CastOp : ONNX_Op<"Cast", [Pure]> {
  let summary = "element type conversion (to = ONNX TensorProto data type)";
  let arguments = (ins
    ONNX_Tensor:$input,
    SI64Attr:$to,
    DefaultValuedAttr<SI64Attr, "1">:$saturate
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ReshapeOp : ONNX_Op<"Reshape", [Pure]> {
  let summary = "reshape to a shape given as a tensor";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_Tensor:$shape,
    DefaultValuedAttr<SI64Attr, "0">:$allowzero
  );
  let results = (outs
    ONNX_Tensor:$reshaped
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_TransposeOp : ONNX_Op<"Transpose", [Pure]> {
  let summary = "permute dimensions (reverse when perm is absent)";
  let arguments = (ins
    ONNX_Tensor:$data,
    OptionalAttr<I64ArrayAttr>:$perm
  );
  let results = (outs
    ONNX_Tensor:$transposed
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_SqueezeOp : ONNX_Op<"Squeeze", [Pure]> {
  let summary = "remove size-1 dimensions";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_OptTensor:$axes
  );
  let results = (outs
    ONNX_Tensor:$squeezed
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_UnsqueezeOp : ONNX_Op<"Unsqueeze", [Pure]> {
  let summary = "insert size-1 dimensions";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_Tensor:$axes
  );
  let results = (outs
    ONNX_Tensor:$expanded
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_FlattenOp : ONNX_Op<"Flatten", [Pure]> {
  let summary = "flatten to 2-D";
  let arguments = (ins
    ONNX_Tensor:$input,
    DefaultValuedAttr<SI64Attr, "1">:$axis
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ConcatOp : ONNX_Op<"Concat", [Pure]> {
  let summary = "concatenate along an axis";
  let arguments = (ins
    Variadic<ONNX_Tensor>:$inputs,
    SI64Attr:$axis
  );
  let results = (outs
    ONNX_Tensor:$concat_result
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = -1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_SplitOp : ONNX_Op<"Split", [Pure]> {
  let summary = "split along an axis";
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_OptTensor:$split,
    DefaultValuedAttr<SI64Attr, "0">:$axis,
    OptionalAttr<SI64Attr>:$num_outputs
  );
  let results = (outs
    Variadic<ONNX_Tensor>:$outputs
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = -1;
  }];
}

def ONNX_MaxOp : ONNX_Op<"Max", [Pure]> {
  let summary = "elementwise maximum of the inputs";
  let arguments = (ins
    Variadic<ONNX_Tensor>:$data_0
  );
  let results = (outs
    ONNX_Tensor:$max
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = -1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_MinOp : ONNX_Op<"Min", [Pure]> {
  let summary = "elementwise minimum of the inputs";
  let arguments = (ins
    Variadic<ONNX_Tensor>:$data_0
  );
  let results = (outs
    ONNX_Tensor:$min
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = -1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_SliceOp : ONNX_Op<"Slice", [Pure]> {
  let summary = "strided slice";
  let arguments = (ins
    ONNX_Tensor:$data,
    ONNX_Tensor:$starts,
    ONNX_Tensor:$ends,
    ONNX_OptTensor:$axes,
    ONNX_OptTensor:$steps
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 5;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_TileOp : ONNX_Op<"Tile", [Pure]> {
  let summary = "the input repeated `repeats[i]` times along each axis i";
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_Tensor:$repeats
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_TriluOp : ONNX_Op<"Trilu", [Pure]> {
  let summary = "the upper (or lower) triangle of the last two axes, "
                "shifted by k diagonals; the rest zero";
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_OptTensor:$k,
    DefaultValuedAttr<SI64Attr, "1">:$upper
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ExpandOp : ONNX_Op<"Expand", [Pure]> {
  let summary = "broadcast to a shape";
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_Tensor:$shape
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ShapeOp : ONNX_Op<"Shape", [Pure]> {
  let summary = "the shape as a 1-D int64 tensor";
  let arguments = (ins
    ONNX_Tensor:$data,
    OptionalAttr<SI64Attr>:$end,
    DefaultValuedAttr<SI64Attr, "0">:$start
  );
  let results = (outs
    ONNX_Tensor:$shape
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ConstantOp : ONNX_Op<"Constant", [Pure]> {
  let summary = "a constant tensor (all ONNX value_* forms normalized to `value`)";
  let arguments = (ins
    ElementsAttr:$value
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 0;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ConstantOfShapeOp : ONNX_Op<"ConstantOfShape", [Pure]> {
  let summary = "a tensor of the given shape filled with one value";
  let arguments = (ins
    ONNX_Tensor:$input,
    OptionalAttr<ElementsAttr>:$value
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 1;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_RangeOp : ONNX_Op<"Range", [Pure]> {
  let summary = "arithmetic sequence";
  let arguments = (ins
    ONNX_Tensor:$start,
    ONNX_Tensor:$limit,
    ONNX_Tensor:$delta
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_CumSumOp : ONNX_Op<"CumSum", [Pure]> {
  let summary = "cumulative sum along an axis";
  let arguments = (ins
    ONNX_Tensor:$x,
    ONNX_Tensor:$axis,
    DefaultValuedAttr<SI64Attr, "0">:$exclusive,
    DefaultValuedAttr<SI64Attr, "0">:$reverse
  );
  let results = (outs
    ONNX_Tensor:$y
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_ClipOp : ONNX_Op<"Clip", [Pure]> {
  let summary = "clamp to [min, max]";
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_OptTensor:$min,
    ONNX_OptTensor:$max
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_LayerNormalizationOp : ONNX_Op<"LayerNormalization", [Pure]> {
  let summary = "layer normalization over the trailing axes";
  let arguments = (ins
    ONNX_Tensor:$X,
    ONNX_Tensor:$Scale,
    ONNX_OptTensor:$B,
    DefaultValuedAttr<SI64Attr, "-1">:$axis,
    DefaultValuedAttr<F32Attr, "1.0e-05">:$epsilon,
    DefaultValuedAttr<SI64Attr, "1">:$stash_type
  );
  let results = (outs
    ONNX_Tensor:$Y,
    ONNX_OptResult:$Mean,
    ONNX_OptResult:$InvStdDev
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 3;
    static constexpr int kNumOutputs = 3;
  }];
}

def ONNX_SimplifiedLayerNormalizationOp : ONNX_Op<"SimplifiedLayerNormalization", [Pure]> {
  let summary = "RMS normalization (onnxruntime contrib op)";
  let arguments = (ins
    ONNX_Tensor:$X,
    ONNX_Tensor:$scale,
    DefaultValuedAttr<SI64Attr, "-1">:$axis,
    DefaultValuedAttr<F32Attr, "1.0e-05">:$epsilon,
    DefaultValuedAttr<SI64Attr, "1">:$stash_type
  );
  let results = (outs
    ONNX_Tensor:$Y,
    ONNX_OptResult:$inv_std_var
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 2;
    static constexpr int kNumOutputs = 2;
  }];
}

def ONNX_SkipSimplifiedLayerNormalizationOp : ONNX_Op<"SkipSimplifiedLayerNormalization", [Pure]> {
  let summary = "residual add then RMS normalization (com.microsoft)";
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_Tensor:$skip,
    ONNX_Tensor:$gamma,
    ONNX_OptTensor:$bias,
    DefaultValuedAttr<F32Attr, "1.0e-05">:$epsilon
  );
  let results = (outs
    ONNX_Tensor:$output,
    ONNX_OptResult:$mean,
    ONNX_OptResult:$inv_std_var,
    ONNX_OptResult:$input_skip_bias_sum
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 4;
    static constexpr int kNumOutputs = 4;
  }];
}

def ONNX_RotaryEmbeddingOp : ONNX_Op<"RotaryEmbedding", [Pure]> {
  let summary = "rotary position embedding (com.microsoft)";
  let description = [{
    onnxruntime's contrib op: input [B, S, N*H] or [B, N, S, H]; each head's
    first `rotary_embedding_dim` values (all of H when 0) rotate by the angle
    whose cosine and sine are row `position_ids[b, s]` of the caches
    ([max_positions, rotary_dim / 2]); a 1-element `position_ids` is an
    offset added to s. Halves pair up (i, i + rotary_dim/2), or neighbours
    (2i, 2i+1) when `interleaved`.
  }];
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_Tensor:$position_ids,
    ONNX_Tensor:$cos_cache,
    ONNX_Tensor:$sin_cache,
    DefaultValuedAttr<SI64Attr, "0">:$interleaved,
    DefaultValuedAttr<SI64Attr, "0">:$num_heads,
    DefaultValuedAttr<SI64Attr, "0">:$rotary_embedding_dim,
    DefaultValuedAttr<F32Attr, "1.0">:$scale,
    DefaultValuedAttr<SI64Attr, "0">:$is_packed_batching
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 4;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_MultiHeadAttentionOp : ONNX_Op<"MultiHeadAttention", [Pure]> {
  let summary = "multi-head scaled dot-product attention (com.microsoft)";
  let description = [{
    onnxruntime's contrib op: query [B, S, N*H]; key and value [B, L, N*H]
    or [B, N, L, H]; softmax(q k^T * scale + attention_bias + masks) v per
    head, output [B, S, N*Hv]. `scale` 0 means 1/sqrt(H). Masked keys get
    `mask_filter_value` added: a [B, L] key_padding_mask masks the keys
    whose entry is not positive, a [B] one the keys past each length, and
    `unidirectional` the keys past the diagonal.
  }];
  let arguments = (ins
    ONNX_Tensor:$query,
    ONNX_OptTensor:$key,
    ONNX_OptTensor:$value,
    ONNX_OptTensor:$bias,
    ONNX_OptTensor:$key_padding_mask,
    ONNX_OptTensor:$attention_bias,
    ONNX_OptTensor:$past_key,
    ONNX_OptTensor:$past_value,
    ONNX_OptTensor:$past_sequence_length,
    ONNX_OptTensor:$cache_indirection,
    SI64Attr:$num_heads,
    DefaultValuedAttr<F32Attr, "-10000.0">:$mask_filter_value,
    DefaultValuedAttr<F32Attr, "0.0">:$scale,
    DefaultValuedAttr<SI64Attr, "0">:$unidirectional,
    DefaultValuedAttr<SI64Attr, "-1">:$qk_output_type
  );
  let results = (outs
    ONNX_Tensor:$output,
    ONNX_OptResult:$present_key,
    ONNX_OptResult:$present_value,
    ONNX_OptResult:$qk
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 10;
    static constexpr int kNumOutputs = 4;
  }];
}

def ONNX_MoEOp : ONNX_Op<"MoE", [Pure]> {
  let summary = "com.microsoft.MoE: a whole mixture-of-experts block";
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_Tensor:$router_probs,
    ONNX_Tensor:$fc1_experts_weights,
    ONNX_OptTensor:$fc1_experts_bias,
    ONNX_Tensor:$fc2_experts_weights,
    ONNX_OptTensor:$fc2_experts_bias,
    ONNX_OptTensor:$fc3_experts_weights,
    ONNX_OptTensor:$fc3_experts_bias,
    DefaultValuedStrAttr<StrAttr, "relu">:$activation_type,
    DefaultValuedAttr<SI64Attr, "1">:$k,
    DefaultValuedAttr<SI64Attr, "0">:$normalize_routing_weights,
    DefaultValuedAttr<SI64Attr, "0">:$use_sparse_mixer,
    DefaultValuedAttr<SI64Attr, "0">:$swiglu_fusion,
    OptionalAttr<F32Attr>:$swiglu_limit,
    DefaultValuedAttr<SI64Attr, "0">:$swiglu_limit_after_activation,
    DefaultValuedAttr<F32Attr, "1.0">:$activation_alpha,
    DefaultValuedAttr<F32Attr, "0.0">:$activation_beta
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 8;
    static constexpr int kNumOutputs = 1;
  }];
}

def ONNX_QMoEOp : ONNX_Op<"QMoE", [Pure]> {
  let summary = "com.microsoft.QMoE: MoE with int4/int8 expert weights and scales";
  let arguments = (ins
    ONNX_Tensor:$input,
    ONNX_Tensor:$router_probs,
    ONNX_Tensor:$fc1_experts_weights,
    ONNX_OptTensor:$fc1_scales,
    ONNX_OptTensor:$fc1_experts_bias,
    ONNX_Tensor:$fc2_experts_weights,
    ONNX_OptTensor:$fc2_scales,
    ONNX_OptTensor:$fc2_experts_bias,
    ONNX_OptTensor:$fc3_experts_weights,
    ONNX_OptTensor:$fc3_scales,
    ONNX_OptTensor:$fc3_experts_bias,
    ONNX_OptTensor:$fc1_zero_points,
    ONNX_OptTensor:$fc2_zero_points,
    ONNX_OptTensor:$fc3_zero_points,
    ONNX_OptTensor:$router_weights,
    DefaultValuedStrAttr<StrAttr, "relu">:$activation_type,
    DefaultValuedAttr<SI64Attr, "1">:$k,
    DefaultValuedAttr<SI64Attr, "0">:$normalize_routing_weights,
    DefaultValuedAttr<SI64Attr, "0">:$use_sparse_mixer,
    DefaultValuedAttr<SI64Attr, "0">:$swiglu_fusion,
    OptionalAttr<F32Attr>:$swiglu_limit,
    DefaultValuedAttr<SI64Attr, "0">:$swiglu_limit_after_activation,
    DefaultValuedAttr<F32Attr, "1.0">:$activation_alpha,
    DefaultValuedAttr<F32Attr, "0.0">:$activation_beta,
    DefaultValuedAttr<SI64Attr, "4">:$expert_weight_bits,
    OptionalAttr<SI64Attr>:$block_size
  );
  let results = (outs
    ONNX_Tensor:$output
  );
  let extraClassDeclaration = [{
    static constexpr int kNumInputs = 15;
    static constexpr int kNumOutputs = 1;
  }];
}

#endif // ONNX_OPS_TD
