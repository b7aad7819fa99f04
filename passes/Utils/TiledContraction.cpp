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

Value mlir::moe::emitFoldedSums(OpBuilder &b, Location loc,
                                ArrayRef<Value> accs) {
  return foldSums(b, loc, accs,
                  arith::FastMathFlagsAttr::get(
                      b.getContext(), arith::FastMathFlags::reassoc |
                                          arith::FastMathFlags::contract));
}

func::FuncOp mlir::moe::declareDot(ModuleOp module, Location loc,
                                   const DotIntrinsic &dot, Type acc,
                                   Type operand) {
  if (auto fn = module.lookupSymbol<func::FuncOp>(dot.function))
    return fn;
  OpBuilder top(module.getBodyRegion());
  auto fn = func::FuncOp::create(
      top, loc, dot.function,
      top.getFunctionType({acc, operand, operand}, {acc}));
  fn.setPrivate();
  return fn;
}

Value mlir::moe::emitTileStore(OpBuilder &b, Location loc,
                               const TileEpilogue *epilogue, Value sums,
                               Value acc, Value m0, Value n0, int64_t tm,
                               int64_t tn) {
  return storeTile(b, loc, epilogue, sums, acc, m0, n0, tm, tn);
}

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

namespace {
/// Bytes per vector step of the quantized kernel: 16 (a 128-bit load of
/// weights; 32 or 16 f32 lanes of products), fewer for a 4-bit block of 16.
int64_t quantizedStepBytes(int64_t k, int64_t bits, int64_t block) {
  int64_t perByte = bits == 4 ? 2 : 1;
  int64_t blockBytes = (block ? block : k) / perByte;
  return std::min<int64_t>(16, blockBytes);
}

/// The values of `stepBytes` bytes of weight row `row` from byte `byte`,
/// in column order, less `zeroPoint` (f32) but not scaled: for 4 bits the
/// even columns' from the lower nibbles and the odd ones' from the upper,
/// interleaved.
Value dequantizedStep(OpBuilder &b, Location l,
                      const mlir::moe::QuantizedWeights &q, Value row,
                      Value byte, int64_t stepBytes, Value zeroPoint) {
  auto vbytes = VectorType::get({stepBytes}, b.getI8Type());
  auto vhalf = VectorType::get({stepBytes}, b.getF32Type());
  Value center = vector::BroadcastOp::create(b, l, vhalf, zeroPoint);
  Value pad = arith::ConstantOp::create(b, l, b.getI8IntegerAttr(0));
  Value raw = vector::TransferReadOp::create(
      b, l, vbytes, q.bytes, ValueRange{row, byte}, pad, ArrayRef<bool>{true});
  auto centered = [&](Value v) {
    return arith::SubFOp::create(b, l, arith::UIToFPOp::create(b, l, vhalf, v),
                                 center);
  };
  if (q.bits == 8)
    return centered(raw);
  auto splat = [&](int64_t c) {
    return arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(vbytes, b.getI8IntegerAttr(c)));
  };
  Value lo = centered(arith::AndIOp::create(b, l, raw, splat(15)));
  Value hi = centered(arith::ShRUIOp::create(b, l, raw, splat(4)));
  SmallVector<int64_t> order;
  for (int64_t i = 0; i < stepBytes; ++i) {
    order.push_back(i);
    order.push_back(stepBytes + i);
  }
  return vector::ShuffleOp::create(b, l, lo, hi, order);
}

