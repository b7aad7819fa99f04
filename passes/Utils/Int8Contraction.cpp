//===- Int8Contraction.cpp - int8 activations x 4/8-bit weights ----------===//
//
// The opt-in int8 form of the quantized expert GEMM for few rows: x is
// quantized once per row (per 32 columns), then each 64 weights of a row
// are one int32 dot product of bytes (vpdpbusd on VNNI CPUs: unsigned
// weight bytes times signed activations), converted and scaled once. The
// f32 form needs about 8 512-bit operations per 32 weights; this one about
// 6 per 64.
//
// Byte order: vpdpbusd sums groups of 4 adjacent bytes into one lane, so
// both operands of a group must hold the same columns. A 4-bit weight row
// gives 32 bytes per 64 columns, the lower nibbles the even columns and the
// upper ones the odd columns; the quantized x of each 64 columns is stored
// in that order (the 32 even columns, then the 32 odd ones), and the weight
// vector is the lower nibbles followed by the upper ones. 8-bit weights and
// x keep column order. Lane l's columns then lie in one 32-column half h(l)
// of the group (4-bit: (l mod 8) / 4; 8-bit: l / 8), which fixes its
// activation scale and, for 32-column weight blocks, its weight scale.
//
// On VNNI CPUs the dot product is a call to the module's private
// `moe_int8_dot_vnni`, which moe-cpu-define-dot-intrinsics defines after
// bufferization as the vpdpbusd intrinsic (and LLVM inlines).
//
// The weights' zero point c is folded in: the dot product starts from
// -c * (sum of the lane's quantized x), computed with x (with zero points,
// one per weight row and block, the negated sums times the row's c).
//
//===----------------------------------------------------------------------===//

#include "Utils/Emitter.h"
#include "Utils/TiledContraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
constexpr int64_t kGroup = 64, kLanes = 16;

/// Emitter's helpers and the vector ones this file needs.
struct VectorEmitter : Emitter {
  Value mulc(Value x, int64_t c) { return muli(x, index(c)); }
  Value splat(VectorType type, Attribute value) {
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(type, value));
  }
  Value shuffle(Value x, Value y, ArrayRef<int64_t> mask) {
    return vector::ShuffleOp::create(b, loc, x, y, mask);
  }
  Value read(Value tensor, VectorType type, ValueRange at) {
    Type elt = type.getElementType();
    Value pad = arith::ConstantOp::create(b, loc, b.getZeroAttr(elt));
    return vector::TransferReadOp::create(b, loc, type, tensor, at, pad,
                                          ArrayRef<bool>{true});
  }
  Value write(Value v, Value tensor, ValueRange at) {
    return vector::TransferWriteOp::create(b, loc, v, tensor, at,
                                           ArrayRef<bool>{true})
        .getResult();
  }
};

/// The 32-column half of a group that lane `l` reads (see the header).
int64_t halfOfLane(int64_t lane, int64_t bits) {
  return bits == 4 ? (lane % 8) / 4 : lane / 8;
}

/// A vector<16> whose lane l is `halves[halfOfLane(l)]` (two scalars).
Value byHalf(VectorEmitter &e, Value h0, Value h1, int64_t bits) {
  auto type = VectorType::get({kLanes}, h0.getType());
  Value v0 = vector::BroadcastOp::create(e.b, e.loc, type, h0);
  Value v1 = vector::BroadcastOp::create(e.b, e.loc, type, h1);
  SmallVector<int64_t> mask;
  for (int64_t l = 0; l < kLanes; ++l)
    mask.push_back(halfOfLane(l, bits) ? kLanes + l : l);
  return e.shuffle(v0, v1, mask);
}

/// Sums of each 4 adjacent elements of an i32 vector<64>: vector<16>.
Value sumFours(VectorEmitter &e, Value v) {
  Value sum;
  for (int64_t t = 0; t < 4; ++t) {
    SmallVector<int64_t> pick;
    for (int64_t l = 0; l < kLanes; ++l)
      pick.push_back(4 * l + t);
    Value part = e.shuffle(v, v, pick);
    sum = sum ? arith::AddIOp::create(e.b, e.loc, sum, part).getResult() : part;
  }
  return sum;
}

