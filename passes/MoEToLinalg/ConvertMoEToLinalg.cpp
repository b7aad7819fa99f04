//===- ConvertMoEToLinalg.cpp - moe step ops -> linalg / scf / tensor -----===//
//
// The reference lowering of the moe step ops on tensors: a direct
// transcription of each op's semantics in MoEOps.td. Work that is parallel
// over tokens or rows is an scf.forall or a linalg op; the routing plan is
// built by sequential loops (a counting sort). Fusion and tiling passes
// improve on this; every target must compute what this computes.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"
#include "moe/Passes/MoEToLinalg.h"
#include "Utils/Activation.h"
#include "Utils/Emitter.h"
#include "Utils/Routing.h"
#include "Utils/RowTopK.h"
#include "MoEToLinalg/TiledContraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOLINALG
#include "passes/MoEToLinalg/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
/// `v` as `type`, through a tensor.cast when only the static sizes differ.
Value castIfNeeded(OpBuilder &b, Location loc, Value v, Type type) {
  return v.getType() == type ? v
                             : Value(tensor::CastOp::create(b, loc, type, v));
}

//===----------------------------------------------------------------------===//
// moe.route
//===----------------------------------------------------------------------===//

/// Per-token routing as scalar code, written once per token by an scf.forall.
struct RouteLowering : OpRewritePattern<RouteOp> {
  RouteLowering(MLIRContext *ctx, bool scoreRows)
      : OpRewritePattern(ctx), scoreRows(scoreRows) {}

  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Emitter e{rewriter, loc};
    RoutingAttr routing = op.getRouting();
    int64_t experts = op.getNumExperts(), k = routing.getK();
    Type elt = cast<RankedTensorType>(op.getWeights().getType())
                   .getElementType();

    // Router logits, with the router matmul done first when fused.
    Value logits = op.getInput();
    if (Value gate = op.getGateWeight()) {
      MLIRContext *ctx = rewriter.getContext();
      AffineExpr m, n, kk;
      bindDims(ctx, m, n, kk);
      Value acc = e.filled({tensor::getMixedSize(rewriter, loc, logits, 0),
                            rewriter.getIndexAttr(experts)},
                           rewriter.getF32FloatAttr(0));
      auto maps = rewriter.getAffineMapArrayAttr(
          {AffineMap::get(3, 0, {m, kk}, ctx), AffineMap::get(3, 0, {n, kk}, ctx),
           AffineMap::get(3, 0, {m, n}, ctx)});
      logits = linalg::MatmulOp::create(
                   rewriter, loc, TypeRange{acc.getType()},
                   ValueRange{logits, gate}, ValueRange{acc},
                   {rewriter.getNamedAttr("indexing_maps", maps)})
                   .getResult(0);
    }
    Value bias = op.getBias();
    Value tokens = e.dim(logits, 0);
    Value wInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{tokens, rewriter.getIndexAttr(k)},
        elt);
    Value idInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{tokens, rewriter.getIndexAttr(k)},
        rewriter.getI32Type());

    // Every token's scores first, each computed once: top-k reads each of
    // them k times (an exp per read otherwise).
    Value scores;
    if (scoreRows) {
      auto scoreLoop = scf::ForallOp::create(
          rewriter, loc, ArrayRef<OpFoldResult>{tokens},
          ValueRange{tensor::EmptyOp::create(
              rewriter, loc,
              ArrayRef<OpFoldResult>{tokens,
                                     rewriter.getIndexAttr(experts)},
              rewriter.getF32Type())},
          std::nullopt);
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(scoreLoop.getTerminator());
      Value t = scoreLoop.getInductionVars()[0];
      OpFoldResult one = rewriter.getIndexAttr(1),
                   zero = rewriter.getIndexAttr(0),
                   width = rewriter.getIndexAttr(experts);
      Value row = tensor::ExtractSliceOp::create(
          rewriter, loc,
          RankedTensorType::get({1, experts}, rewriter.getF32Type()),
          scoreLoop.getRegionIterArgs()[0], ArrayRef<OpFoldResult>{t, zero},
          ArrayRef<OpFoldResult>{one, width},
          ArrayRef<OpFoldResult>{one, one});
      row = emitScoreRow(
          e, routing, experts,
          [&](Value x) { return e.toF32(e.extract(logits, {t, x})); }, row);
      insertForallRows(rewriter, loc, scoreLoop, t, {row});
      scores = scoreLoop.getResult(0);
    }

    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{tokens},
        ValueRange{wInit, idInit}, std::nullopt);
    Value t = forall.getInductionVars()[0];
    rewriter.setInsertionPoint(forall.getTerminator());
    TokenRoute picks = emitTokenRoute(
        e, routing, experts,
        [&](Value x) { return e.toF32(e.extract(logits, {t, x})); },
        [&](Value x) { return e.toF32(e.extract(bias, {x})); },
        static_cast<bool>(bias),
        scores ? function_ref<Value(Value)>(
                     [&](Value x) { return e.extract(scores, {t, x}); })
               : nullptr);
    SmallVector<Value> outW, outId;
    for (int64_t j = 0; j < k; ++j) {
      outW.push_back(e.fromF32(picks.weights[j], elt));
      outId.push_back(e.toI32(picks.ids[j]));
    }
    auto rowType = [&](Type t) { return RankedTensorType::get({1, k}, t); };
    Value wRow = tensor::FromElementsOp::create(rewriter, loc, rowType(elt), outW);
    Value idRow = tensor::FromElementsOp::create(
        rewriter, loc, rowType(rewriter.getI32Type()), outId);

    insertForallRows(rewriter, loc, forall, t, {wRow, idRow});
    rewriter.setInsertionPointAfter(forall);
    SmallVector<Value> results;
    for (auto [res, want] : llvm::zip(forall.getResults(), op.getResults()))
      results.push_back(castIfNeeded(rewriter, loc, res, want.getType()));
    rewriter.replaceOp(op, results);
    return success();
  }

