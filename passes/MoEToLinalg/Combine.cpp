//===- Combine.cpp - moe.combine -> weighted un-permute and sum -----------===//

#include "MoEToLinalg/Patterns.h"
#include "Utils/Emitter.h"
#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Lanes of a vector combine: one AVX-512 register of f32.
constexpr int64_t kCombineLanes = 16;

/// Invert the plan (slot -> row), then sum the k weighted rows of each
/// token in order j = 0..k-1: one loop nest over [T, H], or (vectorRows)
/// one parallel iteration per token whose rows are read 16 lanes at a time
/// (the row indices and weights found once per token, not per element).
struct CombineLowering : OpRewritePattern<CombineOp> {
  CombineLowering(MLIRContext *ctx, bool vectorRows)
      : OpRewritePattern(ctx), vectorRows(vectorRows) {}

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Emitter e{rewriter, loc};
    Value input = op.getInput(), slots = op.getSlots(),
          weights = op.getWeights();
    int64_t k = cast<RankedTensorType>(weights.getType()).getDimSize(1);
    if (ShapedType::isDynamic(k))
      return rewriter.notifyMatchFailure(op, "needs a static k");
    auto type = cast<RankedTensorType>(op.getResult().getType());
    Type elt = type.getElementType();
    Value tokens = e.dim(weights, 0);
    Value rows = e.dim(input, 0);
    Value rowOf =
        e.filled({e.muli(tokens, e.index(k))}, rewriter.getIndexAttr(0));
    rowOf = e.loop(rows, {rowOf}, [&](Value r, ValueRange acc) {
      Value slot = e.extract(slots, {r});
      Value valid = e.cmpi(arith::CmpIPredicate::sge, slot, e.i32(0));
      auto ifOp = scf::IfOp::create(
          rewriter, loc, valid,
          [&](OpBuilder &b, Location l) {
            Value next = tensor::InsertOp::create(
                b, l, r, acc[0], ValueRange{Emitter{b, l}.toIndex(slot)});
            scf::YieldOp::create(b, l, next);
          },
          [&](OpBuilder &b, Location l) {
            scf::YieldOp::create(b, l, acc[0]);
          });
      return SmallVector<Value>{ifOp.getResult(0)};
    })[0];

    OpFoldResult width = tensor::getMixedSize(rewriter, loc, input, 1);
    Value init = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{tokens, width}, elt);
    Value result = vectorRows ? emitRowSums(rewriter, loc, input, weights,
                                            rowOf, init, tokens, width, k)
                              : emitElementSums(rewriter, loc, input, weights,
                                                rowOf, init, k);
    rewriter.replaceOp(op, castIfNeeded(rewriter, loc, result, type));
    return success();
  }

