//===- Tensor.cpp - onnx data-movement ops -> tensor / linalg -------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

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
    SmallVector<bool> seen(rank, false);
    bool permutes = static_cast<int64_t>(perm.size()) == rank;
    for (int64_t p : perm) {
      permutes &= p >= 0 && p < rank && !seen[p];
      if (permutes)
        seen[p] = true;
    }
    if (!permutes)
      return op.emitError("Transpose perm is not a permutation of its "
                          "input's dimensions");
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
    // -1: whatever the other sizes leave of the element count. The shape
    // is checked before any memory is touched: sizes >= 0 but for one -1,
    // a product that does not overflow, and exactly the input's count.
    auto cmp = [&](arith::CmpIPredicate p, Value a, Value b) -> Value {
      return arith::CmpIOp::create(rewriter, loc, p, a, b);
    };
    auto check = [&](Value ok, StringRef what) {
      cf::AssertOp::create(rewriter, loc, ok, ("Reshape: " + what).str());
    };
    Value one = indexConst(rewriter, loc, 1);
    Value maxIndex =
        indexConst(rewriter, loc, std::numeric_limits<int64_t>::max());
    Value known = one, inferredCount = zero;
    Value valid = arith::ConstantIntOp::create(rewriter, loc, 1, 1);
    Value overflow = arith::ConstantIntOp::create(rewriter, loc, 0, 1);
    for (Value s : sizes) {
      Value isInferred = cmp(arith::CmpIPredicate::eq, s, minusOne);
      valid = arith::AndIOp::create(
          rewriter, loc, valid,
          arith::OrIOp::create(rewriter, loc, isInferred,
                               cmp(arith::CmpIPredicate::sge, s, zero)));
      inferredCount = arith::AddIOp::create(
          rewriter, loc, inferredCount,
          arith::SelectOp::create(rewriter, loc, isInferred, one, zero));
      Value factor = arith::SelectOp::create(
          rewriter, loc,
          arith::OrIOp::create(rewriter, loc, isInferred,
                               cmp(arith::CmpIPredicate::slt, s, zero)),
          one, s);
      Value safeFactor = arith::SelectOp::create(
          rewriter, loc, cmp(arith::CmpIPredicate::eq, factor, zero), one,
          factor);
      overflow = arith::OrIOp::create(
          rewriter, loc, overflow,
          cmp(arith::CmpIPredicate::ugt, known,
              arith::DivUIOp::create(rewriter, loc, maxIndex, safeFactor)));
      known = arith::MulIOp::create(rewriter, loc, known, factor);
    }
    check(arith::AndIOp::create(
              rewriter, loc, valid,
              cmp(arith::CmpIPredicate::ule, inferredCount, one)),
          "the shape has a negative size or more than one -1");
    check(arith::XOrIOp::create(
              rewriter, loc, overflow,
              arith::ConstantIntOp::create(rewriter, loc, 1, 1)),
          "the shape's element count overflows");
    Value hasInferred = cmp(arith::CmpIPredicate::eq, inferredCount, one);
    Value safeKnown = arith::SelectOp::create(
        rewriter, loc, cmp(arith::CmpIPredicate::eq, known, zero), one, known);
    Value divides = arith::AndIOp::create(
        rewriter, loc, cmp(arith::CmpIPredicate::ne, known, zero),
        cmp(arith::CmpIPredicate::eq,
            arith::RemUIOp::create(rewriter, loc, numel, safeKnown), zero));
    check(arith::SelectOp::create(rewriter, loc, hasInferred, divides,
                                  cmp(arith::CmpIPredicate::eq, known, numel)),
          "the shape does not hold the input's element count");
    Value inferred = arith::DivUIOp::create(rewriter, loc, numel, safeKnown);
    for (Value &s : sizes) {
      Value isInferred = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::eq, s, minusOne);
      s = arith::SelectOp::create(rewriter, loc, isInferred, inferred, s);
    }
    Value shape = vectorOf(rewriter, loc, sizes);
    rewriter.replaceOpWithNewOp<tensor::ReshapeOp>(op, type, data, shape);
    return success();
  }
};