private:
  bool scoreRows;
};

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

/// A counting sort of the T * k slots by expert: count, prefix-sum (with
/// padding to `block`), then place each slot in increasing slot order.
/// input[slot / k, col] for an i32 dispatch slot, or zero for a padding
/// slot (-1): a row of the grouped tokens, read in place.
Value loadSlotRow(Emitter &in, Value input, Value slot, Value col,
                  int64_t k) {
  Type elt = cast<RankedTensorType>(input.getType()).getElementType();
  Value valid = in.cmpi(arith::CmpIPredicate::sge, slot, in.i32(0));
  Value safe = in.select(valid, slot, in.i32(0));
  Value token =
      arith::DivUIOp::create(in.b, in.loc, in.toIndex(safe), in.index(k));
  Value v = in.extract(input, {token, col});
  Value zero = arith::ConstantOp::create(in.b, in.loc, in.b.getZeroAttr(elt));
  return in.select(valid, v, zero);
}

struct DispatchLowering : OpRewritePattern<DispatchOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DispatchOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Emitter e{rewriter, loc};
    Value input = op.getInput(), ids = op.getIds();
    int64_t experts = op.getNumExperts(), block = op.getBlock();
    int64_t k = cast<RankedTensorType>(ids.getType()).getDimSize(1);
    Value tokens = e.dim(input, 0);
    Value slotsTotal = e.muli(tokens, e.index(k));
    Value rows = emitPlanRowCount(e, tokens, k, experts, block);
    Value kIdx = e.index(k);
    auto expertOf = [&](Value slot) {
      Value t = arith::DivUIOp::create(rewriter, loc, slot, kIdx);
      Value j = arith::RemUIOp::create(rewriter, loc, slot, kIdx);
      return e.toIndex(e.extract(ids, {t, j}));
    };

    Value counts =
        e.filled({rewriter.getIndexAttr(experts)}, rewriter.getI32IntegerAttr(0));
    counts = e.loop(slotsTotal, {counts}, [&](Value s, ValueRange acc) {
      Value x = expertOf(s);
      Value inRange = e.andi(
          e.cmpi(arith::CmpIPredicate::sge, x, e.index(0)),
          e.cmpi(arith::CmpIPredicate::slt, x, e.index(experts)));
      cf::AssertOp::create(
          rewriter, loc, inRange,
          ("moe.dispatch: expert id out of range [0, " +
           std::to_string(experts) + ")")
              .c_str());
      Value c = e.extract(acc[0], {x});
      Value next = tensor::InsertOp::create(
          rewriter, loc, e.addi(c, e.i32(1)), acc[0], ValueRange{x});
      return SmallVector<Value>{next};
    })[0];

    Value offsets = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<int64_t>{experts + 1}, rewriter.getI32Type());
    offsets = tensor::InsertOp::create(rewriter, loc, e.i32(0), offsets,
                                       ValueRange{e.index(0)});
    offsets = e.loop(e.index(experts), {offsets}, [&](Value x, ValueRange acc) {
      Value c = e.extract(counts, {x});
      if (block > 1) {
        Value bl = e.i32(block);
        c = e.muli(arith::CeilDivUIOp::create(rewriter, loc, c, bl), bl);
      }
      Value next = e.addi(e.extract(acc[0], {x}), c);
      return SmallVector<Value>{tensor::InsertOp::create(
          rewriter, loc, next, acc[0], ValueRange{e.addi(x, e.index(1))})};
    })[0];

    // Place slots: cursor[e] starts at offsets[e].
    Value cursor = tensor::ExtractSliceOp::create(
        rewriter, loc, offsets, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(experts)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)});
    Value slots = e.filled({rows}, rewriter.getI32IntegerAttr(-1));
    slots = e.loop(slotsTotal, {slots, cursor}, [&](Value s, ValueRange acc) {
      Value x = expertOf(s);
      Value r = e.extract(acc[1], {x});
      Value nextSlots = tensor::InsertOp::create(
          rewriter, loc, e.toI32(s), acc[0], ValueRange{e.toIndex(r)});
      Value nextCursor = tensor::InsertOp::create(
          rewriter, loc, e.addi(r, e.i32(1)), acc[1], ValueRange{x});
      return SmallVector<Value>{nextSlots, nextCursor};
    })[0];

    // Gather the token rows; padding rows are zero. Nothing to gather when
    // the GEMMs read the tokens through the slots (moe-fuse-dispatch-gather).
    auto groupedType = cast<RankedTensorType>(op.getGrouped().getType());
    Type elt = groupedType.getElementType();
    SmallVector<OpFoldResult> gSizes = {rows,
                                        tensor::getMixedSize(rewriter, loc, input, 1)};
    Value gInit = tensor::EmptyOp::create(rewriter, loc, gSizes, elt);
    if (op.getGrouped().use_empty()) {
      rewriter.replaceOp(
          op, {castIfNeeded(rewriter, loc, gInit, op.getGrouped().getType()),
               castIfNeeded(rewriter, loc, offsets, op.getOffsets().getType()),
               castIfNeeded(rewriter, loc, slots, op.getSlots().getType())});
      return success();
    }
    MLIRContext *ctx = rewriter.getContext();
    auto gathered = linalg::GenericOp::create(
        rewriter, loc, TypeRange{gInit.getType()}, ValueRange{slots},
        ValueRange{gInit},
        ArrayRef<AffineMap>{AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx),
                            AffineMap::getMultiDimIdentityMap(2, ctx)},
        SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Emitter in{b, l};
          linalg::YieldOp::create(
              b, l,
              loadSlotRow(in, input, args[0],
                          linalg::IndexOp::create(b, l, 1), k));
        });
    rewriter.replaceOp(
        op, {castIfNeeded(rewriter, loc, gathered.getResult(0),
                          op.getGrouped().getType()),
             castIfNeeded(rewriter, loc, offsets, op.getOffsets().getType()),
             castIfNeeded(rewriter, loc, slots, op.getSlots().getType())});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// moe.expert_matmul
