//===- GroupedGemmPipelined.cpp - grouped GEMM, cp.async + ldmatrix -------===//
//
// f16/bf16 operands and weights, K a multiple of 8: the tensor-core kernel
// with its operands staged the way the hardware wants them on sm_80+.
//
// * 16-byte `cp.async` copies (nvgpu.device_async_copy) fill a ring of
//   `stages` shared-memory slices of the rows (A, BM x BK) and of the
//   expert's weight rows (B = W^T stored n-major, BN x BK). Rows outside
//   the operands (padding slots, rows past the dense row count, columns
//   past N, k past K) are copied with a source size of 0: zero-filled by
//   the copy itself, no select per element.
// * The K loop waits for the oldest slice (cp.async.wait_group stages - 2),
//   synchronizes once, refills the slice the previous iteration consumed
//   and computes on the landed one: loads stay stages - 1 slices ahead.
// * Warp fragments come from `ldmatrix.x4`: a slice row is padded from BK
//   to BK + 8 elements (80 bytes), so the 8 rows one ldmatrix phase reads
//   start in 8 different 16-byte bank groups: no bank conflicts.
// * Warp (wm, wn) owns a warpM x warpN part of the block tile (GemmTile):
//   for 64 x 128 tiles, 2 x 2 warps of 32 x 64 (2 x 8 m16n8k16 tiles, 6
//   ldmatrix per 16 mma); for 16 x 128 tiles (few rows per expert), 1 x 2
//   warps of 16 x 64. A warp whose rows are all padding skips its
//   fragments and MMAs.
// * A block's rows are a row tile of one expert's group (rowTile): rows
//   past the group's end are zero-filled like padding and not written.
// * Blocks take their tiles in groups of row tiles, columns within a
//   group, so that blocks in flight share weight slices through L2.
//
// Operands whose layout breaks 16-byte alignment (a row stride or offset
// not a multiple of 8 elements, a misaligned base, a strided last
// dimension) are staged with scalar loads instead: a uniform branch on a
// flag the block computes from the memref descriptors once.
//
//===----------------------------------------------------------------------===//

#include "GPU/GroupedGemm.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_gemm;

namespace {
constexpr int64_t kChunk = 8; // elements per 16-byte copy
/// Row tiles walked together (see the block order below): 16 tiles of
/// rows of K = 7168 f16 are 14.7 MB, well inside an H100's 50 MB L2.
constexpr int64_t kRowGroup = 16;

/// A tile configuration with what the kernel derives from it.
struct Config : mlir::moe::GemmTile {
  int64_t tileM() const { return m; }
  int64_t tileN() const { return n; }
  int64_t tileK() const { return k; }
  int64_t pitch() const { return k + kChunk; }
  int64_t fragsM() const { return warpM() / 16; }
  int64_t fragsN() const { return warpN() / 8; }
  /// wgmma: K chunks of a slice row, and the byte distances between core
  /// matrices (8 rows of one 16-byte chunk, 128 contiguous bytes) adjacent
  /// in K (LBO) and in rows (SBO) of the slices' layout [rows / 8][K
  /// chunks][8][8].
  int64_t kChunks() const { return k / kChunk; }
  static constexpr int64_t kLeadingBytes = 128;
  int64_t strideBytes() const { return kChunks() * 128; }
};

/// The kernel's builder: the operands, the block's coordinates and the
/// per-thread values the loops share.
struct PipelinedBuilder : KernelBuilder {
  Operands &ops;
  Config cfg;
  Type elt;
  Value sA, sB, tid, r0, n0, n, kDim, expert, aligned;
  /// x and w with a unit innermost stride, as 16-byte copies need; used
  /// only when `aligned` holds.
  Value xRows, wRows;
  Value zeroElt;

