//===- FuseParallelLoops.cpp - one kernel for loops over the same elements ===//
//
// Each outermost scf.parallel of host code becomes one kernel launch. A
// MatMul over [T, N] and the rounding of its f32 result to f16 are two such
// loops over the same elements, the second reading only what the first
// wrote at the same index: one loop, one kernel, does both. Upstream's
// fusion takes only adjacent loops, and the allocation of the second
// loop's result lies between them: allocations are hoisted above loops
// first (their sizes are defined before).
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Analysis/AliasAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUFUSEPARALLELLOOPS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// Moves allocations up over the scf.parallel ops right before them, where
/// their operands allow.
void hoistAllocations(Block &block) {
  for (auto alloc : llvm::make_early_inc_range(block.getOps<memref::AllocOp>())) {
    Operation *before = alloc->getPrevNode();
    while (isa_and_nonnull<scf::ParallelOp>(before) &&
           llvm::all_of(alloc->getOperands(), [&](Value v) {
             Operation *def = v.getDefiningOp();
             return !def || def->getBlock() != &block ||
                    def->isBeforeInBlock(before);
           }))
      before = before->getPrevNode();
    Operation *after = before ? before->getNextNode() : &block.front();
    if (after != alloc.getOperation())
      alloc->moveBefore(after);
  }
}

/// A fresh allocation aliases no global (which local alias analysis does
/// not know of memref.get_global: a MatMul reading its weights would not
/// fuse with the loop after it).
bool allocationAndGlobal(Value a, Value b) {
  auto global = [](Value v) {
    return isa_and_nonnull<memref::GetGlobalOp>(v.getDefiningOp());
  };
  return (moe::isFreshAllocation(a) && global(b)) ||
         (global(a) && moe::isFreshAllocation(b));
}

struct GPUFuseParallelLoopsPass
    : moe::impl::GPUFuseParallelLoopsBase<GPUFuseParallelLoopsPass> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.isExternal())
      return;
    for (Block &block : fn.getBody())
      hoistAllocations(block);
    auto &aliases = getAnalysis<AliasAnalysis>();
    scf::naivelyFuseParallelOps(fn.getBody(), [&](Value a, Value b) {
      if (allocationAndGlobal(moe::viewedBuffer(a), moe::viewedBuffer(b)))
        return false;
      return !aliases.alias(a, b).isNo();
    });
  }
};
} // namespace