/// acc + (the 16 sums of 4 products of unsigned `w` and signed `x` bytes).
Value dotBytes(VectorEmitter &e, Value acc, Value w, Value x,
               func::FuncOp vnni) {
  if (vnni)
    return func::CallOp::create(e.b, e.loc, vnni, ValueRange{acc, w, x})
        .getResult(0);
  auto wide = VectorType::get({kGroup}, e.b.getI32Type());
  Value products = arith::MulIOp::create(
      e.b, e.loc, arith::ExtUIOp::create(e.b, e.loc, wide, w),
      arith::ExtSIOp::create(e.b, e.loc, wide, x));
  return arith::AddIOp::create(e.b, e.loc, acc, sumFours(e, products));
}

/// Quantized x in the weights' byte order, each lane's activation scale,
/// and each lane's zero-point correction, per row and group of 64 columns.
struct QuantizedRows {
  Value bytes;       // [rows, K] i8
  Value scales;      // [rows, K / 4] f32 (16 lanes per group)
  Value corrections; // [rows, K / 4] i32
};

QuantizedRows quantizeRows(OpBuilder &b, Location loc, Value x, Value rows,
                           int64_t k, int64_t bits, int64_t center) {
  VectorEmitter e{{b, loc}};
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  int64_t groups = k / kGroup;
  auto half = VectorType::get({kGroup / 2}, f32);
  SmallVector<OpFoldResult> byteShape = {rows, b.getIndexAttr(k)},
                            laneShape = {rows, b.getIndexAttr(groups * kLanes)};
  SmallVector<Value> init = {tensor::EmptyOp::create(b, loc, byteShape, i8),
                             tensor::EmptyOp::create(b, loc, laneShape, f32),
                             tensor::EmptyOp::create(b, loc, laneShape, i32)};
  Type xElt = cast<RankedTensorType>(x.getType()).getElementType();
  auto rowLoop = scf::ForOp::create(
      b, loc, e.index(0), rows, e.index(1), init,
      [&](OpBuilder &rb, Location rl, Value m, ValueRange outs) {
        VectorEmitter re{{rb, rl}};
        auto groupLoop = scf::ForOp::create(
            rb, rl, re.index(0), re.index(groups), re.index(1), outs,
            [&](OpBuilder &nb, Location l, Value g, ValueRange t) {
              VectorEmitter ie{{nb, l}};
              Value col = ie.mulc(g, kGroup);
              Value xv = ie.read(x, VectorType::get({kGroup}, xElt), {m, col});
              if (!xElt.isF32())
                xv = arith::ExtFOp::create(nb, l,
                                           VectorType::get({kGroup}, f32), xv);
              SmallVector<Value> scales, quantized;
              for (int64_t h = 0; h < 2; ++h) {
                SmallVector<int64_t> pick;
                for (int64_t i = 0; i < kGroup / 2; ++i)
                  pick.push_back(h * kGroup / 2 + i);
                Value part = ie.shuffle(xv, xv, pick);
                Value amax = vector::ReductionOp::create(
                    nb, l, vector::CombiningKind::MAXNUMF,
                    math::AbsFOp::create(nb, l, part));
                // An all-zero half keeps scale 1 (its bytes are 0).
                Value zero =
                    arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0));
                Value isZero = arith::CmpFOp::create(
                    nb, l, arith::CmpFPredicate::OEQ, amax, zero);
                Value scale = arith::SelectOp::create(
                    nb, l, isZero,
                    arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1)),
                    arith::DivFOp::create(nb, l, amax,
                                          arith::ConstantOp::create(
                                              nb, l, nb.getF32FloatAttr(127))));
                Value q = math::RoundEvenOp::create(
                    nb, l,
                    arith::DivFOp::create(
                        nb, l, part,
                        vector::BroadcastOp::create(nb, l, half, scale)));
                scales.push_back(scale);
                quantized.push_back(arith::FPToSIOp::create(
                    nb, l, VectorType::get({kGroup / 2}, i8), q));
              }
              SmallVector<int64_t> order;
              for (int64_t i = 0; i < kGroup; ++i)
                order.push_back(
                    bits == 4 ? (i < kGroup / 2 ? 2 * i : 2 * i - kGroup + 1)
                              : i);
              Value bytes = ie.shuffle(quantized[0], quantized[1], order);
              Value laneScales = byHalf(ie, scales[0], scales[1], bits);
              // -center * (sum of each lane's 4 quantized values).
              Value sums = sumFours(
                  ie, arith::ExtSIOp::create(
                          nb, l, VectorType::get({kGroup}, i32), bytes));
              Value correction = arith::MulIOp::create(
                  nb, l, sums,
                  ie.splat(VectorType::get({kLanes}, i32),
                           nb.getI32IntegerAttr(-center)));
              Value lane = ie.mulc(g, kLanes);
              scf::YieldOp::create(
                  nb, l,
                  ValueRange{ie.write(bytes, t[0], {m, col}),
                             ie.write(laneScales, t[1], {m, lane}),
                             ie.write(correction, t[2], {m, lane})});
            });
        scf::YieldOp::create(rb, rl, groupLoop.getResults());
      });
  return {rowLoop.getResult(0), rowLoop.getResult(1), rowLoop.getResult(2)};
}

