//===- Tensor.cpp - onnx data-movement ops -> tensor / linalg -------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
Value indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value dimValue(OpBuilder &b, Location loc, Value v, int64_t d) {
  return getValueOrCreateConstantIndexOp(b, loc,
                                         tensor::getMixedSize(b, loc, v, d));
}

/// Groups for expand/collapse between a shape and the same shape with the
/// `unit` positions removed: each group holds one kept dimension and the
/// unit dimensions next to it; no groups when nothing is kept.
SmallVector<ReassociationIndices> groupsAround(int64_t rank,
                                               ArrayRef<bool> unit) {
  SmallVector<ReassociationIndices> groups;
  if (llvm::all_of(unit, [](bool u) { return u; }))
    return groups;
  bool hasKept = false;
  for (int64_t i = 0; i < rank; ++i) {
    if (groups.empty() || (!unit[i] && hasKept)) {
      groups.emplace_back();
      hasKept = false;
    }
    groups.back().push_back(i);
    hasKept |= !unit[i];
  }
  return groups;
}

struct ConstantPattern : OpRewritePattern<onnx::ConstantOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ConstantOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, cast<TypedAttr>(op.getValue()));
    return success();
  }
};

struct IdentityPattern : OpRewritePattern<onnx::IdentityOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::IdentityOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, op.getX());
    return success();
  }
};

struct TransposePattern : OpRewritePattern<onnx::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto inType = dyn_cast<RankedTensorType>(op.getData().getType());
    if (!type || !inType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t rank = inType.getRank();
    SmallVector<int64_t> perm;
    if (auto p = op.getPerm()) {
      for (Attribute a : *p)
        perm.push_back(cast<IntegerAttr>(a).getInt());
    } else {
      for (int64_t i = rank - 1; i >= 0; --i)
        perm.push_back(i);
    }
    SmallVector<OpFoldResult> sizes;
    for (int64_t p : perm)
      sizes.push_back(
          tensor::getMixedSize(rewriter, op.getLoc(), op.getData(), p));
    Value init = tensor::EmptyOp::create(rewriter, op.getLoc(), sizes,
                                         type.getElementType());
    auto t = linalg::TransposeOp::create(rewriter, op.getLoc(), op.getData(),
                                         init, perm);
    rewriter.replaceOp(op, t.getResult());
    return success();
  }
};

/// Reshape with ONNX's 0 (copy the input size, unless allowzero) and -1
/// (inferred) resolved at run time; constant shapes fold.
struct ReshapePattern : OpRewritePattern<onnx::ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    Value data = op.getData();
    auto inType = dyn_cast<RankedTensorType>(data.getType());
    auto shapeType = dyn_cast<RankedTensorType>(op.getShape().getType());
    if (!type || !inType || !shapeType || shapeType.getRank() != 1)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t rank = type.getRank();
    Value numel = indexConst(rewriter, loc, 1);
    for (int64_t i = 0; i < inType.getRank(); ++i)
      numel = arith::MulIOp::create(rewriter, loc, numel,
                                    dimValue(rewriter, loc, data, i));
    SmallVector<Value> sizes;
    Value zero = indexConst(rewriter, loc, 0);
    Value minusOne = indexConst(rewriter, loc, -1);
    for (int64_t i = 0; i < rank; ++i) {
      Value v =
          tensor::ExtractOp::create(rewriter, loc, op.getShape(),
                                    ValueRange{indexConst(rewriter, loc, i)});
      v = arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), v);
      if (!op.getAllowzero() && i < inType.getRank()) {
        Value isZero = arith::CmpIOp::create(rewriter, loc,
                                             arith::CmpIPredicate::eq, v, zero);
        v = arith::SelectOp::create(rewriter, loc, isZero,
                                    dimValue(rewriter, loc, data, i), v);
      }
      sizes.push_back(v);
    }
    // -1: whatever the other sizes leave of the element count.
    Value known = indexConst(rewriter, loc, 1);
    for (Value s : sizes) {
      Value isInferred = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::eq, s, minusOne);
      known = arith::MulIOp::create(
          rewriter, loc, known,
          arith::SelectOp::create(rewriter, loc, isInferred,
                                  indexConst(rewriter, loc, 1), s));
    }
    Value inferred = arith::DivUIOp::create(rewriter, loc, numel, known);
    for (Value &s : sizes) {
      Value isInferred = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::eq, s, minusOne);
      s = arith::SelectOp::create(rewriter, loc, isInferred, inferred, s);
    }
    Value shape = tensor::FromElementsOp::create(rewriter, loc, sizes);
    rewriter.replaceOpWithNewOp<tensor::ReshapeOp>(op, type, data, shape);
    return success();
  }
};

struct SqueezePattern : OpRewritePattern<onnx::SqueezeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::SqueezeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto inType = dyn_cast<RankedTensorType>(op.getData().getType());
    if (!type || !inType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t rank = inType.getRank();
    SmallVector<bool> unit(rank, false);
    if (isa<NoneType>(op.getAxes().getType())) {
      for (int64_t i = 0; i < rank; ++i)
        unit[i] = inType.getDimSize(i) == 1;
    } else {
      auto axes = constantInts(op.getAxes());
      if (!axes)
        return rewriter.notifyMatchFailure(op, "axes must be constant");
      for (int64_t a : *axes) {
        if (a < -rank || a >= rank)
          return op.emitError() << "squeeze axis " << a << " is out of range";
        unit[a < 0 ? a + rank : a] = true;
      }
    }
    // Dynamic squeezed sizes are asserted to be 1 by a cast.
    SmallVector<int64_t> shape(inType.getShape());
    for (int64_t i = 0; i < rank; ++i)
      if (unit[i])
        shape[i] = 1;
    Value source = op.getData();
    if (shape != SmallVector<int64_t>(inType.getShape()))
      source = tensor::CastOp::create(rewriter, op.getLoc(),
                                      inType.clone(shape), source);
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, type, source, groupsAround(rank, unit));
    return success();
  }
};

