//===- BF16Contraction.cpp - bf16 x bf16 GEMM by 32-product dots ----------===//
//
// A bf16 model's expert GEMMs: activations and weights are both bf16, so
// neither needs converting. Both are read along k as stored, 32 elements
// per vector; one dot-product instruction (vdpbf16ps) per pair of rows adds
// 32 products into 16 f32 lanes (lane l: columns 2l and 2l + 1), and a
// tile's accumulators are reduced once, after the k loop. The products of
// two bf16 values are exact in f32; only the additions round.
//
//===----------------------------------------------------------------------===//

#include "Utils/TiledContraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
constexpr int64_t kStep = 32, kLanes = 16, kRowTile = 4;

Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value addIndex(OpBuilder &b, Location loc, Value x, int64_t c) {
  return arith::AddIOp::create(b, loc, x, index(b, loc, c));
}

Value floorTo(OpBuilder &b, Location loc, Value v, int64_t m) {
  Value c = index(b, loc, m);
  return arith::MulIOp::create(b, loc, arith::DivUIOp::create(b, loc, v, c),
                               c);
}

/// The tm x tn tile of x * w^T at (m0, n0): tm * tn accumulators carried
/// along k, then summed and stored through the epilogue.
Value emitDotTile(OpBuilder &b, Location loc, Value x, Value w, Value acc,
                  Value m0, Value n0, int64_t tm, int64_t tn, int64_t k,
                  func::FuncOp dot, const TileEpilogue *epilogue) {
  Type f32 = b.getF32Type(), bf16 = b.getBF16Type();
  auto lanes = VectorType::get({kLanes}, f32);
  auto step = VectorType::get({kStep}, bf16);
  Value zero = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(lanes, b.getF32FloatAttr(0.0)));
  SmallVector<Value> init(tm * tn, zero);
  auto loop = scf::ForOp::create(
      b, loc, index(b, loc, 0), index(b, loc, k), index(b, loc, kStep), init,
      [&](OpBuilder &nb, Location l, Value c, ValueRange sums) {
        Value pad = arith::ConstantOp::create(nb, l, nb.getZeroAttr(bf16));
        auto read = [&](Value t, Value row) -> Value {
          return vector::TransferReadOp::create(nb, l, step, t,
                                                ValueRange{row, c}, pad,
                                                ArrayRef<bool>{true});
        };
        SmallVector<Value> xv, wv, next;
        for (int64_t i = 0; i < tm; ++i)
          xv.push_back(read(x, addIndex(nb, l, m0, i)));
        for (int64_t j = 0; j < tn; ++j)
          wv.push_back(read(w, addIndex(nb, l, n0, j)));
        for (int64_t i = 0; i < tm; ++i)
          for (int64_t j = 0; j < tn; ++j)
            next.push_back(func::CallOp::create(
                               nb, l, dot,
                               ValueRange{sums[i * tn + j], xv[i], wv[j]})
                               .getResult(0));
        scf::YieldOp::create(nb, l, next);
      });
  SmallVector<Value> accs(loop.getResults());
  Value sums;
  if (tm * tn == kLanes) {
    sums = emitFoldedSums(b, loc, accs);
  } else {
    SmallVector<Value> totals;
    for (Value a : accs)
      totals.push_back(vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, a, Value(),
          arith::FastMathFlags::reassoc));
    sums = vector::FromElementsOp::create(
        b, loc, VectorType::get({tm * tn}, f32), totals);
  }
  return emitTileStore(b, loc, epilogue, sums, acc, m0, n0, tm, tn);
}

/// Rows [r0, r1) in steps of tm against columns [c0, c1) in steps of tn,
/// columns outermost: a tile of w stays in cache across all rows.
Value emitDotTiles(OpBuilder &b, Location loc, Value x, Value w, Value acc,
                   Value r0, Value r1, int64_t tm, Value c0, Value c1,
                   int64_t tn, int64_t k, func::FuncOp dot,
                   const TileEpilogue *epilogue) {
  auto cols = scf::ForOp::create(
      b, loc, c0, c1, index(b, loc, tn), ValueRange{acc},
      [&](OpBuilder &nb, Location l, Value n0, ValueRange t) {
        auto rowLoop = scf::ForOp::create(
            nb, l, r0, r1, index(nb, l, tm), t,
            [&](OpBuilder &rb, Location rl, Value m0, ValueRange tt) {
              scf::YieldOp::create(rb, rl,
                                   emitDotTile(rb, rl, x, w, tt[0], m0, n0, tm,
                                               tn, k, dot, epilogue));
            });
        scf::YieldOp::create(nb, l, rowLoop.getResults());
      });
  return cols.getResult(0);
}
} // namespace

bool mlir::moe::bf16Dottable(Value x, Value w, int64_t k) {
  auto elt = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getElementType();
  };
  return elt(x).isBF16() && elt(w).isBF16() && !ShapedType::isDynamic(k) &&
         k > 0 && k % kStep == 0;
}

Value mlir::moe::emitBF16Contraction(OpBuilder &b, Location loc, Value x,
                                     Value w, Value dest, Value rows, Value n,
                                     int64_t k, func::FuncOp dot,
                                     const TileEpilogue *epilogue) {
  // Remainder columns go in steps that keep an epilogue's column groups
  // (gate, up) in one tile.
  int64_t step = epilogue ? epilogue->colsPerResult : 1;
  Value zero = index(b, loc, 0);
  Value fullRows = floorTo(b, loc, rows, kRowTile);
  Value cols4 = floorTo(b, loc, n, kRowTile);
  // 4 x 4 tiles: 8 loads per 16 dot products.
  Value acc = emitDotTiles(b, loc, x, w, dest, zero, fullRows, kRowTile, zero,
                           cols4, kRowTile, k, dot, epilogue);
  acc = emitDotTiles(b, loc, x, w, acc, zero, fullRows, kRowTile, cols4, n,
                     step, k, dot, epilogue);
  // The 1 to 3 remaining rows (all of an expert's rows at decode), one at a
  // time against 4 weight rows.
  acc = emitDotTiles(b, loc, x, w, acc, fullRows, rows, 1, zero, cols4,
                     kRowTile, k, dot, epilogue);
  return emitDotTiles(b, loc, x, w, acc, fullRows, rows, 1, cols4, n, step, k,
                      dot, epilogue);
}
