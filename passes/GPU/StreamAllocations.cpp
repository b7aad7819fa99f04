//===- StreamAllocations.cpp - host buffers on the call's stream ----------===//
//
// Prepares a host function for gpu-async-region: that pass puts GPU ops on
// one chain of async tokens (one stream) and makes the host wait before any
// other op with side effects. memref.alloc and memref.dealloc are such ops,
// so each would end the chain; as gpu.alloc / gpu.dealloc they join it
// (host-only buffers, such as a reshape's shape, stay host allocations)
// (except the frees of buffers the host reads, which follow its wait).
// The copy engine's fills and copies each come wrapped in a wait of their
// own, which would end the chain too: the wrapping goes, the token stays.
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUSTREAMALLOCATIONS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// Buffers gpu.alloc can make: identity layout, default memory space.
bool streamable(MemRefType type) {
  return type.getLayout().isIdentity() && !type.getMemorySpace();
}

/// Whether only GPU operations (and frees, and views of it that only they
/// use) use `buffer`: a buffer the host reads is freed after the call's
/// wait, by the host.
bool deviceOnly(Value buffer) {
  return moe::usedOnlyBy(buffer, [](Operation *user) {
    return isa<gpu::LaunchFuncOp, gpu::MemsetOp, gpu::MemcpyOp, gpu::DeallocOp,
               memref::DeallocOp>(user);
  });
}

struct AllocToGPU : OpRewritePattern<memref::AllocOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(memref::AllocOp op,
                                PatternRewriter &rewriter) const override {
    if (!streamable(op.getType()) || !op.getSymbolOperands().empty() ||
        moe::isHostOnlyBuffer(op.getResult()))
      return rewriter.notifyMatchFailure(
          op, "host-only, or not an identity-layout buffer");
    // A buffer the host touches too is unified memory (host_shared); one
    // only kernels and the copy engine touch is device memory.
    rewriter.replaceOpWithNewOp<gpu::AllocOp>(
        op, op.getType(), /*asyncToken=*/Type(), ValueRange(),
        op.getDynamicSizes(), ValueRange(),
        /*hostShared=*/!deviceOnly(op.getResult()));
    return success();
  }
};

struct DeallocToGPU : OpRewritePattern<memref::DeallocOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(memref::DeallocOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<MemRefType>(op.getMemref().getType());
    if (!type || !streamable(type) ||
        !op.getMemref().getDefiningOp<gpu::AllocOp>() ||
        !deviceOnly(op.getMemref()))
      return rewriter.notifyMatchFailure(op, "not a device-only buffer");
    rewriter.replaceOpWithNewOp<gpu::DeallocOp>(op, /*asyncToken=*/Type(),
                                                ValueRange(), op.getMemref());
    return success();
  }
};

/// `gpu.wait [%t]` right after the async op that made %t, which itself
/// only waits for a fresh `gpu.wait async`: the op alone keeps its token.
struct UnwrapWaitedOp : OpRewritePattern<gpu::WaitOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(gpu::WaitOp wait,
                                PatternRewriter &rewriter) const override {
    if (wait.getAsyncToken() || wait.getAsyncDependencies().size() != 1)
      return failure();
    Operation *op = wait.getAsyncDependencies()[0].getDefiningOp();
    if (!isa_and_nonnull<gpu::MemsetOp, gpu::MemcpyOp>(op))
      return failure();
    auto async = cast<gpu::AsyncOpInterface>(op);
    if (async.getAsyncDependencies().size() != 1 ||
        !async.getAsyncToken().hasOneUse())
      return failure();
    auto start = async.getAsyncDependencies()[0].getDefiningOp<gpu::WaitOp>();
    if (!start || !start.getAsyncDependencies().empty() ||
        !start.getAsyncToken().hasOneUse())
      return failure();
    rewriter.eraseOp(wait);
    rewriter.modifyOpInPlace(op, [&] {
      if (auto memset = dyn_cast<gpu::MemsetOp>(op))
        memset.getAsyncDependenciesMutable().clear();
      else
        cast<gpu::MemcpyOp>(op).getAsyncDependenciesMutable().clear();
    });
    rewriter.eraseOp(start);
    return success();
  }
};

struct GPUStreamAllocationsPass
    : moe::impl::GPUStreamAllocationsBase<GPUStreamAllocationsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<AllocToGPU, DeallocToGPU, UnwrapWaitedOp>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
