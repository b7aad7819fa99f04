//===- Normalization.cpp - onnx layer and RMS normalizations --------------===//
//
// Statistics are computed in f32 whatever the element type (ONNX's
// stash_type 1), over the trailing axes from `axis`.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
/// A normalization's result and its f32 statistics over the leading dims.
struct Normalized {
  Value y;
  Value mean;    // null for RMS
  Value invStd;  // rsqrt(var + eps)
};

/// RMS normalization (`rms`) or layer normalization of `x` over the
/// trailing axes from `axis` (already in [0, rank)), statistics in f32:
/// y = (x - mean) * rsqrt(var + eps) * scale (+ bias), no mean for RMS.
FailureOr<Normalized> buildNormalization(PatternRewriter &rewriter,
                                         Location loc, Value x, Value scale,
                                         Value bias, int64_t axis, double eps,
                                         bool kRms, RankedTensorType outType) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = rewriter.getContext();

  // Statistics tensor over the leading dims [0, axis).
  SmallVector<OpFoldResult> leadSizes;
  SmallVector<AffineExpr> leadExprs;
  for (int64_t i = 0; i < axis; ++i) {
    leadSizes.push_back(sizeOf(rewriter, loc, x, i));
    leadExprs.push_back(getAffineDimExpr(i, ctx));
  }
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap lead = AffineMap::get(rank, 0, leadExprs, ctx);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  for (int64_t i = axis; i < rank; ++i)
    iters[i] = utils::IteratorType::reduction;
  Value count = arith::ConstantIndexOp::create(rewriter, loc, 1);
  for (int64_t i = axis; i < rank; ++i)
    count =
        arith::MulIOp::create(rewriter, loc, count,
                              getValueOrCreateConstantIndexOp(
                                  rewriter, loc, sizeOf(rewriter, loc, x, i)));
  Value countF =
      arith::UIToFPOp::create(rewriter, loc, rewriter.getF32Type(),
                              arith::IndexCastUIOp::create(
                                  rewriter, loc, rewriter.getI64Type(), count));

  auto rowSum = [&](Value mean) {
    Value acc = zeroAcc(rewriter, loc, leadSizes);
    SmallVector<Value> ins = {x};
    SmallVector<AffineMap> maps = {id};
    if (mean) {
      ins.push_back(mean);
      maps.push_back(lead);
    }
    maps.push_back(lead);
    return linalg::GenericOp::create(
               rewriter, loc, TypeRange{acc.getType()}, ins, ValueRange{acc},
               maps, iters,
               [&](OpBuilder &b, Location l, ValueRange a) {
                 Value v = toF32(b, l, a[0]);
                 if (mean) // centered square for the variance
                   v = arith::SubFOp::create(b, l, v, a[1]);
                 if (mean || kRms)
                   v = arith::MulFOp::create(b, l, v, v);
                 Value sum = arith::AddFOp::create(b, l, v, a.back());
                 linalg::YieldOp::create(b, l, sum);
               })
        .getResult(0);
  };
  Value mean;
  if (!kRms) {
    Value sum = rowSum(Value());
    mean = linalg::GenericOp::create(
               rewriter, loc, TypeRange{sum.getType()}, ValueRange{sum},
               ValueRange{sum},
               SmallVector<AffineMap>(
                   2, AffineMap::getMultiDimIdentityMap(axis, ctx)),
               SmallVector<utils::IteratorType>(axis,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &b, Location l, ValueRange a) {
                 Value m = arith::DivFOp::create(b, l, a[0], countF);
                 linalg::YieldOp::create(b, l, m);
               })
               .getResult(0);
  }
  Value squares = rowSum(mean);
  // rsqrt(squares / n + eps) per leading index.
  Value invStd =
      linalg::GenericOp::create(
          rewriter, loc, TypeRange{squares.getType()}, ValueRange{squares},
          ValueRange{squares},
          SmallVector<AffineMap>(2,
                                 AffineMap::getMultiDimIdentityMap(axis, ctx)),
          SmallVector<utils::IteratorType>(axis, utils::IteratorType::parallel),
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value var = arith::DivFOp::create(b, l, a[0], countF);
            Value shifted = arith::AddFOp::create(
                b, l, var,
                arith::ConstantOp::create(b, l, b.getF32FloatAttr(eps)));
            Value inv = math::RsqrtOp::create(b, l, shifted);
            linalg::YieldOp::create(b, l, inv);
          })
          .getResult(0);

  // y = (x - mean) * invStd * scale (+ bias)
  SmallVector<Value> ins = {x, invStd, scale};
  SmallVector<AffineMap> maps = {id, lead};
  auto trailing = [&](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<AffineExpr> exprs;
    for (int64_t j = 0; j < t.getRank(); ++j) {
      int64_t i = rank - t.getRank() + j;
      exprs.push_back(t.getDimSize(j) == 1 && outType.getDimSize(i) != 1
                          ? getAffineConstantExpr(0, ctx)
                          : getAffineDimExpr(i, ctx));
    }
    return AffineMap::get(rank, 0, exprs, ctx);
  };
  maps.push_back(trailing(scale));
  if (bias) {
    ins.push_back(bias);
    maps.push_back(trailing(bias));
  }
  if (mean) {
    ins.push_back(mean);
    maps.push_back(lead);
  }
  maps.push_back(id);
  auto init = emptyFor(rewriter, loc, outType, x);
  if (failed(init))
    return failure();
  Type elt = outType.getElementType();
  auto norm = linalg::GenericOp::create(
      rewriter, loc, TypeRange{outType}, ins, ValueRange{*init}, maps,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value v = toF32(b, l, a[0]);
        if (mean)
          v = arith::SubFOp::create(b, l, v, a[bias ? 4 : 3]);
        Value y = arith::MulFOp::create(
            b, l, arith::MulFOp::create(b, l, v, a[1]), toF32(b, l, a[2]));
        if (bias)
          y = arith::AddFOp::create(b, l, y, toF32(b, l, a[3]));
        linalg::YieldOp::create(b, l, fromF32(b, l, y, elt));
      });
  return Normalized{norm.getResult(0), mean, invStd};
}

