//===- SerialInnerLoop.cpp - sequential innermost dimension ---------------===//
//
// A worksharing loop over all dimensions of an elementwise op splits its
// linear index into every dimension's index at each iteration (divisions
// LLVM cannot vectorize through). Keeping the last dimension sequential
// inside each parallel iteration gives LLVM a plain contiguous loop.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPUSERIALINNERLOOP
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct CPUSerialInnerLoopPass
    : moe::impl::CPUSerialInnerLoopBase<CPUSerialInnerLoopPass> {
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation()->walk([&](scf::ParallelOp loop) {
      // Outermost loops without reductions (nested ones run serially
      // anyway once the outer one is an OpenMP loop).
      if (loop.getNumLoops() >= 2 && loop.getNumReductions() == 0 &&
          !loop->getParentOfType<scf::ParallelOp>())
        loops.push_back(loop);
    });
    for (scf::ParallelOp loop : loops) {
      OpBuilder b(loop);
      Location loc = loop.getLoc();
      unsigned n = loop.getNumLoops();
      auto outer = scf::ParallelOp::create(
          b, loc, loop.getLowerBound().drop_back(),
          loop.getUpperBound().drop_back(), loop.getStep().drop_back());
      b.setInsertionPointToStart(outer.getBody());
      auto inner = scf::ForOp::create(b, loc, loop.getLowerBound()[n - 1],
                                      loop.getUpperBound()[n - 1],
                                      loop.getStep()[n - 1]);
      inner->setAttr("moe.serial_inner", b.getUnitAttr());
      IRMapping map;
      for (unsigned i = 0; i + 1 < n; ++i)
        map.map(loop.getInductionVars()[i], outer.getInductionVars()[i]);
      map.map(loop.getInductionVars()[n - 1], inner.getInductionVar());
      b.setInsertionPointToStart(inner.getBody());
      for (Operation &op : loop.getBody()->without_terminator())
        b.clone(op, map);
      loop.erase();
    }
  }
};
} // namespace
