//===- Activation.cpp - moe.activation -> one elementwise linalg.generic --===//

#include "Utils/Activation.h"
#include "MoEToLinalg/Patterns.h"
#include "Utils/Emitter.h"
#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
struct ActivationLowering : OpRewritePattern<ActivationOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ActivationOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    ActivationAttr act = op.getActivation();
    auto type = cast<RankedTensorType>(op.getResult().getType());
    Type elt = type.getElementType();
    Value input = op.getInput();
    Gating gating = act.getGating();
    OpFoldResult width = tensor::getMixedSize(rewriter, loc, input, 1);
    OpFoldResult outWidth = width;
    AffineExpr r = getAffineDimExpr(0, ctx), i = getAffineDimExpr(1, ctx);
    SmallVector<Value> ins = {input};
    SmallVector<AffineMap> maps;
    if (gating == Gating::interleaved) {
      // Gate at column 2i, up at 2i + 1. The maps are not projections, so
      // the loop bounds come from the [R, I] output.
      int64_t w = type.getDimSize(1);
      if (ShapedType::isDynamic(w))
        return rewriter.notifyMatchFailure(op, "needs a static width");
      outWidth = rewriter.getIndexAttr(w);
      ins.push_back(input);
      maps.push_back(AffineMap::get(2, 0, {r, i * 2}, ctx));
      maps.push_back(AffineMap::get(2, 0, {r, i * 2 + 1}, ctx));
    } else if (gating == Gating::concatenated) {
      // Gate and up halves as slices: an offset map (r, i + I) next to the
      // projection (r, i) would make linalg take the loop bound 2I from the
      // input.
      int64_t w = type.getDimSize(1);
      if (ShapedType::isDynamic(w))
        return rewriter.notifyMatchFailure(op, "needs a static width");
      outWidth = rewriter.getIndexAttr(w);
      OpFoldResult rowsSize = tensor::getMixedSize(rewriter, loc, input, 0);
      OpFoldResult one = rewriter.getIndexAttr(1),
                   zero = rewriter.getIndexAttr(0);
      auto half = [&](int64_t offset) -> Value {
        return tensor::ExtractSliceOp::create(
            rewriter, loc, input,
            ArrayRef<OpFoldResult>{zero, rewriter.getIndexAttr(offset)},
            ArrayRef<OpFoldResult>{rowsSize, outWidth},
            ArrayRef<OpFoldResult>{one, one});
      };
      ins = {half(0), half(w)};
      maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
      maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
    } else {
      maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
      if (Value up = op.getUp()) {
        ins.push_back(up);
        maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
      }
    }
    maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
    Value init = tensor::EmptyOp::create(
        rewriter, loc,
        ArrayRef<OpFoldResult>{tensor::getMixedSize(rewriter, loc, input, 0),
                               outWidth},
        elt);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps,
        SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Emitter in{b, l};
          Value u = act.isGated() ? in.toF32(args[1]) : Value();
          linalg::YieldOp::create(
              b, l,
              in.fromF32(emitActivation(b, l, act, in.toF32(args[0]), u), elt));
        });
    rewriter.replaceOp(op,
                       castIfNeeded(rewriter, loc, generic.getResult(0), type));
    return success();
  }
};
} // namespace

void mlir::moe::populateActivationLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ActivationLowering>(patterns.getContext());
}