/// Replaces the uses of the statistics output `result` (the leading dims
/// then 1s) with `stat` (f32, over the leading dims).
void replaceStatistic(PatternRewriter &rewriter, Location loc, Value result,
                      Value stat) {
  if (result.use_empty() || !stat)
    return;
  auto type = dyn_cast<RankedTensorType>(result.getType());
  auto statType = cast<RankedTensorType>(stat.getType());
  int64_t lead = statType.getRank();
  SmallVector<int64_t> shape(statType.getShape());
  int64_t rank = type ? type.getRank() : lead;
  shape.append(rank - lead, 1);
  SmallVector<ReassociationIndices> assoc;
  if (lead > 0) {
    for (int64_t i = 0; i < lead; ++i)
      assoc.push_back({i});
    for (int64_t i = lead; i < rank; ++i)
      assoc.back().push_back(i);
  }
  Value v = stat;
  if (rank != lead) {
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < lead; ++i)
      sizes.push_back(sizeOf(rewriter, loc, stat, i));
    sizes.append(rank - lead, rewriter.getIndexAttr(1));
    v = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(shape, rewriter.getF32Type()), v,
        assoc, sizes);
  }
  if (type)
    v = roundTo(rewriter, loc, v, type.getElementType());
  if (v.getType() != result.getType())
    v = tensor::CastOp::create(rewriter, loc, result.getType(), v);
  rewriter.replaceAllUsesWith(result, v);
}