/// One tile: row `m` of x against weight rows [n0, n0 + tn). Per vector
/// step, x's even and odd columns are split once for all tn rows and
/// multiplied by the raw (uncentered) lower and upper nibbles; a block's
/// centering is one correction by the block's sum of x, then its scale is
/// applied once: two multiply-adds per 16 bytes of each row's weights.
Value emitQuantizedTile(OpBuilder &b, Location loc, Value x,
                        const mlir::moe::QuantizedWeights &q, Value xsums,
                        Value acc, Value m, Value n0, int64_t tn, int64_t k,
                        const TileEpilogue *epilogue) {
  LoopBuilder e{b, loc};
  MLIRContext *ctx = b.getContext();
  auto fm = arith::FastMathFlagsAttr::get(
      ctx, arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  int64_t perByte = q.bits == 4 ? 2 : 1;
  int64_t stepBytes = quantizedStepBytes(k, q.bits, q.block);
  int64_t lanes = stepBytes * perByte;
  int64_t blockBytes = (q.block ? q.block : k) / perByte;
  int64_t blocks = q.block ? k / q.block : 1;
  Type f32 = b.getF32Type();
  auto vf32 = VectorType::get({stepBytes}, f32);
  auto vbytes = VectorType::get({stepBytes}, b.getI8Type());
  auto vi32 = VectorType::get({stepBytes}, b.getI32Type());
  auto splatF = [&](OpBuilder &nb, Location l, double v) -> Value {
    return arith::ConstantOp::create(
        nb, l, DenseElementsAttr::get(vf32, nb.getF32FloatAttr(v)));
  };
  Value zeros = splatF(b, loc, 0.0);
  Type xElt = cast<RankedTensorType>(x.getType()).getElementType();
  auto scaleOf = [&](OpBuilder &nb, Location l, Value row,
                     Value blockIndex) -> Value {
    SmallVector<Value> at = {row};
    if (q.block)
      at.push_back(blockIndex);
    return toF32(nb, l, tensor::ExtractOp::create(nb, l, q.scales, at));
  };

  // Loop-carried: the tn rows' scaled sums, then per block the tn raw sums
  // and x's sum.
  SmallVector<Value> init(tn, zeros);
  auto blockLoop = scf::ForOp::create(
      b, loc, e.index(0), e.index(blocks), e.index(1), init,
      [&](OpBuilder &bb, Location bl, Value cb, ValueRange accs) {
        LoopBuilder be{bb, bl};
        Value firstByte =
            arith::MulIOp::create(bb, bl, cb, be.index(blockBytes));
        SmallVector<Value> partInit(xsums ? tn : tn + 1, zeros);
        auto steps = scf::ForOp::create(
            bb, bl, be.index(0), be.index(blockBytes), be.index(stepBytes),
            partInit,
            [&](OpBuilder &nb, Location l, Value s, ValueRange parts) {
              LoopBuilder ie{nb, l};
              Value byte = ie.add(firstByte, s);
              Value col = arith::MulIOp::create(nb, l, byte, ie.index(perByte));
              Value pad =
                  arith::ConstantOp::create(nb, l, nb.getZeroAttr(xElt));
              Value xv = vector::TransferReadOp::create(
                  nb, l, VectorType::get({lanes}, xElt), x, ValueRange{m, col},
                  pad, ArrayRef<bool>{true});
              if (!xElt.isF32())
                xv = arith::ExtFOp::create(nb, l, VectorType::get({lanes}, f32),
                                           xv);
              // x's columns by the nibble they meet: even, odd.
              SmallVector<Value> xs;
              for (int64_t t = 0; t < perByte; ++t) {
                if (perByte == 1) {
                  xs.push_back(xv);
                  break;
                }
                SmallVector<int64_t> pick;
                for (int64_t i = 0; i < stepBytes; ++i)
                  pick.push_back(i * perByte + t);
                xs.push_back(vector::ShuffleOp::create(nb, l, xv, xv, pick));
              }
              SmallVector<Value> next;
              Value bytePad =
                  arith::ConstantOp::create(nb, l, nb.getI8IntegerAttr(0));
              for (int64_t j = 0; j < tn; ++j) {
                Value raw = vector::TransferReadOp::create(
                    nb, l, vbytes, q.bytes,
                    ValueRange{ie.add(n0, ie.index(j)), byte}, bytePad,
                    ArrayRef<bool>{true});
                // Widened once (a load that zero-extends), then both
                // nibbles taken from the 32-bit lanes.
                Value wide = arith::ExtUIOp::create(nb, l, vi32, raw);
                SmallVector<Value> values;
                if (q.bits == 8) {
                  values.push_back(wide);
                } else {
                  auto splat = [&](int64_t c) {
                    return arith::ConstantOp::create(
                        nb, l,
                        DenseElementsAttr::get(vi32, nb.getI32IntegerAttr(c)));
                  };
                  values.push_back(
                      arith::AndIOp::create(nb, l, wide, splat(15)));
                  values.push_back(
                      arith::ShRUIOp::create(nb, l, wide, splat(4)));
                }
                Value part = parts[j];
                for (auto [xt, v] : llvm::zip_equal(xs, values))
                  part = vector::FMAOp::create(
                      nb, l, xt, arith::SIToFPOp::create(nb, l, vf32, v), part);
                next.push_back(part);
              }
              if (!xsums) {
                Value xsum = parts[tn];
                for (Value xt : xs)
                  xsum = arith::AddFOp::create(nb, l, xsum, xt, fm);
                next.push_back(xsum);
              }
              scf::YieldOp::create(nb, l, next);
            });
        // sum (q - z) x = sum q x - z sum x, then the block's scale (with
        // the blocks' sums of x given, the correction comes after all
        // blocks). One zero point for all rows: one correction.
        auto correctionFor = [&](Value row) -> Value {
          Value z = q.zeroPointAt(bb, bl, row ? ValueRange{row} : ValueRange{},
                                  f32);
          return arith::MulFOp::create(
              bb, bl, steps.getResult(tn),
              arith::NegFOp::create(
                  bb, bl, vector::BroadcastOp::create(bb, bl, vf32, z)),
              fm);
        };
        Value shared =
            xsums || q.zeroPoints ? Value() : correctionFor(Value());
        SmallVector<Value> next;
        for (int64_t j = 0; j < tn; ++j) {
          Value part = steps.getResult(j);
          Value correction =
              xsums ? Value()
                    : (shared ? shared : correctionFor(be.add(n0, be.index(j))));
          if (correction)
            part = arith::AddFOp::create(bb, bl, part, correction, fm);
          if (!q.block) {
            next.push_back(arith::AddFOp::create(bb, bl, accs[j], part, fm));
            continue;
          }
          Value scale = vector::BroadcastOp::create(
              bb, bl, vf32, scaleOf(bb, bl, be.add(n0, be.index(j)), cb));
          next.push_back(vector::FMAOp::create(bb, bl, part, scale, accs[j]));
        }
        scf::YieldOp::create(bb, bl, next);
      });
  SmallVector<Value> sums;
  for (int64_t j = 0; j < tn; ++j) {
    Value sum = vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                            blockLoop.getResult(j), Value(),
                                            arith::FastMathFlags::reassoc);
    if (!q.block)
      sum = arith::MulFOp::create(b, loc, sum,
                                  scaleOf(b, loc, e.add(n0, e.index(j)), {}));
    if (xsums) {
      // - c * sum_b scale[n, b] * xsum[m, b]: one dot product per row.
      auto vblocks = VectorType::get({blocks}, f32);
      auto read = [&](Value t, Value row) -> Value {
        Type elt = cast<RankedTensorType>(t.getType()).getElementType();
        Value pad = arith::ConstantOp::create(b, loc, b.getZeroAttr(elt));
        Value v = vector::TransferReadOp::create(
            b, loc, VectorType::get({blocks}, elt), t,
            ValueRange{row, e.index(0)}, pad, ArrayRef<bool>{true});
        return elt.isF32() ? v : arith::ExtFOp::create(b, loc, vblocks, v);
      };
      // - sum_b z[n, b] * scale[n, b] * xsum[m, b] with zero points.
      Value row = e.add(n0, e.index(j));
      // Named reads: the IR's order must not depend on the compiler's
      // order of evaluating arguments.
      Value scales = read(q.scales, row);
      Value blockSums = read(xsums, m);
      Value weighted = arith::MulFOp::create(b, loc, scales, blockSums, fm);
      if (q.zeroPoints) {
        Value pad = arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0));
        Value zp = vector::TransferReadOp::create(
            b, loc, VectorType::get({blocks}, b.getI8Type()), q.zeroPoints,
            ValueRange{row, e.index(0)}, pad, ArrayRef<bool>{true});
        weighted = arith::MulFOp::create(
            b, loc, weighted, arith::UIToFPOp::create(b, loc, vblocks, zp), fm);
      }
      Value dot = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, weighted, Value(),
          arith::FastMathFlags::reassoc);
      if (!q.zeroPoints)
        dot = arith::MulFOp::create(b, loc, dot,
                                    q.zeroPointAt(b, loc, {}, f32), fm);
      sum = arith::SubFOp::create(b, loc, sum, dot, fm);
    }
    sums.push_back(sum);
  }
  Value tile =
      vector::FromElementsOp::create(b, loc, VectorType::get({tn}, f32), sums);
  return storeTile(b, loc, epilogue, tile, acc, m, n0, 1, tn);
}

