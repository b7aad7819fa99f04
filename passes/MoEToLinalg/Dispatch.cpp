//===- Dispatch.cpp - moe.dispatch -> counting sort and row gather --------===//

#include "MoEToLinalg/Patterns.h"
#include "Utils/Emitter.h"
#include "Utils/Routing.h"
#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// input[slot / k, col] for an i32 dispatch slot, or zero for a padding
/// slot (-1): a row of the grouped tokens, read in place.
Value loadSlotRow(Emitter &in, Value input, Value slot, Value col, int64_t k) {
  Type elt = cast<RankedTensorType>(input.getType()).getElementType();
  Value valid = in.cmpi(arith::CmpIPredicate::sge, slot, in.i32(0));
  Value safe = in.select(valid, slot, in.i32(0));
  Value token =
      arith::DivUIOp::create(in.b, in.loc, in.toIndex(safe), in.index(k));
  Value v = in.extract(input, {token, col});
  Value zero = arith::ConstantOp::create(in.b, in.loc, in.b.getZeroAttr(elt));
  return in.select(valid, v, zero);
}

/// The plan of a dispatch of T * k slots over `experts`, as a counting
/// sort: per-expert counts (expert ids checked), offsets padded to `block`,
/// then each slot placed in increasing slot order.
struct PlanBuilder {
  PatternRewriter &rewriter;
  Emitter &e;
  Location loc;
  Value ids;
  int64_t experts, block, k;
  Value kIdx; // k as an index

  /// The expert of `slot` (an index).
  Value expertOf(Value slot) {
    Value t = arith::DivUIOp::create(rewriter, loc, slot, kIdx);
    Value j = arith::RemUIOp::create(rewriter, loc, slot, kIdx);
    return e.toIndex(e.extract(ids, {t, j}));
  }

  Value counts(Value slotsTotal) {
    Value counts = e.filled({rewriter.getIndexAttr(experts)},
                            rewriter.getI32IntegerAttr(0));
    return e.loop(slotsTotal, {counts}, [&](Value s, ValueRange acc) {
      Value x = expertOf(s);
      Value inRange =
          e.andi(e.cmpi(arith::CmpIPredicate::sge, x, e.index(0)),
                 e.cmpi(arith::CmpIPredicate::slt, x, e.index(experts)));
      cf::AssertOp::create(rewriter, loc, inRange,
                           ("moe.dispatch: expert id out of range [0, " +
                            std::to_string(experts) + ")")
                               .c_str());
      Value c = e.extract(acc[0], {x});
      Value next = tensor::InsertOp::create(rewriter, loc, e.addi(c, e.i32(1)),
                                            acc[0], ValueRange{x});
      return SmallVector<Value>{next};
    })[0];
  }

  Value offsets(Value counts) {
    Value offsets = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<int64_t>{experts + 1}, rewriter.getI32Type());
    offsets = tensor::InsertOp::create(rewriter, loc, e.i32(0), offsets,
                                       ValueRange{e.index(0)});
    return e.loop(e.index(experts), {offsets}, [&](Value x, ValueRange acc) {
      Value c = e.extract(counts, {x});
      if (block > 1) {
        Value bl = e.i32(block);
        c = e.muli(arith::CeilDivUIOp::create(rewriter, loc, c, bl), bl);
      }
      Value next = e.addi(e.extract(acc[0], {x}), c);
      return SmallVector<Value>{tensor::InsertOp::create(
          rewriter, loc, next, acc[0], ValueRange{e.addi(x, e.index(1))})};
    })[0];
  }

  /// Slots in row order; cursor[e] starts at offsets[e], padding rows -1.
  Value slots(Value offsets, Value slotsTotal, Value rows) {
    Value cursor = tensor::ExtractSliceOp::create(
        rewriter, loc, offsets,
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(experts)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)});
    Value slots = e.filled({rows}, rewriter.getI32IntegerAttr(-1));
    return e.loop(slotsTotal, {slots, cursor}, [&](Value s, ValueRange acc) {
      Value x = expertOf(s);
      Value r = e.extract(acc[1], {x});
      Value nextSlots = tensor::InsertOp::create(
          rewriter, loc, e.toI32(s), acc[0], ValueRange{e.toIndex(r)});
      Value nextCursor = tensor::InsertOp::create(
          rewriter, loc, e.addi(r, e.i32(1)), acc[1], ValueRange{x});
      return SmallVector<Value>{nextSlots, nextCursor};
    })[0];
  }
};

/// The grouped token rows (padding rows zero), filling `init`.
Value emitGather(PatternRewriter &rewriter, Location loc, Value input,
                 Value slots, Value init, int64_t k) {
  MLIRContext *ctx = rewriter.getContext();
  auto gathered = linalg::GenericOp::create(
      rewriter, loc, TypeRange{init.getType()}, ValueRange{slots},
      ValueRange{init},
      ArrayRef<AffineMap>{AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx),
                          AffineMap::getMultiDimIdentityMap(2, ctx)},
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &b, Location l, ValueRange args) {
        Emitter in{b, l};
        linalg::YieldOp::create(b, l,
                                loadSlotRow(in, input, args[0],
                                            linalg::IndexOp::create(b, l, 1),
                                            k));
      });
  return gathered.getResult(0);
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
    PlanBuilder plan{rewriter, e, loc, ids, experts, block, k, e.index(k)};
    Value offsets = plan.offsets(plan.counts(slotsTotal));
    Value slots = plan.slots(offsets, slotsTotal, rows);

    // Nothing to gather when the GEMMs read the tokens through the slots
    // (moe-fuse-dispatch-gather).
    auto groupedType = cast<RankedTensorType>(op.getGrouped().getType());
    SmallVector<OpFoldResult> gSizes = {
        rows, tensor::getMixedSize(rewriter, loc, input, 1)};
    Value grouped = tensor::EmptyOp::create(rewriter, loc, gSizes,
                                            groupedType.getElementType());
    if (!op.getGrouped().use_empty())
      grouped = emitGather(rewriter, loc, input, slots, grouped, k);
    rewriter.replaceOp(
        op, {castIfNeeded(rewriter, loc, grouped, groupedType),
             castIfNeeded(rewriter, loc, offsets, op.getOffsets().getType()),
             castIfNeeded(rewriter, loc, slots, op.getSlots().getType())});
    return success();
  }
};
} // namespace

void mlir::moe::populateDispatchLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<DispatchLowering>(patterns.getContext());
}
