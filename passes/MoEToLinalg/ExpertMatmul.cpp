//===- ExpertMatmul.cpp - moe.expert_matmul -> tiled grouped GEMMs --------===//
//
// One contraction per active expert over its row range, accumulated in f32,
// in an scf.forall over (expert, column chunk) work items; rows past
// offsets[E] stay zero. Float weights take register-tiled loops with the
// epilogue (bias, activation, rounding) applied to each tile; quantized
// weights one dequantizing contraction and an elementwise epilogue.
//
//===----------------------------------------------------------------------===//

#include "MoEToLinalg/Patterns.h"
#include "Utils/Activation.h"
#include "Utils/Emitter.h"
#include "Utils/TiledContraction.h"
#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Column chunks per expert of the CPU grouped GEMM (when the width allows).
constexpr int64_t kColumnChunks = 4;
/// Below this many active experts, their columns are chunked 4 ways (decode
/// of a coarse model: 2 experts for 2+ threads); below the second, 2 ways,
/// so that one popular expert of a few does not serialize a prefill (the
/// guided schedule can only share whole items); above, whole experts
/// balance well and chunks only add overhead.
constexpr int64_t kChunkBelowExperts = 4, kHalveBelowExperts = 16;
/// From this many rows of an expert on, quantized weights are dequantized
/// into panels once instead of in registers once per row.
constexpr int64_t kPanelRows = 4;
/// The same for f16/bf16 weights, whose tiles convert each weight once per
/// 4 rows of x: a panel pays off from a few tiles on.
constexpr int64_t kFloatPanelRows = 16;

/// Bias (row `expert` of `bias`, columns from `n0`), the fused activation
/// and rounding to `elt`, applied to a GEMM tile's sums in registers. An
/// interleaved-gated activation takes the even lanes (columns) as gates and
/// the odd ones as ups, so the tile yields half as many results.
TileEpilogue tileEpilogueOf(Value bias, Value expert, Value n0,
                            std::optional<ActivationAttr> act, Type elt) {
  bool paired = act && act->isGated();
  TileEpilogue tile;
  tile.colsPerResult = paired ? 2 : 1;
  tile.apply = [=](OpBuilder &b, Location l, Value sums, int64_t tm, int64_t tn,
                   Value c0) {
    Emitter in{b, l};
    Value v = sums;
    if (bias) {
      // bias[expert, n0 + c0 + j] for lane (i, j).
      Type bElt = cast<RankedTensorType>(bias.getType()).getElementType();
      Value pad = arith::ConstantOp::create(b, l, b.getZeroAttr(bElt));
      Value row = vector::TransferReadOp::create(
          b, l, VectorType::get({tn}, bElt), bias,
          ValueRange{expert, in.addi(n0, c0)}, pad, ArrayRef<bool>{true});
      SmallVector<int64_t> lanes;
      for (int64_t i = 0; i < tm; ++i)
        for (int64_t j = 0; j < tn; ++j)
          lanes.push_back(j);
      Value spread = vector::ShuffleOp::create(b, l, row, row, lanes);
      if (!bElt.isF32())
        spread = arith::ExtFOp::create(
            b, l, VectorType::get({tm * tn}, b.getF32Type()), spread);
      v = in.add(v, spread);
    }
    if (paired) {
      SmallVector<int64_t> gates, ups;
      for (int64_t t = 0; t < tm * tn; t += 2) {
        gates.push_back(t);
        ups.push_back(t + 1);
      }
      Value g = vector::ShuffleOp::create(b, l, v, v, gates);
      Value u = vector::ShuffleOp::create(b, l, v, v, ups);
      v = emitActivation(b, l, *act, g, u);
    } else if (act) {
      v = emitActivation(b, l, *act, v, Value());
    }
    if (!elt.isF32())
      v = arith::TruncFOp::create(
          b, l, VectorType::get(cast<VectorType>(v.getType()).getShape(), elt),
          v);
    return v;
  };
  return tile;
}

