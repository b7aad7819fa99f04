//===- FuseRoutingPlan.cpp - moe.route + moe.dispatch plan -> route_plan --===//
//
// Once the GEMMs read the tokens through the plan (moe-fuse-dispatch-gather),
// a dispatch only builds the plan, from ids nothing else reads: routing and
// plan become one op, which the GPU runs as one kernel.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_FUSEROUTINGPLAN
#include "passes/MoE/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct FusePlan : OpRewritePattern<DispatchOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DispatchOp op,
                                PatternRewriter &rewriter) const override {
    auto route = op.getIds().getDefiningOp<RouteOp>();
    if (!route || !op.getGrouped().use_empty() || !route.getIds().hasOneUse() ||
        route.getNumExperts() != static_cast<int64_t>(op.getNumExperts()))
      return rewriter.notifyMatchFailure(
          op, "not the only reader of a router's ids, or builds rows");
    // At the router, whose operands dominate every use of both ops.
    rewriter.setInsertionPoint(route);
    auto plan = RoutePlanOp::create(
        rewriter, op.getLoc(),
        TypeRange{route.getWeights().getType(), op.getOffsets().getType(),
                  op.getSlots().getType()},
        route.getInput(), route.getGateWeight(), route.getBias(),
        route.getRouting(), op.getBlock());
    rewriter.replaceAllUsesWith(route.getWeights(), plan.getWeights());
    rewriter.replaceAllUsesWith(op.getOffsets(), plan.getOffsets());
    rewriter.replaceAllUsesWith(op.getSlots(), plan.getSlots());
    rewriter.eraseOp(op);
    rewriter.eraseOp(route);
    return success();
  }
};

struct FuseRoutingPlanPass
    : moe::impl::FuseRoutingPlanBase<FuseRoutingPlanPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FusePlan>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
