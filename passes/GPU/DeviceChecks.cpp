//===- GPUDeviceChecks.cpp - run-time checks inside kernels ---------------===//
//
// A failed cf.assert in a kernel would trap: the CUDA context is lost for
// the rest of the process and the message with it. Instead, a failed check
// records its number in a one-word buffer and skips the rest of its block
// (the code it guards); after the launch the host reads the word and fails
// the matching host-side cf.assert, which the entry point turns into an
// error status with the check's message (moe-convert-asserts-to-runtime).
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUDEVICECHECKS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// A value to yield where the guarded code did not run.
Value placeholder(OpBuilder &b, Location loc, Type t) {
  if (t.isIntOrIndexOrFloat())
    return arith::ConstantOp::create(b, loc, b.getZeroAttr(t));
  return nullptr;
}

/// Rewrites `cf.assert %ok` into: if %ok, the rest of the block; else store
/// `id` into `slot`. Values of the rest used by the terminator come out of
/// the scf.if (zeros on the failing path).
LogicalResult guardRest(RewriterBase &rewriter, cf::AssertOp check, Value slot,
                        int64_t id) {
  Location loc = check.getLoc();
  Block *block = check->getBlock();
  Operation *terminator = block->getTerminator();
  SmallVector<Operation *> rest;
  for (Operation *op = check->getNextNode(); op != terminator;
       op = op->getNextNode())
    rest.push_back(op);
  SetVector<Value> escaping;
  for (Operation *op : rest)
    for (Value v : op->getResults())
      for (OpOperand &use : v.getUses())
        if (use.getOwner() == terminator ||
            !llvm::is_contained(rest,
                                block->findAncestorOpInBlock(*use.getOwner())))
          escaping.insert(v);
  rewriter.setInsertionPoint(check);
  SmallVector<Value> zeros;
  for (Value v : escaping) {
    Value z = placeholder(rewriter, loc, v.getType());
    if (!z)
      return failure();
    zeros.push_back(z);
  }
  auto guard =
      scf::IfOp::create(rewriter, loc, TypeRange(escaping.getArrayRef()),
                        check.getArg(), /*withElse=*/true);
  Block *thenBlock = &guard.getThenRegion().front();
  Block *elseBlock = &guard.getElseRegion().front();
  // With results, the scf.if is built without terminators.
  for (Operation *op : rest) {
    if (escaping.empty())
      rewriter.moveOpBefore(op, thenBlock->getTerminator());
    else
      rewriter.moveOpBefore(op, thenBlock, thenBlock->end());
  }
  if (!escaping.empty()) {
    rewriter.setInsertionPointToEnd(thenBlock);
    scf::YieldOp::create(rewriter, loc, escaping.getArrayRef());
    rewriter.setInsertionPointToEnd(elseBlock);
    scf::YieldOp::create(rewriter, loc, zeros);
  }
  rewriter.setInsertionPointToStart(elseBlock);
  Value idValue =
      arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(id));
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  memref::StoreOp::create(rewriter, loc, idValue, slot, ValueRange{zero});
  for (auto [v, r] : llvm::zip(escaping, guard.getResults()))
    rewriter.replaceUsesWithIf(v, r, [&](OpOperand &use) {
      return !guard->isAncestor(use.getOwner());
    });
  rewriter.eraseOp(check);
  return success();
}

struct GPUDeviceChecksPass
    : moe::impl::GPUDeviceChecksBase<GPUDeviceChecksPass> {
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation()->walk([&](gpu::LaunchOp l) { launches.push_back(l); });
    IRRewriter rewriter(&getContext());
    for (gpu::LaunchOp launch : launches) {
      SmallVector<cf::AssertOp> checks;
      launch.getBody().walk([&](cf::AssertOp a) { checks.push_back(a); });
      if (checks.empty())
        continue;
      Location loc = launch.getLoc();
      rewriter.setInsertionPoint(launch);
      auto slotType = MemRefType::get({1}, rewriter.getI32Type());
      Value slot = memref::AllocOp::create(rewriter, loc, slotType);
      Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
      Value none = arith::ConstantOp::create(rewriter, loc,
                                             rewriter.getI32IntegerAttr(0));
      // Zeroed on the stream (a host store would wait for the device).
      gpu::MemsetOp::create(rewriter, loc, Type(), ValueRange(), slot, none);

      SmallVector<std::pair<int64_t, std::string>> messages;
      int64_t id = 0;
      for (cf::AssertOp check : checks) {
        std::string message = check.getMsg().str();
        // Threads that skip the rest of their block would leave the others
        // waiting at a barrier in it (barrier divergence: a hang).
        bool barrierAfter = false;
        for (Operation *op = check->getNextNode(); op && !barrierAfter;
             op = op->getNextNode())
          op->walk([&](gpu::BarrierOp) { barrierAfter = true; });
        if (barrierAfter) {
          check.emitError("cannot report this check from a GPU kernel: a "
                          "barrier follows it, which threads skipping the "
                          "rest of the block would never reach");
          return signalPassFailure();
        }
        if (failed(guardRest(rewriter, check, slot, ++id))) {
          check.emitError("cannot report this check from a GPU kernel: the "
                          "code it guards yields values of type other than "
                          "scalars");
          return signalPassFailure();
        }
        messages.push_back({id, message});
      }

      // After the (synchronous) launch: fail the check whose number the
      // kernel recorded.
      rewriter.setInsertionPointAfter(launch);
      auto failed =
          memref::LoadOp::create(rewriter, loc, slot, ValueRange{zero});
      failed->setAttr(moe::kCheckFlagAttr, rewriter.getUnitAttr());
      for (auto &[number, message] : messages) {
        Value numberValue = arith::ConstantOp::create(
            rewriter, loc, rewriter.getI32IntegerAttr(number));
        Value ok = arith::CmpIOp::create(
            rewriter, loc, arith::CmpIPredicate::ne, failed, numberValue);
        cf::AssertOp::create(rewriter, loc, ok, message);
      }
      memref::DeallocOp::create(rewriter, loc, slot);
    }
  }
};
} // namespace
