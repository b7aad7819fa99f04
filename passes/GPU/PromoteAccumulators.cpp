//===- PromoteAccumulators.cpp - reduction accumulators in registers ------===//
//
// A linalg reduction lowered to loops (a router matmul, a norm's sum of
// squares) reads and writes its output element on every step of the
// reduction loop: `scf.for { %a = load %C[i]; ...; store %x, %C[i] }`. In a
// GPU kernel that is a global load and store per multiply-add, which LLVM
// cannot remove (it cannot prove %C distinct from the inputs). Here, where
// the buffers' allocations are still in sight, a loop whose only accesses
// to %C are one such load and store at loop-invariant indices, and whose
// other memory accesses reach buffers that cannot alias %C, carries the
// element as an iter_arg instead: one load before, one store after.
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUPROMOTEACCUMULATORS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct PromoteAccumulator : OpRewritePattern<scf::ForOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rewriter) const override {
    if (!loop->getParentOfType<gpu::LaunchOp>())
      return rewriter.notifyMatchFailure(loop, "not in a GPU kernel");
    bool changed = false;
    while (std::optional<std::pair<memref::LoadOp, memref::StoreOp>> pair =
               candidate(loop)) {
      loop = promote(loop, pair->first, pair->second, rewriter);
      changed = true;
    }
    return success(changed);
  }

  /// A load/store pair of `loop` to promote, if any.
  static std::optional<std::pair<memref::LoadOp, memref::StoreOp>>
  candidate(scf::ForOp loop) {
    for (auto store : loop.getBody()->getOps<memref::StoreOp>()) {
      if (!loop.isDefinedOutsideOfLoop(store.getMemRef()) ||
          !llvm::all_of(store.getIndices(), [&](Value i) {
            return loop.isDefinedOutsideOfLoop(i);
          }))
        continue;
      memref::LoadOp load;
      if (onlyAccess(loop, store, load) && load)
        return std::make_pair(load, store);
    }
    return std::nullopt;
  }

  /// Whether `store` and one load at the same indices, before it in the
  /// loop's block, are the loop's only accesses to their buffer, and every
  /// other access of the loop is to a buffer that cannot alias it.
  static bool onlyAccess(scf::ForOp loop, memref::StoreOp store,
                         memref::LoadOp &load) {
    Value root = moe::viewedBuffer(store.getMemRef());
    bool ok = true;
    loop.getBody()->walk([&](Operation *op) {
      if (op == store)
        return WalkResult::advance();
      if (auto l = dyn_cast<memref::LoadOp>(op)) {
        if (l.getMemRef() == store.getMemRef() &&
            l.getIndices() == store.getIndices() &&
            l->getBlock() == store->getBlock() && l->isBeforeInBlock(store) &&
            !load) {
          load = l;
          return WalkResult::advance();
        }
        if (moe::cannotOverlap(moe::viewedBuffer(l.getMemRef()), root))
          return WalkResult::advance();
        ok = false;
        return WalkResult::interrupt();
      }
      if (auto s = dyn_cast<memref::StoreOp>(op)) {
        if (moe::cannotOverlap(moe::viewedBuffer(s.getMemRef()), root))
          return WalkResult::advance();
        ok = false;
        return WalkResult::interrupt();
      }
      // Anything else must not touch memory (loops and ifs are walked).
      if (isa<scf::ForOp, scf::IfOp, scf::YieldOp>(op) || isMemoryEffectFree(op))
        return WalkResult::advance();
      ok = false;
      return WalkResult::interrupt();
    });
    return ok;
  }

  static scf::ForOp promote(scf::ForOp loop, memref::LoadOp load,
                            memref::StoreOp store, PatternRewriter &rewriter) {
    rewriter.setInsertionPoint(loop);
    Value init = memref::LoadOp::create(rewriter, load.getLoc(),
                                        load.getMemRef(), load.getIndices());
    auto grown = cast<scf::ForOp>(*loop.replaceWithAdditionalYields(
        rewriter, init, /*replaceInitOperandUsesInLoop=*/false,
        [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
          return SmallVector<Value>{store.getValueToStore()};
        }));
    BlockArgument acc = grown.getRegionIterArgs().back();
    rewriter.replaceAllUsesWith(load.getResult(), acc);
    rewriter.eraseOp(load);
    rewriter.setInsertionPointAfter(grown);
    memref::StoreOp::create(rewriter, store.getLoc(), grown.getResults().back(),
                            store.getMemRef(), store.getIndices());
    rewriter.eraseOp(store);
    return grown;
  }
};

struct GPUPromoteAccumulatorsPass
    : moe::impl::GPUPromoteAccumulatorsBase<GPUPromoteAccumulatorsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<PromoteAccumulator>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