/// An empty [rows, n] result whose rows past offsets[E] are zero: every row
/// below is written by its expert (all column chunks).
Value emitResultWithZeroTail(PatternRewriter &rewriter, Emitter &e,
                             Location loc, Value offsets, int64_t experts,
                             Value rows, OpFoldResult resultN, Type elt) {
  Value result = tensor::EmptyOp::create(
      rewriter, loc, ArrayRef<OpFoldResult>{rows, resultN}, elt);
  Value used = arith::MinUIOp::create(
      rewriter, loc, e.toIndex(e.extract(offsets, {e.index(experts)})), rows);
  Value unused = arith::SubIOp::create(rewriter, loc, rows, used);
  OpFoldResult one = rewriter.getIndexAttr(1), zero = rewriter.getIndexAttr(0);
  Value tail = tensor::ExtractSliceOp::create(
      rewriter, loc, result, ArrayRef<OpFoldResult>{used, zero},
      ArrayRef<OpFoldResult>{unused, resultN},
      ArrayRef<OpFoldResult>{one, one});
  Value zeros = arith::ConstantOp::create(
      rewriter, loc, cast<TypedAttr>(rewriter.getZeroAttr(elt)));
  tail = linalg::FillOp::create(rewriter, loc, zeros, tail).getResult(0);
  return tensor::InsertSliceOp::create(rewriter, loc, tail, result,
                                       ArrayRef<OpFoldResult>{used, zero},
                                       ArrayRef<OpFoldResult>{unused, resultN},
                                       ArrayRef<OpFoldResult>{one, one});
}

/// The experts that have rows, in order, and their count: the parallel
/// loop runs over them only, so that threads share the active experts
/// evenly (at one token, k of E experts).
std::pair<Value, Value> emitActiveExperts(PatternRewriter &rewriter, Emitter &e,
                                          Location loc, Value offsets,
                                          int64_t experts) {
  Value listInit =
      e.filled({rewriter.getIndexAttr(experts)}, rewriter.getI32IntegerAttr(0));
  auto compact = scf::ForOp::create(
      rewriter, loc, e.index(0), e.index(experts), e.index(1),
      ValueRange{listInit, e.index(0)},
      [&](OpBuilder &b, Location l, Value x, ValueRange iter) {
        Emitter in{b, l};
        Value lo = in.extract(offsets, {x});
        Value hi = in.extract(offsets, {in.addi(x, in.index(1))});
        Value has = in.cmpi(arith::CmpIPredicate::sgt, hi, lo);
        auto add = scf::IfOp::create(
            b, l, has,
            [&](OpBuilder &tb, Location tl) {
              Emitter te{tb, tl};
              Value list = tensor::InsertOp::create(tb, tl, te.toI32(x),
                                                    iter[0], iter[1]);
              scf::YieldOp::create(
                  tb, tl, ValueRange{list, te.addi(iter[1], te.index(1))});
            },
            [&](OpBuilder &eb, Location el) {
              scf::YieldOp::create(eb, el, iter);
            });
        scf::YieldOp::create(b, l, add.getResults());
      });
  return {compact.getResult(0), compact.getResult(1)};
}

/// Column chunks per active expert: 4 below kChunkBelowExperts active
/// experts, 2 below kHalveBelowExperts, else 1.
Value emitChunkCount(Emitter &e, Value numActive) {
  // One statement per op: the IR's order must not depend on the compiler's
  // order of evaluating arguments.
  Value some =
      e.cmpi(arith::CmpIPredicate::ult, numActive, e.index(kHalveBelowExperts));
  Value halves = e.select(some, e.index(2), e.index(1));
  Value few =
      e.cmpi(arith::CmpIPredicate::ult, numActive, e.index(kChunkBelowExperts));
  return e.select(few, e.index(kColumnChunks), halves);
}

