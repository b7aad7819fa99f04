//===- GroupedGemm.cpp - helpers shared by the grouped GEMM kernels -------===//

#include "GPU/GroupedGemm.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::moe::gpu_gemm;

Value KernelBuilder::expertOfRow(Value offsets, int64_t experts, Value r) {
  Value one = idx(1);
  auto count = scf::ForOp::create(
      b, one, idx(experts + 1), one, ValueRange{idx(0)},
      [&](OpBuilder &nb, Location loc, Value j, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        KernelBuilder k{ib};
        Value end = k.loadOffset(offsets, j);
        Value passed =
            arith::CmpIOp::create(ib, arith::CmpIPredicate::ule, end, r);
        Value inc = arith::SelectOp::create(ib, passed, k.idx(1), k.idx(0));
        scf::YieldOp::create(ib, k.add(iter[0], inc));
      });
  return count.getResult(0);
}

void KernelBuilder::storeIfInColumns(Value out, Value v, Value row, Value col,
                                     Value n) {
  auto guard = scf::IfOp::create(b, lt(col, n), false);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  memref::StoreOp::create(b, v, out, ValueRange{row, col});
}
