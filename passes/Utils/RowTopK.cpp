//===- RowTopK.cpp - top-k selection in a row -----------------------------===//

#include "RowTopK.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;

SmallVector<moe::RowPick>
moe::emitRowTopK(OpBuilder &b, Location loc, Value count, int64_t k,
                 bool largest, Type scoreType,
                 function_ref<Value(Value index)> scoreAt) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // (v, i) ranked before (w, j).
  auto before = [&](Value v, Value i, Value w, Value j) -> Value {
    Value better = arith::CmpFOp::create(
        b, loc, largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT,
        v, w);
    Value tie = arith::AndIOp::create(
        b, loc, arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, v, w),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, i, j));
    return arith::OrIOp::create(b, loc, better, tie);
  };
  double inf = std::numeric_limits<double>::infinity();
  Value worst = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(scoreType, largest ? -inf : inf));
  // Before the first pick: a sentinel ranked before every element.
  Value prevScore = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(scoreType, largest ? inf : -inf));
  Value prevIndex = index(-1);
  SmallVector<RowPick> picks;
  for (int64_t j = 0; j < k; ++j) {
    auto scan = scf::ForOp::create(
        b, loc, index(0), count, index(1), ValueRange{worst, count},
        [&](OpBuilder &nb, Location nloc, Value i, ValueRange acc) {
          Value s = scoreAt(i);
          Value take = arith::AndIOp::create(nb, nloc,
                                             before(prevScore, prevIndex, s, i),
                                             before(s, i, acc[0], acc[1]));
          scf::YieldOp::create(
              nb, nloc,
              ValueRange{arith::SelectOp::create(nb, nloc, take, s, acc[0]),
                         arith::SelectOp::create(nb, nloc, take, i, acc[1])});
        });
    prevScore = scan.getResult(0);
    prevIndex = scan.getResult(1);
    picks.push_back({prevScore, prevIndex});
  }
  return picks;
}

void moe::insertForallRows(OpBuilder &b, Location loc, scf::ForallOp forall,
                           Value row, ArrayRef<Value> rows) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(forall.getTerminator().getBody());
  for (auto [value, out] : llvm::zip(rows, forall.getRegionIterArgs())) {
    int64_t width = cast<RankedTensorType>(value.getType()).getDimSize(1);
    SmallVector<OpFoldResult> offsets = {row, b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                       b.getIndexAttr(width)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(b, loc, value, out, offsets, sizes,
                                          strides);
  }
}
