//===- GroupedGemm.cpp - helpers shared by the grouped GEMM kernels -------===//

#include "GPU/GroupedGemm.h"
#include "Utils/Activation.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
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

gpu::GPUFuncOp mlir::moe::gpu_gemm::createKernel(
    ModuleOp module, Location loc, StringRef name, ValueRange operands,
    function_ref<void(gpu::GPUFuncOp, ValueRange)> body) {
  MLIRContext *ctx = module.getContext();
  auto kernels = getOrCreateKernelModule(module);
  OpBuilder mb(ctx);
  mb.setInsertionPointToEnd(kernels.getBody());
  auto fn = gpu::GPUFuncOp::create(
      mb, loc, name, FunctionType::get(ctx, TypeRange(operands), {}));
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
  SymbolTable(kernels).insert(fn);
  body(fn, fn.getBody().front().getArguments());
  return fn;
}

Value mlir::moe::gpu_gemm::addSharedBuffer(gpu::GPUFuncOp fn, MemRefType type) {
  Value buffer = fn.addWorkgroupAttribution(type, fn.getLoc());
  fn.setWorkgroupAttributionAttr(
      fn.getNumWorkgroupAttributions() - 1,
      StringAttr::get(fn.getContext(), "llvm.align"),
      IntegerAttr::get(IntegerType::get(fn.getContext(), 64), 16));
  return buffer;
}

int64_t mlir::moe::gpu_gemm::bufferBytes(MemRefType type) {
  return type.getNumElements() * type.getElementType().getIntOrFloatBitWidth() /
         8;
}

int64_t mlir::moe::gpu_gemm::addDynamicSharedBuffers(
    ImplicitLocOpBuilder &b, ArrayRef<MemRefType> types,
    SmallVectorImpl<Value> &views) {
  auto workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  Value bytes = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                         MemRefLayoutAttrInterface(), workgroup));
  int64_t offset = 0;
  for (MemRefType type : types) {
    Value at = arith::ConstantIndexOp::create(b, offset);
    views.push_back(memref::ViewOp::create(b, type, bytes, at, ValueRange{}));
    offset += llvm::alignTo(bufferBytes(type), 16);
  }
  return offset;
}

gpu::GPUFuncOp mlir::moe::gpu_gemm::launchGemm(ImplicitLocOpBuilder &b,
                                               ModuleOp module, StringRef name,
                                               const Operands &ops,
                                               KernelBody body, Value gridY,
                                               bool fixBlockSize) {
  Operands args = ops;
  SmallVector<Value *> optional = {
      &args.offsets,        &args.bias,     &args.scales,
      &args.zeroPoints,     &args.slots,    &args.combineSlots,
      &args.combineWeights, &args.rowLimit, &args.denseEnd,
      &args.converted,      &args.arrivals, &args.addend};
  SmallVector<Value> operands = {ops.x, ops.w};
  for (Value *v : optional)
    if (*v)
      operands.push_back(*v);
  operands.push_back(ops.out);

  MLIRContext *ctx = b.getContext();
  BlockShape shape;
  gpu::GPUFuncOp fn =
      createKernel(module, b.getLoc(), name, operands,
                   [&](gpu::GPUFuncOp f, ValueRange kernelArgs) {
                     // The same roles, as the kernel's arguments.
                     args.x = kernelArgs[0];
                     args.w = kernelArgs[1];
                     unsigned next = 2;
                     for (Value *v : optional)
                       if (*v)
                         *v = kernelArgs[next++];
                     args.out = kernelArgs.back();
                     shape = body(f, args);
                   });
  if (fixBlockSize)
    fn.setKnownBlockSizeAttr(DenseI32ArrayAttr::get(
        ctx, {int32_t(shape.x), int32_t(shape.y), 1}));

  KernelBuilder k{b};
  Value one = k.idx(1);
  Value n = memref::DimOp::create(b, ops.w, 1);
  Value gridX = arith::CeilDivUIOp::create(b, n, k.idx(shape.tileN));
  Value dynamicShared;
  if (shape.dynamicSharedBytes)
    dynamicShared = arith::ConstantIntOp::create(
        b, b.getI32Type(), shape.dynamicSharedBytes);
  gpu::LaunchFuncOp::create(
      b, fn, gpu::KernelDim3{gridX, gridY, one},
      gpu::KernelDim3{k.idx(shape.x), k.idx(shape.y), one}, dynamicShared,
      operands);
  return fn;
}

