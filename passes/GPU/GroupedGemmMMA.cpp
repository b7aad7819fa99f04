//===- GroupedGemmMMA.cpp - grouped expert GEMM on tensor cores -----------===//
//
// f16/bf16 operands, f32 accumulation with mma.sync.m16n8k16 (sm_80+); f32
// operands as tf32 with mma.sync.m16n8k8 when the user allows it.
// A block of 4 warps computes a 64 x 64 tile; warp (wm, wn) owns the 32 x 32
// quarter at rows 32 wm, columns 32 wn: 2 x 4 MMA tiles of 16 x 8, whose
// accumulators (4 f32 per thread each) live in registers across the K loop.
// 64 x 32 slices of the rows (A, row-major) and of the expert's weight rows
// (B = W^T, stored n-major, which is the "col" layout mma wants) are staged
// in workgroup memory with rows padded to 40 elements, so the fragment
// reads of the 8 row groups of a warp fall in different banks.
//
// Fragment layout of m16n8k16 (lane = 4 g + t): A holds rows g and g + 8,
// columns 2t, 2t + 1 and 2t + 8, 2t + 9; B holds column g, rows 2t, 2t + 1
// and 2t + 8, 2t + 9; C holds rows g and g + 8, columns 2t, 2t + 1. For
// m16n8k8.tf32, A holds rows g, g + 8 at columns t and t + 4, B column g at
// rows t and t + 4.
//
//===----------------------------------------------------------------------===//

#include "GPU/GroupedGemm.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe::gpu_gemm;

namespace {
constexpr int64_t kTileK = 32, kRowPitch = 40, kThreads = 128;
constexpr int64_t kWarpTiles = 2 * 4, kAccPerTile = 4;

struct MMABuilder : KernelBuilder {
  Type elt;

  /// One f32 element of a workgroup tile as a tf32 mma register.
  Value single(Value tile, Value row, Value col) {
    Value v = memref::LoadOp::create(b, tile, ValueRange{row, col});
    // Rounded to tf32 (cvt.rna): the tensor cores would otherwise truncate
    // the low mantissa bits, biasing every product toward zero.
    return NVVM::ConvertFloatToTF32Op::create(
        b, b.getI32Type(), v,
        NVVM::FPRoundingModeAttr::get(b.getContext(),
                                      NVVM::FPRoundingMode::RNA),
        NVVM::SaturationModeAttr::get(b.getContext(),
                                      NVVM::SaturationMode::NONE),
        b.getBoolAttr(false));
  }

  /// Two consecutive elements of a workgroup tile as one mma register:
  /// vector<2xf16>, or for bf16 the i32 holding both.
  Value pair(Value tile, Value row, Value col) {
    Value v0 = memref::LoadOp::create(b, tile, ValueRange{row, col});
    Value v1 =
        memref::LoadOp::create(b, tile, ValueRange{row, add(col, idx(1))});
    auto vecType = VectorType::get({2}, elt);
    Value v = vector::FromElementsOp::create(b, vecType, ValueRange{v0, v1});
    if (elt.isF16())
      return v;
    auto i32x1 = VectorType::get({1}, b.getI32Type());
    Value packed = vector::BitCastOp::create(b, i32x1, v);
    return vector::ExtractOp::create(b, packed, ArrayRef<int64_t>{0});
  }
};
} // namespace