/// One work item: expert `x`'s rows [lo, lo + count) and weight rows
/// [n0, n0 + n).
struct WorkItem {
  Value x, lo, count, n0;
  OpFoldResult n;
};

/// This expert's rows, read from the tokens through the slots (a
/// per-expert tile, not a permuted copy of all tokens). Row by row: a
/// slot's token is found once and its row copied whole, not recomputed per
/// element; a padding slot gives a zero row.
Value emitGatheredRows(PatternRewriter &rewriter, Emitter &e, Location loc,
                       Value input, Value gatherSlots, int64_t gk,
                       const WorkItem &w, OpFoldResult kk) {
  OpFoldResult one = rewriter.getIndexAttr(1), zero = rewriter.getIndexAttr(0);
  Type inElt = cast<RankedTensorType>(input.getType()).getElementType();
  Value init = tensor::EmptyOp::create(
      rewriter, loc, ArrayRef<OpFoldResult>{w.count, kk}, inElt);
  auto rowType = RankedTensorType::get(
      {1, cast<RankedTensorType>(input.getType()).getDimSize(1)}, inElt);
  return e.loop(w.count, {init}, [&](Value m, ValueRange acc) {
    Value slot = e.extract(gatherSlots, {e.addi(w.lo, m)});
    Value valid = e.cmpi(arith::CmpIPredicate::sge, slot, e.i32(0));
    auto row = scf::IfOp::create(
        rewriter, loc, valid,
        [&](OpBuilder &b, Location l) {
          Emitter in{b, l};
          Value token =
              arith::DivUIOp::create(b, l, in.toIndex(slot), in.index(gk));
          Value r = tensor::ExtractSliceOp::create(
              b, l, rowType, input, ArrayRef<OpFoldResult>{token, zero},
              ArrayRef<OpFoldResult>{one, kk},
              ArrayRef<OpFoldResult>{one, one});
          scf::YieldOp::create(b, l, r);
        },
        [&](OpBuilder &b, Location l) {
          Emitter in{b, l};
          Value z = in.filled({b.getIndexAttr(1), kk},
                              cast<TypedAttr>(b.getZeroAttr(inElt)));
          scf::YieldOp::create(b, l, castIfNeeded(b, l, z, rowType));
        });
    Value next = tensor::InsertSliceOp::create(
        rewriter, loc, row.getResult(0), acc[0],
        ArrayRef<OpFoldResult>{m, zero}, ArrayRef<OpFoldResult>{one, kk},
        ArrayRef<OpFoldResult>{one, one});
    return SmallVector<Value>{next};
  })[0];
}

/// Expert `expert`'s scales (or zero points): [N] per row, or
/// [N, K / block].
Value expertScales(PatternRewriter &rewriter, Location loc, Value scales,
                   Value expert) {
  OpFoldResult one = rewriter.getIndexAttr(1), zero = rewriter.getIndexAttr(0);
  auto sType = cast<RankedTensorType>(scales.getType());
  SmallVector<OpFoldResult> offs(sType.getRank(), zero), sizes, steps;
  offs[0] = expert;
  sizes.push_back(one);
  for (int64_t d = 1; d < sType.getRank(); ++d)
    sizes.push_back(tensor::getMixedSize(rewriter, loc, scales, d));
  steps.assign(sType.getRank(), one);
  SmallVector<int64_t> sliceShape(sType.getShape().drop_front());
  return tensor::ExtractSliceOp::create(
      rewriter, loc, RankedTensorType::get(sliceShape, sType.getElementType()),
      scales, offs, sizes, steps);
}

