//===- CPUApproximateVectorMath.cpp - vectorized math for GEMM epilogues --===//
//
// A vector math.exp reaches LLVM as llvm.exp on a vector, which the backend
// scalarizes into a libm call per lane; the GEMM tiles' activations would
// spend more time there than in the tile's multiply-adds. Upstream's
// polynomial approximations keep them in vector registers. Only ops on
// vectors are rewritten: scalar math (the router's scores) stays libm.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPUAPPROXIMATEVECTORMATH
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct CPUApproximateVectorMathPass
    : moe::impl::CPUApproximateVectorMathBase<CPUApproximateVectorMathPass> {
  void runOnOperation() override {
    SmallVector<Operation *> vectorMath;
    getOperation()->walk([&](Operation *op) {
      if (isa<math::MathDialect>(op->getDialect()) &&
          llvm::any_of(op->getResultTypes(), llvm::IsaPred<VectorType>))
        vectorMath.push_back(op);
    });
    if (vectorMath.empty())
      return;
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns,
                                                [](StringRef) { return true; });
    // The approximations' own math ops (e.g. the exp inside tanh) are
    // vectors too, and are rewritten in turn.
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    if (failed(
            applyOpPatternsGreedily(vectorMath, std::move(patterns), config)))
      signalPassFailure();
  }
};
} // namespace
