//===- ReassociateReductions.cpp - fastmath on linalg reductions ----------===//
//
// A reduction whose order is fixed cannot be vectorized; the reductions in
// our linalg ops (contractions, row sums) have no meaningful order, so this
// pass says so with fastmath flags before they become loops.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/Linalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::moe {
#define GEN_PASS_DEF_REASSOCIATEREDUCTIONS
#include "passes/Linalg/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct ReassociateReductionsPass
    : moe::impl::ReassociateReductionsBase<ReassociateReductionsPass> {
  void runOnOperation() override {
    auto flags = arith::FastMathFlagsAttr::get(
        &getContext(),
        arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op.getNumReductionLoops() == 0)
        return;
      op.getBody()->walk([&](Operation *inner) {
        if (isa<arith::AddFOp, arith::MulFOp>(inner))
          if (auto fm = dyn_cast<arith::ArithFastMathInterface>(inner))
            inner->setAttr(fm.getFastMathAttrName(), flags);
      });
    });
  }
};
} // namespace
