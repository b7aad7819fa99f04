//===- FreeBuffersEarly.cpp - deallocate after the last use ---------------===//
//
// The ownership-based deallocation frees buffers at the end of their block;
// a model function is one block, so every intermediate lived until the
// model returned. Moving each dealloc to the buffer's last use lets the
// allocator reuse its memory for later intermediates.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"

#include "mlir/Dialect/Bufferization/Transforms/BufferViewFlowAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/CallInterfaces.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPUFREEBUFFERSEARLY
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// The last operation of `dealloc`'s block that uses its buffer, or null
/// when a use lies outside the block, is a call, or takes the buffer's
/// address as a plain value: a callee such as the runtime's asynchronous
/// all-to-all (which receives addresses) keeps reading the buffer after it
/// returns, until a later call that does not name it.
Operation *lastUse(memref::DeallocOp dealloc,
                   const BufferViewFlowAnalysis &aliases,
                   const DenseMap<Operation *, unsigned> &position) {
  Block *block = dealloc->getBlock();
  Operation *last = nullptr;
  auto later = [&](Operation *op) {
    if (!last || position.lookup(op) > position.lookup(last))
      last = op;
  };
  for (Value alias : aliases.resolve(dealloc.getMemref())) {
    if (Operation *def = alias.getDefiningOp())
      if (def->getBlock() == block)
        later(def);
    for (Operation *user : alias.getUsers()) {
      if (user == dealloc)
        continue;
      if (isa<CallOpInterface, memref::ExtractAlignedPointerAsIndexOp,
              UnrealizedConversionCastOp>(user))
        return nullptr;
      Operation *inBlock = block->findAncestorOpInBlock(*user);
      if (!inBlock)
        return nullptr;
      later(inBlock);
    }
  }
  return last;
}

struct CPUFreeBuffersEarlyPass
    : moe::impl::CPUFreeBuffersEarlyBase<CPUFreeBuffersEarlyPass> {
  void runOnOperation() override {
    getOperation()->walk([&](func::FuncOp fn) {
      BufferViewFlowAnalysis aliases(fn);
      SmallVector<memref::DeallocOp> deallocs;
      fn.walk([&](memref::DeallocOp op) { deallocs.push_back(op); });
      // Positions numbered once: moving deallocs leaves the other ops'
      // order unchanged, and Operation::isBeforeInBlock would renumber the
      // block after every move.
      DenseMap<Operation *, unsigned> position;
      fn.walk([&](Block *block) {
        unsigned n = 0;
        for (Operation &op : *block)
          position[&op] = n++;
      });
      for (memref::DeallocOp dealloc : deallocs) {
        Operation *last = lastUse(dealloc, aliases, position);
        if (last && position.lookup(last) < position.lookup(dealloc))
          dealloc->moveAfter(last);
      }
    });
  }
};
} // namespace
