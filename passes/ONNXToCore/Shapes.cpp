//===- Shapes.cpp - onnx shape-producing and shape-following ops ----------===//
//
// Shape, ConstantOfShape, Range, Expand, Flatten and Split: ops whose result
// sizes come from operand values or shapes. Sizes known at compile time are
// static; the rest are read at run time.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Element `i` of a 1-D integer tensor, as an index.
Value extractIndex(OpBuilder &b, Location loc, Value t, int64_t i) {
  Value v = tensor::ExtractOp::create(b, loc, t, ValueRange{index(b, loc, i)});
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

struct ShapePattern : OpRewritePattern<onnx::ShapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ShapeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto dataType = dyn_cast<RankedTensorType>(op.getData().getType());
    if (!type || !dataType || !type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "needs a ranked input");
    int64_t rank = dataType.getRank();
    int64_t start = op.getStart(), end = op.getEnd().value_or(rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    Location loc = op.getLoc();
    SmallVector<Value> dims;
    for (int64_t i = start; i < end; ++i)
      dims.push_back(arith::IndexCastOp::create(
          rewriter, loc, rewriter.getI64Type(),
          getValueOrCreateConstantIndexOp(
              rewriter, loc,
              tensor::getMixedSize(rewriter, loc, op.getData(), i))));
    if (dims.empty()) {
      rewriter.replaceOpWithNewOp<arith::ConstantOp>(
          op, DenseElementsAttr::get(type, ArrayRef<int64_t>{}));
      return success();
    }
    rewriter.replaceOpWithNewOp<tensor::FromElementsOp>(op, type, dims);
    return success();
  }
};

/// Sizes for a result of `type` whose dynamic dims are given by the integer
/// tensor `shape` (one element per dim).
SmallVector<OpFoldResult> sizesFromShapeTensor(OpBuilder &b, Location loc,
                                               RankedTensorType type,
                                               Value shape) {
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    sizes.push_back(type.isDynamicDim(i)
                        ? OpFoldResult(extractIndex(b, loc, shape, i))
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
  return sizes;
}

struct ConstantOfShapePattern : OpRewritePattern<onnx::ConstantOfShapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ConstantOfShapeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type)
      return rewriter.notifyMatchFailure(op, "needs a ranked result");
    Location loc = op.getLoc();
    TypedAttr fill = rewriter.getZeroAttr(type.getElementType());
    if (auto value = op.getValue()) {
      auto dense = dyn_cast<DenseElementsAttr>(*value);
      if (!dense || dense.getNumElements() != 1)
        return rewriter.notifyMatchFailure(op, "needs a one-element value");
      fill = cast<TypedAttr>(*dense.value_begin<Attribute>());
    }
    Value empty = tensor::EmptyOp::create(
        rewriter, loc, sizesFromShapeTensor(rewriter, loc, type, op.getInput()),
        type.getElementType());
    Value scalar = arith::ConstantOp::create(rewriter, loc, fill);
    rewriter.replaceOp(
        op, linalg::FillOp::create(rewriter, loc, scalar, empty).getResult(0));
    return success();
  }
};

