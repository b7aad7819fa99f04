//===- TiledContraction.cpp - register-tiled x * w^T on tensors -----------===//
//
// Both operands are read along k, contiguously, so no packing is needed: a
// tile of TM rows of x and TN rows of w gives TM * TN dot products sharing
// their loads. The loop nest is n tiles (a w tile stays in L1 across all
// rows), m tiles, then k; the sums cross the k loop as iter_args, which
// LLVM turns into vector accumulators. A tile's sums then go through the
// caller's epilogue (bias, activation, rounding) and are stored once, a
// vector per row, straight into the destination.
//
//===----------------------------------------------------------------------===//

#include "Utils/TiledContraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using mlir::moe::TileEpilogue;

namespace {
constexpr int64_t kRowTile = 4, kWideTile = 8;
/// Lanes of the explicit vector tile: 16 sums of a 4 x 4 tile fold into
/// one vector of this width.
constexpr int64_t kLanes = kRowTile * kRowTile;

struct LoopBuilder {
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value floorTo(Value v, int64_t m) {
    return arith::MulIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, v, index(m)), index(m));
  }
};

Value toF32(OpBuilder &b, Location loc, Value v) {
  return v.getType().isF32() ? v
                             : arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

/// The sums of the tile at (m0, n0), a row-major vector<tm*tn>, through
/// the epilogue into `acc`: one vector store per row.
Value storeTile(OpBuilder &b, Location loc, const TileEpilogue *epilogue,
                Value sums, Value acc, Value m0, Value n0, int64_t tm,
                int64_t tn) {
  LoopBuilder e{b, loc};
  Value results = sums, col = n0;
  int64_t width = tn;
  if (epilogue) {
    results = epilogue->apply(b, loc, sums, tm, tn, n0);
    width = tn / epilogue->colsPerResult;
    if (epilogue->colsPerResult != 1)
      col =
          arith::DivUIOp::create(b, loc, n0, e.index(epilogue->colsPerResult));
  }
  for (int64_t i = 0; i < tm; ++i) {
    Value row = vector::ExtractStridedSliceOp::create(
        b, loc, results, ArrayRef<int64_t>{i * width}, ArrayRef<int64_t>{width},
        ArrayRef<int64_t>{1});
    acc = vector::TransferWriteOp::create(
              b, loc, row, acc, ValueRange{e.add(m0, e.index(i)), col},
              ArrayRef<bool>{true})
              .getResult();
  }
  return acc;
}

/// The tile [m0, m0 + tm) x [n0, n0 + tn) of x * w^T written into `acc`.
Value emitTile(OpBuilder &b, Location loc, Value x, Value w, Value acc,
               Value m0, Value n0, int64_t tm, int64_t tn, Value k,
               const TileEpilogue *epilogue) {
  LoopBuilder e{b, loc};
  auto fm = arith::FastMathFlagsAttr::get(b.getContext(),
                                          arith::FastMathFlags::reassoc |
                                              arith::FastMathFlags::contract);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  SmallVector<Value> init(tm * tn, zero);
  auto loop = scf::ForOp::create(
      b, loc, e.index(0), k, e.index(1), init,
      [&](OpBuilder &nb, Location l, Value c, ValueRange sums) {
        LoopBuilder ie{nb, l};
        SmallVector<Value> xv, wv, next;
        for (int64_t i = 0; i < tm; ++i)
          xv.push_back(
              toF32(nb, l,
                    tensor::ExtractOp::create(
                        nb, l, x, ValueRange{ie.add(m0, ie.index(i)), c})));
        for (int64_t j = 0; j < tn; ++j)
          wv.push_back(
              toF32(nb, l,
                    tensor::ExtractOp::create(
                        nb, l, w, ValueRange{ie.add(n0, ie.index(j)), c})));
        for (int64_t i = 0; i < tm; ++i)
          for (int64_t j = 0; j < tn; ++j) {
            Value p = arith::MulFOp::create(nb, l, xv[i], wv[j], fm);
            next.push_back(
                arith::AddFOp::create(nb, l, sums[i * tn + j], p, fm));
          }
        scf::YieldOp::create(nb, l, next);
      });
  Value sums = vector::FromElementsOp::create(
      b, loc, VectorType::get({tm * tn}, b.getF32Type()), loop.getResults());
  return storeTile(b, loc, epilogue, sums, acc, m0, n0, tm, tn);
}

/// One vector holding the sums of 16 vector accumulators, lane t the sum of
/// `accs[t]`. Pairwise transposing folds (two shuffles and an add per pair,
/// 15 adds in all) replace 16 separate horizontal reductions, which cost as
/// much as the multiply-adds when k is short.
Value foldSums(OpBuilder &b, Location loc, ArrayRef<Value> accs,
               arith::FastMathFlagsAttr fm) {
  struct Part {
    Value v;
    SmallVector<int64_t> labels; // accumulator of each lane group, in order
  };
  SmallVector<Part> parts;
  for (auto [t, v] : llvm::enumerate(accs))
    parts.push_back({v, {static_cast<int64_t>(t)}});
  int64_t group = kLanes;
  while (parts.size() > 1) {
    SmallVector<Part> next;
    int64_t half = group / 2;
    for (size_t p = 0; p + 1 < parts.size(); p += 2) {
      const Part &u = parts[p], &v = parts[p + 1];
      SmallVector<int64_t> lo, hi;
      for (int64_t base : {int64_t(0), kLanes})
        for (size_t g = 0; g < u.labels.size(); ++g)
          for (int64_t t = 0; t < half; ++t) {
            lo.push_back(base + g * group + t);
            hi.push_back(base + g * group + half + t);
          }
      Value low = vector::ShuffleOp::create(b, loc, u.v, v.v, lo);
      Value high = vector::ShuffleOp::create(b, loc, u.v, v.v, hi);
      Value sum = arith::AddFOp::create(b, loc, low, high, fm);
      SmallVector<int64_t> labels(u.labels);
      labels.append(v.labels);
      next.push_back({sum, labels});
    }
    parts = std::move(next);
    group = half;
  }
  SmallVector<int64_t> order(kLanes);
  for (auto [lane, label] : llvm::enumerate(parts.front().labels))
    order[label] = lane;
  return vector::ShuffleOp::create(b, loc, parts.front().v, parts.front().v,
                                   order);
}

/// The 4 x 4 tile at (m0, n0) with explicit vectors along k (k a multiple
/// of kLanes): 16 vector multiply-add chains, folded once at the end.
Value emitVectorTile(OpBuilder &b, Location loc, Value x, Value w, Value acc,
                     Value m0, Value n0, int64_t k,
                     const TileEpilogue *epilogue) {
  LoopBuilder e{b, loc};
  auto fm = arith::FastMathFlagsAttr::get(b.getContext(),
                                          arith::FastMathFlags::reassoc |
                                              arith::FastMathFlags::contract);
  auto vf32 = VectorType::get({kLanes}, b.getF32Type());
  Value zero = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(vf32, b.getF32FloatAttr(0.0)));
  SmallVector<Value> init(kLanes, zero);
  auto loop = scf::ForOp::create(
      b, loc, e.index(0), e.index(k), e.index(kLanes), init,
      [&](OpBuilder &nb, Location l, Value c, ValueRange sums) {
        LoopBuilder ie{nb, l};
        auto read = [&](Value t, Value row) -> Value {
          Type elt = cast<RankedTensorType>(t.getType()).getElementType();
          Value pad = arith::ConstantOp::create(nb, l, nb.getZeroAttr(elt));
          Value v = vector::TransferReadOp::create(
              nb, l, VectorType::get({kLanes}, elt), t, ValueRange{row, c}, pad,
              ArrayRef<bool>{true});
          return elt.isF32() ? v : arith::ExtFOp::create(nb, l, vf32, v);
        };
        SmallVector<Value> xv, wv, next;
        for (int64_t i = 0; i < kRowTile; ++i)
          xv.push_back(read(x, ie.add(m0, ie.index(i))));
        for (int64_t j = 0; j < kRowTile; ++j)
          wv.push_back(read(w, ie.add(n0, ie.index(j))));
        for (int64_t i = 0; i < kRowTile; ++i)
          for (int64_t j = 0; j < kRowTile; ++j)
            next.push_back(vector::FMAOp::create(nb, l, xv[i], wv[j],
                                                 sums[i * kRowTile + j]));
        scf::YieldOp::create(nb, l, next);
      });
  SmallVector<Value> partial(loop.getResults());
  Value sums = foldSums(b, loc, partial, fm);
  return storeTile(b, loc, epilogue, sums, acc, m0, n0, kRowTile, kRowTile);
}