/// One tile: quantized row `m` against weight rows [n0, n0 + tn).
Value emitTile(OpBuilder &b, Location loc, const QuantizedRows &xq,
               const QuantizedWeights &q, Value acc, Value m, Value n0,
               int64_t tn, int64_t k, func::FuncOp dot,
               const TileEpilogue *epilogue) {
  VectorEmitter e{{b, loc}};
  Type f32 = b.getF32Type(), i8 = b.getI8Type();
  auto lanesF = VectorType::get({kLanes}, f32);
  auto lanesI = VectorType::get({kLanes}, b.getI32Type());
  int64_t groups = k / kGroup;
  int64_t groupBytes = kGroup * q.bits / 8;
  auto scaleAt = [&](VectorEmitter &ie, Value row, Value block) -> Value {
    Value s = tensor::ExtractOp::create(ie.b, ie.loc, q.scales,
                                        ValueRange{row, block});
    return s.getType().isF32()
               ? s
               : arith::ExtFOp::create(ie.b, ie.loc, f32, s).getResult();
  };
  SmallVector<Value> init(tn, e.splat(lanesF, b.getF32FloatAttr(0)));
  auto loop = scf::ForOp::create(
      b, loc, e.index(0), e.index(groups), e.index(1), init,
      [&](OpBuilder &nb, Location l, Value g, ValueRange accs) {
        VectorEmitter ie{{nb, l}};
        Value xv = ie.read(xq.bytes, VectorType::get({kGroup}, i8),
                           {m, ie.mulc(g, kGroup)});
        Value lane = ie.mulc(g, kLanes);
        Value aScales = ie.read(xq.scales, lanesF, {m, lane});
        Value start = ie.read(xq.corrections, lanesI, {m, lane});
        Value first =
            q.block ? arith::DivUIOp::create(nb, l, ie.mulc(g, kGroup),
                                             ie.index(q.block))
                          .getResult()
                    : Value();
        // A lane's value of a per-row or per-block operand (weight scales,
        // zero points) of row `row`: one for the group, or one per half.
        auto byBlock = [&](Value row, auto at) -> Value {
          if (q.block && q.block < kGroup) {
            Value lo = at(row, first);
            Value hi = at(row, ie.addi(first, ie.index(1)));
            return byHalf(ie, lo, hi, q.bits);
          }
          Value v = at(row, first);
          return vector::BroadcastOp::create(
              nb, l, VectorType::get({kLanes}, v.getType()), v);
        };
        SmallVector<Value> next;
        for (int64_t j = 0; j < tn; ++j) {
          Value row = ie.addi(n0, ie.index(j));
          Value rowStart = start;
          if (q.zeroPoints)
            rowStart = arith::MulIOp::create(
                nb, l, start,
                byBlock(row, [&](Value r, Value blk) {
                  SmallVector<Value> at = {r};
                  if (blk)
                    at.push_back(blk);
                  return q.zeroPointAt(nb, l, at, nb.getI32Type());
                }));
          Value w = ie.read(q.bytes, VectorType::get({groupBytes}, i8),
                            {row, ie.mulc(g, groupBytes)});
          if (q.bits == 4) {
            auto type = VectorType::get({groupBytes}, i8);
            Value lo = arith::AndIOp::create(
                nb, l, w, ie.splat(type, nb.getI8IntegerAttr(15)));
            Value hi = arith::ShRUIOp::create(
                nb, l, w, ie.splat(type, nb.getI8IntegerAttr(4)));
            SmallVector<int64_t> concat;
            for (int64_t i = 0; i < kGroup; ++i)
              concat.push_back(i);
            w = ie.shuffle(lo, hi, concat);
          }
          Value sums = arith::SIToFPOp::create(
              nb, l, lanesF, dotBytes(ie, rowStart, w, xv, dot));
          Value scaled = arith::MulFOp::create(nb, l, sums, aScales);
          if (!q.block) {
            next.push_back(arith::AddFOp::create(nb, l, accs[j], scaled));
            continue;
          }
          Value wScales = byBlock(row, [&](Value r, Value blk) {
            return scaleAt(ie, r, blk);
          });
          next.push_back(
              vector::FMAOp::create(nb, l, scaled, wScales, accs[j]));
        }
        scf::YieldOp::create(nb, l, next);
      });
  SmallVector<Value> results;
  for (int64_t j = 0; j < tn; ++j) {
    Value sum = vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                            loop.getResult(j), Value(),
                                            arith::FastMathFlags::reassoc);
    if (!q.block) {
      Value s = tensor::ExtractOp::create(b, loc, q.scales,
                                          ValueRange{e.addi(n0, e.index(j))});
      if (!s.getType().isF32())
        s = arith::ExtFOp::create(b, loc, f32, s);
      sum = arith::MulFOp::create(b, loc, sum, s);
    }
    results.push_back(sum);
  }
  Value tile = vector::FromElementsOp::create(
      b, loc, VectorType::get({tn}, f32), results);
  return emitTileStore(b, loc, epilogue, tile, acc, m, n0, 1, tn);
}

} // namespace