/// SimplifiedLayerNormalization (RMS) and LayerNormalization.
template <typename OpT> struct NormPattern : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  static constexpr bool kRms =
      std::is_same_v<OpT, onnx::SimplifiedLayerNormalizationOp>;

  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getX();
    auto type = rankedFloat(x);
    auto outType = rankedFloat(op.getY());
    if (!type || !outType)
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    Value scale = op->getOperands()[1];
    Value bias = kRms ? Value() : op->getOperands()[2];
    if (bias && isa<NoneType>(bias.getType()))
      bias = Value();
    if (!rankedFloat(scale) || (bias && !rankedFloat(bias)))
      return rewriter.notifyMatchFailure(op, "needs ranked scale and bias");
    int64_t rank = type.getRank(), axis = op.getAxis();
    if (axis < -rank || axis >= rank)
      return op.emitError() << "normalization axis " << axis
                            << " is out of range for rank " << rank;
    if (axis < 0)
      axis += rank;
    auto y =
        buildNormalization(rewriter, op.getLoc(), x, scale, bias, axis,
                           op.getEpsilon().convertToDouble(), kRms, outType);
    if (failed(y))
      return failure();
    rewriter.replaceAllUsesWith(op->getResult(0), y->y);
    if constexpr (kRms) {
      replaceStatistic(rewriter, op.getLoc(), op.getInvStdVar(), y->invStd);
    } else {
      replaceStatistic(rewriter, op.getLoc(), op.getMean(), y->mean);
      replaceStatistic(rewriter, op.getLoc(), op.getInvStdDev(), y->invStd);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// SkipSimplifiedLayerNormalization (com.microsoft): s = input + skip
/// (+ bias), output = RMSNorm(s) * gamma over the last axis; the sum is the
/// optional fourth output.
struct SkipNormPattern
    : OpRewritePattern<onnx::SkipSimplifiedLayerNormalizationOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnx::SkipSimplifiedLayerNormalizationOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = rankedFloat(op.getInput());
    auto outType = rankedFloat(op.getOutput());
    if (!type || !outType || !rankedFloat(op.getSkip()) ||
        !rankedFloat(op.getGamma()))
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    if (!op.getMean().use_empty())
      return rewriter.notifyMatchFailure(
          op, "its mean output is used (onnxruntime leaves it undefined)");
    Value bias = op.getBias();
    if (bias && isa<NoneType>(bias.getType()))
      bias = Value();
    SmallVector<Value> terms = {op.getInput(), op.getSkip()};
    if (bias)
      terms.push_back(bias);
    Type elt = type.getElementType();
    auto sum =
        buildElementwise(rewriter, loc, type, terms,
                         [&](OpBuilder &b, Location l, ValueRange a) {
                           Value s = toF32(b, l, a[0]);
                           for (Value v : a.drop_front())
                             s = arith::AddFOp::create(b, l, s, toF32(b, l, v));
                           return fromF32(b, l, s, elt);
                         });
    if (failed(sum))
      return failure();
    auto y = buildNormalization(rewriter, loc, *sum, op.getGamma(), Value(),
                                type.getRank() - 1,
                                op.getEpsilon().convertToDouble(),
                                /*kRms=*/true, outType);
    if (failed(y))
      return failure();
    rewriter.replaceAllUsesWith(op.getOutput(), y->y);
    replaceStatistic(rewriter, loc, op.getInvStdVar(), y->invStd);
    Value sumResult = op.getInputSkipBiasSum();
    if (!sumResult.use_empty()) {
      Value v = *sum;
      if (v.getType() != sumResult.getType())
        v = tensor::CastOp::create(rewriter, loc, sumResult.getType(), v);
      rewriter.replaceAllUsesWith(sumResult, v);
    }
    rewriter.eraseOp(op);
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateNormalizationPatterns(
    RewritePatternSet &patterns) {
  patterns.add<NormPattern<onnx::SimplifiedLayerNormalizationOp>,
               NormPattern<onnx::LayerNormalizationOp>, SkipNormPattern>(
      patterns.getContext());
}