/// Columns [c0, c1) in tiles of tn, each against every row.
Value emitRowTileRange(OpBuilder &b, Location loc, Value acc, Value rows,
                       int64_t c0, int64_t c1, int64_t tn,
                       mlir::moe::RowTileFn tile) {
  LoopBuilder e{b, loc};
  if (c0 >= c1)
    return acc;
  auto cols = scf::ForOp::create(
      b, loc, e.index(c0), e.index(c1), e.index(tn), ValueRange{acc},
      [&](OpBuilder &nb, Location l, Value n0, ValueRange t) {
        LoopBuilder ie{nb, l};
        auto rowLoop = scf::ForOp::create(
            nb, l, ie.index(0), rows, ie.index(1), t,
            [&](OpBuilder &rb, Location rl, Value m, ValueRange tt) {
              scf::YieldOp::create(rb, rl, tile(rb, rl, tt[0], m, n0, tn));
            });
        scf::YieldOp::create(nb, l, rowLoop.getResults());
      });
  return cols.getResult(0);
}

/// A [rows, k] f32 tensor whose row r holds, in steps of `lanes` columns,
/// `step(builder, loc, n0 + r, c)` (a vector<lanes x f32> of weight row
/// n0 + r from column c): a panel of converted weight rows.
Value emitPanel(
    OpBuilder &b, Location loc, Value n0, int64_t rows, int64_t k,
    int64_t lanes,
    llvm::function_ref<Value(OpBuilder &, Location, Value, Value)> step) {
  LoopBuilder e{b, loc};
  Value panel = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{rows, k},
                                        b.getF32Type());
  auto rowLoop = scf::ForOp::create(
      b, loc, e.index(0), e.index(rows), e.index(1), ValueRange{panel},
      [&](OpBuilder &rb, Location rl, Value r, ValueRange p) {
        LoopBuilder re{rb, rl};
        Value row = re.add(n0, r);
        auto cols = scf::ForOp::create(
            rb, rl, re.index(0), re.index(k), re.index(lanes), p,
            [&](OpBuilder &nb, Location l, Value c, ValueRange pp) {
              scf::YieldOp::create(nb, l,
                                   vector::TransferWriteOp::create(
                                       nb, l, step(nb, l, row, c), pp[0],
                                       ValueRange{r, c}, ArrayRef<bool>{true})
                                       .getResult());
            });
        scf::YieldOp::create(rb, rl, cols.getResults());
      });
  return rowLoop.getResult(0);
}
} // namespace