//===----------------------------------------------------------------------===//

/// One contraction per expert over its row range, accumulated in f32; rows
/// past offsets[E] stay zero.
/// Column chunks per expert of the CPU grouped GEMM (when the width allows).
constexpr int64_t kColumnChunks = 4;
/// Below this many active experts, their columns are chunked 4 ways (decode
/// of a coarse model: 2 experts for 2+ threads); below the second, 2 ways,
/// so that one popular expert of a few does not serialize a prefill (the
/// guided schedule can only share whole items); above, whole experts
/// balance well and chunks only add overhead.
constexpr int64_t kChunkBelowExperts = 4, kHalveBelowExperts = 16;

/// Bias (row `expert` of `bias`, columns from `n0`), the fused activation
/// and rounding to `elt`, applied to a GEMM tile's sums in registers. An
/// interleaved-gated activation takes the even lanes (columns) as gates and
/// the odd ones as ups, so the tile yields half as many results.
TileEpilogue tileEpilogueOf(Value bias, Value expert, Value n0,
                            std::optional<ActivationAttr> act, Type elt) {
  bool paired = act && act->isGated();
  TileEpilogue tile;
  tile.colsPerResult = paired ? 2 : 1;
  tile.apply = [=](OpBuilder &b, Location l, Value sums, int64_t tm,
                   int64_t tn, Value c0) {
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

struct ExpertMatmulLowering : OpRewritePattern<ExpertMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertMatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Emitter e{rewriter, loc};
    MLIRContext *ctx = rewriter.getContext();
    Value input = op.getInput(), weight = op.getWeight();
    Value offsets = op.getOffsets(), bias = op.getBias();
    auto wType = cast<RankedTensorType>(weight.getType());
    int64_t experts = wType.getDimSize(0);
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type elt = resultType.getElementType();
    OpFoldResult n = tensor::getMixedSize(rewriter, loc, weight, 1);
    OpFoldResult kk = tensor::getMixedSize(rewriter, loc, input, 1);
    OpFoldResult kBytes = tensor::getMixedSize(rewriter, loc, weight, 2);
    int64_t bits = op.getWeightBits(), qblock = op.getQuantBlock();
    Value scales = op.getScales();
    Value gatherSlots = op.getGatherSlots();
    Value rows = e.dim(gatherSlots ? gatherSlots : input, 0);
    OpFoldResult resultN =
        resultType.isDynamicDim(1)
            ? n
            : OpFoldResult(rewriter.getIndexAttr(resultType.getDimSize(1)));
    // Every row below offsets[E] is written by its expert (all column
    // chunks); only the rows past it are zero-filled.
    Value result = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rows, resultN}, elt);
    {
      Value used = arith::MinUIOp::create(
          rewriter, loc, e.toIndex(e.extract(offsets, {e.index(experts)})),
          rows);
      Value unused = arith::SubIOp::create(rewriter, loc, rows, used);
      OpFoldResult one = rewriter.getIndexAttr(1),
                   zero = rewriter.getIndexAttr(0);
      Value tail = tensor::ExtractSliceOp::create(
          rewriter, loc, result, ArrayRef<OpFoldResult>{used, zero},
          ArrayRef<OpFoldResult>{unused, resultN},
          ArrayRef<OpFoldResult>{one, one});
      Value zeros = arith::ConstantOp::create(
          rewriter, loc, cast<TypedAttr>(rewriter.getZeroAttr(elt)));
      tail = linalg::FillOp::create(rewriter, loc, zeros, tail).getResult(0);
      result = tensor::InsertSliceOp::create(
          rewriter, loc, tail, result, ArrayRef<OpFoldResult>{used, zero},
          ArrayRef<OpFoldResult>{unused, resultN},
          ArrayRef<OpFoldResult>{one, one});
    }

    // The experts that have rows, in order: the parallel loop runs over
    // them only, so that threads share the active experts evenly (at one
    // token, k of E experts).
    Value listInit = e.filled({rewriter.getIndexAttr(experts)},
                              rewriter.getI32IntegerAttr(0));
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
    Value active = compact.getResult(0), numActive = compact.getResult(1);

    // Active experts in parallel, each writing its own row range; the loops
    // inside an expert run on that expert's thread (nested regions are
    // serial), so a call costs one parallel region. Float weights with
    // enough columns are split in column chunks too, so that threads share
    // uneven experts (and the few experts of a decode step) evenly.
    int64_t staticN = wType.getDimSize(1);
    bool chunkable = !bits && !ShapedType::isDynamic(staticN) &&
                     staticN % (kColumnChunks * 8) == 0;
    Value chunks = e.index(1);
    if (chunkable) {
      // One statement per op: the IR's order must not depend on the
      // compiler's order of evaluating arguments.
      Value some = e.cmpi(arith::CmpIPredicate::ult, numActive,
                          e.index(kHalveBelowExperts));
      Value halves = e.select(some, e.index(2), e.index(1));
      Value few = e.cmpi(arith::CmpIPredicate::ult, numActive,
                         e.index(kChunkBelowExperts));
      chunks = e.select(few, e.index(kColumnChunks), halves);
    }
    Value work = e.muli(numActive, chunks);
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{work}, ValueRange{result},
        std::nullopt);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(forall.getTerminator());
      Value item = forall.getInductionVars()[0];
      Value slot = item, n0 = e.index(0);
      if (chunkable) {
        slot = arith::DivUIOp::create(rewriter, loc, item, chunks);
        Value width =
            arith::DivUIOp::create(rewriter, loc, e.index(staticN), chunks);
        n0 = e.muli(arith::RemUIOp::create(rewriter, loc, item, chunks),
                    width);
        n = width;
      }
      Value x = e.toIndex(e.extract(active, {slot}));
      Value lo = e.toIndex(e.extract(offsets, {x}));
      Value hi = e.toIndex(e.extract(offsets, {e.addi(x, e.index(1))}));
      Value count = arith::SubIOp::create(rewriter, loc, hi, lo);
    OpFoldResult one = rewriter.getIndexAttr(1), zero = rewriter.getIndexAttr(0);
    Value xs;
    if (!gatherSlots) {
      xs = tensor::ExtractSliceOp::create(
          rewriter, loc, input, ArrayRef<OpFoldResult>{lo, zero},
          ArrayRef<OpFoldResult>{count, kk}, ArrayRef<OpFoldResult>{one, one});
    } else {
      // This expert's rows, read from the tokens through the slots (a
      // per-expert tile, not a permuted copy of all tokens).
      // Row by row: a slot's token is found once and its row copied whole
      // (a contiguous copy), not recomputed per element.
      int64_t gk = *op.getGatherK();
      Type inElt = cast<RankedTensorType>(input.getType()).getElementType();
      Value init = tensor::EmptyOp::create(
          rewriter, loc, ArrayRef<OpFoldResult>{count, kk}, inElt);
      auto rowType = RankedTensorType::get(
          {1, cast<RankedTensorType>(input.getType()).getDimSize(1)}, inElt);
      xs = e.loop(count, {init}, [&](Value m, ValueRange acc) {
        Value slot = e.extract(gatherSlots, {e.addi(lo, m)});
        Value valid = e.cmpi(arith::CmpIPredicate::sge, slot, e.i32(0));
        auto row = scf::IfOp::create(
            rewriter, loc, valid,
            [&](OpBuilder &b, Location l) {
              Emitter in{b, l};
              Value token = arith::DivUIOp::create(b, l, in.toIndex(slot),
                                                   in.index(gk));
              Value r = tensor::ExtractSliceOp::create(
                  b, l, rowType, input, ArrayRef<OpFoldResult>{token, zero},
                  ArrayRef<OpFoldResult>{one, kk},
                  ArrayRef<OpFoldResult>{one, one});
              scf::YieldOp::create(b, l, r);
            },
            [&](OpBuilder &b, Location l) {
              // A padding slot: a zero row.
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
    auto wSliceType = RankedTensorType::get(
        {chunkable ? ShapedType::kDynamic : wType.getDimSize(1),
         wType.getDimSize(2)},
        wType.getElementType());
    Value ws = tensor::ExtractSliceOp::create(
        rewriter, loc, wSliceType, weight,
        ArrayRef<OpFoldResult>{x, n0, zero},
        ArrayRef<OpFoldResult>{one, n, kBytes},
        ArrayRef<OpFoldResult>{one, one, one});
    // Bias, the fused activation and rounding: applied to the GEMM's
    // results before they are stored. An interleaved-gated epilogue reads
    // column pairs (2j, 2j + 1) and writes column j.
    std::optional<ActivationAttr> epilogue = op.getEpilogue();
    bool paired = epilogue && epilogue->isGated();
    OpFoldResult outN = n, outN0 = n0;
    if (paired) {
      auto half = [&](OpFoldResult v) -> OpFoldResult {
        if (auto attr = dyn_cast<Attribute>(v))
          return rewriter.getIndexAttr(cast<IntegerAttr>(attr).getInt() / 2);
        return arith::DivUIOp::create(rewriter, loc, cast<Value>(v),
                                      e.index(2))
            .getResult();
      };
      outN = half(n);
      outN0 = half(n0);
    }
    bool needsEpilogue = bias || !elt.isF32() || epilogue;
    // The work item's block of the result, written in place.
    Value dest = tensor::ExtractSliceOp::create(
        rewriter, loc, forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{lo, outN0}, ArrayRef<OpFoldResult>{count, outN},
        ArrayRef<OpFoldResult>{one, one});
    Value out;
    if (!bits) {
      // Float weights: register-tiled loops (the hot path on the CPU),
      // the epilogue applied to each tile's sums in registers.
      TileEpilogue tileEpilogue =
          tileEpilogueOf(bias, x, n0, epilogue, elt);
      out = emitTiledContraction(rewriter, loc, xs, ws, dest, count, n, kk,
                                 needsEpilogue ? &tileEpilogue : nullptr);
    } else {
      // Quantized weights: one contraction dequantizing as it reads, then
      // the epilogue as an elementwise pass.
      AffineExpr nn, m, c;
      bindDims(ctx, nn, m, c);
      SmallVector<Value> ins = {xs, ws};
      SmallVector<AffineMap> maps = {
          AffineMap::get(3, 0, {m, c}, ctx),
          AffineMap::get(3, 0, {nn, bits == 4 ? c.floorDiv(2) : c}, ctx)};
      if (scales) {
        // This expert's scales: [N] per row, or [N, K / block].
        auto sType = cast<RankedTensorType>(scales.getType());
        bool blocked = sType.getRank() == 3;
        SmallVector<OpFoldResult> offs(sType.getRank(), zero), sizes, steps;
        offs[0] = x;
        sizes.push_back(one);
        for (int64_t d = 1; d < sType.getRank(); ++d)
          sizes.push_back(tensor::getMixedSize(rewriter, loc, scales, d));
        steps.assign(sType.getRank(), one);
        SmallVector<int64_t> sliceShape(sType.getShape().drop_front());
        ins.push_back(tensor::ExtractSliceOp::create(
            rewriter, loc,
            RankedTensorType::get(sliceShape, sType.getElementType()), scales,
            offs, sizes, steps));
        maps.push_back(
            blocked ? AffineMap::get(3, 0, {nn, c.floorDiv(qblock)}, ctx)
                    : AffineMap::get(3, 0, {nn}, ctx));
      }
      maps.push_back(AffineMap::get(3, 0, {m, nn}, ctx));
      // Loops n (weight row), m (token row), k: a weight row is read once
      // from memory and reused from cache by every token row of the group.
      Value accInit = needsEpilogue
                          ? e.filled({count, n}, rewriter.getF32FloatAttr(0))
                          : linalg::FillOp::create(rewriter, loc, e.f32(0),
                                                   dest)
                                .getResult(0);
      Value prod =
          linalg::GenericOp::create(
              rewriter, loc, TypeRange{accInit.getType()}, ins,
              ValueRange{accInit}, maps,
              ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                            utils::IteratorType::parallel,
                                            utils::IteratorType::reduction},
              [&](OpBuilder &b, Location l, ValueRange args) {
                Emitter in{b, l};
                // (q - 2^(bits-1)) * scale, q the unsigned value in the byte
                // (4-bit: the lower nibble for even c).
                Type i32 = b.getI32Type();
                Value q = arith::ExtUIOp::create(b, l, i32, args[1]);
                if (bits == 4) {
                  Value col = linalg::IndexOp::create(b, l, 2);
                  Value odd = arith::RemUIOp::create(b, l, col, in.index(2));
                  Value shift =
                      arith::MulIOp::create(b, l, in.toI32(odd), in.i32(4));
                  q = arith::AndIOp::create(
                      b, l, arith::ShRUIOp::create(b, l, q, shift),
                      in.i32(15));
                }
                Value centered = arith::SubIOp::create(
                    b, l, q, in.i32(int64_t(1) << (bits - 1)));
                Value w = in.mul(
                    arith::SIToFPOp::create(b, l, b.getF32Type(), centered),
                    in.toF32(args[2]));
                Value p = in.mul(in.toF32(args[0]), w);
                linalg::YieldOp::create(b, l, in.add(args.back(), p));
              })
              .getResult(0);
      out = prod;
      if (needsEpilogue) {
        AffineExpr r = getAffineDimExpr(0, ctx), j = getAffineDimExpr(1, ctx);
        SmallVector<Value> epilogueIns = {prod};
        SmallVector<AffineMap> epilogueMaps = {
            AffineMap::getMultiDimIdentityMap(2, ctx)};
        if (paired) {
          epilogueIns.push_back(prod);
          epilogueMaps = {AffineMap::get(2, 0, {r, j * 2}, ctx),
                          AffineMap::get(2, 0, {r, j * 2 + 1}, ctx)};
        }
        epilogueMaps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
        out = linalg::GenericOp::create(
                  rewriter, loc, TypeRange{dest.getType()}, epilogueIns,
                  ValueRange{dest}, epilogueMaps,
                  SmallVector<utils::IteratorType>(
                      2, utils::IteratorType::parallel),
                  [&](OpBuilder &b, Location l, ValueRange args) {
                    Emitter in{b, l};
                    Value col = linalg::IndexOp::create(b, l, 1);
                    if (paired)
                      col = in.muli(col, in.index(2));
                    col = in.addi(col, n0);
                    auto withBias = [&](Value v, Value c) {
                      return bias ? in.add(v, in.toF32(in.extract(bias, {x, c})))
                                  : v;
                    };
                    Value v = withBias(args[0], col);
                    if (epilogue) {
                      Value up =
                          paired ? withBias(args[1], in.addi(col, in.index(1)))
                                 : Value();
                      v = emitActivation(b, l, *epilogue, v, up);
                    }
                    linalg::YieldOp::create(b, l, in.fromF32(v, elt));
                  })
                  .getResult(0);
      }
    }
      rewriter.setInsertionPointToEnd(forall.getTerminator().getBody());
      tensor::ParallelInsertSliceOp::create(
          rewriter, loc, out, forall.getRegionIterArgs()[0],
          ArrayRef<OpFoldResult>{lo, outN0}, ArrayRef<OpFoldResult>{count, outN},
          ArrayRef<OpFoldResult>{one, one});
    }
    result = forall.getResult(0);
    rewriter.replaceOp(op, castIfNeeded(rewriter, loc, result, resultType));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// moe.activation
//===----------------------------------------------------------------------===//

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
      OpFoldResult one = rewriter.getIndexAttr(1), zero = rewriter.getIndexAttr(0);
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
              in.fromF32(emitActivation(b, l, act, in.toF32(args[0]), u),
                         elt));
        });
    rewriter.replaceOp(op,
                       castIfNeeded(rewriter, loc, generic.getResult(0), type));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

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
    Value rowOf = e.filled({e.muli(tokens, e.index(k))},
                           rewriter.getIndexAttr(0));
    rowOf = e.loop(rows, {rowOf}, [&](Value r, ValueRange acc) {
      Value slot = e.extract(slots, {r});
      Value valid = e.cmpi(arith::CmpIPredicate::sge, slot, e.i32(0));
      auto ifOp = scf::IfOp::create(
          rewriter, loc, valid,
          [&](OpBuilder &b, Location l) {
            Value next = tensor::InsertOp::create(b, l, r, acc[0],
                                                  ValueRange{Emitter{b, l}.toIndex(slot)});
            scf::YieldOp::create(b, l, next);
          },
          [&](OpBuilder &b, Location l) { scf::YieldOp::create(b, l, acc[0]); });
      return SmallVector<Value>{ifOp.getResult(0)};
    })[0];

    OpFoldResult width = tensor::getMixedSize(rewriter, loc, input, 1);
    Value init = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{tokens, width}, elt);
    Value result = vectorRows
                       ? emitRowSums(rewriter, loc, input, weights, rowOf,
                                     init, tokens, width, k)
                       : emitElementSums(rewriter, loc, input, weights, rowOf,
                                         init, k);
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
        rewriter, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
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
                           Value weights, Value rowOf, Value init,
                           Value tokens, OpFoldResult width, int64_t k) {
    Emitter e{rewriter, loc};
    Type elt = cast<RankedTensorType>(init.getType()).getElementType();
    Type inElt = cast<RankedTensorType>(input.getType()).getElementType();
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{tokens}, ValueRange{init},
        std::nullopt);
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
    Value vectorEnd = e.muli(
        arith::DivUIOp::create(rewriter, loc, h, e.index(kCombineLanes)),
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
            sum = in.add(sum, in.mul(ws[j], in.toF32(in.extract(
                                                input, {rowsOfT[j], c}))));
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

//===----------------------------------------------------------------------===//
// Fused forms, as their unfused composition
//===----------------------------------------------------------------------===//

/// moe.route_plan is moe.route then moe.dispatch's plan: the reference
/// lowering builds the plan in slot order (a valid order of the fused op).
/// The dispatch's grouped rows are unused, so any [T, X] input will do.
struct ExpandRoutePlan : OpRewritePattern<RoutePlanOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RoutePlanOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto wType = cast<RankedTensorType>(op.getWeights().getType());
    auto idType = RankedTensorType::get(wType.getShape(), rewriter.getI32Type());
    auto route = RouteOp::create(rewriter, loc, TypeRange{wType, idType},
                                 op.getInput(), op.getGateWeight(),
                                 op.getBias(), op.getRouting());
    auto inType = cast<RankedTensorType>(op.getInput().getType());
    auto slotsType = cast<RankedTensorType>(op.getSlots().getType());
    auto groupedType = RankedTensorType::get(
        {slotsType.getDimSize(0), inType.getDimSize(1)},
        inType.getElementType());
    auto dispatch = DispatchOp::create(
        rewriter, loc,
        TypeRange{groupedType, op.getOffsets().getType(), slotsType},
        op.getInput(), route.getIds(), op.getNumExperts(), op.getBlock());
    rewriter.replaceOp(op, {route.getWeights(), dispatch.getOffsets(),
                            dispatch.getSlots()});
    return success();
  }
};

