//===- Dequantize.cpp - DequantizeLinear computed at run time -------------===//
//
// (x - zero_point) * scale for codes that are not constants (constant ones
// fold earlier, moe-fold-dequantization): one linalg.generic over x that
// reads each element's scale and zero point by its index, per tensor, per
// slice of the axis or per block along it.
//
//===----------------------------------------------------------------------===//

#include "ONNXToCore/Patterns.h"
#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
struct DequantizeLinearPattern : OpRewritePattern<onnx::DequantizeLinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::DequantizeLinearOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getX(), scale = op.getXScale(), zp = op.getXZeroPoint();
    bool hasZp = !isa<NoneType>(zp.getType());
    auto xt = dyn_cast<RankedTensorType>(x.getType());
    auto st = dyn_cast<RankedTensorType>(scale.getType());
    auto yt = dyn_cast<RankedTensorType>(op.getY().getType());
    auto zt = hasZp ? dyn_cast<RankedTensorType>(zp.getType()) : nullptr;
    if (!xt || !st || !yt || (hasZp && !zt))
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    auto xElt = dyn_cast<IntegerType>(xt.getElementType());
    auto outElt = dyn_cast<FloatType>(yt.getElementType());
    if (!xElt || !outElt || !isa<FloatType>(st.getElementType()))
      return op.emitError("DequantizeLinear needs integer codes and float "
                          "scales");
    if (!xElt.isSignless() || (zt && !zt.getElementType().isSignlessInteger()))
      return op.emitError("DequantizeLinear of unsigned codes computed at run "
                          "time is not supported");
    int64_t rank = xt.getRank(), axis = op.getAxis(), block = op.getBlockSize();
    bool perTensor = st.hasStaticShape() && st.getNumElements() == 1 &&
                     st.getRank() <= 1;
    // (The axis matters only to per-axis and blocked scales.)
    if (!perTensor && (axis < -rank || axis >= rank))
      return op.emitError() << "DequantizeLinear axis " << axis
                            << " is out of range for rank " << rank;
    if (axis < 0)
      axis += rank;
    bool perAxis = !perTensor && st.getRank() == 1 && block == 0;
    bool blocked = !perTensor && st.getRank() == rank && block > 0;
    if (!perTensor && !perAxis && !blocked)
      return op.emitError("DequantizeLinear's scale is neither a scalar, a "
                          "1-D tensor along the axis, nor blocked with "
                          "block_size");
    if (zt && zt.getShape() != st.getShape())
      return op.emitError("DequantizeLinear's zero point and scale differ in "
                          "shape");
    // The scale's extent along each dimension of x it indexes.
    auto assertDim = [&](int64_t sd, Value want) {
      Value have = tensor::DimOp::create(rewriter, loc, scale, sd);
      Value ok = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq,
                                       have, want);
      cf::AssertOp::create(rewriter, loc, ok,
                           "DequantizeLinear's scale does not fit its input");
    };
    if (perAxis)
      assertDim(0, tensor::DimOp::create(rewriter, loc, x, axis));
    if (blocked)
      for (int64_t d = 0; d < rank; ++d) {
        Value n = tensor::DimOp::create(rewriter, loc, x, d);
        if (d == axis) {
          Value b = arith::ConstantIndexOp::create(rewriter, loc, block);
          n = arith::CeilDivUIOp::create(rewriter, loc, n, b);
        }
        assertDim(d, n);
      }

    auto init = emptyFor(rewriter, loc, yt, x);
    if (failed(init))
      return failure();
    // Computed in f32 (or the output type when wider), rounded once.
    Type compute = outElt.getWidth() > 32 ? Type(outElt)
                                          : Type(rewriter.getF32Type());
    SmallVector<AffineMap> maps(2, rewriter.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{yt}, ValueRange{x}, ValueRange{*init}, maps,
        iters, [&](OpBuilder &b, Location l, ValueRange args) {
          SmallVector<Value> at;
          if (perTensor) {
            for (int64_t d = 0; d < st.getRank(); ++d)
              at.push_back(arith::ConstantIndexOp::create(b, l, 0));
          } else if (perAxis) {
            at.push_back(linalg::IndexOp::create(b, l, axis));
          } else {
            for (int64_t d = 0; d < rank; ++d) {
              Value i = linalg::IndexOp::create(b, l, d);
              if (d == axis)
                i = arith::DivUIOp::create(
                    b, l, i, arith::ConstantIndexOp::create(b, l, block));
              at.push_back(i);
            }
          }
          auto wide = [&](Value v) -> Value {
            return arith::ExtSIOp::create(b, l, b.getI64Type(), v);
          };
          Value q = xElt.getWidth() < 64 ? wide(args[0]) : args[0];
          if (hasZp) {
            Value z = tensor::ExtractOp::create(b, l, zp, at);
            if (zt.getElementType().getIntOrFloatBitWidth() < 64)
              z = wide(z);
            q = arith::SubIOp::create(b, l, q, z);
          }
          Value f = arith::SIToFPOp::create(b, l, compute, q);
          Value s = tensor::ExtractOp::create(b, l, scale, at);
          unsigned sw = s.getType().getIntOrFloatBitWidth();
          unsigned cw = compute.getIntOrFloatBitWidth();
          if (sw < cw)
            s = arith::ExtFOp::create(b, l, compute, s);
          else if (sw > cw)
            s = arith::TruncFOp::create(b, l, compute, s);
          Value y = arith::MulFOp::create(b, l, f, s);
          if (compute != outElt)
            y = arith::TruncFOp::create(b, l, outElt, y);
          linalg::YieldOp::create(b, l, y);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateDequantizePatterns(
    RewritePatternSet &patterns) {
  patterns.add<DequantizeLinearPattern>(patterns.getContext());
}
