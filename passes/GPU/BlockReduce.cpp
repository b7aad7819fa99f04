//===- BlockReduce.cpp - warp- and block-wide f32 sums in GPU kernels -----===//

#include "GPU/BlockReduce.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

Value mlir::moe::emitWarpSum(OpBuilder &b, Location loc, Value value) {
  Value sum = value;
  for (int64_t d = 16; d >= 1; d /= 2)
    sum = arith::AddFOp::create(
        b, loc, sum,
        gpu::ShuffleOp::create(b, loc, sum, d, 32, gpu::ShuffleMode::XOR)
            .getShuffleResult());
  return sum;
}

Value mlir::moe::emitBlockSum(OpBuilder &b, Location loc, Value value,
                              Value tid, Value partials, int64_t warps) {
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value sum = emitWarpSum(b, loc, value);
  Value warp = arith::DivUIOp::create(b, loc, tid, idx(32));
  Value lane = arith::RemUIOp::create(b, loc, tid, idx(32));
  auto leader = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0)),
      /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&leader.getThenRegion().front());
    memref::StoreOp::create(b, loc, sum, partials, ValueRange{warp});
  }
  gpu::BarrierOp::create(b, loc);
  Value total = memref::LoadOp::create(b, loc, partials, ValueRange{idx(0)});
  for (int64_t w = 1; w < warps; ++w)
    total = arith::AddFOp::create(
        b, loc, total,
        memref::LoadOp::create(b, loc, partials, ValueRange{idx(w)}));
  return total;
}
