//===- Route.cpp - moe.route -> per-token routing in an scf.forall --------===//

#include "MoEToLinalg/Patterns.h"
#include "Utils/Emitter.h"
#include "Utils/Routing.h"
#include "Utils/RowTopK.h"
#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// The router logits: the op's input, or `input x gate^T` in f32 when the
/// router matmul is fused into the op.
Value emitRouterLogits(PatternRewriter &rewriter, Emitter &e, RouteOp op,
                       int64_t experts) {
  Value logits = op.getInput();
  Value gate = op.getGateWeight();
  if (!gate)
    return logits;
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  AffineExpr m, n, kk;
  bindDims(ctx, m, n, kk);
  Value acc = e.filled({tensor::getMixedSize(rewriter, loc, logits, 0),
                        rewriter.getIndexAttr(experts)},
                       rewriter.getF32FloatAttr(0));
  auto maps = rewriter.getAffineMapArrayAttr(
      {AffineMap::get(3, 0, {m, kk}, ctx), AffineMap::get(3, 0, {n, kk}, ctx),
       AffineMap::get(3, 0, {m, n}, ctx)});
  return linalg::MatmulOp::create(
             rewriter, loc, TypeRange{acc.getType()}, ValueRange{logits, gate},
             ValueRange{acc}, {rewriter.getNamedAttr("indexing_maps", maps)})
      .getResult(0);
}

/// Every token's [E] scores in f32, each computed once (top-k reads each of
/// them k times; an exp per read otherwise).
Value emitScoreRows(PatternRewriter &rewriter, Emitter &e, Location loc,
                    RoutingAttr routing, int64_t experts, Value logits,
                    Value tokens) {
  auto scoreLoop = scf::ForallOp::create(
      rewriter, loc, ArrayRef<OpFoldResult>{tokens},
      ValueRange{tensor::EmptyOp::create(
          rewriter, loc,
          ArrayRef<OpFoldResult>{tokens, rewriter.getIndexAttr(experts)},
          rewriter.getF32Type())},
      std::nullopt);
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(scoreLoop.getTerminator());
  Value t = scoreLoop.getInductionVars()[0];
  OpFoldResult one = rewriter.getIndexAttr(1), zero = rewriter.getIndexAttr(0),
               width = rewriter.getIndexAttr(experts);
  Value row = tensor::ExtractSliceOp::create(
      rewriter, loc, RankedTensorType::get({1, experts}, rewriter.getF32Type()),
      scoreLoop.getRegionIterArgs()[0], ArrayRef<OpFoldResult>{t, zero},
      ArrayRef<OpFoldResult>{one, width}, ArrayRef<OpFoldResult>{one, one});
  row = emitScoreRow(
      e, routing, experts,
      [&](Value x) {
        return e.toF32(e.extract(logits, {t, x}));
      },
      row);
  insertForallRows(rewriter, loc, scoreLoop, t, {row});
  return scoreLoop.getResult(0);
}

/// Per-token routing as scalar code, written once per token by an
/// scf.forall.
struct RouteLowering : OpRewritePattern<RouteOp> {
  RouteLowering(MLIRContext *ctx, bool scoreRows)
      : OpRewritePattern(ctx), scoreRows(scoreRows) {}

  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Emitter e{rewriter, loc};
    RoutingAttr routing = op.getRouting();
    int64_t experts = op.getNumExperts(), k = routing.getK();
    Type elt =
        cast<RankedTensorType>(op.getWeights().getType()).getElementType();

    Value logits = emitRouterLogits(rewriter, e, op, experts);
    Value bias = op.getBias();
    Value tokens = e.dim(logits, 0);
    Value wInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{tokens, rewriter.getIndexAttr(k)},
        elt);
    Value idInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{tokens, rewriter.getIndexAttr(k)},
        rewriter.getI32Type());
    Value scores;
    // (The sparse mixer reads the logits only.)
    if (scoreRows && routing.getScoring() != Scoring::sparsemixer)
      scores =
          emitScoreRows(rewriter, e, loc, routing, experts, logits, tokens);

    auto forall =
        scf::ForallOp::create(rewriter, loc, ArrayRef<OpFoldResult>{tokens},
                              ValueRange{wInit, idInit}, std::nullopt);
    Value t = forall.getInductionVars()[0];
    rewriter.setInsertionPoint(forall.getTerminator());
    TokenRoute picks = emitTokenRoute(
        e, routing, experts,
        [&](Value x) {
          return e.toF32(e.extract(logits, {t, x}));
        },
        [&](Value x) { return e.toF32(e.extract(bias, {x})); },
        static_cast<bool>(bias),
        scores ? function_ref<Value(Value)>([&](Value x) {
          return e.extract(scores, {t, x});
        })
               : nullptr);
    SmallVector<Value> outW, outId;
    for (int64_t j = 0; j < k; ++j) {
      outW.push_back(e.fromF32(picks.weights[j], elt));
      outId.push_back(e.toI32(picks.ids[j]));
    }
    auto rowType = [&](Type t) { return RankedTensorType::get({1, k}, t); };
    Value wRow =
        tensor::FromElementsOp::create(rewriter, loc, rowType(elt), outW);
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
} // namespace

void mlir::moe::populateRouteLoweringPatterns(RewritePatternSet &patterns,
                                              bool scoreRows) {
  patterns.add<RouteLowering>(patterns.getContext(), scoreRows);
}