/// Rows [r0, r1) in steps of tm against columns [c0, c1) in steps of tn
/// (n outermost, so that a tile of w is reused across all rows).
Value emitTiles(OpBuilder &b, Location loc, Value x, Value w, Value acc,
                Value r0, Value r1, int64_t tm, Value c0, Value c1, int64_t tn,
                Value k, const TileEpilogue *epilogue,
                std::optional<int64_t> vectorK = std::nullopt) {
  LoopBuilder e{b, loc};
  auto cols = scf::ForOp::create(
      b, loc, c0, c1, e.index(tn), ValueRange{acc},
      [&](OpBuilder &nb, Location l, Value n0, ValueRange t) {
        LoopBuilder ie{nb, l};
        auto rowsLoop = scf::ForOp::create(
            nb, l, r0, r1, ie.index(tm), t,
            [&](OpBuilder &rb, Location rl, Value m0, ValueRange tt) {
              scf::YieldOp::create(rb, rl,
                                   vectorK
                                       ? emitVectorTile(rb, rl, x, w, tt[0], m0,
                                                        n0, *vectorK, epilogue)
                                       : emitTile(rb, rl, x, w, tt[0], m0, n0,
                                                  tm, tn, k, epilogue));
            });
        scf::YieldOp::create(nb, l, rowsLoop.getResults());
      });
  return cols.getResult(0);
}
} // namespace

