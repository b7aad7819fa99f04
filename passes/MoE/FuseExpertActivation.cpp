//===- FuseExpertActivation.cpp - activation into the GEMM's epilogue -----===//
//
// The first projection's output is the widest tensor of an MoE layer
// (rows x 2I for gated experts) and exists only to be activated: applying
// the activation to the GEMM's accumulators removes it from memory. Gate and
// up columns of a feature must meet in one tile: interleaved weights are
// used as they are, concatenated or separate (fc1 / fc3) constant weights
// are interleaved at compile time.
//
//===----------------------------------------------------------------------===//

#include "MoE/InterleaveRows.h"
#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_FUSEEXPERTACTIVATION
#include "passes/MoE/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Whether `a` and `b` read the same rows the same way (they differ only in
/// weights, biases and scales).
bool sameRows(ExpertMatmulOp a, ExpertMatmulOp b) {
  return a.getInput() == b.getInput() && a.getOffsets() == b.getOffsets() &&
         a.getGatherSlots() == b.getGatherSlots() &&
         a.getGatherK() == b.getGatherK() &&
         a.getWeightBits() == b.getWeightBits() &&
         a.getQuantBlock() == b.getQuantBlock() &&
         static_cast<bool>(a.getBias()) == static_cast<bool>(b.getBias()) &&
         static_cast<bool>(a.getScales()) == static_cast<bool>(b.getScales()) &&
         static_cast<bool>(a.getZeroPoints()) ==
             static_cast<bool>(b.getZeroPoints());
}

bool fusible(ExpertMatmulOp gemm) {
  return gemm && !gemm.getEpilogue() && !gemm.isCombined() && gemm->hasOneUse();
}

struct FuseActivation : OpRewritePattern<ActivationOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ActivationOp op,
                                PatternRewriter &rewriter) const override {
    auto gemm = op.getInput().getDefiningOp<ExpertMatmulOp>();
    auto upGemm = op.getUp() ? op.getUp().getDefiningOp<ExpertMatmulOp>()
                             : ExpertMatmulOp();
    if (!fusible(gemm) || (op.getUp() && (!fusible(upGemm) || upGemm == gemm ||
                                          !sameRows(gemm, upGemm))))
      return rewriter.notifyMatchFailure(op, "not the only use of a GEMM");
    ActivationAttr act = op.getActivation();
    Gating gating = act.getGating();
    Value weight = gemm.getWeight(), bias = gemm.getBias(),
          scales = gemm.getScales(), zeroPoints = gemm.getZeroPoints();
    if (gating == Gating::concatenated || gating == Gating::separate) {
      // Gate and up columns of one feature must share a tile: with constant
      // weights, re-lay them out interleaved once, at compile time.
      Location loc = op.getLoc();
      auto interleave = [&](Value gate, Value up) -> Value {
        if (!gate)
          return nullptr;
        return interleaveConstantRows(rewriter, loc, gate, up);
      };
      Value second = gating == Gating::separate ? upGemm.getWeight() : Value();
      Value w = interleave(weight, second);
      Value bi = interleave(bias, bias && upGemm ? upGemm.getBias() : Value());
      Value sc =
          interleave(scales, scales && upGemm ? upGemm.getScales() : Value());
      Value zp = interleave(zeroPoints, zeroPoints && upGemm
                                            ? upGemm.getZeroPoints()
                                            : Value());
      if (!w || (bias && !bi) || (scales && !sc) || (zeroPoints && !zp)) {
        for (Value v : {w, bi, sc, zp})
          if (v)
            rewriter.eraseOp(v.getDefiningOp());
        return rewriter.notifyMatchFailure(
            op, "gate and up columns are not in one tile (weights not "
                "constant)");
      }
      weight = w;
      bias = bi;
      scales = sc;
      zeroPoints = zp;
      act = ActivationAttr::get(rewriter.getContext(), act.getKind(),
                                Gating::interleaved, act.getAlpha(),
                                act.getBeta(), act.getLimit());
    }
    ExpertMatmulParts parts = ExpertMatmulParts::of(gemm);
    parts.weight = weight;
    parts.bias = bias;
    parts.scales = scales;
    parts.zeroPoints = zeroPoints;
    parts.epilogue = act;
    auto fused = parts.create(rewriter, gemm.getLoc(), op.getType());
    rewriter.replaceOp(op, fused.getResult());
    rewriter.eraseOp(gemm);
    if (upGemm)
      rewriter.eraseOp(upGemm);
    return success();
  }
};

struct FuseExpertActivationPass
    : moe::impl::FuseExpertActivationBase<FuseExpertActivationPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseActivation>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
