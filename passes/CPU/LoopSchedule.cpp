//===- CPULoopSchedule.cpp - guided schedules for uneven parallel loops ---===//
//
// The parallel loop over the experts' GEMM work items has uneven
// iterations (an expert's cost is its routed row count, known only at run
// time), so a static split leaves one thread waiting on the other. Loops
// that run register-tiled GEMM tiles (vector.fma) get a guided schedule:
// chunks shrink as the loop drains, a few atomic claims per thread.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"

#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPULOOPSCHEDULE
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct CPULoopSchedulePass
    : moe::impl::CPULoopScheduleBase<CPULoopSchedulePass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    getOperation()->walk([&](omp::WsloopOp loop) {
      bool gemm =
          loop->walk([](vector::FMAOp) { return WalkResult::interrupt(); })
              .wasInterrupted();
      if (gemm && !loop.getScheduleKind())
        loop.setScheduleKindAttr(omp::ClauseScheduleKindAttr::get(
            ctx, omp::ClauseScheduleKind::Guided));
    });
  }
};
} // namespace
