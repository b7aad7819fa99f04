//===- HostSharedAllocs.cpp - unified-memory buffers off the stream -------===//
//
// gpu-async-region puts every gpu.alloc on the call's chain of tokens, but
// the GPU-to-LLVM lowering takes a host_shared (unified memory) allocation
// only synchronously. None needs the stream's order: a buffer comes from
// the runtime's cache, to which frees return buffers in stream order, and
// every op that uses it is on that one stream or follows the call's wait.
// So such an allocation leaves the chain and its token passes through.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUHOSTSHAREDALLOCS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct SyncHostShared : OpRewritePattern<gpu::AllocOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(gpu::AllocOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getHostShared() || !op.getAsyncToken() ||
        op.getAsyncDependencies().size() > 1)
      return rewriter.notifyMatchFailure(op, "not an async host_shared alloc");
    Value token = op.getAsyncDependencies().empty()
                      ? Value(gpu::WaitOp::create(
                                  rewriter, op.getLoc(),
                                  gpu::AsyncTokenType::get(getContext()),
                                  ValueRange())
                                  .getAsyncToken())
                      : op.getAsyncDependencies().front();
    auto sync = gpu::AllocOp::create(
        rewriter, op.getLoc(), op.getMemref().getType(), /*asyncToken=*/Type(),
        ValueRange(), op.getDynamicSizes(), op.getSymbolOperands(),
        /*hostShared=*/true);
    rewriter.replaceOp(op, {sync.getMemref(), token});
    return success();
  }
};

struct GPUHostSharedAllocsPass
    : moe::impl::GPUHostSharedAllocsBase<GPUHostSharedAllocsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SyncHostShared>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