/// The generic quantized path (shapes the vector kernel does not take):
/// `xs x dequant(ws)^T` in f32 (one contraction that dequantizes as it
/// reads), into `dest` directly when there is no epilogue.
Value emitQuantizedGeneric(PatternRewriter &rewriter, Emitter &e, Location loc,
                           ExpertMatmulOp op, Value xs, Value ws, Value dest,
                           const WorkItem &w, bool needsEpilogue) {
  MLIRContext *ctx = rewriter.getContext();
  int64_t bits = op.getWeightBits(), qblock = op.getQuantBlock();
  Value scales = op.getScales();
  AffineExpr nn, m, c;
  bindDims(ctx, nn, m, c);
  SmallVector<Value> ins = {xs, ws};
  SmallVector<AffineMap> maps = {
      AffineMap::get(3, 0, {m, c}, ctx),
      AffineMap::get(3, 0, {nn, bits == 4 ? c.floorDiv(2) : c}, ctx)};
  Value zeroPoints = op.getZeroPoints();
  for (Value perScale : {scales, zeroPoints}) {
    if (!perScale)
      continue;
    bool blocked = cast<RankedTensorType>(perScale.getType()).getRank() == 3;
    ins.push_back(expertScales(rewriter, loc, perScale, w.x));
    maps.push_back(blocked ? AffineMap::get(3, 0, {nn, c.floorDiv(qblock)}, ctx)
                           : AffineMap::get(3, 0, {nn}, ctx));
  }
  maps.push_back(AffineMap::get(3, 0, {m, nn}, ctx));
  // Loops n (weight row), m (token row), k: a weight row is read once from
  // memory and reused from cache by every token row of the group.
  Value accInit =
      needsEpilogue
          ? e.filled({w.count, w.n}, rewriter.getF32FloatAttr(0))
          : linalg::FillOp::create(rewriter, loc, e.f32(0), dest).getResult(0);
  return linalg::GenericOp::create(
             rewriter, loc, TypeRange{accInit.getType()}, ins,
             ValueRange{accInit}, maps,
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel,
                                           utils::IteratorType::reduction},
             [&](OpBuilder &b, Location l, ValueRange args) {
               Emitter in{b, l};
               // (q - z) * scale, q the unsigned value in the byte (4-bit:
               // the lower nibble for even c), z the zero point or
               // 2^(bits-1).
               Type i32 = b.getI32Type();
               Value q = arith::ExtUIOp::create(b, l, i32, args[1]);
               if (bits == 4) {
                 Value col = linalg::IndexOp::create(b, l, 2);
                 Value odd = arith::RemUIOp::create(b, l, col, in.index(2));
                 Value shift =
                     arith::MulIOp::create(b, l, in.toI32(odd), in.i32(4));
                 q = arith::AndIOp::create(
                     b, l, arith::ShRUIOp::create(b, l, q, shift), in.i32(15));
               }
               Value z =
                   zeroPoints ? arith::ExtUIOp::create(b, l, i32, args[3])
                                    .getResult()
                              : in.i32(int64_t(1) << (bits - 1));
               Value centered = arith::SubIOp::create(b, l, q, z);
               Value wv = in.mul(
                   arith::SIToFPOp::create(b, l, b.getF32Type(), centered),
                   in.toF32(args[2]));
               Value p = in.mul(in.toF32(args[0]), wv);
               linalg::YieldOp::create(b, l, in.add(args.back(), p));
             })
      .getResult(0);
}