private:
  /// out[t, h] = sum_j w[t, j] * input[rowOf[t * k + j], h], one element
  /// per iteration of a [T, H] generic.
  static Value emitElementSums(OpBuilder &rewriter, Location loc, Value input,
                               Value weights, Value rowOf, Value init,
                               int64_t k) {
    MLIRContext *ctx = rewriter.getContext();
    Type elt = cast<RankedTensorType>(init.getType()).getElementType();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{},
        ValueRange{init},
        ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(2, ctx)},
        SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange) {
          Emitter in{b, l};
          Value t = linalg::IndexOp::create(b, l, 0);
          Value h = linalg::IndexOp::create(b, l, 1);
          Value sum = in.f32(0);
          for (int64_t j = 0; j < k; ++j) {
            Value slot = in.addi(in.muli(t, in.index(k)), in.index(j));
            Value row = in.extract(rowOf, {slot});
            Value w = in.toF32(in.extract(weights, {t, in.index(j)}));
            Value v = in.toF32(in.extract(input, {row, h}));
            sum = in.add(sum, in.mul(w, v));
          }
          linalg::YieldOp::create(b, l, in.fromF32(sum, elt));
        });
    return generic.getResult(0);
  }

  /// The same sums, one token per iteration of an scf.forall: its k rows
  /// and weights read once, then the row summed in 16-lane vectors and the
  /// last H % 16 columns one at a time. The same operations in the same
  /// order per element as emitElementSums.
  static Value emitRowSums(OpBuilder &rewriter, Location loc, Value input,
                           Value weights, Value rowOf, Value init, Value tokens,
                           OpFoldResult width, int64_t k) {
    Emitter e{rewriter, loc};
    Type elt = cast<RankedTensorType>(init.getType()).getElementType();
    Type inElt = cast<RankedTensorType>(input.getType()).getElementType();
    auto forall =
        scf::ForallOp::create(rewriter, loc, ArrayRef<OpFoldResult>{tokens},
                              ValueRange{init}, std::nullopt);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(forall.getTerminator());
    Value t = forall.getInductionVars()[0];
    SmallVector<Value> rowsOfT, ws;
    for (int64_t j = 0; j < k; ++j) {
      Value slot = e.addi(e.muli(t, e.index(k)), e.index(j));
      rowsOfT.push_back(e.extract(rowOf, {slot}));
      ws.push_back(e.toF32(e.extract(weights, {t, e.index(j)})));
    }
    OpFoldResult one = rewriter.getIndexAttr(1),
                 zero = rewriter.getIndexAttr(0);
    auto rowType = RankedTensorType::get(
        {1, cast<RankedTensorType>(init.getType()).getDimSize(1)}, elt);
    Value out = tensor::ExtractSliceOp::create(
        rewriter, loc, rowType, forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{t, zero}, ArrayRef<OpFoldResult>{one, width},
        ArrayRef<OpFoldResult>{one, one});
    Value h = getValueOrCreateConstantIndexOp(rewriter, loc, width);
    Value vectorEnd =
        e.muli(arith::DivUIOp::create(rewriter, loc, h, e.index(kCombineLanes)),
               e.index(kCombineLanes));
    auto vf32 = VectorType::get({kCombineLanes}, rewriter.getF32Type());
    SmallVector<Value> wv;
    for (Value w : ws)
      wv.push_back(vector::BroadcastOp::create(rewriter, loc, vf32, w));
    auto lanes = scf::ForOp::create(
        rewriter, loc, e.index(0), vectorEnd, e.index(kCombineLanes),
        ValueRange{out},
        [&](OpBuilder &b, Location l, Value c, ValueRange acc) {
          Emitter in{b, l};
          Value pad = arith::ConstantOp::create(b, l, b.getZeroAttr(inElt));
          Value sum = arith::ConstantOp::create(
              b, l, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
          for (int64_t j = 0; j < k; ++j) {
            Value v = vector::TransferReadOp::create(
                b, l, VectorType::get({kCombineLanes}, inElt), input,
                ValueRange{rowsOfT[j], c}, pad, ArrayRef<bool>{true});
            if (!inElt.isF32())
              v = arith::ExtFOp::create(b, l, vf32, v);
            sum = in.add(sum, in.mul(wv[j], v));
          }
          if (!elt.isF32())
            sum = arith::TruncFOp::create(
                b, l, VectorType::get({kCombineLanes}, elt), sum);
          Value next = vector::TransferWriteOp::create(
                           b, l, sum, acc[0], ValueRange{in.index(0), c},
                           ArrayRef<bool>{true})
                           .getResult();
          scf::YieldOp::create(b, l, next);
        });
    auto tail = scf::ForOp::create(
        rewriter, loc, vectorEnd, h, e.index(1), lanes.getResults(),
        [&](OpBuilder &b, Location l, Value c, ValueRange acc) {
          Emitter in{b, l};
          Value sum = in.f32(0);
          for (int64_t j = 0; j < k; ++j)
            sum = in.add(
                sum,
                in.mul(ws[j], in.toF32(in.extract(input, {rowsOfT[j], c}))));
          Value next = tensor::InsertOp::create(
              b, l, in.fromF32(sum, elt), acc[0], ValueRange{in.index(0), c});
          scf::YieldOp::create(b, l, next);
        });
    rewriter.setInsertionPointToEnd(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(
        rewriter, loc, tail.getResult(0), forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{t, zero}, ArrayRef<OpFoldResult>{one, width},
        ArrayRef<OpFoldResult>{one, one});
    return forall.getResult(0);
  }

  bool vectorRows;
};
} // namespace

void mlir::moe::populateCombineLoweringPatterns(RewritePatternSet &patterns,
                                                bool vectorRows) {
  patterns.add<CombineLowering>(patterns.getContext(), vectorRows);
}
