//===- CPUParallelThreshold.cpp - fork the team only for enough work ------===//
//
// Forking the pool and joining it at the loop's barrier costs microseconds;
// a loop over one token or a 64-entry fill costs less than that on one
// thread. Each outermost omp.parallel gets an if clause comparing its
// loop's trip count, computed at run time, with what its body's kind of
// work needs.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPUPARALLELTHRESHOLD
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// The only worksharing loop nest directly in `region`, if that is all the
/// region does.
omp::LoopNestOp soleLoopNest(omp::ParallelOp region) {
  omp::WsloopOp wsloop;
  for (Operation &op : region.getRegion().front()) {
    if (auto w = dyn_cast<omp::WsloopOp>(op)) {
      if (wsloop)
        return nullptr;
      wsloop = w;
    } else if (!isa<omp::TerminatorOp>(op)) {
      return nullptr;
    }
  }
  return wsloop ? dyn_cast<omp::LoopNestOp>(wsloop.getWrappedLoop()) : nullptr;
}

/// The loop that moe-cpu-serial-inner-loop made of the last dimension of
/// an elementwise nest: part of the nest's iterations, not inner work.
constexpr StringLiteral kSerialInner = "moe.serial_inner";

/// Whether an iteration does more than a few operations' work.
bool hasInnerLoopsOrCalls(omp::LoopNestOp nest) {
  return nest.getRegion()
      .walk([](Operation *op) {
        if (isa<scf::ForOp>(op) && op->hasAttr(kSerialInner))
          return WalkResult::advance();
        return isa<scf::ForOp, scf::WhileOp, scf::ParallelOp, omp::ParallelOp,
                   CallOpInterface>(op)
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

/// The serial inner loop directly in `nest`'s body, when there is one.
scf::ForOp serialInner(omp::LoopNestOp nest) {
  for (Operation &op : nest.getRegion().front())
    if (auto f = dyn_cast<scf::ForOp>(op))
      if (f->hasAttr(kSerialInner))
        return f;
  return nullptr;
}

struct CPUParallelThresholdPass
    : moe::impl::CPUParallelThresholdBase<CPUParallelThresholdPass> {
  using CPUParallelThresholdBase::CPUParallelThresholdBase;

  void runOnOperation() override {
    SmallVector<omp::ParallelOp> regions;
    getOperation()->walk([&](omp::ParallelOp region) {
      // Nested regions already run on their thread alone.
      if (!region->getParentOfType<omp::ParallelOp>() && !region.getIfExpr())
        regions.push_back(region);
    });
    for (omp::ParallelOp region : regions) {
      omp::LoopNestOp nest = soleLoopNest(region);
      if (!nest)
        continue;
      auto outside = [&](Value v) {
        return !region->isAncestor(v.getParentRegion()->getParentOp());
      };
      if (!llvm::all_of(nest.getLoopLowerBounds(), outside) ||
          !llvm::all_of(nest.getLoopUpperBounds(), outside) ||
          !llvm::all_of(nest.getLoopSteps(), outside))
        continue;
      OpBuilder b(region);
      Location loc = region.getLoc();
      // Trips of each dimension, ceil((ub - lb) / step) for lb <= ub and a
      // positive step (scf.parallel's), multiplied together.
      SmallVector<Value> lbs(nest.getLoopLowerBounds()),
          ubs(nest.getLoopUpperBounds()), steps(nest.getLoopSteps());
      // An inner serial loop's trips count too when its bounds are known
      // before the region.
      if (scf::ForOp inner = serialInner(nest))
        if (outside(inner.getLowerBound()) &&
            outside(inner.getUpperBound()) && outside(inner.getStep())) {
          lbs.push_back(inner.getLowerBound());
          ubs.push_back(inner.getUpperBound());
          steps.push_back(inner.getStep());
        }
      Value trips;
      for (auto [lb, ub, step] : llvm::zip(lbs, ubs, steps)) {
        Value span = arith::SubIOp::create(b, loc, ub, lb);
        Value rounded = arith::AddIOp::create(
            b, loc, span,
            arith::SubIOp::create(
                b, loc, step,
                arith::ConstantOp::create(
                    b, loc, b.getIntegerAttr(step.getType(), 1))));
        Value n = arith::DivUIOp::create(b, loc, rounded, step);
        Value empty =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, ub, lb);
        n = arith::SelectOp::create(
            b, loc, empty,
            arith::ConstantOp::create(b, loc, b.getIntegerAttr(n.getType(), 0)),
            n);
        if (trips && trips.getType() != n.getType())
          n = arith::IndexCastOp::create(b, loc, trips.getType(), n);
        trips = trips ? arith::MulIOp::create(b, loc, trips, n) : n;
      }
      int64_t threshold = hasInnerLoopsOrCalls(nest) ? 2 : minElementwise;
      Value enough = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::uge, trips,
          arith::ConstantOp::create(
              b, loc, b.getIntegerAttr(trips.getType(), threshold)));
      region.getIfExprMutable().assign(enough);
    }
  }
};
} // namespace