/// Squeeze or Unsqueeze along axes read at run time (`type` is the
/// result's, its rank known from the number of axes): which dimensions are
/// unit ones is computed and checked at run time, then one reshape.
Value reshapeAtRuntimeAxes(PatternRewriter &rewriter, Location loc, Value data,
                           Value axesTensor, RankedTensorType type,
                           bool squeeze) {
  StringRef opName = squeeze ? "Squeeze" : "Unsqueeze";
  int64_t inRank = cast<RankedTensorType>(data.getType()).getRank();
  int64_t outRank = type.getRank();
  // The axes name dimensions of the input (Squeeze) or of the result.
  int64_t rank = squeeze ? inRank : outRank;
  int64_t n = squeeze ? inRank - outRank : outRank - inRank;
  auto idx = [&](int64_t v) { return indexConst(rewriter, loc, v); };
  auto eq = [&](Value a, Value b) -> Value {
    return arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq, a, b);
  };
  auto check = [&](Value ok, const Twine &what) {
    cf::AssertOp::create(rewriter, loc, ok, (opName + ": " + what).str());
  };
  SmallVector<Value> named(rank, arith::ConstantIntOp::create(
                                     rewriter, loc, rewriter.getI1Type(), 0));
  for (int64_t i = 0; i < n; ++i) {
    Value a = arith::IndexCastOp::create(
        rewriter, loc, rewriter.getIndexType(),
        tensor::ExtractOp::create(rewriter, loc, axesTensor,
                                  ValueRange{idx(i)}));
    Value neg =
        arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt, a,
                              idx(0));
    a = arith::SelectOp::create(
        rewriter, loc, neg, arith::AddIOp::create(rewriter, loc, a, idx(rank)),
        a);
    check(arith::AndIOp::create(
              rewriter, loc,
              arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::sge, a,
                                    idx(0)),
              arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt, a,
                                    idx(rank))),
          "an axis is out of range for rank " + Twine(rank));
    for (int64_t d = 0; d < rank; ++d)
      named[d] = arith::OrIOp::create(rewriter, loc, named[d], eq(a, idx(d)));
  }
  // Distinct axes: exactly n dimensions are named.
  Value count = idx(0);
  for (int64_t d = 0; d < rank; ++d)
    count = arith::AddIOp::create(
        rewriter, loc, count,
        arith::SelectOp::create(rewriter, loc, named[d], idx(1), idx(0)));
  check(eq(count, idx(n)), "the axes repeat an axis");

  SmallVector<Value> sizes;
  if (squeeze) {
    // Result dimension j is the j-th input dimension not named.
    SmallVector<Value> pos;
    Value p = idx(0);
    for (int64_t d = 0; d < inRank; ++d) {
      Value dim = dimValue(rewriter, loc, data, d);
      check(arith::OrIOp::create(
                rewriter, loc,
                arith::XOrIOp::create(
                    rewriter, loc, named[d],
                    arith::ConstantIntOp::create(rewriter, loc,
                                                 rewriter.getI1Type(), 1)),
                eq(dim, idx(1))),
            "a squeezed dimension is not 1");
      pos.push_back(p);
      p = arith::AddIOp::create(
          rewriter, loc, p,
          arith::SelectOp::create(rewriter, loc, named[d], idx(0), idx(1)));
    }
    for (int64_t j = 0; j < outRank; ++j) {
      Value size = idx(0);
      for (int64_t d = 0; d < inRank; ++d) {
        Value here = arith::AndIOp::create(
            rewriter, loc,
            arith::XOrIOp::create(
                rewriter, loc, named[d],
                arith::ConstantIntOp::create(rewriter, loc,
                                             rewriter.getI1Type(), 1)),
            eq(pos[d], idx(j)));
        size = arith::SelectOp::create(rewriter, loc, here,
                                       dimValue(rewriter, loc, data, d), size);
      }
      sizes.push_back(size);
    }
  } else {
    // A named dimension is 1; the others take the input's in order.
    SmallVector<Value> inDims;
    for (int64_t d = 0; d < inRank; ++d)
      inDims.push_back(dimValue(rewriter, loc, data, d));
    Value k = idx(0);
    for (int64_t j = 0; j < outRank; ++j) {
      Value size = idx(1);
      for (int64_t d = 0; d < inRank; ++d)
        size = arith::SelectOp::create(rewriter, loc, eq(k, idx(d)), inDims[d],
                                       size);
      sizes.push_back(
          arith::SelectOp::create(rewriter, loc, named[j], idx(1), size));
      k = arith::AddIOp::create(
          rewriter, loc, k,
          arith::SelectOp::create(rewriter, loc, named[j], idx(0), idx(1)));
    }
  }
  Value shape = vectorOf(rewriter, loc, sizes);
  return tensor::ReshapeOp::create(rewriter, loc, type, data, shape);
}

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
      if (!axes) {
        rewriter.replaceOp(op, reshapeAtRuntimeAxes(rewriter, op.getLoc(),
                                                    op.getData(), op.getAxes(),
                                                    type, /*squeeze=*/true));
        return success();
      }
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
    if (!axes) {
      rewriter.replaceOp(op, reshapeAtRuntimeAxes(rewriter, op.getLoc(),
                                                  op.getData(), op.getAxes(),
                                                  type, /*squeeze=*/false));
      return success();
    }
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
    // Inputs empty along the axis add nothing, and their slice would sit at
    // the end of the result, an offset its verifier rejects.
    SmallVector<Value> inputs;
    for (Value v : op.getInputs())
      if (cast<RankedTensorType>(v.getType()).getDimSize(axis) != 0)
        inputs.push_back(v);
    if (inputs.empty())
      inputs.push_back(op.getInputs().front());
    // The other dimensions must agree; sizes known only at run time are
    // checked before the copy.
    Location loc = op.getLoc();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (d == axis || llvm::none_of(inputs, [&](Value v) {
            return cast<RankedTensorType>(v.getType()).isDynamicDim(d);
          }))
        continue;
      Value first = tensor::DimOp::create(rewriter, loc, inputs.front(), d);
      for (Value v : ArrayRef<Value>(inputs).drop_front()) {
        Value same = arith::CmpIOp::create(
            rewriter, loc, arith::CmpIPredicate::eq, first,
            tensor::DimOp::create(rewriter, loc, v, d));
        cf::AssertOp::create(rewriter, loc, same,
                             "Concat: inputs differ in a dimension other "
                             "than the axis");
      }
    }
    if (inputs.size() == 1 && inputs.front().getType() == type) {
      rewriter.replaceOp(op, inputs.front());
      return success();
    }
    rewriter.replaceOpWithNewOp<tensor::ConcatOp>(op, type, axis, inputs);
    return success();
  }
};