/// Range: result[i] = start + i * delta, with the length from the result
/// type (static when the operands are constants) or computed at run time.
struct RangePattern : OpRewritePattern<onnx::RangeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::RangeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || type.getRank() != 1)
      return rewriter.notifyMatchFailure(op, "needs a 1-D result");
    Type elt = type.getElementType();
    bool isFloat = isa<FloatType>(elt);
    if (!isFloat && !elt.isSignlessInteger())
      return rewriter.notifyMatchFailure(op, "needs float or signless ints");
    Location loc = op.getLoc();
    auto scalar = [&](Value t) {
      return tensor::ExtractOp::create(rewriter, loc, t, ValueRange{})
          .getResult();
    };
    Value start = scalar(op.getStart()), limit = scalar(op.getLimit()),
          delta = scalar(op.getDelta());
    OpFoldResult length;
    if (!type.isDynamicDim(0)) {
      length = rewriter.getIndexAttr(type.getDimSize(0));
    } else {
      // max(ceil((limit - start) / delta), 0), in f64 for floats.
      Value count;
      if (isFloat) {
        Type f64 = rewriter.getF64Type();
        auto ext = [&](Value v) -> Value {
          return v.getType() == f64
                     ? v
                     : Value(arith::ExtFOp::create(rewriter, loc, f64, v));
        };
        Value q = arith::DivFOp::create(
            rewriter, loc,
            arith::SubFOp::create(rewriter, loc, ext(limit), ext(start)),
            ext(delta));
        count = arith::FPToSIOp::create(rewriter, loc, rewriter.getI64Type(),
                                        math::CeilOp::create(rewriter, loc, q));
      } else {
        Value diff = arith::SubIOp::create(rewriter, loc, limit, start);
        count = arith::CeilDivSIOp::create(rewriter, loc, diff, delta);
        if (count.getType() != rewriter.getI64Type())
          count = arith::ExtSIOp::create(rewriter, loc, rewriter.getI64Type(),
                                         count);
      }
      Value zero = arith::ConstantOp::create(rewriter, loc,
                                             rewriter.getI64IntegerAttr(0));
      count = arith::MaxSIOp::create(rewriter, loc, count, zero);
      length = arith::IndexCastOp::create(rewriter, loc,
                                          rewriter.getIndexType(), count)
                   .getResult();
    }
    Value empty = tensor::EmptyOp::create(rewriter, loc,
                                          ArrayRef<OpFoldResult>{length}, elt);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{empty.getType()}, ValueRange{},
        ValueRange{empty},
        ArrayRef<AffineMap>{
            AffineMap::getMultiDimIdentityMap(1, rewriter.getContext())},
        ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
        [&](OpBuilder &b, Location l, ValueRange) {
          Value i = linalg::IndexOp::create(b, l, 0);
          Value v;
          if (isFloat) {
            Value fi = arith::UIToFPOp::create(
                b, l, elt,
                arith::IndexCastUIOp::create(b, l, b.getI64Type(), i));
            v = arith::AddFOp::create(b, l, start,
                                      arith::MulFOp::create(b, l, fi, delta));
          } else {
            Value ii = arith::IndexCastOp::create(b, l, elt, i);
            v = arith::AddIOp::create(b, l, start,
                                      arith::MulIOp::create(b, l, ii, delta));
          }
          linalg::YieldOp::create(b, l, v);
        });
    Value result = generic.getResult(0);
    replaceWithCast(rewriter, op, result, type);
    return success();
  }
};

/// Expand: numpy broadcasting of the input to the target shape; dynamic
/// result sizes are max(target, input) at run time.
struct ExpandPattern : OpRewritePattern<onnx::ExpandOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ExpandOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto inType = dyn_cast<RankedTensorType>(op.getInput().getType());
    if (!type || !inType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    // The result's rank is max(input rank, shape length): a shape of
    // unknown length (or a mistyped one) gives no alignment of dimensions.
    auto shapeType = dyn_cast<RankedTensorType>(op.getShape().getType());
    if (!shapeType || shapeType.getRank() != 1 ||
        !shapeType.getElementType().isInteger(64) ||
        shapeType.isDynamicDim(0))
      return rewriter.notifyMatchFailure(
          op, "the shape must be a 1-D int64 tensor of known length");
    Location loc = op.getLoc();
    int64_t rank = type.getRank(), inRank = inType.getRank();
    int64_t shapeLen = shapeType.getDimSize(0);
    if (rank != std::max(inRank, shapeLen))
      return rewriter.notifyMatchFailure(
          op, "the result's rank is not max(input rank, shape length)");
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < rank; ++i) {
      if (!type.isDynamicDim(i)) {
        sizes.push_back(rewriter.getIndexAttr(type.getDimSize(i)));
        continue;
      }
      int64_t s = i - (rank - shapeLen), j = i - (rank - inRank);
      Value target = s >= 0 ? extractIndex(rewriter, loc, op.getShape(), s)
                            : index(rewriter, loc, 1);
      Value in =
          j >= 0 ? getValueOrCreateConstantIndexOp(
                       rewriter, loc,
                       tensor::getMixedSize(rewriter, loc, op.getInput(), j))
                 : index(rewriter, loc, 1);
      // Numpy broadcasting: an input size of 1 takes the target's, which
      // must otherwise be 1 or the input's size (and never negative).
      auto cmp = [&](arith::CmpIPredicate p, Value a, Value b) {
        return arith::CmpIOp::create(rewriter, loc, p, a, b).getResult();
      };
      Value one = index(rewriter, loc, 1);
      Value inIsOne = cmp(arith::CmpIPredicate::eq, in, one);
      Value fits = arith::OrIOp::create(
          rewriter, loc,
          arith::OrIOp::create(rewriter, loc, inIsOne,
                               cmp(arith::CmpIPredicate::eq, target, in)),
          cmp(arith::CmpIPredicate::eq, target, one));
      cf::AssertOp::create(
          rewriter, loc,
          cmp(arith::CmpIPredicate::sge, target, index(rewriter, loc, 0)),
          "Expand: the shape has a negative size");
      cf::AssertOp::create(
          rewriter, loc, fits,
          ("Expand: the shape's size for dimension " + Twine(i) +
           " is not 1 and differs from the input's")
              .str());
      sizes.push_back(
          arith::SelectOp::create(rewriter, loc, inIsOne, target, in)
              .getResult());
    }
    // A dynamic input size equal to the target broadcasts nothing; anything
    // else would make linalg's loops overrun the result.
    assertBroadcastable(rewriter, loc, op.getInput(), sizes);
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineExpr> exprs;
    for (int64_t j = 0; j < inRank; ++j) {
      int64_t i = j + rank - inRank;
      exprs.push_back(inType.getDimSize(j) == 1 && type.getDimSize(i) != 1
                          ? getAffineConstantExpr(0, ctx)
                          : getAffineDimExpr(i, ctx));
    }
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{op.getInput()},
        ValueRange{init},
        ArrayRef<AffineMap>{AffineMap::get(rank, 0, exprs, ctx),
                            AffineMap::getMultiDimIdentityMap(rank, ctx)},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, args[0]);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct FlattenPattern : OpRewritePattern<onnx::FlattenOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::FlattenOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto inType = dyn_cast<RankedTensorType>(op.getInput().getType());
    if (!type || !inType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    Location loc = op.getLoc();
    int64_t rank = inType.getRank(), axis = op.getAxis();
    if (axis < 0)
      axis += rank;
    // [prod(d[0:axis]), prod(d[axis:])], through a shape tensor so that
    // axis 0 and axis == rank (a leading or trailing 1) need no special case.
    Value lead = index(rewriter, loc, 1), trail = index(rewriter, loc, 1);
    for (int64_t i = 0; i < rank; ++i) {
      Value d = getValueOrCreateConstantIndexOp(
          rewriter, loc, tensor::getMixedSize(rewriter, loc, op.getInput(), i));
      Value &acc = i < axis ? lead : trail;
      acc = arith::MulIOp::create(rewriter, loc, acc, d);
    }
    Value shape =
        tensor::FromElementsOp::create(rewriter, loc, ValueRange{lead, trail});
    rewriter.replaceOpWithNewOp<tensor::ReshapeOp>(op, type, op.getInput(),
                                                   shape);
    return success();
  }
};