BlockShape mlir::moe::gpu_gemm::buildMMAKernel(gpu::GPUFuncOp fn,
                                               const Operands &in) {
  Operands ops = in;
  MLIRContext *ctx = fn.getContext();
  ImplicitLocOpBuilder b(fn.getLoc(), ctx);
  Block &body = fn.getBody().front();
  b.setInsertionPointToStart(&body);
  Type elt = cast<MemRefType>(ops.x.getType()).getElementType();
  MMABuilder k{{b}, elt};
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto tileType = [&](int64_t rows) {
    return MemRefType::get({rows, kRowPitch}, elt, MemRefLayoutAttrInterface(),
                           workgroup);
  };
  Value sA = addSharedBuffer(fn, tileType(kTileM));
  Value sB = addSharedBuffer(fn, tileType(kTileN));
  Value one = k.idx(1);
  Value n = memref::DimOp::create(b, ops.w, 1);
  Value kDim = memref::DimOp::create(b, ops.x, 1);

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, tid, k.idx(32));
  Value lane = arith::RemUIOp::create(b, tid, k.idx(32));
  Value g = arith::DivUIOp::create(b, lane, k.idx(4));
  Value t = arith::RemUIOp::create(b, lane, k.idx(4));
  Value wm = arith::DivUIOp::create(b, warp, k.idx(2));
  Value wn = arith::RemUIOp::create(b, warp, k.idx(2));
  Value n0 = k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), k.idx(kTileN));
  KernelBuilder::RowTile tile =
      k.rowTile(ops, gpu::BlockIdOp::create(b, gpu::Dimension::y), kTileM);
  Value r0 = tile.first;
  Value zeroElt = arith::ConstantOp::create(b, b.getZeroAttr(elt));

  // Tiles past the last group have nothing to compute (their rows are
  // unspecified).
  auto active = scf::IfOp::create(b, tile.active, false);
  b.setInsertionPointToStart(&active.getThenRegion().front());
  Value expert = tile.expert;
  Value kLast = arith::SubIOp::create(b, kDim, one);
  Value nLast = arith::SubIOp::create(b, n, one);
  SmallVector<Value> accInit(kWarpTiles * kAccPerTile, k.f32(0.0));
  auto f32 = b.getF32Type();
  auto accType = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  // f32 operands go through the tensor cores as tf32 (m16n8k8), f16/bf16
  // as themselves (m16n8k16).
  bool tf32 = elt.isF32();
  NVVM::MMATypes ptxType = tf32          ? NVVM::MMATypes::tf32
                           : elt.isF16() ? NVVM::MMATypes::f16
                                         : NVVM::MMATypes::bf16;
  int64_t kStep = tf32 ? 8 : 16;

  auto kLoop = scf::ForOp::create(
      b, k.idx(0), kDim, k.idx(kTileK), accInit,
      [&](OpBuilder &nb, Location loc, Value k0, ValueRange acc) {
        ImplicitLocOpBuilder ib(loc, nb);
        MMABuilder kk{{ib}, elt};
        // Stage the slices; k past K (and n past N) read as zero through
        // clamped, always in-bounds loads.
        for (int64_t i = 0; i < kTileM * kTileK / kThreads; ++i) {
          Value flat = kk.add(tid, kk.idx(i * kThreads));
          Value row = arith::DivUIOp::create(ib, flat, kk.idx(kTileK));
          Value col = arith::RemUIOp::create(ib, flat, kk.idx(kTileK));
          Value kc = kk.add(k0, col);
          Value kIn = kk.lt(kc, kDim);
          Value kSafe = kk.minIdx(kc, kLast);
          Value a = kk.loadInputRow(ops, kk.add(r0, row), kSafe);
          a = arith::SelectOp::create(ib, kIn, a, zeroElt);
          memref::StoreOp::create(ib, a, sA, ValueRange{row, col});
          Value nc = kk.add(n0, row);
          Value bIn = arith::AndIOp::create(ib, kIn, kk.lt(nc, n));
          Value wv = memref::LoadOp::create(
              ib, ops.w, ValueRange{expert, kk.minIdx(nc, nLast), kSafe});
          wv = arith::SelectOp::create(ib, bIn, wv, zeroElt);
          memref::StoreOp::create(ib, wv, sB, ValueRange{row, col});
        }
        gpu::BarrierOp::create(ib);
        SmallVector<Value> next(acc.begin(), acc.end());
        Value t2 = kk.mul(t, kk.idx(2));
        for (int64_t kk0 = 0; kk0 < kTileK; kk0 += kStep) {
          // 16-bit: registers hold columns 2t, 2t + 1 and 2t + 8, 2t + 9;
          // tf32: column t and t + 4.
          Value c0 = tf32 ? kk.add(t, kk.idx(kk0)) : kk.add(t2, kk.idx(kk0));
          Value c8 = kk.add(c0, kk.idx(kStep / 2));
          auto reg = [&](Value tile, Value row, Value col) {
            return tf32 ? kk.single(tile, row, col) : kk.pair(tile, row, col);
          };
          SmallVector<SmallVector<Value>> aFrag, bFrag;
          for (int64_t mi = 0; mi < 2; ++mi) {
            Value rg =
                kk.add(kk.mul(wm, kk.idx(32)), kk.add(g, kk.idx(16 * mi)));
            Value rg8 = kk.add(rg, kk.idx(8));
            aFrag.push_back({reg(sA, rg, c0), reg(sA, rg8, c0), reg(sA, rg, c8),
                             reg(sA, rg8, c8)});
          }
          for (int64_t ni = 0; ni < 4; ++ni) {
            Value cg =
                kk.add(kk.mul(wn, kk.idx(32)), kk.add(g, kk.idx(8 * ni)));
            bFrag.push_back({reg(sB, cg, c0), reg(sB, cg, c8)});
          }
          for (int64_t mi = 0; mi < 2; ++mi)
            for (int64_t ni = 0; ni < 4; ++ni) {
              int64_t base = (mi * 4 + ni) * kAccPerTile;
              ArrayRef<Value> c(next.data() + base, kAccPerTile);
              Value d = NVVM::MmaOp::create(
                  ib, accType, aFrag[mi], bFrag[ni], c, {16, 8, kStep},
                  std::nullopt, std::nullopt,
                  std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
                  std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                                 NVVM::MMALayout::col});
              for (int64_t q = 0; q < kAccPerTile; ++q)
                next[base + q] =
                    LLVM::ExtractValueOp::create(ib, d, ArrayRef<int64_t>{q});
            }
        }
        gpu::BarrierOp::create(ib);
        scf::YieldOp::create(ib, next);
      });

  // Epilogue: accumulator q of tile (mi, ni) is row g + 8 (q / 2), column
  // 2t + q % 2 of that tile.
  // Accumulators q and q + 1 are adjacent columns (2t, 2t + 1) of one row:
  // an interleaved (gate, up) pair stays in one thread.
  Value t2 = k.mul(t, k.idx(2));
  for (int64_t mi = 0; mi < 2; ++mi)
    for (int64_t ni = 0; ni < 4; ++ni)
      for (int64_t q = 0; q < kAccPerTile; q += 2) {
        Value row = k.add(r0, k.add(k.mul(wm, k.idx(32)),
                                    k.add(g, k.idx(16 * mi + 8 * (q / 2)))));
        Value vals[2];
        Value cols[2];
        for (int64_t p = 0; p < 2; ++p) {
          cols[p] = k.add(
              n0, k.add(k.mul(wn, k.idx(32)), k.add(t2, k.idx(8 * ni + p))));
          Value v = kLoop.getResult((mi * 4 + ni) * kAccPerTile + q + p);
          if (ops.bias)
            v = arith::AddFOp::create(
                b, v,
                k.toF32(memref::LoadOp::create(
                    b, ops.bias,
                    ValueRange{expert, k.minIdx(cols[p], nLast)})));
          vals[p] = v;
        }
        if (ops.pairedEpilogue()) {
          k.storePair(ops, vals[0], vals[1], row, cols[0], n);
        } else {
          for (int64_t p = 0; p < 2; ++p)
            k.storeUnpaired(ops, vals[p], row, cols[p], n);
        }
      }
  b.setInsertionPointToEnd(&body);
  gpu::ReturnOp::create(b);
  return {kThreads, 1, kTileN};
}
