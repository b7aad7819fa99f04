//===- GPUCopyEngine.cpp - whole-buffer fills / copies -> gpu.memset/memcpy
//===//
//
// A fill or a copy of a whole contiguous buffer would otherwise become a
// flat kernel (moe-gpu-map-parallel-loops); the driver's memset and memcpy
// do the same on the copy engine without a launch. Each is waited for at
// once, like the synchronous launches around it, so the order of host code
// and kernels is unchanged. Copies between shape arithmetic's small integer
// buffers stay with the host where it computes them (HostMemory.h).
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUCOPYENGINE
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
bool contiguous(Type type) {
  auto m = dyn_cast<MemRefType>(type);
  return m && m.getLayout().isIdentity() && !m.getMemorySpace();
}

bool inHostCode(Operation *op) {
  return !op->getParentOfType<gpu::GPUFuncOp>() &&
         !op->getParentOfType<gpu::LaunchOp>() &&
         !op->getParentOfType<gpu::GPUModuleOp>();
}

/// `op` replaced by gpu.wait async, `build(token)` (the async op), gpu.wait.
void replaceWithAsync(PatternRewriter &rewriter, Operation *op,
                      function_ref<Value(Value)> build) {
  Location loc = op->getLoc();
  Type tokenType = gpu::AsyncTokenType::get(op->getContext());
  Value start = gpu::WaitOp::create(rewriter, loc, tokenType, ValueRange())
                    .getAsyncToken();
  gpu::WaitOp::create(rewriter, loc, TypeRange(), ValueRange{build(start)});
  rewriter.eraseOp(op);
}

/// linalg.fill, or its generalized form (the CUDA pipeline generalizes
/// named ops before bufferization).
struct FillToMemset : OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureBufferSemantics() || !inHostCode(op) ||
        op.getNumDpsInits() != 1)
      return failure();
    Value value;
    if (auto fill = dyn_cast<linalg::FillOp>(op.getOperation()))
      value = fill.value();
    else if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation()))
      value = linalg::isaFillOpInterface(generic).value_or(Value());
    if (!value)
      return failure();
    Value dst = op.getDpsInits()[0];
    Type elt = value.getType();
    if (!contiguous(dst.getType()) ||
        cast<MemRefType>(dst.getType()).getElementType() != elt ||
        !elt.isIntOrFloat() ||
        (elt.getIntOrFloatBitWidth() != 16 &&
         elt.getIntOrFloatBitWidth() != 32))
      return rewriter.notifyMatchFailure(op, "not a 16/32-bit contiguous fill");
    replaceWithAsync(rewriter, op, [&](Value token) {
      return gpu::MemsetOp::create(rewriter, op.getLoc(), token.getType(),
                                   ValueRange{token}, dst, value)
          .getAsyncToken();
    });
    return success();
  }
};

struct CopyToMemcpy : OpRewritePattern<memref::CopyOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(memref::CopyOp op,
                                PatternRewriter &rewriter) const override {
    Value src = op.getSource(), dst = op.getTarget();
    if (!inHostCode(op) || !contiguous(src.getType()) ||
        src.getType() != dst.getType())
      return rewriter.notifyMatchFailure(op, "not a contiguous copy");
    // Shape buffers: a loop moe-gpu-map-parallel-loops keeps on the host
    // where the host computed the source (0-d copies stay copies).
    if (cast<MemRefType>(src.getType()).getRank() > 0 &&
        moe::isShapeBuffer(src) && moe::isShapeBuffer(dst))
      return rewriter.notifyMatchFailure(op, "shape arithmetic");
    replaceWithAsync(rewriter, op, [&](Value token) {
      return gpu::MemcpyOp::create(rewriter, op.getLoc(), token.getType(),
                                   ValueRange{token}, dst, src)
          .getAsyncToken();
    });
    return success();
  }
};

struct GPUCopyEnginePass : moe::impl::GPUCopyEngineBase<GPUCopyEnginePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FillToMemset, CopyToMemcpy>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