KernelBuilder::RowTile KernelBuilder::rowTile(Operands &ops, Value tile,
                                              int64_t rows) {
  if (!ops.offsets) {
    Value first = mul(tile, idx(rows));
    ops.rowEnd = ops.rowLimit;
    return {first, idx(0), lt(first, ops.denseEnd)};
  }
  // Carried over the experts: the group's start, the tiles of the groups
  // before it, and the tile's expert, first row and group end once found.
  Value zero = idx(0);
  auto walk = scf::ForOp::create(
      b, zero, idx(ops.experts), idx(1),
      ValueRange{zero, zero, zero, zero, zero},
      [&](OpBuilder &nb, Location loc, Value e, ValueRange it) {
        ImplicitLocOpBuilder ib(loc, nb);
        KernelBuilder k{ib};
        Value start = it[0], before = it[1];
        Value end = k.loadOffset(ops.offsets, k.add(e, k.idx(1)));
        Value tiles = arith::CeilDivUIOp::create(
            ib, arith::SubIOp::create(ib, end, start), k.idx(rows));
        Value after = k.add(before, tiles);
        Value here = arith::AndIOp::create(
            ib,
            arith::CmpIOp::create(ib, arith::CmpIPredicate::uge, tile, before),
            k.lt(tile, after));
        Value first = k.add(
            start,
            k.mul(arith::SubIOp::create(ib, tile, before), k.idx(rows)));
        auto pick = [&](Value now, Value was) {
          return arith::SelectOp::create(ib, here, now, was).getResult();
        };
        scf::YieldOp::create(ib, ValueRange{end, after, pick(e, it[2]),
                                            pick(first, it[3]),
                                            pick(end, it[4])});
      });
  ops.rowEnd = walk.getResult(4);
  return {walk.getResult(3), walk.getResult(2), lt(tile, walk.getResult(1))};
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

/// `n` as the column bound, or 0 (nothing stored) for a row that is not the
/// tile's expert's.
static Value boundForRow(KernelBuilder &k, const Operands &ops, Value row,
                         Value n) {
  if (!ops.rowEnd)
    return n;
  return arith::SelectOp::create(k.b, k.lt(row, ops.rowEnd), n, k.idx(0));
}

/// `row`, or an earlier row of the tile when it is past the tile's rows
/// (which may be past the row buffers' end).
static Value rowInBounds(KernelBuilder &k, const Operands &ops, Value row) {
  if (!ops.rowEnd)
    return row;
  return k.minIdx(row, arith::SubIOp::create(k.b, ops.rowEnd, k.idx(1)));
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
  Value slot = memref::LoadOp::create(b, ops.combineSlots,
                                      ValueRange{rowInBounds(*this, ops, row)});
  Value zero32 = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
  Value valid = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, slot, zero32),
      lt(col, boundForRow(*this, ops, row, n)));
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

