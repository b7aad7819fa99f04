//===- MergeWaits.cpp - no host waits for host-private work ---------------===//
//
// gpu-async-region makes the host wait for the stream before every op with
// side effects. Many such ops only touch host memory the device never sees:
// the shape buffers of a memref.reshape (allocated, stored to, freed on the
// host), or a check of sizes. Where only such work lies between a wait and
// the start of the next chain of GPU ops, the wait goes and the two chains
// become one: the host keeps queueing work instead of waiting for it.
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUMERGEWAITS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct GPUMergeWaitsPass : moe::impl::GPUMergeWaitsBase<GPUMergeWaitsPass> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.isExternal())
      return;
    for (Block &block : fn.getBody()) {
      for (Operation &op : llvm::make_early_inc_range(block)) {
        auto wait = dyn_cast<gpu::WaitOp>(op);
        if (!wait || wait.getAsyncToken() ||
            wait.getAsyncDependencies().size() != 1)
          continue;
        // The next chain's start, with only host-private work before it.
        gpu::WaitOp start;
        for (Operation *o = wait->getNextNode(); o; o = o->getNextNode()) {
          auto w = dyn_cast<gpu::WaitOp>(o);
          if (w && w.getAsyncToken() && w.getAsyncDependencies().empty()) {
            start = w;
            break;
          }
          if (!moe::isHostPrivate(o))
            break;
        }
        if (!start)
          continue;
        start.getAsyncToken().replaceAllUsesWith(
            wait.getAsyncDependencies()[0]);
        start.erase();
        wait.erase();
      }
    }
  }
};
} // namespace
