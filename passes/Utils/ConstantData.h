//===- ConstantData.h - constant tensor bytes at compile time --*- C++ -*-===//
//-*-===//
//
// Private to passes/: reading the bytes behind a constant tensor (dense or
// dense_resource, arith or onnx) and building re-laid-out constants from
// them, for passes that reorganize weights at compile time.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_CONSTANTDATA_H
#define MOE_PASSES_UTILS_CONSTANTDATA_H

#include "mlir/IR/Builders.h"

#include <optional>
#include <vector>

namespace mlir::moe {

/// The row-major bytes of `v` (a splat expanded) when it is an
/// `arith.constant` or `onnx.Constant` of a static shape with whole-byte
/// int or float elements; nothing otherwise.
std::optional<std::vector<char>> constantBytes(Value v);

/// The bytes of the constant `v` (as `constantBytes`) in place, without a
/// copy; nothing for splats and what `constantBytes` rejects.
std::optional<ArrayRef<char>> constantData(Value v);

/// The bytes of the constant `v` in place, or, where `constantData` has no
/// view (a splat), expanded into `copy`; nothing when `v` is not such a
/// constant.
std::optional<ArrayRef<char>> constantDataOrCopy(Value v,
                                                 std::vector<char> &copy);

/// Lets the kernel reclaim the pages of the constant `v`'s data (kept
/// intact): for weights read once to build a relaid-out copy.
void releaseConstantPages(Value v);

/// The elements of a constant (`constantBytes`) as doubles: ints of any
/// width and signedness, f16/bf16/f32/f64 (exact in a double).
std::optional<std::vector<double>> constantValues(Value v);

/// `values` as `elt`'s row-major bytes, rounded to nearest; with `exact`,
/// nothing when a value does not convert exactly.
std::optional<std::vector<char>> floatBytes(ArrayRef<double> values,
                                            FloatType elt, bool exact);

/// A `dense_resource` constant of `type` holding `bytes`, created at `b`'s
/// insertion point as an `arith.constant` (or an `onnx.Constant` when
/// `asONNX`). `name` is the resource's key prefix.
Value createBlobConstant(OpBuilder &b, Location loc, RankedTensorType type,
                         ArrayRef<char> bytes, StringRef name,
                         bool asONNX = false);

/// The same with `size` bytes that `fill` writes in place; large ones are
/// backed by a temporary file, not the heap, so that relaid-out weights do
/// not hold the compiler's memory.
Value createBlobConstant(OpBuilder &b, Location loc, RankedTensorType type,
                         size_t size,
                         llvm::function_ref<void(MutableArrayRef<char>)> fill,
                         StringRef name, bool asONNX = false);

/// For 2-D constants `parts` (each `[R, C]`, or `[C, R]` when `transpose`)
/// of one type, the `onnx.Constant` `[parts.size(), R, C]` stacking them.
/// Null when a part is not such a constant.
Value stackConstants(OpBuilder &b, Location loc, ArrayRef<Value> parts,
                     bool transpose, StringRef name);

/// The 2-D constant `v` (`[R, C]`) transposed to an `onnx.Constant`
/// `[C, R]` (an `arith.constant` unless `asONNX`); null when `v` is not such
/// a constant.
Value transposeConstant(OpBuilder &b, Location loc, Value v, StringRef name,
                        bool asONNX = true);

/// The 3-D constant `v` (`[E, R, C]`) with each matrix transposed: an
/// `onnx.Constant` `[E, C, R]`; null when `v` is not such a constant.
Value transposeStacked(OpBuilder &b, Location loc, Value v, StringRef name);

/// The float constant `v` converted to element type `elt` and, when given,
/// reshaped to `shape` (the same element count): an `onnx.Constant`, or `v`
/// itself when neither changes. Null when `v` is not a readable float
/// constant of a static shape or a value does not convert exactly.
Value convertConstantExactly(
    OpBuilder &b, Location loc, Value v, FloatType elt, StringRef name,
    std::optional<ArrayRef<int64_t>> shape = std::nullopt);

/// The float constants `parts` (each with the same element count N, any
/// shape) converted exactly to `elt` and stacked to an `onnx.Constant`
/// `[parts.size(), N]`; null when one is not such a constant or a value
/// does not convert exactly.
Value stackVectors(OpBuilder &b, Location loc, ArrayRef<Value> parts,
                   FloatType elt, StringRef name);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_CONSTANTDATA_H