func::FuncOp mlir::moe::declareInt8DotVNNI(ModuleOp module, Location loc) {
  MLIRContext *ctx = module.getContext();
  return declareDot(module, loc, kInt8DotVNNI,
                    VectorType::get({kLanes}, IntegerType::get(ctx, 32)),
                    VectorType::get({kGroup}, IntegerType::get(ctx, 8)));
}

bool mlir::moe::int8Vectorizable(int64_t k, int64_t bits, int64_t block) {
  if (ShapedType::isDynamic(k) || k <= 0 || k % kGroup ||
      (bits != 4 && bits != 8))
    return false;
  if (!block)
    return true;
  return k % block == 0 && (block == kGroup / 2 || block % kGroup == 0);
}

Value mlir::moe::emitInt8Contraction(OpBuilder &b, Location loc, Value x,
                                     const QuantizedWeights &q, Value dest,
                                     Value rows, int64_t n, int64_t k,
                                     func::FuncOp dot,
                                     const TileEpilogue *epilogue) {
  // With zero points, each weight row scales the negated sums by its own.
  QuantizedRows xq = quantizeRows(b, loc, x, rows, k, q.bits,
                                  q.zeroPoints ? 1 : 1 << (q.bits - 1));
  return emitRowTiles(
      b, loc, dest, rows, n, epilogue ? epilogue->colsPerResult : 1,
      [&](OpBuilder &tb, Location tl, Value acc, Value m, Value n0,
          int64_t tn) {
        return emitTile(tb, tl, xq, q, acc, m, n0, tn, k, dot, epilogue);
      });
}