/// Bias, activation (column pairs when interleaved-gated) and rounding of
/// the quantized path's f32 products, as one elementwise pass into `dest`.
Value emitQuantizedEpilogue(PatternRewriter &rewriter, Location loc,
                            ExpertMatmulOp op, Value prod, Value dest,
                            const WorkItem &w, Type elt) {
  MLIRContext *ctx = rewriter.getContext();
  std::optional<ActivationAttr> epilogue = op.getEpilogue();
  bool paired = epilogue && epilogue->isGated();
  Value bias = op.getBias();
  AffineExpr r = getAffineDimExpr(0, ctx), j = getAffineDimExpr(1, ctx);
  SmallVector<Value> ins = {prod};
  SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(2, ctx)};
  if (paired) {
    ins.push_back(prod);
    maps = {AffineMap::get(2, 0, {r, j * 2}, ctx),
            AffineMap::get(2, 0, {r, j * 2 + 1}, ctx)};
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
  return linalg::GenericOp::create(
             rewriter, loc, TypeRange{dest.getType()}, ins, ValueRange{dest},
             maps,
             SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
             [&](OpBuilder &b, Location l, ValueRange args) {
               Emitter in{b, l};
               Value col = linalg::IndexOp::create(b, l, 1);
               if (paired)
                 col = in.muli(col, in.index(2));
               col = in.addi(col, w.n0);
               auto withBias = [&](Value v, Value c) {
                 return bias ? in.add(v, in.toF32(in.extract(bias, {w.x, c})))
                             : v;
               };
               Value v = withBias(args[0], col);
               if (epilogue) {
                 Value up = paired
                                ? withBias(args[1], in.addi(col, in.index(1)))
                                : Value();
                 v = emitActivation(b, l, *epilogue, v, up);
               }
               linalg::YieldOp::create(b, l, in.fromF32(v, elt));
             })
      .getResult(0);
}

/// Many rows of x against weights that are not f32 (quantized, f16, bf16):
/// panels of weight rows converted once (`panelOf(builder, loc, first row,
/// rows)`, a cache-sized [P, K] f32 tensor) that the float register tiles
/// multiply by every row, so converting costs once per weight instead of
/// once per 4 rows of x. `n` (the work item's columns, static or not) must
/// be a multiple of `nMultiple`, static.
using PanelFn =
    llvm::function_ref<Value(OpBuilder &, Location, Value, int64_t)>;
Value emitPanels(OpBuilder &rewriter, Location loc, ExpertMatmulOp op, Value xs,
                 Value dest, const WorkItem &w, OpFoldResult n,
                 int64_t nMultiple, int64_t k, Type elt, bool needsEpilogue,
                 PanelFn panelOf) {
  std::optional<ActivationAttr> epilogue = op.getEpilogue();
  int64_t perResult = epilogue && epilogue->isGated() ? 2 : 1;
  int64_t panel = perResult;
  for (int64_t p : {64, 32, 16, 8, 4})
    if (nMultiple % p == 0) {
      panel = p;
      break;
    }
  Emitter e{rewriter, loc};
  OpFoldResult one = rewriter.getIndexAttr(1), zero = rewriter.getIndexAttr(0);
  auto loop = scf::ForOp::create(
      rewriter, loc, e.index(0),
      getValueOrCreateConstantIndexOp(rewriter, loc, n), e.index(panel),
      ValueRange{dest}, [&](OpBuilder &b, Location l, Value c, ValueRange acc) {
        Emitter in{b, l};
        Value weights = panelOf(b, l, c, panel);
        Value col = perResult == 1
                        ? c
                        : arith::DivUIOp::create(b, l, c, in.index(perResult))
                              .getResult();
        SmallVector<OpFoldResult> offsets = {zero, col};
        SmallVector<OpFoldResult> sizes = {w.count,
                                           b.getIndexAttr(panel / perResult)};
        SmallVector<OpFoldResult> steps = {one, one};
        Value part =
            tensor::ExtractSliceOp::create(b, l, acc[0], offsets, sizes, steps);
        TileEpilogue tile =
            tileEpilogueOf(op.getBias(), w.x, in.addi(w.n0, c), epilogue, elt);
        Value out = emitTiledContraction(
            b, l, xs, weights, part, w.count, b.getIndexAttr(panel),
            b.getIndexAttr(k), needsEpilogue ? &tile : nullptr);
        scf::YieldOp::create(b, l,
                             tensor::InsertSliceOp::create(
                                 b, l, out, acc[0], offsets, sizes, steps)
                                 .getResult());
      });
  return loop.getResult(0);
}

