//===- Indexing.cpp - onnx Gather, TopK, ArgMax -> linalg / scf -----------===//
//
// Index-producing and index-consuming ops. Indices that ONNX leaves
// undefined when out of range are clamped into range, so bad indices give
// wrong values, never out-of-bounds memory accesses.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Utils/RowTopK.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;
using mlir::moe::emitRowTopK;
using mlir::moe::insertForallRows;
using mlir::moe::RowPick;

namespace {
Value idx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// `i` (any integer type) as an index in [0, size): negative values count
/// from the end, then the result is clamped.
Value normalizeIndex(OpBuilder &b, Location loc, Value i, Value size) {
  Value v = arith::IndexCastOp::create(b, loc, b.getIndexType(), i);
  Value zero = idx(b, loc, 0);
  Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v, zero);
  v = arith::SelectOp::create(b, loc, neg,
                              arith::AddIOp::create(b, loc, v, size), v);
  v = arith::MaxSIOp::create(b, loc, v, zero);
  return arith::MinSIOp::create(b, loc, v,
                                arith::SubIOp::create(b, loc, size,
                                                      idx(b, loc, 1)));
}

struct GatherPattern : OpRewritePattern<onnx::GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::GatherOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value data = op.getData(), indices = op.getIndices();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto dataType = dyn_cast<RankedTensorType>(data.getType());
    auto idxType = dyn_cast<RankedTensorType>(indices.getType());
    if (!type || !dataType || !idxType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t rank = dataType.getRank(), q = idxType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return op.emitError() << "gather axis " << op.getAxis()
                            << " is out of range for rank " << rank;
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < axis; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, data, i));
    for (int64_t i = 0; i < q; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, indices, i));
    for (int64_t i = axis + 1; i < rank; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, data, i));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    Value axisSize = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, data, axis));
    int64_t outRank = type.getRank();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{},
        ValueRange{init},
        ArrayRef<AffineMap>{
            AffineMap::getMultiDimIdentityMap(outRank, rewriter.getContext())},
        SmallVector<utils::IteratorType>(outRank,
                                         utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange) {
          SmallVector<Value> ivs;
          for (int64_t i = 0; i < outRank; ++i)
            ivs.push_back(linalg::IndexOp::create(b, l, i));
          SmallVector<Value> idxPos(ivs.begin() + axis,
                                    ivs.begin() + axis + q);
          Value raw = tensor::ExtractOp::create(b, l, indices, idxPos);
          SmallVector<Value> pos(ivs.begin(), ivs.begin() + axis);
          pos.push_back(normalizeIndex(b, l, raw, axisSize));
          pos.append(ivs.begin() + axis + q, ivs.end());
          linalg::YieldOp::create(b, l,
                                  tensor::ExtractOp::create(b, l, data, pos)
                                      .getResult());
        });
    Value result = generic.getResult(0);
    if (result.getType() != type)
      result = tensor::CastOp::create(rewriter, loc, type, result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// TopK along the last axis with a constant k: per row, k passes each
/// taking the best element ranked after the previous pick (value order,
/// ties to the lower index, as onnxruntime does).
struct TopKPattern : OpRewritePattern<onnx::TopKOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::TopKOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getX();
    auto xType = dyn_cast<RankedTensorType>(x.getType());
    auto vType = dyn_cast<RankedTensorType>(op.getValues().getType());
    auto iType = dyn_cast<RankedTensorType>(op.getIndices().getType());
    auto k = constantInts(op.getK());
    if (!xType || !vType || !iType || !k || k->size() != 1 ||
        !isa<FloatType>(xType.getElementType()))
      return rewriter.notifyMatchFailure(op, "needs ranked float input, constant k");
    int64_t rank = xType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis != rank - 1 || rank < 1)
      return rewriter.notifyMatchFailure(op, "only the last axis");
    int64_t kk = (*k)[0];
    bool largest = op.getLargest() != 0;
    Type elt = xType.getElementType();

    // Rows: the product of the leading dims.
    Value rows = idx(rewriter, loc, 1);
    for (int64_t i = 0; i < rank - 1; ++i)
      rows = arith::MulIOp::create(
          rewriter, loc, rows,
          getValueOrCreateConstantIndexOp(
              rewriter, loc, tensor::getMixedSize(rewriter, loc, x, i)));
    Value width = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, x, rank - 1));
    SmallVector<ReassociationIndices> assoc;
    if (rank > 1) {
      assoc.emplace_back();
      for (int64_t i = 0; i < rank - 1; ++i)
        assoc.back().push_back(i);
      assoc.push_back({rank - 1});
    }
    Value flat = x;
    if (rank > 2)
      flat = tensor::CollapseShapeOp::create(rewriter, loc, x, assoc);
    if (rank == 1)
      flat = tensor::ExpandShapeOp::create(
          rewriter, loc, RankedTensorType::get({1, xType.getDimSize(0)}, elt),
          x, SmallVector<ReassociationIndices>{{0, 1}},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1),
                                 tensor::getMixedSize(rewriter, loc, x, 0)});

    Value valuesInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(kk)},
        elt);
    Value indicesInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(kk)},
        rewriter.getI64Type());
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rows},
        ValueRange{valuesInit, indicesInit}, std::nullopt);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(forall.getTerminator());
      Value r = forall.getInductionVars()[0];
      SmallVector<Value> vals, ids;
      for (RowPick pick : emitRowTopK(rewriter, loc, width, kk, largest, elt,
                                      [&](Value c) -> Value {
                                        return tensor::ExtractOp::create(
                                            rewriter, loc, flat,
                                            ValueRange{r, c});
                                      })) {
        vals.push_back(pick.score);
        ids.push_back(arith::IndexCastOp::create(
            rewriter, loc, rewriter.getI64Type(), pick.index));
      }
      Value vRow = tensor::FromElementsOp::create(
          rewriter, loc, RankedTensorType::get({1, kk}, elt), vals);
      Value iRow = tensor::FromElementsOp::create(
          rewriter, loc, RankedTensorType::get({1, kk}, rewriter.getI64Type()),
          ids);
      insertForallRows(rewriter, loc, forall, r, {vRow, iRow});
    }
    // Back to the input's leading shape.
    auto restore = [&](Value v, RankedTensorType want) -> Value {
      if (rank == 2) {
        return v.getType() == want
                   ? v
                   : Value(tensor::CastOp::create(rewriter, loc, want, v));
      }
      SmallVector<OpFoldResult> outSizes;
      for (int64_t i = 0; i < rank - 1; ++i)
        outSizes.push_back(tensor::getMixedSize(rewriter, loc, x, i));
      outSizes.push_back(rewriter.getIndexAttr(kk));
      SmallVector<Value> shape;
      for (OpFoldResult s : outSizes)
        shape.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, s));
      Value shapeTensor = tensor::FromElementsOp::create(rewriter, loc, shape);
      return tensor::ReshapeOp::create(rewriter, loc, want, v, shapeTensor);
    };
    rewriter.replaceOp(op, {restore(forall.getResult(0), vType),
                            restore(forall.getResult(1), iType)});
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateIndexingPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GatherPattern, TopKPattern>(patterns.getContext());
}
