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
// * The K loop waits for the oldest slice (cp.async.wait_group
//   lookahead - 1), synchronizes once, refills the slice the previous
//   iteration consumed and computes on the landed one: loads stay
//   Config::lookahead() slices ahead (stages - 1; one less where a wgmma
//   group stays in flight, GroupedGemmWgmma.cpp).
// * Warp fragments come from `ldmatrix.x4`. A slice is stored as planes
//   of 16 of K ([rows][16]: the next mma step is a constant offset), a
//   row's two 16-byte chunks XOR-swizzled by the row (Config::kGroup), so
//   the 8 rows one ldmatrix phase reads lie in 8 different 16-byte bank
//   groups: no bank conflicts, and no padding.
// * Warp (wm, wn) owns a warpM x warpN part of the block tile (GemmTile):
//   for 64 x 128 tiles, 2 x 2 warps of 32 x 64 (2 x 8 m16n8k16 tiles, 6
//   ldmatrix per 16 mma); for 128 x 128, 4 x 2 such warps. A warp whose
//   rows are all padding skips its fragments and MMAs.
// * 16 x 128 tiles (few rows per expert) stage nothing: 4 warps of 16 x 32
//   load their operands into registers (GroupedGemmDirect.cpp); on sm_90a
//   the 64- and 128-row tiles multiply the ring with wgmma
//   (GroupedGemmWgmma.cpp).
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

#include "GPU/GroupedGemmPipelined.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_gemm;

SmallVector<Value> PipelinedBuilder::mmaLoop(ArrayRef<RowCopy> aCopies,
                                             ArrayRef<RowCopy> bCopies,
                                             Value numK, Value lane, Value wm,
                                             Value wn) {
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
  // The rows a lane names are 16 apart (a constant distance in the ring).
  Value aAt = ringPlace(aRow, aCol, cfg.tileM()).front();
  Value bAt = ringPlace(bRow, bCol, cfg.tileN()).front();
  auto plane = [&](int64_t k16, int64_t rows, int64_t row) {
    return idx(k16 / Config::kGroup * rows * Config::kGroup +
               row * Config::kGroup);
  };

  Value warpHasRows = hasRows(add(r0, mul(wm, idx(cfg.warpM()))));
  int64_t tiles = cfg.fragsM() * cfg.fragsN();
  SmallVector<Value> init(tiles, accZero);
  init.push_back(idx(0));              // slot read this iteration
  init.push_back(idx(cfg.lookahead())); // slot refilled this iteration
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
    NVVM::CpAsyncWaitGroupOp::create(b, cfg.lookahead() - 1);
    gpu::BarrierOp::create(b);
    stageSlice(aCopies, bCopies, add(kt, idx(cfg.lookahead())), numK, fillSlot);

    // A warp whose rows are all padding has nothing to multiply (decode:
    // a group's one or two rows leave most of the tile's rows padding).
    SmallVector<Value> acc(iter.begin(), iter.begin() + tiles);
    auto compute = scf::IfOp::create(b, TypeRange(ValueRange(acc)), warpHasRows,
                                     /*withElse=*/true);
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
              ValueRange{readSlot, add(aAt, plane(k16, cfg.tileM(), 16 * mi))},
              /*transpose=*/false, /*numTiles=*/4));
        for (int64_t nj = 0; nj < cfg.fragsN() / 2; ++nj)
          bFrags.push_back(nvgpu::LdMatrixOp::create(
              b, fragType, sB,
              ValueRange{readSlot, add(bAt, plane(k16, cfg.tileN(), 16 * nj))},
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
            c = mma(c, a, bv);
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

namespace {
/// Row tiles walked together (see the block order below): 16 tiles of
/// rows of K = 7168 f16 are 14.7 MB, well inside an H100's 50 MB L2.
constexpr int64_t kRowGroup = 16;

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
    SmallVector<int64_t> shape = {cfg.stages, rows * cfg.tileK()};
    if (cfg.wgmma)
      shape = {cfg.stages, rows / 8, cfg.kChunks(), 8, kChunk};
    return MemRefType::get(shape, elt, MemRefLayoutAttrInterface(), workgroup);
  };
  // Rings past static shared memory's limit (the deeper rings of the
  // 128-row tiles) are views of dynamic shared memory.
  int64_t dynamicShared = 0;
  if (!cfg.direct) {
    MemRefType ringA = ring(cfg.tileM()), ringB = ring(cfg.tileN());
    if (bufferBytes(ringA) + bufferBytes(ringB) > kStaticSharedBytes) {
      SmallVector<Value> views;
      dynamicShared = addDynamicSharedBuffers(b, {ringA, ringB}, views);
      k.sA = views[0];
      k.sB = views[1];
    } else {
      k.sA = addSharedBuffer(fn, ringA);
      k.sB = addSharedBuffer(fn, ringB);
    }
  }
  k.n = memref::DimOp::create(b, ops.w, 1);
  k.kDim = memref::DimOp::create(b, ops.x, 1);
  k.zeroElt = arith::ConstantOp::create(b, b.getZeroAttr(elt));
  auto accType = VectorType::get({2, 2}, b.getF32Type());
  k.accZero = arith::ConstantOp::create(b, accType,
                                        DenseElementsAttr::get(accType, 0.0f));

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
  if (cfg.direct) {
    auto [xView, xOk] = k.vectorView(ops.x);
    auto [wView, wOk] = k.vectorView(ops.w);
    k.xRows = xView;
    k.wRows = wView;
    k.aligned = asyncCopies ? k.andI(xOk, wOk)
                            : arith::ConstantIntOp::create(b, 0, 1).getResult();
  } else {
    if (asyncCopies) {
      Value xOk = k.copyable(ops.x);
      Value wOk = k.copyable(ops.w);
      k.aligned = k.andI(xOk, wOk);
    } else {
      k.aligned = arith::ConstantIntOp::create(b, 0, 1);
    }
    k.xRows = unitInnerStride(b, ops.x);
    k.wRows = unitInnerStride(b, ops.w);
  }
  SmallVector<Value> accs;
  if (cfg.direct) {
    accs = k.directLoop(lane, wn);
  } else {
    SmallVector<PipelinedBuilder::RowCopy> aCopies = k.plan(/*isA=*/true);
    SmallVector<PipelinedBuilder::RowCopy> bCopies = k.plan(/*isA=*/false);
    Value numK = arith::CeilDivUIOp::create(b, k.kDim, k.idx(cfg.tileK()));

    // Prologue: the slices the loop runs ahead, one commit group each.
    for (int64_t s = 0; s < cfg.lookahead(); ++s)
      k.stageSlice(aCopies, bCopies, k.idx(s), numK, k.idx(s));

    accs = cfg.wgmma ? k.wgmmaLoop(aCopies, bCopies, numK, warp)
                     : k.mmaLoop(aCopies, bCopies, numK, lane, wm, wn);
    // No copy may be in flight when the block's shared memory is reused.
    NVVM::CpAsyncWaitGroupOp::create(b, 0);
  }

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
  if (ops.converted)
    k.convertCompletedRows(ops, k.tid, cfg.tileM(), k.r0);
  b.setInsertionPointToEnd(&body);
  gpu::ReturnOp::create(b);
  return {cfg.threads(), 1, cfg.tileN(), dynamicShared};
}