/// Slice with constant starts/ends/axes and positive constant steps; the
/// clamping to each dimension happens at run time (and folds when static).
/// One axis of a slice after ONNX's clamping: the first index, the step and
/// the element count.
struct SliceAxis {
  Value start, step, count;
};

/// ONNX's clamping of `start`/`end` (i64 scalars, any value) against `dim`
/// for `step`, all at run time: for a positive step both clamp to
/// [0, dim]; for a negative one start to [0, dim - 1] and end to
/// [-1, dim - 1].
SliceAxis clampSliceAxis(OpBuilder &b, Location loc, Value start, Value end,
                         Value step, Value dim) {
  auto idx = [&](int64_t v) { return indexConst(b, loc, v); };
  auto cast = [&](Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v).getResult();
  };
  start = cast(start);
  end = cast(end);
  step = cast(step);
  Value zero = idx(0), one = idx(1);
  auto wrap = [&](Value v) -> Value {
    Value neg =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v, zero);
    return arith::SelectOp::create(b, loc, neg,
                                   arith::AddIOp::create(b, loc, v, dim), v);
  };
  auto clamp = [&](Value v, Value lo, Value hi) -> Value {
    return arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, v, lo),
                                  hi);
  };
  Value forward =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, step, zero);
  Value dimMinus1 = arith::SubIOp::create(b, loc, dim, one);
  Value minusOne = idx(-1);
  Value s = wrap(start), e = wrap(end);
  Value sFwd = clamp(s, zero, dim), eFwd = clamp(e, zero, dim);
  Value sBwd = clamp(s, zero, dimMinus1), eBwd = clamp(e, minusOne, dimMinus1);
  Value first = arith::SelectOp::create(b, loc, forward, sFwd, sBwd);
  Value last = arith::SelectOp::create(b, loc, forward, eFwd, eBwd);
  // count = ceil(|last - first| / |step|) when moving in step's direction.
  Value span = arith::SelectOp::create(
      b, loc, forward, arith::SubIOp::create(b, loc, last, first),
      arith::SubIOp::create(b, loc, first, last));
  Value mag = arith::SelectOp::create(
      b, loc, forward, step, arith::SubIOp::create(b, loc, zero, step));
  span = arith::MaxSIOp::create(b, loc, span, zero);
  Value count = arith::CeilDivSIOp::create(b, loc, span, mag);
  return {first, step, count};
}

