//===- FuseDispatchGather.cpp - GEMM rows read through the routing plan ---===//
//
// The dispatch's grouped rows are a permuted copy of the tokens (k copies
// of each), written once and read once by the first expert GEMM. Reading
// the tokens through the slots instead removes that round trip.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_FUSEDISPATCHGATHER
#include "passes/MoE/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct FuseGather : OpRewritePattern<ExpertMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto dispatch = op.getInput().getDefiningOp<DispatchOp>();
    if (op.isGathered() || !dispatch ||
        op.getInput() != dispatch.getGrouped() ||
        op.getOffsets() != dispatch.getOffsets())
      return rewriter.notifyMatchFailure(op, "input is not a dispatch's rows");
    int64_t k =
        cast<RankedTensorType>(dispatch.getIds().getType()).getDimSize(1);
    ExpertMatmulParts parts = ExpertMatmulParts::of(op);
    parts.input = dispatch.getInput();
    parts.gatherSlots = dispatch.getSlots();
    parts.gatherK = k;
    auto fused = parts.create(rewriter, op.getLoc(), op.getType());
    rewriter.replaceOp(op, fused.getResult());
    return success();
  }
};

struct FuseDispatchGatherPass
    : moe::impl::FuseDispatchGatherBase<FuseDispatchGatherPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseGather>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