  Value div(Value x, int64_t d) { return arith::DivUIOp::create(b, x, idx(d)); }
  Value rem(Value x, int64_t d) { return arith::RemUIOp::create(b, x, idx(d)); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, x, y); }
  Value eq(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, x, y);
  }

  /// Whether `buffer`'s strided layout allows 16-byte copies of rows: unit
  /// innermost stride, every other stride and the offset multiples of
  /// kChunk elements, a 16-byte aligned base.
  Value copyable(Value buffer) {
    auto md = memref::ExtractStridedMetadataOp::create(b, buffer);
    int64_t rank = cast<MemRefType>(buffer.getType()).getRank();
    Value zero = idx(0);
    Value ok = eq(md.getStrides()[rank - 1], idx(1));
    ok = andI(ok, eq(rem(md.getOffset(), kChunk), zero));
    for (int64_t d = 0; d + 1 < rank; ++d)
      ok = andI(ok, eq(rem(md.getStrides()[d], kChunk), zero));
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, buffer);
    return andI(ok, eq(rem(base, 16), zero));
  }

  /// Indices of element (row, col) of ring slot `slot`: [slot, row, col]
  /// in rows padded to the pitch, or, for wgmma, [slot, row / 8, col / 8,
  /// row % 8, col % 8] in core matrices.
  SmallVector<Value> at(Value slot, Value row, Value col) {
    if (!cfg.wgmma)
      return {slot, row, col};
    return {slot, div(row, 8), div(col, kChunk), rem(row, 8), rem(col, kChunk)};
  }

  /// The ring slot after `s`.
  Value nextSlot(Value s) {
    Value s1 = add(s, idx(1));
    return select(eq(s1, idx(cfg.stages)), idx(0), s1);
  }

  /// The source row of A row `row` of the tile and whether it holds data
  /// (a padding slot or a row past the dense row count does not).
  std::pair<Value, Value> sourceRow(Value row) {
    auto [src, valid] = inputRow(ops, add(r0, row));
    if (!valid)
      valid = arith::ConstantIntOp::create(b, 1, 1);
    return {src, valid};
  }

  /// Whether rows from `first` on (in one tile) hold any data: a group's
  /// copies come before its padding, so the first row tells (slots of -1
  /// are padding; the tile's rows end at its group's end or the dense row
  /// count).
  Value hasRows(Value first) {
    Value inTile = lt(first, ops.rowEnd);
    Value slots = ops.slots ? ops.slots : ops.combineSlots;
    if (!slots)
      return inTile;
    Value safe = minIdx(first, arith::SubIOp::create(b, ops.rowEnd, idx(1)));
    Value slot = memref::LoadOp::create(b, slots, ValueRange{safe});
    Value zero32 = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
    return andI(inTile, arith::CmpIOp::create(b, arith::CmpIPredicate::sge,
                                              slot, zero32));
  }

  /// One operand row's copy plan: its source row, the columns of its
  /// chunk, and whether it has data.
  struct RowCopy {
    Value srcRow, valid, row, col;
  };

  /// The chunks this thread copies for a BM x BK (A) or BN x BK (B) slice.
  SmallVector<RowCopy> plan(bool isA) {
    int64_t rows = isA ? cfg.tileM() : cfg.tileN();
    int64_t chunksPerRow = cfg.tileK() / kChunk;
    SmallVector<RowCopy> copies;
    // Thread tid copies chunk tid % chunksPerRow of rows tid / chunksPerRow
    // + i * rowsPerPass: its destinations differ by constants. For wgmma's
    // core matrices, 8 threads in a row copy the 8 rows of one chunk (128
    // contiguous bytes: no bank conflicts), the next 8 the next chunk.
    int64_t rowsPerPass = cfg.threads() / chunksPerRow;
    assert(rows % rowsPerPass == 0 && "a tile's rows take whole passes");
    Value firstRow = div(tid, chunksPerRow);
    Value col = mul(rem(tid, chunksPerRow), idx(kChunk));
    if (cfg.wgmma) {
      firstRow = add(rem(tid, 8), mul(div(tid, 8 * chunksPerRow), idx(8)));
      col = mul(rem(div(tid, 8), chunksPerRow), idx(kChunk));
    }
    for (int64_t i = 0; i < rows / rowsPerPass; ++i) {
      RowCopy copy;
      copy.row = add(firstRow, idx(i * rowsPerPass));
      copy.col = col;
      if (isA) {
        std::tie(copy.srcRow, copy.valid) = sourceRow(copy.row);
      } else {
        Value nc = add(n0, copy.row);
        copy.valid = lt(nc, n);
        copy.srcRow = minIdx(nc, arith::SubIOp::create(b, n, idx(1)));
      }
      copies.push_back(copy);
    }
    return copies;
  }

  /// Copies K slice `k0` of every planned row into ring slot `slot`.
  void stage(ArrayRef<RowCopy> aCopies, ArrayRef<RowCopy> bCopies, Value k0,
             Value slot) {
    auto ifAligned = scf::IfOp::create(b, aligned, /*withElse=*/true);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&ifAligned.getThenRegion().front());
      asyncCopies(aCopies, /*isA=*/true, k0, slot);
      asyncCopies(bCopies, /*isA=*/false, k0, slot);
      b.setInsertionPointToStart(&ifAligned.getElseRegion().front());
      scalarCopies(aCopies, /*isA=*/true, k0, slot);
      scalarCopies(bCopies, /*isA=*/false, k0, slot);
    }
  }

  /// Elements of the chunk at `kc` inside K: all of them unless K is not a
  /// multiple of the slice (then the last slice's tail is zero-filled).
  Value chunkElements(Value kc, Value valid) {
    Value full = idx(kChunk);
    Value inK = full;
    if (kTail()) {
      Value left = arith::SubIOp::create(b, kDim, minIdx(kc, kDim));
      inK = minIdx(left, full);
    }
    return select(valid, inK, idx(0));
  }

  /// Whether the last K slice is partial (K is static: canPipeline).
  bool kTail() const {
    return cast<MemRefType>(ops.x.getType()).getDimSize(1) % cfg.tileK() != 0;
  }

  void asyncCopies(ArrayRef<RowCopy> copies, bool isA, Value k0, Value slot) {
    Value dst = isA ? sA : sB;
    auto token = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    Value kLastChunk = arith::SubIOp::create(b, kDim, idx(kChunk));
    for (const RowCopy &c : copies) {
      Value kc = add(k0, c.col);
      Value elems = chunkElements(kc, c.valid);
      // In bounds even where nothing is read (elems = 0); a chunk of a
      // slice inside K is in bounds when the slices divide K.
      Value kSafe = kTail() ? minIdx(kc, kLastChunk) : kc;
      SmallVector<Value> src =
          isA ? SmallVector<Value>{c.srcRow, kSafe}
              : SmallVector<Value>{expert, c.srcRow, kSafe};
      nvgpu::DeviceAsyncCopyOp::create(
          b, token, dst, at(slot, c.row, c.col), isA ? xRows : wRows, src,
          b.getIndexAttr(kChunk), elems, b.getUnitAttr());
    }
  }

  void scalarCopies(ArrayRef<RowCopy> copies, bool isA, Value k0, Value slot) {
    Value dst = isA ? sA : sB;
    Value kLast = arith::SubIOp::create(b, kDim, idx(1));
    for (const RowCopy &c : copies)
      for (int64_t e = 0; e < kChunk; ++e) {
        Value col = add(c.col, idx(e));
        Value kc = add(k0, col);
        Value in = andI(c.valid, lt(kc, kDim));
        Value kSafe = minIdx(kc, kLast);
        Value v =
            isA ? memref::LoadOp::create(b, ops.x, ValueRange{c.srcRow, kSafe})
                : memref::LoadOp::create(b, ops.w,
                                         ValueRange{expert, c.srcRow, kSafe});
        memref::StoreOp::create(b, select(in, v, zeroElt), dst,
                                at(slot, c.row, col));
      }
  }

  /// The K loop on mma.sync (sm_80+): per landed slice, each warp loads
  /// its A and B fragments with ldmatrix.x4 and issues its m16n8k16 MMAs
  /// (none when all its rows are padding), while the slice ahead is being
  /// copied. Returns the warp's (mi, ni) accumulators as vector<2x2xf32>
  /// (row g + 8 h, column 2 t + p of the tile).
  SmallVector<Value> mmaLoop(ArrayRef<RowCopy> aCopies,
                             ArrayRef<RowCopy> bCopies, Value numK, Value lane,
                             Value wm, Value wn) {
    // Per-lane ldmatrix coordinates. A (16 x 16 per x4): lanes 0-15 name
    // rows 0-15 at column 0, lanes 16-31 the same rows at column 8, giving
    // a0..a3 in mma order. B (two n-tiles of 8 per x4): matrix j = lane / 8
    // covers n rows 8 (j / 2) + lane % 8 at k column 8 (j % 2), giving
    // (b0, b1) of the first n-tile, then of the second.
    Value aRow = add(mul(wm, idx(cfg.warpM())), rem(lane, 16));
    Value aCol = mul(div(lane, 16), idx(8));
    Value bRow = add(mul(wn, idx(cfg.warpN())),
                     add(mul(div(lane, 16), idx(8)), rem(lane, 8)));
    Value bCol = mul(rem(div(lane, 8), 2), idx(8));

    Value warpHasRows = hasRows(add(r0, mul(wm, idx(cfg.warpM()))));
    auto f32 = b.getF32Type();
    auto accType = VectorType::get({2, 2}, f32);
    Value accZero = arith::ConstantOp::create(
        b, accType, DenseElementsAttr::get(accType, 0.0f));
    int64_t tiles = cfg.fragsM() * cfg.fragsN();
    SmallVector<Value> init(tiles, accZero);
    init.push_back(idx(0));              // slot read this iteration
    init.push_back(idx(cfg.stages - 1)); // slot refilled this iteration
    auto llvmAcc =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes ptxType =
        elt.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
    auto fragType = VectorType::get({4, 2}, elt);

    auto kLoop = scf::ForOp::create(b, idx(0), numK, idx(1), init);
    {
      OpBuilder::InsertionGuard loopGuard(b);
      b.setInsertionPointToStart(kLoop.getBody());
      Value kt = kLoop.getInductionVar();
      ValueRange iter = kLoop.getRegionIterArgs();
      Value readSlot = iter[tiles], fillSlot = iter[tiles + 1];
      // Slice kt has landed for this thread; after the barrier, for all of
      // them, and every warp is done with the slot refilled next.
      NVVM::CpAsyncWaitGroupOp::create(b, cfg.stages - 2);
      gpu::BarrierOp::create(b);
      Value ahead = add(kt, idx(cfg.stages - 1));
      auto inK = scf::IfOp::create(b, lt(ahead, numK), false);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&inK.getThenRegion().front());
        stage(aCopies, bCopies, mul(ahead, idx(cfg.tileK())), fillSlot);
      }
      NVVM::CpAsyncCommitGroupOp::create(b);

      // A warp whose rows are all padding has nothing to multiply (decode:
      // a group's one or two rows leave most of the tile's rows padding).
      SmallVector<Value> acc(iter.begin(), iter.begin() + tiles);
      auto compute = scf::IfOp::create(b, TypeRange(ValueRange(acc)),
                                       warpHasRows, /*withElse=*/true);
      {
        OpBuilder::InsertionGuard computeGuard(b);
        b.setInsertionPointToStart(&compute.getElseRegion().front());
        scf::YieldOp::create(b, acc);
        b.setInsertionPointToStart(&compute.getThenRegion().front());
        for (int64_t k16 = 0; k16 < cfg.tileK(); k16 += 16) {
          SmallVector<Value> aFrags, bFrags;
          for (int64_t mi = 0; mi < cfg.fragsM(); ++mi)
            aFrags.push_back(nvgpu::LdMatrixOp::create(
                b, fragType, sA,
                ValueRange{readSlot, add(aRow, idx(16 * mi)),
                           add(aCol, idx(k16))},
                /*transpose=*/false, /*numTiles=*/4));
          for (int64_t nj = 0; nj < cfg.fragsN() / 2; ++nj)
            bFrags.push_back(nvgpu::LdMatrixOp::create(
                b, fragType, sB,
                ValueRange{readSlot, add(bRow, idx(16 * nj)),
                           add(bCol, idx(k16))},
                /*transpose=*/false, /*numTiles=*/4));
          for (int64_t mi = 0; mi < cfg.fragsM(); ++mi) {
            SmallVector<Value> a;
            for (int64_t i = 0; i < 4; ++i)
              a.push_back(reg(aFrags[mi], i));
            for (int64_t ni = 0; ni < cfg.fragsN(); ++ni) {
              Value bf = bFrags[ni / 2];
              SmallVector<Value> bv;
              bv.push_back(reg(bf, 2 * (ni % 2)));
              bv.push_back(reg(bf, 2 * (ni % 2) + 1));
              Value &c = acc[mi * cfg.fragsN() + ni];
              SmallVector<Value> cv;
              for (int64_t q = 0; q < 4; ++q)
                cv.push_back(vector::ExtractOp::create(
                    b, c, ArrayRef<int64_t>{q / 2, q % 2}));
              Value d = NVVM::MmaOp::create(
                  b, llvmAcc, a, bv, cv, {16, 8, 16}, std::nullopt,
                  std::nullopt, std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
                  std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                                 NVVM::MMALayout::col});
              Value next = accZero;
              for (int64_t q = 0; q < 4; ++q) {
                Value v =
                    LLVM::ExtractValueOp::create(b, d, ArrayRef<int64_t>{q});
                next = vector::InsertOp::create(
                    b, v, next, ArrayRef<int64_t>{q / 2, q % 2});
              }
              c = next;
            }
          }
        }
        scf::YieldOp::create(b, acc);
      }
      acc.assign(compute.getResults().begin(), compute.getResults().end());
      acc.push_back(nextSlot(readSlot));
      acc.push_back(nextSlot(fillSlot));
      scf::YieldOp::create(b, acc);
    }
    return SmallVector<Value>(kLoop.getResults().begin(),
                              kLoop.getResults().begin() + tiles);
  }

  /// The K loop on wgmma (sm_90a): per landed slice, each warpgroup
  /// multiplies its 64 rows by the tile's columns with one
  /// wgmma.mma_async m64nNk16 per 16 of K, both operands read from the ring
  /// through descriptors, while the slice ahead is being copied. Returns
  /// each (m16, n8) accumulator as vector<2x2xf32> (row g + 8 h, column
  /// 2 t + p of the warp's tile (mi = 0, ni)): the mma.sync epilogue's form,
  /// as the wgmma D fragment repeats mma.sync's over the columns.
  SmallVector<Value> wgmmaLoop(ArrayRef<RowCopy> aCopies,
                               ArrayRef<RowCopy> bCopies, Value numK,
                               Value warp) {
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
    Value layout = c64((Config::kLeadingBytes >> 4) << 16 |
                       (cfg.strideBytes() >> 4) << 32);
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
                               idx(cfg.stages - 1)};
    auto loop = scf::ForOp::create(b, idx(0), numK, idx(1), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value kt = loop.getInductionVar();
      ValueRange iter = loop.getRegionIterArgs();
      Value acc = iter[0], readSlot = iter[1], fillSlot = iter[2];
      // This thread's copies of slice kt have landed; the proxy fence makes
      // them visible to wgmma's (async proxy) reads, the barrier everyone's.
      NVVM::CpAsyncWaitGroupOp::create(b, cfg.stages - 2);
      NVVM::FenceProxyOp::create(
          b, NVVM::ProxyKind::async_shared,
          NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
      gpu::BarrierOp::create(b);
      Value slot = toI64(readSlot);
      Value aSlice = arith::AddIOp::create(
          b, aBase, arith::MulIOp::create(b, slot, c64(sliceA)));
      Value bSlice = arith::AddIOp::create(
          b, bBase, arith::MulIOp::create(b, slot, c64(sliceB)));
      auto wgType =
          elt.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16;
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
      // The slot the previous iteration's wgmma read (waited for below, so
      // done everywhere after this iteration's barrier) is refilled while
      // the tensor cores work.
      Value ahead = add(kt, idx(cfg.stages - 1));
      auto inK = scf::IfOp::create(b, lt(ahead, numK), false);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(&inK.getThenRegion().front());
        stage(aCopies, bCopies, mul(ahead, idx(cfg.tileK())), fillSlot);
      }
      NVVM::CpAsyncCommitGroupOp::create(b);
      NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
      scf::YieldOp::create(
          b, ValueRange{acc, nextSlot(readSlot), nextSlot(fillSlot)});
    }
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
        frag = vector::InsertOp::create(b, v, frag,
                                        ArrayRef<int64_t>{q / 2, q % 2});
      }
      frags.push_back(frag);
    }
    return frags;
  }

  /// An ldmatrix.x4 register as the mma operand: vector<2xf16> for f16,
  /// the i32 holding both halves for bf16.
  Value reg(Value frags, int64_t i) {
    Value v = vector::ExtractOp::create(b, frags, ArrayRef<int64_t>{i});
    if (elt.isF16())
      return v;
    auto i32x1 = VectorType::get({1}, b.getI32Type());
    return vector::ExtractOp::create(b, vector::BitCastOp::create(b, i32x1, v),
                                     ArrayRef<int64_t>{0});
  }
};
/// `buffer` cast to the same layout with a static unit innermost stride.
Value unitInnerStride(ImplicitLocOpBuilder &b, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  strides.back() = 1;
  auto layout =
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides);
  return memref::CastOp::create(
      b, MemRefType::get(type.getShape(), type.getElementType(), layout),
      buffer);
}
} // namespace