namespace {
/// xsum[m, b]: the sum of row m of x over block b of `block` columns
/// (shared by every weight row's zero-point correction).
Value emitBlockSums(OpBuilder &b, Location loc, Value x, Value rows,
                    int64_t block, int64_t k) {
  LoopBuilder e{b, loc};
  Type f32 = b.getF32Type();
  int64_t blocks = k / block;
  Value sums = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{rows, b.getIndexAttr(blocks)}, f32);
  Type xElt = cast<RankedTensorType>(x.getType()).getElementType();
  auto rowLoop = scf::ForOp::create(
      b, loc, e.index(0), rows, e.index(1), ValueRange{sums},
      [&](OpBuilder &rb, Location rl, Value m, ValueRange t) {
        LoopBuilder re{rb, rl};
        auto blockLoop = scf::ForOp::create(
            rb, rl, re.index(0), re.index(blocks), re.index(1), t,
            [&](OpBuilder &nb, Location l, Value cb, ValueRange tt) {
              LoopBuilder ie{nb, l};
              Value pad =
                  arith::ConstantOp::create(nb, l, nb.getZeroAttr(xElt));
              Value v = vector::TransferReadOp::create(
                  nb, l, VectorType::get({block}, xElt), x,
                  ValueRange{m,
                             arith::MulIOp::create(nb, l, cb, ie.index(block))},
                  pad, ArrayRef<bool>{true});
              if (!xElt.isF32())
                v = arith::ExtFOp::create(nb, l, VectorType::get({block}, f32),
                                          v);
              Value sum = vector::ReductionOp::create(
                  nb, l, vector::CombiningKind::ADD, v, Value(),
                  arith::FastMathFlags::reassoc);
              scf::YieldOp::create(
                  nb, l,
                  tensor::InsertOp::create(nb, l, sum, tt[0], ValueRange{m, cb})
                      .getResult());
            });
        scf::YieldOp::create(rb, rl, blockLoop.getResults());
      });
  return rowLoop.getResult(0);
}
} // namespace