/// The i64 value of element `n` of a 1-D integer tensor.
Value elementI64(OpBuilder &b, Location loc, Value t, Value n) {
  Value v = tensor::ExtractOp::create(b, loc, t, ValueRange{n});
  if (v.getType() != b.getI64Type())
    v = arith::ExtSIOp::create(b, loc, b.getI64Type(), v);
  return v;
}

struct SlicePattern : OpRewritePattern<onnx::SliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::SliceOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto inType = dyn_cast<RankedTensorType>(op.getData().getType());
    if (!type || !inType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    for (Value v : {op.getStarts(), op.getEnds(), op.getAxes(), op.getSteps()})
      if (!isa<NoneType>(v.getType())) {
        auto t = dyn_cast<RankedTensorType>(v.getType());
        if (!t || t.getRank() != 1 || !t.getElementType().isSignlessInteger())
          return op.emitError("Slice: starts, ends, axes and steps must be "
                              "1-D integer tensors");
      }
    FailureOr<SmallVector<SliceAxis>> axes = sliceAxes(rewriter, op);
    if (failed(axes))
      return failure();
    Location loc = op.getLoc();
    Value data = op.getData();
    auto steps = isa<NoneType>(op.getSteps().getType())
                     ? std::optional<SmallVector<int64_t>>(SmallVector<int64_t>(
                           cast<RankedTensorType>(op.getStarts().getType())
                               .getDimSize(0),
                           1))
                     : constantInts(op.getSteps());
    SmallVector<OpFoldResult> sizes;
    for (const SliceAxis &a : *axes)
      sizes.push_back(a.count);
    Value result;
    if (steps && llvm::all_of(*steps, [](int64_t s) { return s > 0; })) {
      // Positive constant steps: a strided view.
      SmallVector<OpFoldResult> offsets, strides;
      for (const SliceAxis &a : *axes) {
        offsets.push_back(a.start);
        strides.push_back(getAsOpFoldResult(a.step));
      }
      SmallVector<OpFoldResult> staticStrides;
      for (OpFoldResult st : strides) {
        std::optional<int64_t> c = getConstantIntValue(st);
        staticStrides.push_back(c ? OpFoldResult(rewriter.getIndexAttr(*c))
                                  : st);
      }
      result = tensor::ExtractSliceOp::create(rewriter, loc, data, offsets,
                                              sizes, staticStrides);
    } else {
      // Negative or run-time steps: out[i] = in[start + i * step] per axis.
      Value init = tensor::EmptyOp::create(rewriter, loc, sizes,
                                           inType.getElementType());
      MLIRContext *ctx = rewriter.getContext();
      int64_t rank = inType.getRank();
      result =
          linalg::GenericOp::create(
              rewriter, loc, TypeRange{init.getType()}, ValueRange{},
              ValueRange{init},
              ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(rank, ctx)},
              SmallVector<utils::IteratorType>(rank,
                                               utils::IteratorType::parallel),
              [&](OpBuilder &b, Location l, ValueRange) {
                SmallVector<Value> at;
                for (int64_t d = 0; d < rank; ++d)
                  at.push_back(arith::AddIOp::create(
                      b, l, (*axes)[d].start,
                      arith::MulIOp::create(b, l,
                                            linalg::IndexOp::create(b, l, d),
                                            (*axes)[d].step)));
                Value v = tensor::ExtractOp::create(b, l, data, at);
                linalg::YieldOp::create(b, l, v);
              })
              .getResult(0);
    }
    if (result.getType() != type)
      result = tensor::CastOp::create(rewriter, loc, type, result);
    rewriter.replaceOp(op, result);
    return success();
  }

  /// Every axis of the data (unsliced ones: all of it), from starts, ends,
  /// axes and steps read at run time (constants fold away).
  static FailureOr<SmallVector<SliceAxis>> sliceAxes(PatternRewriter &rewriter,
                                                     onnx::SliceOp op) {
    Location loc = op.getLoc();
    Value data = op.getData();
    int64_t rank = cast<RankedTensorType>(data.getType()).getRank();
    int64_t n = cast<RankedTensorType>(op.getStarts().getType()).getDimSize(0);
    if (auto c = constantInts(op.getAxes()))
      for (int64_t a : *c)
        if (a < -rank || a >= rank)
          return op.emitError() << "slice axis " << a << " is out of range";
    Value one = indexConst(rewriter, loc, 1);
    SmallVector<SliceAxis> axes;
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back({indexConst(rewriter, loc, 0), one,
                      dimValue(rewriter, loc, data, d)});
    bool hasAxes = !isa<NoneType>(op.getAxes().getType());
    bool hasSteps = !isa<NoneType>(op.getSteps().getType());
    auto axesConst = constantInts(op.getAxes());
    if (ShapedType::isDynamic(n))
      return op.emitError("Slice with a count of axes known only at run time "
                          "is not supported");
    auto i64 = [&](int64_t v) -> Value {
      return arith::ConstantOp::create(rewriter, loc,
                                       rewriter.getI64IntegerAttr(v));
    };
    for (int64_t i = 0; i < n; ++i) {
      Value at = indexConst(rewriter, loc, i);
      Value step = hasSteps ? elementI64(rewriter, loc, op.getSteps(), at)
                            : i64(1);
      Value nonzero = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::ne, step, i64(0));
      cf::AssertOp::create(rewriter, loc, nonzero, "Slice: a step is 0");
      Value start = elementI64(rewriter, loc, op.getStarts(), at);
      Value end = elementI64(rewriter, loc, op.getEnds(), at);
      if (!hasAxes || axesConst) {
        int64_t axis = hasAxes ? (*axesConst)[i] : i;
        if (axis < 0)
          axis += rank;
        if (axis < 0 || axis >= rank)
          return op.emitError() << "slice axis " << axis << " is out of range";
        axes[axis] = clampSliceAxis(rewriter, loc, start, end, step,
                                    dimValue(rewriter, loc, data, axis));
        continue;
      }
      // An axis read at run time: checked, then applied to the dimension
      // it names.
      Value axis = elementI64(rewriter, loc, op.getAxes(), at);
      Value neg = arith::CmpIOp::create(rewriter, loc,
                                        arith::CmpIPredicate::slt, axis, i64(0));
      axis = arith::SelectOp::create(
          rewriter, loc, neg, arith::AddIOp::create(rewriter, loc, axis, i64(rank)),
          axis);
      Value inRange = arith::AndIOp::create(
          rewriter, loc,
          arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::sge, axis,
                                i64(0)),
          arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt, axis,
                                i64(rank)));
      cf::AssertOp::create(rewriter, loc, inRange,
                           "Slice: an axis is out of range");
      for (int64_t d = 0; d < rank; ++d) {
        SliceAxis cand = clampSliceAxis(rewriter, loc, start, end, step,
                                        dimValue(rewriter, loc, data, d));
        Value hit = arith::CmpIOp::create(
            rewriter, loc, arith::CmpIPredicate::eq, axis, i64(d));
        auto pick = [&](Value a, Value b) -> Value {
          return arith::SelectOp::create(rewriter, loc, hit, a, b);
        };
        axes[d] = {pick(cand.start, axes[d].start),
                   pick(cand.step, axes[d].step),
                   pick(cand.count, axes[d].count)};
      }
    }
    return axes;
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