Value mlir::moe::emitTiledContraction(OpBuilder &b, Location loc, Value x,
                                      Value w, Value dest, Value rows,
                                      OpFoldResult n, OpFoldResult k,
                                      const TileEpilogue *epilogue) {
  LoopBuilder e{b, loc};
  Value nv = getValueOrCreateConstantIndexOp(b, loc, n);
  Value kv = getValueOrCreateConstantIndexOp(b, loc, k);
  Value acc = dest;
  // Remainder columns go in steps that keep an epilogue's column groups
  // (gate, up) in one tile.
  int64_t step = epilogue ? epilogue->colsPerResult : 1;
  // Full 4-row tiles: 4 x 4 register tiles (16 sums, 8 loads per 16
  // multiply-adds), then the remaining columns.
  Value zero = e.index(0);
  Value fullRows = e.floorTo(rows, kRowTile);
  Value cols4 = e.floorTo(nv, kRowTile);
  // With k a static multiple of the vector width the tiles use explicit
  // vectors, whose sums fold together (see foldSums).
  std::optional<int64_t> staticK = getConstantIntValue(k);
  std::optional<int64_t> vectorK;
  if (staticK && *staticK > 0 && *staticK % kLanes == 0)
    vectorK = staticK;
  acc = emitTiles(b, loc, x, w, acc, zero, fullRows, kRowTile, zero, cols4,
                  kRowTile, kv, epilogue, vectorK);
  acc = emitTiles(b, loc, x, w, acc, zero, fullRows, kRowTile, cols4, nv, step,
                  kv, epilogue);
  // The 1 to 3 remaining rows (most of an expert's rows at a few tokens)
  // form one r x 8 tile, so that each weight row is read once for all of
  // them; 8 or more independent sums hide the multiply-add latency.
  Value rem = arith::SubIOp::create(b, loc, rows, fullRows);
  Value cols8 = e.floorTo(nv, kWideTile);
  for (int64_t r = 1; r < kRowTile; ++r) {
    Value isR = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rem,
                                      e.index(r));
    auto branch = scf::IfOp::create(
        b, loc, isR,
        [&](OpBuilder &tb, Location tl) {
          Value t = emitTiles(tb, tl, x, w, acc, fullRows, rows, r, zero, cols8,
                              kWideTile, kv, epilogue);
          t = emitTiles(tb, tl, x, w, t, fullRows, rows, r, cols8, nv, step, kv,
                        epilogue);
          scf::YieldOp::create(tb, tl, t);
        },
        [&](OpBuilder &eb, Location el) { scf::YieldOp::create(eb, el, acc); });
    acc = branch.getResult(0);
  }
  return acc;
}