void KernelBuilder::convertCompletedRows(const Operands &ops, Value tid,
                                         int64_t rows, Value r0) {
  // Every thread's additions are published (a fence each) before any
  // ticket is taken.
  NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU);
  gpu::BarrierOp::create(b);
  Type i32 = b.getI32Type();
  auto c32 = [&](int64_t v) {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(v)).getResult();
  };
  auto toI32 = [&](Value v) {
    return arith::IndexCastOp::create(b, i32, v).getResult();
  };
  // Thread i takes the ticket of tile row i (a tile has no more rows than
  // threads): one slot load and one atomic each, nothing a compiler could
  // hoist into the accumulators' registers.
  Value r = add(r0, tid);
  Value real = arith::AndIOp::create(b, lt(tid, idx(rows)), lt(r, ops.rowEnd));
  Value slot = memref::LoadOp::create(b, ops.combineSlots,
                                      ValueRange{rowInBounds(*this, ops, r)});
  real = arith::AndIOp::create(
      b, real,
      arith::CmpIOp::create(b, arith::CmpIPredicate::sge, slot, c32(0)));
  Value token = arith::DivSIOp::create(b, slot, c32(ops.combineK));
  // The token's contributions: k copies times the grid's column blocks.
  Value lastTicket = arith::SubIOp::create(
      b,
      arith::MulIOp::create(b,
                            toI32(gpu::GridDimOp::create(b, gpu::Dimension::x)),
                            c32(ops.combineK)),
      c32(1));
  auto take = scf::IfOp::create(b, TypeRange{b.getI1Type()}, real, true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&take.getThenRegion().front());
    Value t = arith::IndexCastOp::create(b, b.getIndexType(), token);
    Value ticket = memref::AtomicRMWOp::create(
        b, arith::AtomicRMWKind::addi, c32(1), ops.arrivals, ValueRange{t});
    scf::YieldOp::create(
        b, ValueRange{arith::CmpIOp::create(b, arith::CmpIPredicate::eq, ticket,
                                            lastTicket)});
    b.setInsertionPointToStart(&take.getElseRegion().front());
    scf::YieldOp::create(b, ValueRange{arith::ConstantIntOp::create(b, 0, 1)});
  }
  Value last = arith::ExtUIOp::create(b, i32, take.getResult(0));

  // Each warp rounds the rows its lanes completed, one after the other,
  // all its lanes striding the row.
  Value lane = arith::RemUIOp::create(b, tid, idx(32));
  Value n = memref::DimOp::create(b, ops.out, 1);
  auto md = memref::ExtractStridedMetadataOp::create(b, ops.out);
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, ops.out);
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Type i64 = b.getI64Type();
  Type elt = cast<MemRefType>(ops.converted.getType()).getElementType();
  auto lanes = scf::ForOp::create(b, c32(0), c32(32), c32(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(lanes.getBody());
  Value j = lanes.getInductionVar();
  auto broadcast = [&](Value v) {
    return gpu::ShuffleOp::create(b, v, j, c32(32), gpu::ShuffleMode::IDX)
        .getShuffleResult();
  };
  Value lastJ = broadcast(last);
  Value tokenJ = broadcast(token);
  auto ifLast = scf::IfOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ne, lastJ, c32(0)),
      false);
  b.setInsertionPointToStart(&ifLast.getThenRegion().front());
  NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU);
  Value t = arith::IndexCastOp::create(b, b.getIndexType(), tokenJ);
  Value rowStart = add(md.getOffset(), mul(t, md.getStrides()[0]));
  // The f32 row is read where the other blocks' atomics went (L2): a
  // volatile load is not served from this SM's L1, which may hold a line
  // of a neighbouring row read before that row was complete.
  scf::ForOp::create(
      b, lane, n, idx(32), ValueRange{},
      [&](OpBuilder &nb, Location loc, Value c, ValueRange) {
        ImplicitLocOpBuilder ib(loc, nb);
        KernelBuilder k{ib};
        Value element = k.add(rowStart, k.mul(c, md.getStrides()[1]));
        Value address = k.add(base, k.mul(element, k.idx(4)));
        Value ptr = LLVM::IntToPtrOp::create(
            ib, ptrType,
            arith::IndexCastUIOp::create(ib, i64, address).getResult());
        Value v = LLVM::LoadOp::create(ib, ib.getF32Type(), ptr,
                                       /*alignment=*/4, /*isVolatile=*/true);
        if (ops.addend)
          v = arith::AddFOp::create(ib, v,
                                    k.toF32(memref::LoadOp::create(
                                        ib, ops.addend, ValueRange{t, c})));
        memref::StoreOp::create(ib, k.fromF32(v, elt), ops.converted,
                                ValueRange{t, c});
        scf::YieldOp::create(ib);
      });
}

std::pair<Value, Value> KernelBuilder::inputRow(const Operands &ops,
                                                Value r) {
  // Rows that are not the tile's expert's read as zeros (an earlier row
  // stands in).
  Value inTile = ops.rowEnd ? lt(r, ops.rowEnd) : Value();
  r = rowInBounds(*this, ops, r);
  if (!ops.slots)
    return {r, inTile};
  Value slot = memref::LoadOp::create(b, ops.slots, ValueRange{r});
  Value zero32 = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
  Value valid =
      arith::CmpIOp::create(b, arith::CmpIPredicate::sge, slot, zero32);
  if (inTile)
    valid = arith::AndIOp::create(b, valid, inTile);
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
