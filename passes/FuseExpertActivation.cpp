//===- FuseExpertActivation.cpp - activation into the GEMM's epilogue -----===//
//
// The first projection's output is the widest tensor of an MoE layer
// (rows x 2I for gated experts) and exists only to be activated: applying
// the activation to the GEMM's accumulators removes it from memory.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_FUSEEXPERTACTIVATION
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct FuseActivation : OpRewritePattern<ActivationOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ActivationOp op,
                                PatternRewriter &rewriter) const override {
    auto gemm = op.getInput().getDefiningOp<ExpertMatmulOp>();
    if (!gemm || gemm.getEpilogue() || gemm.isCombined() || !gemm->hasOneUse() ||
        op.getUp())
      return rewriter.notifyMatchFailure(op, "not the only use of a GEMM");
    Gating gating = op.getActivation().getGating();
    if (gating != Gating::none && gating != Gating::interleaved)
      return rewriter.notifyMatchFailure(
          op, "gate and up columns are not in one tile");
    auto fused = ExpertMatmulOp::create(
        rewriter, gemm.getLoc(), op.getType(), gemm.getInput(),
        gemm.getWeight(), gemm.getOffsets(), gemm.getBias(), gemm.getScales(),
        gemm.getGatherSlots(), /*combine_slots=*/Value(),
        /*combine_weights=*/Value(), /*combine_init=*/Value(),
        gemm.getWeightBitsAttr(),
        gemm.getQuantBlockAttr(), op.getActivation(), gemm.getGatherKAttr());
    rewriter.replaceOp(op, fused.getResult());
    rewriter.eraseOp(gemm);
    return success();
  }
};

struct FuseExpertActivationPass
    : moe::impl::FuseExpertActivationBase<FuseExpertActivationPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseExpertActivationPatterns(patterns);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace

void mlir::moe::populateFuseExpertActivationPatterns(
    RewritePatternSet &patterns) {
  patterns.add<FuseActivation>(patterns.getContext());
}
