//===- Patterns.h - onnx -> core dialect patterns, by op family -*- C++ -*-===//
//
// Private to passes/: the pattern sets used by moe-convert-onnx-to-core, and
// the helpers they share.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_ONNXTOCORE_PATTERNS_H
#define MOE_PASSES_ONNXTOCORE_PATTERNS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::moe::onnx_to_core {

/// Elementwise ops with numpy broadcasting, Cast, Where, comparisons, logic.
void populateElementwisePatterns(RewritePatternSet &patterns);
/// MatMul, Gemm and Softmax on linalg; with `tileMatmuls`, MatMul by a
/// constant 2-D weight as register-tiled loops instead.
void populateLinalgPatterns(RewritePatternSet &patterns, bool tileMatmuls);
/// DequantizeLinear of codes computed at run time.
void populateDequantizePatterns(RewritePatternSet &patterns);
/// Reduce* over constant or run-time axes.
void populateReducePatterns(RewritePatternSet &patterns);
/// LayerNormalization, SimplifiedLayerNormalization (RMS) and the fused
/// SkipSimplifiedLayerNormalization.
void populateNormalizationPatterns(RewritePatternSet &patterns);
/// onnxruntime's RotaryEmbedding and MultiHeadAttention contrib ops.
void populateAttentionPatterns(RewritePatternSet &patterns);
/// Constant, Identity, Reshape, Squeeze/Unsqueeze, Transpose, Concat, Slice.
void populateTensorPatterns(RewritePatternSet &patterns);
/// Gather, GatherElements, TopK, ArgMax, OneHot; with `checksInLoops`,
/// Gather checks each run-time index inside its loop.
void populateIndexingPatterns(RewritePatternSet &patterns, bool checksInLoops);
/// Shape, ConstantOfShape, Range, Expand, Flatten, Split.
void populateShapePatterns(RewritePatternSet &patterns);

/// ScatterND, ScatterElements, NonZero, CumSum, GatherND: sequential loops
/// and index tuples on tensors.
void populateScatterPatterns(RewritePatternSet &patterns);

/// `i` (any integer type) as an index in [0, size): negative values count
/// from the end, then the result is clamped (ONNX leaves out-of-range
/// indices undefined; clamping keeps every access in bounds).
Value normalizeIndex(OpBuilder &b, Location loc, Value i, Value size);

/// Sizes of a value of `type`: static sizes as attributes, dynamic ones read
/// with tensor.dim from the operand among `from` whose aligned (numpy
/// broadcasting, right-aligned) dimension is dynamic.
FailureOr<SmallVector<OpFoldResult>> broadcastSizes(OpBuilder &b, Location loc,
                                                    RankedTensorType type,
                                                    ValueRange from);

/// `tensor.empty` of `type` with the sizes above.
FailureOr<Value> emptyFor(OpBuilder &b, Location loc, RankedTensorType type,
                          ValueRange from);

/// Asserts at run time that every dynamic size of `inputs` equals the
/// result size it is aligned with (numpy alignment): static 1s broadcast,
/// dynamic sizes must match.
void assertBroadcastable(OpBuilder &b, Location loc, ValueRange inputs,
                         ArrayRef<OpFoldResult> sizes);

/// A linalg.generic computing `body` elementwise over `type`, with each input
/// broadcast numpy-style (dynamic sizes checked by assertBroadcastable).
FailureOr<Value>
buildElementwise(OpBuilder &b, Location loc, RankedTensorType type,
                 ValueRange inputs,
                 function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// Integer values of a constant 1-D tensor (arith.constant or onnx.Constant).
std::optional<SmallVector<int64_t>> constantInts(Value v);

/// Replaces `op` with `result`, tensor.cast to `type` first where the
/// computed type is more static than the op's declared one.
void replaceWithCast(PatternRewriter &rewriter, Operation *op, Value result,
                     Type type);

/// A 1-D tensor of `values` (all of one type; index when empty), e.g. the
/// shape operand of tensor.reshape. Unlike tensor.from_elements' builder,
/// it also takes no values.
Value vectorOf(OpBuilder &b, Location loc, ValueRange values,
               Type elementType = nullptr);

/// `v`'s type when it is a ranked tensor of floats, else null.
RankedTensorType rankedFloat(Value v);

/// Size `dim` of the ranked tensor `v`: an attribute when static.
OpFoldResult sizeOf(OpBuilder &b, Location loc, Value v, int64_t dim);

/// A zero-filled f32 tensor of `sizes`.
Value zeroAcc(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes);

/// The tensor `acc` rounded elementwise from f32 to `elt` (itself when it
/// already has that element type).
Value roundTo(OpBuilder &b, Location loc, Value acc, Type elt);

/// `v` as f32 (extf/truncf as needed) and back to `type`.
Value toF32(OpBuilder &b, Location loc, Value v);
Value fromF32(OpBuilder &b, Location loc, Value v, Type type);

} // namespace mlir::moe::onnx_to_core

#endif // MOE_PASSES_ONNXTOCORE_PATTERNS_H
