//===- SplitEmptyTensors.cpp - one tensor.empty per use -------------------===//
//
// Shared empty destinations make one-shot bufferization's conflict analysis
// quadratic in the number of same-shaped ops; a clone per use keeps it
// linear and changes nothing else (an empty tensor has no contents).
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/Linalg.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_SPLITEMPTYTENSORS
#include "passes/Linalg/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct SplitEmptyTensorsPass
    : moe::impl::SplitEmptyTensorsBase<SplitEmptyTensorsPass> {
  void runOnOperation() override {
    // Slices and reshapes of an empty tensor are empty tensors: folded, a
    // slice that CSE shared among many ops becomes a shared empty, which
    // is split below like any other.
    SmallVector<Operation *> emptyUsers;
    getOperation()->walk([&](tensor::EmptyOp op) {
      llvm::append_range(emptyUsers, op->getUsers());
    });
    RewritePatternSet patterns(&getContext());
    tensor::populateFoldTensorEmptyPatterns(patterns, /*singleUseOnly=*/false);
    (void)applyOpPatternsGreedily(emptyUsers, std::move(patterns));

    SmallVector<tensor::EmptyOp> shared;
    getOperation()->walk([&](tensor::EmptyOp op) {
      if (!op->hasOneUse() && !op->use_empty())
        shared.push_back(op);
    });
    for (tensor::EmptyOp op : shared) {
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : op->getUses())
        uses.push_back(&use);
      // Each clone sits just before its user (or the user's ancestor in the
      // original's block: not inside a loop that would allocate per
      // iteration), so buffers are allocated where they are needed, not
      // all at the original's place; the size operands dominate the
      // original and therefore the clone.
      Block *block = op->getBlock();
      for (OpOperand *use : uses) {
        Operation *user = block->findAncestorOpInBlock(*use->getOwner());
        OpBuilder builder(user ? user : op.getOperation());
        use->set(builder.clone(*op)->getResult(0));
      }
      op->erase();
    }
  }
};
} // namespace