bool mlir::moe::gpu_gemm::canPipeline(const Operands &ops) {
  auto x = cast<MemRefType>(ops.x.getType());
  return !ops.bits &&
         fitsPipelinedGemm(x.getElementType(),
                           cast<MemRefType>(ops.w.getType()).getElementType(),
                           x.getDimSize(1));
}

BlockShape mlir::moe::gpu_gemm::buildPipelinedKernel(gpu::GPUFuncOp fn,
                                                     const Operands &in,
                                                     bool asyncCopies,
                                                     const GemmTile &tile) {
  Operands ops = in;
  MLIRContext *ctx = fn.getContext();
  const Config cfg{tile};
  ImplicitLocOpBuilder b(fn.getLoc(), ctx);
  Block &body = fn.getBody().front();
  b.setInsertionPointToStart(&body);
  Type elt = cast<MemRefType>(ops.x.getType()).getElementType();
  PipelinedBuilder k{{b}, ops, cfg, elt};
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto ring = [&](int64_t rows) {
    SmallVector<int64_t> shape = {cfg.stages, rows, cfg.pitch()};
    if (cfg.wgmma)
      shape = {cfg.stages, rows / 8, cfg.kChunks(), 8, kChunk};
    return MemRefType::get(shape, elt, MemRefLayoutAttrInterface(), workgroup);
  };
  k.sA = addSharedBuffer(fn, ring(cfg.tileM()));
  k.sB = addSharedBuffer(fn, ring(cfg.tileN()));
  k.n = memref::DimOp::create(b, ops.w, 1);
  k.kDim = memref::DimOp::create(b, ops.x, 1);
  k.zeroElt = arith::ConstantOp::create(b, b.getZeroAttr(elt));

  k.tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value warp = k.div(k.tid, 32);
  Value lane = k.rem(k.tid, 32);
  Value g = k.div(lane, 4);
  Value t = k.rem(lane, 4);
  Value wm = k.div(warp, cfg.warpsN);
  Value wn = k.rem(warp, cfg.warpsN);
  // Blocks run in launch order (x fastest). Walking row tiles in groups of
  // kRowGroup, column blocks within a group, then the group's row tiles,
  // lets the blocks in flight share each weight column slice (through L2)
  // among up to kRowGroup row tiles of an expert while the group's rows
  // stay in L2 across columns: weights stream about once per group rather
  // than once per row tile.
  Value colBlocks = gpu::GridDimOp::create(b, gpu::Dimension::x);
  Value rowTiles = gpu::GridDimOp::create(b, gpu::Dimension::y);
  Value blockRow = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value blockCol = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value linear = k.add(k.mul(blockRow, colBlocks), blockCol);
  Value perGroup = k.mul(k.idx(kRowGroup), colBlocks);
  Value firstTile =
      k.mul(arith::DivUIOp::create(b, linear, perGroup), k.idx(kRowGroup));
  Value groupTiles =
      k.minIdx(arith::SubIOp::create(b, rowTiles, firstTile), k.idx(kRowGroup));
  Value inGroup = arith::RemUIOp::create(b, linear, perGroup);
  Value tileRow =
      k.add(firstTile, arith::RemUIOp::create(b, inGroup, groupTiles));
  KernelBuilder::RowTile rowTile = k.rowTile(ops, tileRow, cfg.tileM());
  k.r0 = rowTile.first;
  Value tileCol = arith::DivUIOp::create(b, inGroup, groupTiles);
  k.n0 = k.mul(tileCol, k.idx(cfg.tileN()));

  // Tiles past the last group have nothing to compute (their rows are
  // unspecified).
  auto active = scf::IfOp::create(b, rowTile.active, false);
  b.setInsertionPointToStart(&active.getThenRegion().front());
  k.expert = rowTile.expert;
  if (asyncCopies) {
    Value xOk = k.copyable(ops.x);
    Value wOk = k.copyable(ops.w);
    k.aligned = k.andI(xOk, wOk);
  } else {
    k.aligned = arith::ConstantIntOp::create(b, 0, 1);
  }
  k.xRows = unitInnerStride(b, ops.x);
  k.wRows = unitInnerStride(b, ops.w);
  SmallVector<PipelinedBuilder::RowCopy> aCopies = k.plan(/*isA=*/true);
  SmallVector<PipelinedBuilder::RowCopy> bCopies = k.plan(/*isA=*/false);
  Value numK = arith::CeilDivUIOp::create(b, k.kDim, k.idx(cfg.tileK()));

  // Prologue: slices 0 .. stages - 2, one commit group each (empty past K,
  // so that group counts stay in step with slices).
  for (int64_t s = 0; s + 1 < cfg.stages; ++s) {
    auto inK = scf::IfOp::create(b, k.lt(k.idx(s), numK), false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&inK.getThenRegion().front());
      k.stage(aCopies, bCopies, k.idx(s * cfg.tileK()), k.idx(s));
    }
    NVVM::CpAsyncCommitGroupOp::create(b);
  }

  SmallVector<Value> accs =
      cfg.wgmma ? k.wgmmaLoop(aCopies, bCopies, numK, warp)
                : k.mmaLoop(aCopies, bCopies, numK, lane, wm, wn);
  // No copy may be in flight when the block's shared memory is reused.
  NVVM::CpAsyncWaitGroupOp::create(b, 0);

  // Epilogue: accumulator (h, p) of tile (mi, ni) is row g + 8 h, column
  // 2 t + p of the tile; (gate, up) pairs are p = 0, 1 of one thread.
  Value nLast = arith::SubIOp::create(b, k.n, k.idx(1));
  Value t2 = k.mul(t, k.idx(2));
  for (int64_t mi = 0; mi < cfg.fragsM(); ++mi)
    for (int64_t ni = 0; ni < cfg.fragsN(); ++ni) {
      Value acc = accs[mi * cfg.fragsN() + ni];
      for (int64_t h = 0; h < 2; ++h) {
        Value row = k.add(k.r0, k.add(k.mul(wm, k.idx(cfg.warpM())),
                                      k.add(g, k.idx(16 * mi + 8 * h))));
        Value vals[2], cols[2];
        for (int64_t p = 0; p < 2; ++p) {
          cols[p] = k.add(k.n0, k.add(k.mul(wn, k.idx(cfg.warpN())),
                                      k.add(t2, k.idx(8 * ni + p))));
          Value v = vector::ExtractOp::create(b, acc, ArrayRef<int64_t>{h, p});
          if (ops.bias)
            v = arith::AddFOp::create(
                b, v,
                k.toF32(memref::LoadOp::create(
                    b, ops.bias,
                    ValueRange{k.expert, k.minIdx(cols[p], nLast)})));
          vals[p] = v;
        }
        if (ops.pairedEpilogue()) {
          k.storePair(ops, vals[0], vals[1], row, cols[0], k.n);
        } else {
          for (int64_t p = 0; p < 2; ++p)
            k.storeUnpaired(ops, vals[p], row, cols[p], k.n);
        }
      }
    }
  b.setInsertionPointToEnd(&body);
  gpu::ReturnOp::create(b);
  return {cfg.threads(), 1, cfg.tileN()};
}
