//===- ONNXValueMatchers.h - facts about onnx values ------------*- C++ -*-===//
//
// Private to the Raise stage: small predicates over onnx-dialect values
// (constants, casts, unit dimensions, zero tensors) that the raising analyses
// build on.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_RAISE_ONNXVALUEMATCHERS_H
#define MOE_PASSES_RAISE_ONNXVALUEMATCHERS_H

#include "moe/Dialect/ONNX.h"

#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace mlir::moe::match {

/// `v` without the casts in front of it that change nothing.
Value stripNoopCasts(Value v);
/// `v` without the casts between float types in front of it (precision
/// changes: routing in f32 for an f16 model).
Value stripFloatCasts(Value v);

RankedTensorType rankedType(Value v);
/// Dimensions other than static 1s ("real" dimensions).
std::optional<SmallVector<int64_t>> realDims(Value v);
/// Number of real dimensions; -1 when the rank is unknown.
int64_t numRealDims(Value v);
/// Position of the `i`-th real dimension of `v`'s type.
std::optional<int64_t> realDimPos(Value v, unsigned i);
/// Whether a row-major reshape from `in` to `out` only adds or removes unit
/// dimensions: the real dimensions agree, and at most one is dynamic (so
/// the element count pins it).
bool isUnitReshape(Value in, Value out);

/// `v` through reshapes that only add or remove unit dimensions.
Value unitSource(Value v);
/// The last value of rank 2 on `v`'s chain of unit reshapes (unitSource's
/// steps); `v` when there is none.
Value matrixOf(Value v);
/// Whether `a` and `b` hold the same values up to unit dimensions: their
/// matrixOf is the same, or they have one type and one unitSource.
bool sameRows(Value a, Value b);

/// The value of a one-element integer tensor known at compile time.
std::optional<int64_t> scalarInt(Value v);
/// The same for a rank-0 tensor only.
std::optional<int64_t> scalarConstant(Value v);
/// The value of a float constant with one element.
std::optional<double> scalarFloat(Value v);
/// For a binary op with a one-element float constant operand: its value,
/// with `other` set to the remaining operand; else nullopt.
std::optional<double> scalarFloatOperand(Operation *binary, Value &other);
/// Whether `attr` is a float constant whose every element is `value`.
bool isFloatSplat(Attribute attr, double value);
/// Whether a constant holds exactly `values` (ints, or floats equal to them).
bool hasValues(Value v, ArrayRef<int64_t> values);
/// Whether `axes` (a constant) is the single axis `axis` of a rank-`rank`
/// tensor, counting negative axes from the end.
bool isSingleAxis(Value axes, int64_t axis, int64_t rank);

/// For a zero tensor built from another's whole shape, ConstantOfShape(
/// Shape(x)) of 0 or Expand(0, Shape(x)) of `x`'s type: that `x`; else null.
Value zerosShapedLike(Value v);
/// Whether `v` is such a zero tensor shaped like a value of `like`'s type.
bool isZerosLike(Value v, Value like);
/// Whether Expand(`in`, `shape`) is `in` itself: every target size known
/// and 1 or equal to the (static) size it broadcasts against.
bool isNoopExpand(onnx::ExpandOp op);

} // namespace mlir::moe::match

#endif // MOE_PASSES_RAISE_ONNXVALUEMATCHERS_H