Value mlir::moe::QuantizedWeights::zeroPointAt(OpBuilder &b, Location loc,
                                               ValueRange at,
                                               Type type) const {
  if (!zeroPoints) {
    TypedAttr c = type.isF32()
                      ? TypedAttr(b.getF32FloatAttr(double(1 << (bits - 1))))
                      : TypedAttr(b.getIntegerAttr(type, 1 << (bits - 1)));
    return arith::ConstantOp::create(b, loc, c);
  }
  Value z = tensor::ExtractOp::create(b, loc, zeroPoints, at);
  if (type.isF32())
    return arith::UIToFPOp::create(b, loc, type, z);
  return arith::ExtUIOp::create(b, loc, type, z);
}

bool mlir::moe::quantizedVectorizable(int64_t k, int64_t bits, int64_t block) {
  if (ShapedType::isDynamic(k) || k <= 0 || (bits != 4 && bits != 8))
    return false;
  int64_t perByte = bits == 4 ? 2 : 1;
  int64_t span = block ? block : k;
  if (span % perByte || k % span)
    return false;
  int64_t blockBytes = span / perByte;
  int64_t step = quantizedStepBytes(k, bits, block);
  return step >= 4 && blockBytes % step == 0;
}

Value mlir::moe::emitRowTiles(OpBuilder &b, Location loc, Value acc, Value rows,
                              int64_t n, int64_t step, RowTileFn tile) {
  constexpr int64_t kColumnTile = 4;
  int64_t full = n / kColumnTile * kColumnTile;
  acc = emitRowTileRange(b, loc, acc, rows, 0, full, kColumnTile, tile);
  return emitRowTileRange(b, loc, acc, rows, full, n, step, tile);
}

Value mlir::moe::emitQuantizedContraction(OpBuilder &b, Location loc, Value x,
                                          const QuantizedWeights &q, Value dest,
                                          Value rows, int64_t n, int64_t k,
                                          const TileEpilogue *epilogue) {
  Value xsums = q.block ? emitBlockSums(b, loc, x, rows, q.block, k) : Value();
  return emitRowTiles(b, loc, dest, rows, n,
                      epilogue ? epilogue->colsPerResult : 1,
                      [&](OpBuilder &tb, Location tl, Value acc, Value m,
                          Value n0, int64_t tn) {
                        return emitQuantizedTile(tb, tl, x, q, xsums, acc, m,
                                                 n0, tn, k, epilogue);
                      });
}

Value mlir::moe::emitDequantizedPanel(OpBuilder &b, Location loc,
                                      const QuantizedWeights &q, Value n0,
                                      int64_t rows, int64_t k) {
  int64_t perByte = q.bits == 4 ? 2 : 1;
  int64_t stepBytes = quantizedStepBytes(k, q.bits, q.block);
  int64_t lanes = stepBytes * perByte;
  int64_t span = q.block ? q.block : k;
  auto vf32 = VectorType::get({lanes}, b.getF32Type());
  return emitPanel(
      b, loc, n0, rows, k, lanes,
      [&](OpBuilder &nb, Location l, Value row, Value c) -> Value {
        LoopBuilder ie{nb, l};
        Value byte = arith::DivUIOp::create(nb, l, c, ie.index(perByte));
        SmallVector<Value> at = {row};
        if (q.block)
          at.push_back(arith::DivUIOp::create(nb, l, c, ie.index(span)));
        Value scale =
            toF32(nb, l, tensor::ExtractOp::create(nb, l, q.scales, at));
        Value zeroPoint = q.zeroPointAt(nb, l, at, nb.getF32Type());
        return arith::MulFOp::create(
            nb, l, dequantizedStep(nb, l, q, row, byte, stepBytes, zeroPoint),
            vector::BroadcastOp::create(nb, l, vf32, scale));
      });
}

Value mlir::moe::emitConvertedPanel(OpBuilder &b, Location loc, Value w,
                                    Value n0, int64_t rows, int64_t k) {
  constexpr int64_t lanes = 16;
  Type elt = cast<RankedTensorType>(w.getType()).getElementType();
  return emitPanel(b, loc, n0, rows, k, lanes,
                   [&](OpBuilder &nb, Location l, Value row, Value c) -> Value {
                     Value pad =
                         arith::ConstantOp::create(nb, l, nb.getZeroAttr(elt));
                     Value v = vector::TransferReadOp::create(
                         nb, l, VectorType::get({lanes}, elt), w,
                         ValueRange{row, c}, pad, ArrayRef<bool>{true});
                     return arith::ExtFOp::create(
                         nb, l, VectorType::get({lanes}, nb.getF32Type()), v);
                   });
}