/// `few(builder, loc)` when the work item has fewer than `threshold` rows,
/// else `many(builder, loc)`: the streaming and panel forms of a GEMM whose
/// weights are not f32.
using FormFn = llvm::function_ref<Value(OpBuilder &, Location)>;
Value emitByRowCount(OpBuilder &b, Location loc, Value rows, int64_t threshold,
                     FormFn few, FormFn many) {
  Emitter e{b, loc};
  Value isFew = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, rows,
                                      e.index(threshold));
  return scf::IfOp::create(
             b, loc, isFew,
             [&](OpBuilder &tb, Location tl) {
               scf::YieldOp::create(tb, tl, few(tb, tl));
             },
             [&](OpBuilder &eb, Location el) {
               scf::YieldOp::create(eb, el, many(eb, el));
             })
      .getResult(0);
}

/// `v / 2` for a static or dynamic size.
OpFoldResult halfOf(PatternRewriter &rewriter, Emitter &e, Location loc,
                    OpFoldResult v) {
  if (auto attr = dyn_cast<Attribute>(v))
    return rewriter.getIndexAttr(cast<IntegerAttr>(attr).getInt() / 2);
  return arith::DivUIOp::create(rewriter, loc, cast<Value>(v), e.index(2))
      .getResult();
}

struct ExpertMatmulLowering : OpRewritePattern<ExpertMatmulOp> {
  ExpertMatmulLowering(MLIRContext *ctx, std::optional<Int8Dot> int8)
      : OpRewritePattern(ctx), int8(int8) {}
  std::optional<Int8Dot> int8;