/// Split along an axis into slices of the constant `split` sizes, or equal
/// parts (the last may be smaller, as ONNX allows with num_outputs).
struct SplitPattern : OpRewritePattern<onnx::SplitOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::SplitOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    auto inType = dyn_cast<RankedTensorType>(input.getType());
    if (!inType || !llvm::all_of(op->getResultTypes(), [](Type t) {
          return isa<RankedTensorType>(t);
        }))
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t rank = inType.getRank(), axis = op.getAxis();
    if (axis < 0)
      axis += rank;
    if (axis < 0 || axis >= rank)
      return op.emitError() << "split axis " << op.getAxis()
                            << " is out of range for rank " << rank;
    unsigned n = op->getNumResults();
    bool given = !isa<NoneType>(op.getSplit().getType());
    std::optional<SmallVector<int64_t>> split;
    if (given) {
      auto t = dyn_cast<RankedTensorType>(op.getSplit().getType());
      if (!t || t.getRank() != 1 || t.getDimSize(0) != n)
        return op.emitError() << "Split: `split` must hold one size per "
                                 "output ("
                              << n << ")";
      split = constantInts(op.getSplit());
    }
    Value dim = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, input, axis));
    // Equal parts: ceil(dim / n) each, the last one what remains.
    Value part =
        arith::CeilDivUIOp::create(rewriter, loc, dim, index(rewriter, loc, n));
    Value offset = index(rewriter, loc, 0);
    SmallVector<Value> sizesOfParts;
    for (unsigned i = 0; i < n; ++i) {
      if (split)
        sizesOfParts.push_back(index(rewriter, loc, (*split)[i]));
      else if (given)
        sizesOfParts.push_back(extractIndex(rewriter, loc, op.getSplit(), i));
      else
        sizesOfParts.push_back(i + 1 == n ? Value() : part);
    }
    if (given) {
      // The sizes must cover the axis exactly (exporters bake the tracing
      // input's sizes in; another input is an error, as in onnxruntime).
      Value total = index(rewriter, loc, 0);
      for (Value size : sizesOfParts)
        total = arith::AddIOp::create(rewriter, loc, total, size);
      Value ok = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq,
                                       total, dim);
      cf::AssertOp::create(
          rewriter, loc, ok,
          "Split: the split sizes do not add up to the size of the axis");
    }
    SmallVector<Value> results;
    for (unsigned i = 0; i < n; ++i) {
      Value size =
          sizesOfParts[i]
              ? sizesOfParts[i]
              : Value(arith::SubIOp::create(rewriter, loc, dim, offset));
      SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0));
      SmallVector<OpFoldResult> sizes, strides(rank, rewriter.getIndexAttr(1));
      for (int64_t d = 0; d < rank; ++d)
        sizes.push_back(tensor::getMixedSize(rewriter, loc, input, d));
      offsets[axis] = offset;
      sizes[axis] = size;
      Value slice = tensor::ExtractSliceOp::create(rewriter, loc, input,
                                                   offsets, sizes, strides);
      Type want = op->getResult(i).getType();
      if (slice.getType() != want)
        slice = tensor::CastOp::create(rewriter, loc, want, slice);
      results.push_back(slice);
      offset = arith::AddIOp::create(rewriter, loc, offset, size);
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// out[i...] = in[i... mod in's sizes]: one generic over the result that
/// reads the input at the wrapped index.
struct TilePattern : OpRewritePattern<onnx::TileOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::TileOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto inType = dyn_cast<RankedTensorType>(input.getType());
    if (!type || !inType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    SmallVector<OpFoldResult> sizes;
    SmallVector<Value> inSizes;
    for (int64_t d = 0; d < type.getRank(); ++d) {
      Value inSize = getValueOrCreateConstantIndexOp(
          rewriter, loc, tensor::getMixedSize(rewriter, loc, input, d));
      inSizes.push_back(inSize);
      if (!type.isDynamicDim(d)) {
        sizes.push_back(rewriter.getIndexAttr(type.getDimSize(d)));
        continue;
      }
      Value repeat = extractIndex(rewriter, loc, op.getRepeats(), d);
      sizes.push_back(
          arith::MulIOp::create(rewriter, loc, inSize, repeat).getResult());
    }
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    MLIRContext *ctx = rewriter.getContext();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{}, ValueRange{init},
        ArrayRef<AffineMap>{
            AffineMap::getMultiDimIdentityMap(type.getRank(), ctx)},
        SmallVector<utils::IteratorType>(type.getRank(),
                                         utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange) {
          SmallVector<Value> at;
          for (int64_t d = 0; d < type.getRank(); ++d)
            at.push_back(arith::RemUIOp::create(
                b, l, linalg::IndexOp::create(b, l, d), inSizes[d]));
          Value v = tensor::ExtractOp::create(b, l, input, at);
          linalg::YieldOp::create(b, l, v);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// The triangle of the last two axes: element (i, j) is kept where
/// j - i >= k (upper) or j - i <= k (lower), else zero.
struct TriluPattern : OpRewritePattern<onnx::TriluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::TriluOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || type.getRank() < 2)
      return op.emitError("Trilu needs a ranked input of rank 2 or more");
    Value k = index(rewriter, loc, 0);
    if (!isa<NoneType>(op.getK().getType())) {
      Value raw =
          tensor::ExtractOp::create(rewriter, loc, op.getK(), ValueRange{});
      k = arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(),
                                     raw);
    }
    bool upper = op.getUpper() != 0;
    Type elt = type.getElementType();
    int64_t rank = type.getRank();
    auto result = buildElementwise(
        rewriter, loc, type, op.getInput(),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value i = linalg::IndexOp::create(b, l, rank - 2);
          Value j = linalg::IndexOp::create(b, l, rank - 1);
          Value diff = arith::SubIOp::create(b, l, j, i);
          Value keep = arith::CmpIOp::create(b, l,
                                             upper ? arith::CmpIPredicate::sge
                                                   : arith::CmpIPredicate::sle,
                                             diff, k);
          Value zero = arith::ConstantOp::create(b, l, b.getZeroAttr(elt));
          return arith::SelectOp::create(b, l, keep, a[0], zero);
        });
    if (failed(result))
      return rewriter.notifyMatchFailure(op, "cannot size the result");
    rewriter.replaceOp(op, *result);
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateShapePatterns(
    RewritePatternSet &patterns) {
  patterns
      .add<ShapePattern, ConstantOfShapePattern, RangePattern, ExpandPattern,
           FlattenPattern, SplitPattern, TilePattern, TriluPattern>(
          patterns.getContext());
}
