//===- GroupedGemmWgmma.cpp - the grouped GEMM's K loop on wgmma ----------===//
//
// sm_90a: warpgroups multiply the cp.async ring's slices with
// wgmma.mma_async, both operands read from shared memory through
// descriptors (GroupedGemmPipelined.h). Where the ring has a slot to spare,
// a step's wgmma group stays in flight while the next step waits for its
// slice and issues its own (the tensor cores do not idle at the barrier):
// the copies then run one slice less ahead, so that a slot is refilled
// only after every warpgroup has retired the group that read it.
//
//===----------------------------------------------------------------------===//

#include "GPU/GroupedGemmPipelined.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_gemm;

SmallVector<Value> PipelinedBuilder::wgmmaLoop(ArrayRef<RowCopy> aCopies,
                                               ArrayRef<RowCopy> bCopies,
                                               Value numK, Value warp) {
  MLIRContext *ctx = b.getContext();
  Type i64 = b.getI64Type(), f32 = b.getF32Type();
  int64_t regs = cfg.tileN() / 2;
  auto accType =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(regs, f32));
  auto c64 = [&](int64_t v) {
    return arith::ConstantOp::create(b, b.getI64IntegerAttr(v));
  };
  auto toI64 = [&](Value v) {
    return arith::IndexCastUIOp::create(b, i64, v).getResult();
  };
  auto address = [&](Value buffer) {
    return toI64(memref::ExtractAlignedPointerAsIndexOp::create(b, buffer));
  };
  // Bits 0-13: the start address >> 4 (shared addresses are below 2^18);
  // LBO and SBO >> 4 in bits 16-29 and 32-45; no swizzle, base offset 0.
  Value layout =
      c64((Config::kLeadingBytes >> 4) << 16 | (cfg.strideBytes() >> 4) << 32);
  Value four = c64(4), addressBits = c64(0x3fff);
  auto descriptor = [&](Value byteAddress) {
    Value shifted = arith::ShRUIOp::create(b, byteAddress, four);
    Value field = arith::AndIOp::create(b, shifted, addressBits);
    return arith::OrIOp::create(b, field, layout).getResult();
  };
  int64_t sliceA = cfg.tileM() / 8 * cfg.strideBytes();
  int64_t sliceB = cfg.tileN() / 8 * cfg.strideBytes();
  // A warpgroup's rows start 8 core-matrix rows after the previous one's.
  Value groupRows = toI64(mul(div(warp, 4), idx(8 * cfg.strideBytes())));
  Value aBase = arith::AddIOp::create(b, address(sA), groupRows);
  Value bBase = address(sB);

  SmallVector<Value> init = {LLVM::ZeroOp::create(b, accType), idx(0),
                             idx(cfg.lookahead())};
  auto loop = scf::ForOp::create(b, idx(0), numK, idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value kt = loop.getInductionVar();
    ValueRange iter = loop.getRegionIterArgs();
    Value acc = iter[0], readSlot = iter[1], fillSlot = iter[2];
    // This thread's copies of slice kt have landed; the proxy fence makes
    // them visible to wgmma's (async proxy) reads, the barrier everyone's.
    // Past the barrier every warpgroup has also retired all but its last
    // wgmma.wait_group's in-flight groups.
    NVVM::CpAsyncWaitGroupOp::create(b, cfg.lookahead() - 1);
    NVVM::FenceProxyOp::create(
        b, NVVM::ProxyKind::async_shared,
        NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
    gpu::BarrierOp::create(b);
    Value slot = toI64(readSlot);
    Value aSlice = arith::AddIOp::create(
        b, aBase, arith::MulIOp::create(b, slot, c64(sliceA)));
    Value bSlice = arith::AddIOp::create(
        b, bBase, arith::MulIOp::create(b, slot, c64(sliceB)));
    auto wgType = elt.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16;
    NVVM::WgmmaFenceAlignedOp::create(b);
    for (int64_t k16 = 0; k16 < cfg.tileK(); k16 += 16) {
      // 16 of K are two core matrices along K.
      Value step = c64(k16 / kChunk * Config::kLeadingBytes);
      Value descA = descriptor(arith::AddIOp::create(b, aSlice, step));
      Value descB = descriptor(arith::AddIOp::create(b, bSlice, step));
      acc = NVVM::WgmmaMmaAsyncOp::create(
          b, accType, acc, descA, descB,
          NVVM::MMAShapeAttr::get(ctx, 64, cfg.tileN(), 16), wgType, wgType,
          NVVM::WGMMATypes::f32, NVVM::WGMMAScaleOut::one,
          NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one,
          NVVM::MMALayout::row, NVVM::MMALayout::col,
          /*satfinite=*/nullptr);
    }
    NVVM::WgmmaGroupSyncAlignedOp::create(b);
    // The slot whose wgmma group every warpgroup retired before the
    // barrier is refilled while the tensor cores work.
    stageSlice(aCopies, bCopies, add(kt, idx(cfg.lookahead())), numK, fillSlot);
    NVVM::WgmmaWaitGroupSyncOp::create(b, cfg.wgmmaInFlight());
    scf::YieldOp::create(
        b, ValueRange{acc, nextSlot(readSlot), nextSlot(fillSlot)});
  }
  // The accumulators are read once the last group has completed.
  if (cfg.wgmmaInFlight())
    NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
  Value acc = loop.getResult(0);
  auto fragType = VectorType::get({2, 2}, f32);
  Value zero = arith::ConstantOp::create(
      b, fragType, DenseElementsAttr::get(fragType, 0.0f));
  SmallVector<Value> frags;
  for (int64_t ni = 0; ni < cfg.tileN() / 8; ++ni) {
    Value frag = zero;
    for (int64_t q = 0; q < 4; ++q) {
      Value v =
          LLVM::ExtractValueOp::create(b, acc, ArrayRef<int64_t>{4 * ni + q});
      frag =
          vector::InsertOp::create(b, v, frag, ArrayRef<int64_t>{q / 2, q % 2});
    }
    frags.push_back(frag);
  }
  return frags;
}
