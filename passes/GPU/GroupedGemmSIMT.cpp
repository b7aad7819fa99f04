//===- GroupedGemmSIMT.cpp - grouped expert GEMM on CUDA cores
//-------------===//
//
// 16 x 16 threads per 64 x 64 tile; thread (tx, ty) owns rows ty + 16 i and
// columns tx + 16 j (i, j < 4), so neighbouring threads write neighbouring
// columns. 64 x 16 slices of rows and weights are staged in workgroup memory
// as f32 (transposed, k-major, so the inner loop reads both without bank
// conflicts), then 16 fused multiply-adds per k step in registers.
//
//===----------------------------------------------------------------------===//

#include "GPU/GroupedGemm.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::moe::gpu_gemm;

namespace {
constexpr int64_t kTileK = 16, kThreads = 16;
constexpr int64_t kPerThreadM = kTileM / kThreads;
constexpr int64_t kPerThreadN = kTileN / kThreads;
} // namespace

BlockShape mlir::moe::gpu_gemm::buildSIMTKernel(gpu::GPUFuncOp fn,
                                                const Operands &in) {
  Operands ops = in;
  MLIRContext *ctx = fn.getContext();
  ImplicitLocOpBuilder b(fn.getLoc(), ctx);
  KernelBuilder k{b};
  Block &body = fn.getBody().front();
  b.setInsertionPointToStart(&body);
  Value x = ops.x, w = ops.w, bias = ops.bias;
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto tileA = MemRefType::get({kTileK, kTileM}, b.getF32Type(),
                               MemRefLayoutAttrInterface(), workgroup);
  auto tileB = MemRefType::get({kTileK, kTileN}, b.getF32Type(),
                               MemRefLayoutAttrInterface(), workgroup);
  Value sA = addSharedBuffer(fn, tileA);
  Value sB = addSharedBuffer(fn, tileB);
  Value one = k.idx(1), threads = k.idx(kThreads);
  Value n = memref::DimOp::create(b, w, 1);
  Value kDim = memref::DimOp::create(b, x, 1);
  Value tx = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value ty = gpu::ThreadIdOp::create(b, gpu::Dimension::y);
  Value n0 = k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), k.idx(kTileN));
  KernelBuilder::RowTile tile =
      k.rowTile(ops, gpu::BlockIdOp::create(b, gpu::Dimension::y), kTileM);
  Value r0 = tile.first;
  // Output positions of this thread: rows ty + T*i, columns tx + T*j
  // (consecutive threads write consecutive columns).
  auto rowOf = [&](int64_t i) {
    return k.add(r0, k.add(ty, k.idx(kThreads * i)));
  };
  auto colOf = [&](int64_t j) {
    return k.add(n0, k.add(tx, k.idx(kThreads * j)));
  };
  // Tiles past the last group have nothing to compute (their rows are
  // unspecified).
  auto active = scf::IfOp::create(b, tile.active, false);
  b.setInsertionPointToStart(&active.getThenRegion().front());
  Value zeroIdx = k.idx(0);
  Value expert = tile.expert;

  Value tid = k.add(k.mul(ty, threads), tx);
  Value kLast = arith::SubIOp::create(b, kDim, one);
  Value nLast = arith::SubIOp::create(b, n, one);
  SmallVector<Value> accInit(kPerThreadM * kPerThreadN, k.f32(0.0));
  auto kLoop = scf::ForOp::create(
      b, zeroIdx, kDim, k.idx(kTileK), accInit,
      [&](OpBuilder &nb, Location loc, Value k0, ValueRange acc) {
        ImplicitLocOpBuilder ib(loc, nb);
        KernelBuilder kk{ib};
        // Stage the slices: each thread moves BM*BK/(T*T) elements of
        // each operand; out-of-range k (and n) read as zero. Loads use
        // clamped indices so that none is out of bounds.
        constexpr int64_t perThread = kTileM * kTileK / (kThreads * kThreads);
        for (int64_t i = 0; i < perThread; ++i) {
          Value flat = kk.add(tid, kk.idx(i * kThreads * kThreads));
          Value row = arith::DivUIOp::create(ib, flat, kk.idx(kTileK));
          Value col = arith::RemUIOp::create(ib, flat, kk.idx(kTileK));
          Value kc = kk.add(k0, col);
          Value kIn = kk.lt(kc, kDim);
          Value kSafe = kk.minIdx(kc, kLast);
          Value a = kk.toF32(kk.loadInputRow(ops, kk.add(r0, row), kSafe));
          a = arith::SelectOp::create(ib, kIn, a, kk.f32(0.0));
          memref::StoreOp::create(ib, a, sA, ValueRange{col, row});
          Value nc = kk.add(n0, row);
          Value bIn = arith::AndIOp::create(ib, kIn, kk.lt(nc, n));
          Value wv = kk.loadWeightF32(ops, expert, kk.minIdx(nc, nLast), kSafe);
          wv = arith::SelectOp::create(ib, bIn, wv, kk.f32(0.0));
          memref::StoreOp::create(ib, wv, sB, ValueRange{col, row});
        }
        gpu::BarrierOp::create(ib);
        auto inner = scf::ForOp::create(
            ib, kk.idx(0), kk.idx(kTileK), kk.idx(1), acc,
            [&](OpBuilder &nb2, Location loc2, Value c, ValueRange acc2) {
              ImplicitLocOpBuilder jb(loc2, nb2);
              KernelBuilder kj{jb};
              SmallVector<Value> av, bv, next;
              for (int64_t i = 0; i < kPerThreadM; ++i)
                av.push_back(memref::LoadOp::create(
                    jb, sA, ValueRange{c, kj.add(ty, kj.idx(kThreads * i))}));
              for (int64_t j = 0; j < kPerThreadN; ++j)
                bv.push_back(memref::LoadOp::create(
                    jb, sB, ValueRange{c, kj.add(tx, kj.idx(kThreads * j))}));
              for (int64_t i = 0; i < kPerThreadM; ++i)
                for (int64_t j = 0; j < kPerThreadN; ++j)
                  next.push_back(math::FmaOp::create(
                      jb, av[i], bv[j], acc2[i * kPerThreadN + j]));
              scf::YieldOp::create(jb, next);
            });
        gpu::BarrierOp::create(ib);
        scf::YieldOp::create(ib, inner.getResults());
      });

  // Kept a loop: unrolled, its straight-line FMAs (pure, used only by the
  // guarded stores) sink below the last slice, and every slice's operands
  // stay live until then (255 registers and spills).
  auto noUnroll = LLVM::LoopUnrollAttr::get(ctx, b.getBoolAttr(true), {}, {},
                                            {}, {}, {}, {});
  kLoop->setAttr("llvm.loop_annotation",
                 LLVM::LoopAnnotationAttr::get(ctx, {}, {}, {}, noUnroll, {},
                                               {}, {}, {}, {}, {}, {}, {}, {},
                                               {}, {}));

  // An interleaved (gate, up) pair is split over the neighbouring threads
  // tx (even: gate) and tx + 1 (up), lanes of one warp: the up value
  // comes over by a shuffle, which every lane takes part in.
  Value even;
  if (ops.pairedEpilogue())
    even = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                 arith::RemUIOp::create(b, tx, k.idx(2)),
                                 k.idx(0));
  for (int64_t i = 0; i < kPerThreadM; ++i)
    for (int64_t j = 0; j < kPerThreadN; ++j) {
      Value v = kLoop.getResult(i * kPerThreadN + j);
      if (bias) {
        Value col = k.minIdx(colOf(j), nLast);
        v = arith::AddFOp::create(
            b, v,
            k.toF32(memref::LoadOp::create(b, bias, ValueRange{expert, col})));
      }
      if (!ops.pairedEpilogue()) {
        k.storeUnpaired(ops, v, rowOf(i), colOf(j), n);
        continue;
      }
      Value up = gpu::ShuffleOp::create(b, v, 1, 32, gpu::ShuffleMode::XOR)
                     .getShuffleResult();
      auto gateLane = scf::IfOp::create(b, even, false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&gateLane.getThenRegion().front());
      k.storePair(ops, v, up, rowOf(i), colOf(j), n);
    }
  b.setInsertionPointToEnd(&body);
  gpu::ReturnOp::create(b);
  return {kThreads, kThreads, kTileN};
}
