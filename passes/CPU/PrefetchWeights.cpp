//===- CPUPrefetchWeights.cpp - prefetch the next GEMM weight tile --------===//
//
// An expert's weight tile (4 rows of W) comes from memory for the first row
// tile and from L1 for the others; the hardware prefetcher follows each
// row's stream only once it has started, so every column tile begins with
// four cold misses. Prefetching the next tile's rows while this one
// computes hides them.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPUPREFETCHWEIGHTS
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// Whether `v` is a view of a constant global (the compiled-in weights).
bool isConstantGlobal(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (isa<memref::GetGlobalOp>(def))
      return true;
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      v = view.getViewSource();
    else if (auto cast = dyn_cast<memref::CastOp>(def))
      v = cast.getSource();
    else
      return false;
  }
  return false;
}

struct CPUPrefetchWeightsPass
    : moe::impl::CPUPrefetchWeightsBase<CPUPrefetchWeightsPass> {
  using CPUPrefetchWeightsBase::CPUPrefetchWeightsBase;

  void runOnOperation() override {
    SmallVector<vector::TransferReadOp> reads;
    getOperation()->walk([&](scf::ForOp loop) {
      bool gemm = llvm::any_of(loop.getBody()->getOperations(),
                               llvm::IsaPred<vector::FMAOp>);
      if (!gemm)
        return;
      for (auto read : loop.getBody()->getOps<vector::TransferReadOp>())
        if (isa<MemRefType>(read.getBase().getType()) &&
            read.getIndices().size() == 2 && isConstantGlobal(read.getBase()))
          reads.push_back(read);
    });
    for (vector::TransferReadOp read : reads) {
      OpBuilder b(read);
      Location loc = read.getLoc();
      Value ahead = arith::AddIOp::create(
          b, loc, read.getIndices()[0],
          arith::ConstantIndexOp::create(b, loc, distance));
      memref::PrefetchOp::create(
          b, loc, read.getBase(), ValueRange{ahead, read.getIndices()[1]},
          /*isWrite=*/false, static_cast<uint32_t>(locality),
          /*isDataCache=*/true);
    }
  }
};
} // namespace
