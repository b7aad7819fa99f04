//===- FuseElementwise.cpp - elementwise producer-consumer fusion ---------===//
//
// Upstream's elementwise fusion patterns, restricted to what keeps the rest
// of the pipeline's matching intact (no reductions as consumers) and the
// fused bodies bounded.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/Linalg.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "passes/Linalg/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
bool allParallel(linalg::GenericOp op) {
  return op.getNumLoops() == op.getNumParallelLoops();
}

struct FuseElementwisePass
    : moe::impl::FuseElementwiseBase<FuseElementwisePass> {
  using FuseElementwiseBase::FuseElementwiseBase;

  void runOnOperation() override {
    unsigned maxOps = maxBodyOps;
    linalg::ControlFusionFn control = [maxOps](OpOperand *operand) {
      auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
      auto consumer = dyn_cast<linalg::GenericOp>(operand->getOwner());
      if (!producer || !consumer || !allParallel(producer) ||
          !allParallel(consumer))
        return false;
      // A producer with other users would be computed twice.
      if (!operand->get().hasOneUse())
        return false;
      size_t ops = producer.getBody()->getOperations().size() +
                   consumer.getBody()->getOperations().size();
      return ops <= maxOps;
    };
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
