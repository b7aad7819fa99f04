//===- GroupedGemm.cpp - helpers shared by the grouped GEMM kernels -------===//

#include "GPU/GroupedGemm.h"
#include "Utils/Activation.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::moe::gpu_gemm;

gpu::GPUModuleOp mlir::moe::gpu_gemm::getOrCreateKernelModule(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(ctx));
  constexpr const char *kKernelModule = "moe_kernels";
  if (auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModule))
    return kernels;
  OpBuilder mb(ctx);
  mb.setInsertionPointToEnd(module.getBody());
  return gpu::GPUModuleOp::create(mb, module.getLoc(), kKernelModule);
}

Value mlir::moe::gpu_gemm::addSharedBuffer(gpu::GPUFuncOp fn, MemRefType type) {
  Value buffer = fn.addWorkgroupAttribution(type, fn.getLoc());
  fn.setWorkgroupAttributionAttr(
      fn.getNumWorkgroupAttributions() - 1,
      StringAttr::get(fn.getContext(), "llvm.align"),
      IntegerAttr::get(IntegerType::get(fn.getContext(), 64), 16));
  return buffer;
}

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

Value KernelBuilder::loadWeightF32(const Operands &ops, Value e, Value n,
                                   Value k) {
  if (!ops.bits)
    return toF32(memref::LoadOp::create(b, ops.w, ValueRange{e, n, k}));
  Value byteIdx =
      ops.bits == 4 ? Value(arith::DivUIOp::create(b, k, idx(2))) : k;
  Value byte = memref::LoadOp::create(b, ops.w, ValueRange{e, n, byteIdx});
  Type i32 = b.getI32Type();
  Value q = arith::ExtUIOp::create(b, i32, byte);
  auto i32c = [&](int64_t v) {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(v));
  };
  if (ops.bits == 4) {
    Value odd = arith::IndexCastOp::create(
        b, i32, arith::RemUIOp::create(b, k, idx(2)));
    q = arith::AndIOp::create(
        b, arith::ShRUIOp::create(b, q, arith::MulIOp::create(b, odd, i32c(4))),
        i32c(15));
  }
  SmallVector<Value> at = {e, n};
  if (ops.block)
    at.push_back(arith::DivUIOp::create(b, k, idx(ops.block)));
  Value zero =
      ops.zeroPoints
          ? Value(arith::ExtUIOp::create(
                b, i32, memref::LoadOp::create(b, ops.zeroPoints, at)))
          : Value(i32c(int64_t(1) << (ops.bits - 1)));
  Value centered = arith::SubIOp::create(b, q, zero);
  Value w = arith::SIToFPOp::create(b, b.getF32Type(), centered);
  Value scale = toF32(memref::LoadOp::create(b, ops.scales, at));
  return arith::MulFOp::create(b, w, scale);
}

/// `n` as the column bound, or 0 (nothing stored) for a row past the dense
/// row count.
static Value boundForRow(KernelBuilder &k, const Operands &ops, Value row,
                         Value n) {
  if (!ops.rowLimit)
    return n;
  return arith::SelectOp::create(k.b, k.lt(row, ops.rowLimit), n, k.idx(0));
}

void KernelBuilder::storeOut(const Operands &ops, Value v, Value row, Value col,
                             Value n) {
  // The buffer's type: a combined output may accumulate in f32 where the
  // operands are 16-bit (ExpertMatmul.cpp).
  Type elt = cast<MemRefType>(ops.out.getType()).getElementType();
  if (!ops.combineSlots)
    return storeIfInColumns(ops.out, fromF32(v, elt), row, col,
                            boundForRow(*this, ops, row, n));
  // Padding rows (slot -1) belong to no token.
  Value slot = memref::LoadOp::create(b, ops.combineSlots, ValueRange{row});
  Value zero32 = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
  Value valid = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, slot, zero32),
      lt(col, n));
  auto guard = scf::IfOp::create(b, valid, false);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  Value s = arith::IndexCastOp::create(b, b.getIndexType(), slot);
  Value t = arith::DivUIOp::create(b, s, idx(ops.combineK));
  Value j = arith::RemUIOp::create(b, s, idx(ops.combineK));
  Value w =
      toF32(memref::LoadOp::create(b, ops.combineWeights, ValueRange{t, j}));
  memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addf,
                              fromF32(arith::MulFOp::create(b, w, v), elt),
                              ops.out, ValueRange{t, col});
}

void KernelBuilder::storeUnpaired(const Operands &ops, Value v, Value row,
                                  Value col, Value n) {
  if (ops.epilogue)
    v = emitActivation(b, b.getLoc(), ops.epilogue, v, Value());
  storeOut(ops, v, row, col, n);
}

void KernelBuilder::storePair(const Operands &ops, Value gate, Value up,
                              Value row, Value col, Value n) {
  Value h = emitActivation(b, b.getLoc(), ops.epilogue, gate, up);
  Value half = arith::DivUIOp::create(b, col, idx(2));
  storeOut(ops, h, row, half, arith::DivUIOp::create(b, n, idx(2)));
}

void KernelBuilder::storeZero(const Operands &ops, Value zero, Value row,
                              Value col, Value n) {
  // A combined output has no padding rows: they add nothing.
  if (ops.combineSlots)
    return;
  n = boundForRow(*this, ops, row, n);
  if (!ops.pairedEpilogue())
    return storeIfInColumns(ops.out, zero, row, col, n);
  storeIfInColumns(ops.out, zero, row, arith::DivUIOp::create(b, col, idx(2)),
                   arith::DivUIOp::create(b, n, idx(2)));
}

std::pair<Value, Value> KernelBuilder::inputRow(const Operands &ops,
                                                Value r) {
  if (ops.rowLimit) {
    // Rows past the dense row count read as zeros (row 0 stands in).
    Value valid = lt(r, ops.rowLimit);
    return {arith::SelectOp::create(b, valid, r, idx(0)), valid};
  }
  if (!ops.slots)
    return {r, Value()};
  Value slot = memref::LoadOp::create(b, ops.slots, ValueRange{r});
  Value zero32 = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
  Value valid =
      arith::CmpIOp::create(b, arith::CmpIPredicate::sge, slot, zero32);
  Value safe = arith::SelectOp::create(b, valid, slot, zero32);
  Value token = arith::DivUIOp::create(
      b, arith::IndexCastOp::create(b, b.getIndexType(), safe),
      idx(ops.gatherK));
  return {token, valid};
}

Value KernelBuilder::loadInputRow(const Operands &ops, Value r, Value c) {
  auto [row, valid] = inputRow(ops, r);
  Value v = memref::LoadOp::create(b, ops.x, ValueRange{row, c});
  if (!valid)
    return v;
  Value zero = arith::ConstantOp::create(b, b.getZeroAttr(v.getType()));
  return arith::SelectOp::create(b, valid, v, zero);
}