  LogicalResult matchAndRewrite(ExpertMatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Emitter e{rewriter, loc};
    Value input = op.getInput(), weight = op.getWeight();
    Value offsets = op.getOffsets();
    auto wType = cast<RankedTensorType>(weight.getType());
    int64_t experts = wType.getDimSize(0);
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type elt = resultType.getElementType();
    OpFoldResult n = tensor::getMixedSize(rewriter, loc, weight, 1);
    OpFoldResult kk = tensor::getMixedSize(rewriter, loc, input, 1);
    OpFoldResult kBytes = tensor::getMixedSize(rewriter, loc, weight, 2);
    int64_t bits = op.getWeightBits();
    Value gatherSlots = op.getGatherSlots();
    Value rows = e.dim(gatherSlots ? gatherSlots : input, 0);
    OpFoldResult resultN =
        resultType.isDynamicDim(1)
            ? n
            : OpFoldResult(rewriter.getIndexAttr(resultType.getDimSize(1)));
    Value result = emitResultWithZeroTail(rewriter, e, loc, offsets, experts,
                                          rows, resultN, elt);
    auto [active, numActive] =
        emitActiveExperts(rewriter, e, loc, offsets, experts);

    // Active experts in parallel, each writing its own row range; the loops
    // inside an expert run on that expert's thread (nested regions are
    // serial), so a call costs one parallel region. Float weights with
    // enough columns are split in column chunks too, so that threads share
    // uneven experts (and the few experts of a decode step) evenly.
    int64_t staticN = wType.getDimSize(1);
    bool chunkable = !bits && !ShapedType::isDynamic(staticN) &&
                     staticN % (kColumnChunks * 8) == 0;
    Value chunks = e.index(1);
    if (chunkable)
      chunks = emitChunkCount(e, numActive);
    Value work = e.muli(numActive, chunks);
    auto forall =
        scf::ForallOp::create(rewriter, loc, ArrayRef<OpFoldResult>{work},
                              ValueRange{result}, std::nullopt);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(forall.getTerminator());
    WorkItem w;
    Value item = forall.getInductionVars()[0];
    Value slot = item;
    w.n0 = e.index(0);
    w.n = n;
    if (chunkable) {
      slot = arith::DivUIOp::create(rewriter, loc, item, chunks);
      Value width =
          arith::DivUIOp::create(rewriter, loc, e.index(staticN), chunks);
      w.n0 = e.muli(arith::RemUIOp::create(rewriter, loc, item, chunks), width);
      w.n = width;
    }
    w.x = e.toIndex(e.extract(active, {slot}));
    w.lo = e.toIndex(e.extract(offsets, {w.x}));
    Value hi = e.toIndex(e.extract(offsets, {e.addi(w.x, e.index(1))}));
    w.count = arith::SubIOp::create(rewriter, loc, hi, w.lo);
    OpFoldResult one = rewriter.getIndexAttr(1),
                 zero = rewriter.getIndexAttr(0);
    Value xs =
        gatherSlots
            ? emitGatheredRows(rewriter, e, loc, input, gatherSlots,
                               *op.getGatherK(), w, kk)
            : tensor::ExtractSliceOp::create(
                  rewriter, loc, input, ArrayRef<OpFoldResult>{w.lo, zero},
                  ArrayRef<OpFoldResult>{w.count, kk},
                  ArrayRef<OpFoldResult>{one, one})
                  .getResult();
    auto wSliceType = RankedTensorType::get(
        {chunkable ? ShapedType::kDynamic : wType.getDimSize(1),
         wType.getDimSize(2)},
        wType.getElementType());
    Value ws =
        tensor::ExtractSliceOp::create(rewriter, loc, wSliceType, weight,
                                       ArrayRef<OpFoldResult>{w.x, w.n0, zero},
                                       ArrayRef<OpFoldResult>{one, w.n, kBytes},
                                       ArrayRef<OpFoldResult>{one, one, one});
    // Bias, the fused activation and rounding: applied to the GEMM's
    // results before they are stored. An interleaved-gated epilogue reads
    // column pairs (2j, 2j + 1) and writes column j.
    std::optional<ActivationAttr> epilogue = op.getEpilogue();
    bool paired = epilogue && epilogue->isGated();
    OpFoldResult outN = w.n, outN0 = w.n0;
    if (paired) {
      outN = halfOf(rewriter, e, loc, w.n);
      outN0 = halfOf(rewriter, e, loc, w.n0);
    }
    bool needsEpilogue = op.getBias() || !elt.isF32() || epilogue;
    // The work item's block of the result, written in place.
    Value dest = tensor::ExtractSliceOp::create(
        rewriter, loc, forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{w.lo, outN0},
        ArrayRef<OpFoldResult>{w.count, outN},
        ArrayRef<OpFoldResult>{one, one});
    Value out;
    if (!bits) {
      // Float weights: register-tiled loops (the hot path on the CPU).
      TileEpilogue tile =
          tileEpilogueOf(op.getBias(), w.x, w.n0, epilogue, elt);
      const TileEpilogue *ep = needsEpilogue ? &tile : nullptr;
      int64_t k = wType.getDimSize(2);
      int64_t nMultiple = chunkable ? staticN / kColumnChunks : staticN;
      if (wType.getElementType().isF32() || ShapedType::isDynamic(staticN) ||
          ShapedType::isDynamic(k) || k % 16) {
        out = emitTiledContraction(rewriter, loc, xs, ws, dest, w.count, w.n,
                                   kk, ep);
      } else {
        // f16/bf16 weights: few rows convert in the tiles (bf16 with bf16
        // activations: dot products of 32 bf16 pairs, nothing converted),
        // more convert each panel once (vdpbf16ps has half the f32
        // multiply-add rate: compute-bound rows are faster in f32).
        func::FuncOp dot =
            bf16Dottable(xs, ws, k)
                ? declareDot(op->getParentOfType<ModuleOp>(), loc, kBF16Dot,
                             VectorType::get({16}, rewriter.getF32Type()),
                             VectorType::get({32}, rewriter.getBF16Type()))
                : func::FuncOp();
        out = emitByRowCount(
            rewriter, loc, w.count, kFloatPanelRows,
            [&](OpBuilder &b, Location l) {
              if (dot)
                return emitBF16Contraction(
                    b, l, xs, ws, dest, w.count,
                    getValueOrCreateConstantIndexOp(b, l, w.n), k, dot, ep);
              return emitTiledContraction(b, l, xs, ws, dest, w.count, w.n, kk,
                                          ep);
            },
            [&](OpBuilder &b, Location l) {
              return emitPanels(
                  b, l, op, xs, dest, w, w.n, nMultiple, k, elt, needsEpilogue,
                  [&](OpBuilder &pb, Location pl, Value c, int64_t rows) {
                    return emitConvertedPanel(pb, pl, ws, c, rows, k);
                  });
            });
      }
    } else if (int64_t k = ShapedType::isDynamic(wType.getDimSize(2))
                               ? ShapedType::kDynamic
                               : wType.getDimSize(2) * (8 / bits);
               op.getScales() && !ShapedType::isDynamic(staticN) &&
               quantizedVectorizable(k, bits, op.getQuantBlock())) {
      // Quantized weights: dequantized in registers as they stream in.
      TileEpilogue tile =
          tileEpilogueOf(op.getBias(), w.x, w.n0, epilogue, elt);
      QuantizedWeights q{ws, expertScales(rewriter, loc, op.getScales(), w.x),
                         bits, static_cast<int64_t>(op.getQuantBlock())};
      if (Value zp = op.getZeroPoints())
        q.zeroPoints = expertScales(rewriter, loc, zp, w.x);
      // Few rows stream the packed bytes (dequantized in registers, once
      // per row); more dequantize each panel once for all rows.
      bool useInt8 = int8 && int8Vectorizable(k, bits, q.block);
      func::FuncOp vnni =
          useInt8 && *int8 == Int8Dot::VNNI
              ? declareInt8DotVNNI(op->getParentOfType<ModuleOp>(), loc)
              : func::FuncOp();
      const TileEpilogue *ep = needsEpilogue ? &tile : nullptr;
      out = emitByRowCount(
          rewriter, loc, w.count, kPanelRows,
          [&](OpBuilder &b, Location l) {
            return useInt8 ? emitInt8Contraction(b, l, xs, q, dest, w.count,
                                                 staticN, k, vnni, ep)
                           : emitQuantizedContraction(b, l, xs, q, dest,
                                                      w.count, staticN, k, ep);
          },
          [&](OpBuilder &b, Location l) {
            return emitPanels(
                b, l, op, xs, dest, w, b.getIndexAttr(staticN), staticN, k, elt,
                needsEpilogue,
                [&](OpBuilder &pb, Location pl, Value c, int64_t rows) {
                  return emitDequantizedPanel(pb, pl, q, c, rows, k);
                });
          });
    } else {
      out = emitQuantizedGeneric(rewriter, e, loc, op, xs, ws, dest, w,
                                 needsEpilogue);
      if (needsEpilogue)
        out = emitQuantizedEpilogue(rewriter, loc, op, out, dest, w, elt);
    }
    rewriter.setInsertionPointToEnd(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(rewriter, loc, out,
                                          forall.getRegionIterArgs()[0],
                                          ArrayRef<OpFoldResult>{w.lo, outN0},
                                          ArrayRef<OpFoldResult>{w.count, outN},
                                          ArrayRef<OpFoldResult>{one, one});
    rewriter.setInsertionPointAfter(forall);
    rewriter.replaceOp(
        op, castIfNeeded(rewriter, loc, forall.getResult(0), resultType));
    return success();
  }
};
} // namespace

void mlir::moe::populateExpertMatmulLoweringPatterns(
    RewritePatternSet &patterns, std::optional<Int8Dot> int8) {
  patterns.add<ExpertMatmulLowering>(patterns.getContext(), int8);
}
