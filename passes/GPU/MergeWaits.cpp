//===- MergeWaits.cpp - no host waits for host-private work ---------------===//
//
// gpu-async-region makes the host wait for the stream before every op with
// side effects. Many such ops only touch host memory the device never sees:
// the shape buffers of a memref.reshape (allocated, stored to, freed on the
// host, through views too), host loops of shape arithmetic over them and
// constant globals, or a check of sizes. Where only such work lies between a
// wait and the start of the next chain of GPU ops, the wait goes and the two
// chains become one: the host keeps queueing work instead of waiting for it. So
// it does where the work in between touches only buffers none of the work
// queued since the last wait uses (the host fills a fresh unified buffer
// that a later kernel reads, or reads one the host wrote). A wait with
// nothing queued since the previous one goes too.
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Interfaces/CallInterfaces.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUMERGEWAITS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// Whether `op` may leave work on the device that a later wait waits for:
/// a kernel, a fill, a copy, or anything with regions or calls, which may
/// hold them. Stream-ordered allocations and frees do not (the runtime
/// serves them from its cache at once).
bool mayQueueWork(Operation *op) {
  if (isa<gpu::AllocOp, gpu::DeallocOp, gpu::WaitOp>(op))
    return false;
  if (isa<gpu::LaunchFuncOp, gpu::MemsetOp, gpu::MemcpyOp>(op) ||
      op->getNumRegions() > 0 || isa<CallOpInterface>(op))
    return true;
  return false;
}

/// Whether `op` may queue work whose buffers its operands do not name: a
/// call, or a region holding a kernel launch, fill, copy or call (a host
/// loop of shape arithmetic holds none).
bool queuesUnnamedWork(Operation *op) {
  if (isa<CallOpInterface>(op))
    return true;
  if (op->getNumRegions() == 0)
    return false;
  WalkResult r = op->walk([](Operation *nested) {
    return isa<gpu::LaunchFuncOp, gpu::LaunchOp, gpu::MemsetOp, gpu::MemcpyOp,
               CallOpInterface>(nested)
               ? WalkResult::interrupt()
               : WalkResult::advance();
  });
  return r.wasInterrupted();
}

/// Drops host waits with nothing queued since the previous one or the
/// call's start (every chain of a call is on one stream, so a wait for any
/// of them waits for all queued work): at the end of a call, the frees of unified buffers (host frees) alternate with
/// stream-ordered frees of device buffers, and each group of those waited
/// again for an idle device (26 waits at the end of a transformers LM).
void dropIdleWaits(Block &block) {
  // A call starts with nothing of its own queued (what earlier calls left
  // on the stream touches none of the buffers this call's host code does).
  bool idle = block.isEntryBlock();
  for (Operation &op : llvm::make_early_inc_range(block)) {
    auto wait = dyn_cast<gpu::WaitOp>(op);
    if (wait && !wait.getAsyncToken()) {
      if (idle)
        wait.erase();
      idle = true;
      continue;
    }
    if (mayQueueWork(&op))
      idle = false;
  }
}

struct GPUMergeWaitsPass : moe::impl::GPUMergeWaitsBase<GPUMergeWaitsPass> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.isExternal())
      return;
    for (Block &block : fn.getBody()) {
      // What the stream may still be running: the buffers of the work
      // queued since the last wait that stays, unless some of it does not
      // name them (`opaque`).
      SmallVector<Value> queued;
      bool opaque = false;
      Operation *next = nullptr;
      for (Operation *op = &block.front(); op; op = next) {
        next = op->getNextNode();
        auto wait = dyn_cast<gpu::WaitOp>(op);
        if (!wait) {
          if (!moe::addQueuedBuffers(op, queued) && queuesUnnamedWork(op))
            opaque = true;
          continue;
        }
        if (wait.getAsyncToken() || wait.getAsyncDependencies().size() != 1)
          continue;
        // The next chain's start, with only host-private work, or work
        // independent of what is queued, before it.
        gpu::WaitOp start;
        for (Operation *o = wait->getNextNode(); o; o = o->getNextNode()) {
          auto w = dyn_cast<gpu::WaitOp>(o);
          if (w && w.getAsyncToken() && w.getAsyncDependencies().empty()) {
            start = w;
            break;
          }
          if (!moe::isHostPrivate(o) &&
              (opaque || !moe::touchesNoneOf(o, queued)))
            break;
        }
        if (!start) {
          queued.clear();
          opaque = false;
          continue;
        }
        start.getAsyncToken().replaceAllUsesWith(
            wait.getAsyncDependencies()[0]);
        if (next == start.getOperation())
          next = start->getNextNode();
        start.erase();
        wait.erase();
      }
    }
    // Last: the waits merged away above may have been what made a later
    // one idle.
    for (Block &block : fn.getBody())
      dropIdleWaits(block);
  }
};
} // namespace