/// A combined moe.expert_matmul is the GEMM's rows, moe.combine, and the
/// addition of `init` (the CPU keeps these steps apart: threads over
/// experts would contend for token rows).
struct ExpandCombinedMatmul : OpRewritePattern<ExpertMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.isCombined())
      return failure();
    Location loc = op.getLoc();
    auto resType = cast<RankedTensorType>(op.getType());
    auto rowsType = RankedTensorType::get(
        {cast<RankedTensorType>(op.getCombineSlots().getType()).getDimSize(0),
         resType.getDimSize(1)},
        resType.getElementType());
    ExpertMatmulParts parts = ExpertMatmulParts::of(op);
    parts.combineSlots = parts.combineWeights = parts.combineInit = nullptr;
    auto rows = parts.create(rewriter, loc, rowsType);
    Value sum = CombineOp::create(rewriter, loc, resType, rows.getResult(),
                                  op.getCombineSlots(), op.getCombineWeights());
    Value init = op.getCombineInit();
    auto zero = init.getDefiningOp<linalg::FillOp>();
    if (zero && matchPattern(zero.value(), m_AnyZeroFloat())) {
      rewriter.replaceOp(op, sum);
      return success();
    }
    // Into a fresh tensor: `init` may be a function argument (a residual),
    // which must not be written in place.
    Value out = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, init),
        resType.getElementType());
    Value result = linalg::AddOp::create(rewriter, loc, TypeRange{resType},
                                         ValueRange{sum, init}, ValueRange{out})
                       .getResult(0);
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct ConvertMoEToLinalgPass
    : moe::impl::ConvertMoEToLinalgBase<ConvertMoEToLinalgPass> {
  using ConvertMoEToLinalgBase::ConvertMoEToLinalgBase;

  void runOnOperation() override {
    // Layers first, so that the second walk sees their step ops.
    RewritePatternSet layers(&getContext());
    populateDecomposeLayerPatterns(layers);
    layers.add<ExpandRoutePlan, ExpandCombinedMatmul>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(layers));
    RewritePatternSet patterns(&getContext());
    patterns.add<DispatchLowering, ExpertMatmulLowering, ActivationLowering>(
        &getContext());
    patterns.add<RouteLowering>(&getContext(), scoreRows);
    patterns.add<CombineLowering>(&getContext(), vectorCombine);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    // Anything left (collectives) has no single-device lowering here.
    WalkResult result = getOperation()->walk([](Operation *op) {
      if (!isa<MoEDialect>(op->getDialect()))
        return WalkResult::advance();
      if (isa<CombineOp>(op))
        op->emitError() << "'" << op->getName()
                        << "' cannot be lowered: its k (routing weights "
                           "dimension 1) must be static";
      else
        op->emitError() << "'" << op->getName()
                        << "' has no lowering to linalg (collectives need "
                           "the expert-parallel runtime)";
      return WalkResult::interrupt();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