struct UnsqueezePattern : OpRewritePattern<onnx::UnsqueezeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::UnsqueezeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || !isa<RankedTensorType>(op.getData().getType()))
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    auto axes = constantInts(op.getAxes());
    if (!axes)
      return rewriter.notifyMatchFailure(op, "axes must be constant");
    int64_t rank = type.getRank();
    SmallVector<bool> unit(rank, false);
    for (int64_t a : *axes)
      unit[a < 0 ? a + rank : a] = true;
    SmallVector<OpFoldResult> sizes;
    int64_t next = 0;
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(unit[i] ? OpFoldResult(rewriter.getIndexAttr(1))
                              : tensor::getMixedSize(rewriter, op.getLoc(),
                                                     op.getData(), next++));
    rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(
        op, type, op.getData(), groupsAround(rank, unit), sizes);
    return success();
  }
};

struct ConcatPattern : OpRewritePattern<onnx::ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ConcatOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || !llvm::all_of(op.getInputs(), [](Value v) {
          return isa<RankedTensorType>(v.getType());
        }))
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t axis = op.getAxis();
    if (axis < 0)
      axis += type.getRank();
    rewriter.replaceOpWithNewOp<tensor::ConcatOp>(op, type, axis,
                                                  op.getInputs());
    return success();
  }
};

/// Slice with constant starts/ends/axes and positive constant steps; the
/// clamping to each dimension happens at run time (and folds when static).
struct SlicePattern : OpRewritePattern<onnx::SliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::SliceOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value data = op.getData();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto inType = dyn_cast<RankedTensorType>(data.getType());
    if (!type || !inType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    auto starts = constantInts(op.getStarts());
    auto ends = constantInts(op.getEnds());
    if (!starts || !ends || starts->size() != ends->size())
      return rewriter.notifyMatchFailure(op, "needs constant starts and ends");
    int64_t rank = inType.getRank();
    SmallVector<int64_t> axes, steps(starts->size(), 1);
    if (!isa<NoneType>(op.getAxes().getType())) {
      auto a = constantInts(op.getAxes());
      if (!a || a->size() != starts->size())
        return rewriter.notifyMatchFailure(op, "needs constant axes");
      axes = *a;
    } else {
      for (size_t i = 0; i < starts->size(); ++i)
        axes.push_back(i);
    }
    if (!isa<NoneType>(op.getSteps().getType())) {
      auto s = constantInts(op.getSteps());
      if (!s || s->size() != starts->size() ||
          llvm::any_of(*s, [](int64_t v) { return v <= 0; }))
        return rewriter.notifyMatchFailure(op, "needs positive steps");
      steps = *s;
    }
    SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, data, i));
    Value zero = indexConst(rewriter, loc, 0);
    for (size_t n = 0; n < axes.size(); ++n) {
      int64_t axis = axes[n] < 0 ? axes[n] + rank : axes[n];
      if (axis < 0 || axis >= rank)
        return op.emitError() << "slice axis " << axes[n] << " is out of range";
      Value dim = dimValue(rewriter, loc, data, axis);
      // Clamp in i64 first: ONNX uses INT64_MAX/MIN for "to the end".
      auto clampIndex = [&](int64_t v) -> Value {
        Value i = indexConst(
            rewriter, loc,
            std::clamp<int64_t>(v, -(int64_t(1) << 40), int64_t(1) << 40));
        Value neg = arith::CmpIOp::create(rewriter, loc,
                                          arith::CmpIPredicate::slt, i, zero);
        i = arith::SelectOp::create(
            rewriter, loc, neg, arith::AddIOp::create(rewriter, loc, i, dim),
            i);
        i = arith::MaxSIOp::create(rewriter, loc, i, zero);
        return arith::MinSIOp::create(rewriter, loc, i, dim);
      };
      Value start = clampIndex((*starts)[n]), end = clampIndex((*ends)[n]);
      Value step = indexConst(rewriter, loc, steps[n]);
      Value span = arith::MaxSIOp::create(
          rewriter, loc, arith::SubIOp::create(rewriter, loc, end, start),
          zero);
      Value count = arith::CeilDivUIOp::create(rewriter, loc, span, step);
      offsets[axis] = start;
      sizes[axis] = count;
      strides[axis] = rewriter.getIndexAttr(steps[n]);
    }
    Value slice = tensor::ExtractSliceOp::create(rewriter, loc, data, offsets,
                                                 sizes, strides);
    if (slice.getType() != type)
      slice = tensor::CastOp::create(rewriter, loc, type, slice);
    rewriter.replaceOp(op, slice);
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateTensorPatterns(
    RewritePatternSet &patterns) {
  patterns
      .add<ConstantPattern, IdentityPattern, TransposePattern, ReshapePattern,
           SqueezePattern, UnsqueezePattern, ConcatPattern, SlicePattern>(
          patterns.getContext());
}
