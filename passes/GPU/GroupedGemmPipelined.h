//===- GroupedGemmPipelined.h - builder of the tensor-core GEMMs -*- C++
//-*-===//
//
// Private to passes/GPU: the kernel builder the f16/bf16 tensor-core
// grouped GEMMs share. GroupedGemmPipelined.cpp writes the kernel around
// one of three K loops: mma.sync from a cp.async ring (there),
// wgmma.mma_async from the same ring (GroupedGemmWgmma.cpp), and mma.sync
// on operands loaded straight into registers (GroupedGemmDirect.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_GROUPEDGEMMPIPELINED_H
#define MOE_PASSES_GPU_GROUPEDGEMMPIPELINED_H

#include "GPU/GroupedGemm.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::moe::gpu_gemm {

constexpr int64_t kChunk = 8; // elements per 16-byte copy

/// A tile configuration with what the kernel derives from it.
struct Config : mlir::moe::GemmTile {
  int64_t tileM() const { return m; }
  int64_t tileN() const { return n; }
  int64_t tileK() const { return k; }
  /// 16-byte chunks in a K slice row.
  int64_t kChunks() const { return k / kChunk; }
  /// The mma.sync ring stores a slice as kGroups() planes of [rows][16]
  /// (16 of K: one mma step), so that moving to the next 16 of K is a
  /// constant offset, and a row's two chunks in the order chunk c ^
  /// ((row / 4) % 2): the 8 rows one ldmatrix phase reads at one chunk,
  /// and the 4 rows x 2 chunks 8 copying threads write, lie in 8 different
  /// 16-byte bank groups with no padding (padding rows by a chunk would
  /// cost a fifth more memory at BK = 32). A slot is one dimension: the
  /// kernel computes offsets within it once, outside the K loop.
  static constexpr int64_t kGroup = 16;
  int64_t kGroups() const { return k / kGroup; }
  int64_t fragsM() const { return warpM() / 16; }
  int64_t fragsN() const { return warpN() / 8; }
  /// wgmma: the byte distances between core matrices (8 rows of one
  /// 16-byte chunk, 128 contiguous bytes) adjacent in K (LBO) and in rows
  /// (SBO) of the slices' layout [rows / 8][K chunks][8][8].
  static constexpr int64_t kLeadingBytes = 128;
  int64_t strideBytes() const { return kChunks() * 128; }
  /// wgmma commit groups left in flight at the end of a K step: one where
  /// the ring has a slot for it (the next step's wgmma issue while it
  /// runs), else none.
  int64_t wgmmaInFlight() const { return wgmma && stages >= 3 ? 1 : 0; }
  /// How many slices ahead of the one multiplied the copies run: every
  /// slot but that one and the slots in-flight wgmma still read.
  int64_t lookahead() const { return stages - 1 - wgmmaInFlight(); }
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
  /// The zero accumulator of an m16n8 tile: vector<2x2xf32>, (h, p) being
  /// row g + 8 h, column 2 t + p.
  Value accZero;

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

  /// `buffer` as read by 16-byte vector loads: a view with a unit
  /// innermost stride (a memref.cast would fold into the loads) and, where
  /// its shape is static, a contiguous buffer's strides, so that rows at a
  /// constant distance are a constant address apart. Returns the view and
  /// the condition under which it is `buffer` (with `copyable`'s).
  std::pair<Value, Value> vectorView(Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    auto md = memref::ExtractStridedMetadataOp::create(b, buffer);
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> sizes, strides;
    SmallVector<int64_t> layout;
    Value same = copyable(buffer);
    bool contiguous = type.hasStaticShape();
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      sizes.insert(sizes.begin(),
                   type.isDynamicDim(d)
                       ? OpFoldResult(md.getSizes()[d])
                       : OpFoldResult(b.getIndexAttr(type.getDimSize(d))));
      if (d == rank - 1 || contiguous) {
        strides.insert(strides.begin(), b.getIndexAttr(stride));
        layout.insert(layout.begin(), stride);
        if (d != rank - 1)
          same = andI(same, eq(md.getStrides()[d], idx(stride)));
      } else {
        strides.insert(strides.begin(), md.getStrides()[d]);
        layout.insert(layout.begin(), ShapedType::kDynamic);
      }
      // Only a static shape has a contiguous buffer's strides.
      if (contiguous)
        stride *= type.getDimSize(d);
    }
    auto viewType = MemRefType::get(
        type.getShape(), type.getElementType(),
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, layout));
    Value view = memref::ReinterpretCastOp::create(
        b, viewType, buffer, OpFoldResult(md.getOffset()), sizes, strides);
    return {view, same};
  }

  /// The XOR mask that places a chunk of mma.sync ring row `row`, in
  /// elements (Config::kGroup). Rows 8 apart share it.
  Value swizzleMask(Value row) {
    Value phase = rem(div(row, 4), 2);
    return mul(phase, idx(kChunk));
  }

  /// Where element `col` (of K) of row `row` of a slice of `rows` rows
  /// lies in a ring slot, as indices after the slot's: for mma.sync one
  /// offset into the slot (planes of 16 of K, the chunk swizzled), so that
  /// addresses 8 rows or 16 of K apart differ by constants; for wgmma
  /// [row / 8, col / 8, row % 8, col % 8] in core matrices.
  SmallVector<Value> ringPlace(Value row, Value col, int64_t rows) {
    if (cfg.wgmma)
      return {div(row, 8), div(col, kChunk), rem(row, 8), rem(col, kChunk)};
    // One op per statement: the IR's order does not depend on the order
    // in which a compiler evaluates arguments.
    Value plane = div(col, Config::kGroup);
    Value mask = swizzleMask(row);
    Value inPlane = arith::XOrIOp::create(b, rem(col, Config::kGroup), mask);
    Value rowStart = mul(row, idx(Config::kGroup));
    Value inSlot = add(rowStart, inPlane);
    Value planeStart = mul(plane, idx(rows * Config::kGroup));
    return {add(planeStart, inSlot)};
  }

  /// `place` (ringPlace) `rows` rows further, a multiple of 8: the same
  /// swizzle, a constant offset.
  SmallVector<Value> rowsFurther(ArrayRef<Value> place, int64_t rows) {
    SmallVector<Value> moved(place.begin(), place.end());
    moved.front() =
        add(moved.front(), idx(cfg.wgmma ? rows / 8 : rows * Config::kGroup));
    return moved;
  }

  /// The indices of ring slot `slot` at `place` (ringPlace), the last one
  /// replaced by `last` where given.
  static SmallVector<Value> at(Value slot, ArrayRef<Value> place,
                               Value last = {}) {
    SmallVector<Value> indices = {slot};
    indices.append(place.begin(), place.end());
    if (last)
      indices.back() = last;
    return indices;
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
  /// chunk in K, where it goes in a ring slot (ringPlace), and whether it
  /// has data.
  struct RowCopy {
    Value srcRow, valid, row, col;
    SmallVector<Value> place;
  };

  /// The chunks this thread copies for a BM x BK (A) or BN x BK (B) slice.
  SmallVector<RowCopy> plan(bool isA) {
    int64_t rows = isA ? cfg.tileM() : cfg.tileN();
    int64_t chunksPerRow = cfg.tileK() / kChunk;
    SmallVector<RowCopy> copies;
    // Thread tid copies one chunk of rows firstRow + i * rowsPerPass: its
    // destinations differ by constants (rowsPerPass is a multiple of 8).
    // 8 threads in a row fill 128 contiguous bytes (no bank conflicts):
    // for mma.sync, 2 chunks of 4 rows of one K group (tid % 2 the chunk,
    // tid / 2 % 4 the row, tid / 8 the group, then 4 rows further); for
    // wgmma's core matrices, the 8 rows of one chunk, the next 8 threads
    // the next chunk.
    int64_t rowsPerPass = cfg.threads() / chunksPerRow;
    assert(rows % rowsPerPass == 0 && rowsPerPass % 8 == 0 &&
           "a tile's rows take whole passes");
    int64_t groups = cfg.kGroups();
    Value firstRow, col;
    if (cfg.wgmma) {
      Value rowGroup = mul(div(tid, 8 * chunksPerRow), idx(8));
      firstRow = add(rem(tid, 8), rowGroup);
      col = mul(rem(div(tid, 8), chunksPerRow), idx(kChunk));
    } else {
      Value rowBlock = mul(div(tid, 8 * groups), idx(4));
      firstRow = add(rem(div(tid, 2), 4), rowBlock);
      Value chunk = mul(rem(tid, 2), idx(kChunk));
      Value planeCol = mul(rem(div(tid, 8), groups), idx(Config::kGroup));
      col = add(planeCol, chunk);
    }
    SmallVector<Value> first = ringPlace(firstRow, col, rows);
    for (int64_t i = 0; i < rows / rowsPerPass; ++i) {
      RowCopy copy;
      copy.row = add(firstRow, idx(i * rowsPerPass));
      copy.col = col;
      copy.place = rowsFurther(first, i * rowsPerPass);
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

  /// Copies K slice number `slice` into ring slot `slot` where it lies
  /// inside K's `numK` slices, then commits a group (empty past K, so that
  /// group counts stay in step with slices).
  void stageSlice(ArrayRef<RowCopy> aCopies, ArrayRef<RowCopy> bCopies,
                  Value slice, Value numK, Value slot) {
    auto inK = scf::IfOp::create(b, lt(slice, numK), false);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&inK.getThenRegion().front());
      stage(aCopies, bCopies,
            b.createOrFold<arith::MulIOp>(slice, idx(cfg.tileK())), slot);
    }
    NVVM::CpAsyncCommitGroupOp::create(b);
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
          b, token, dst, at(slot, c.place), isA ? xRows : wRows, src,
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
        // A chunk's elements are contiguous in both layouts.
        memref::StoreOp::create(b, select(in, v, zeroElt), dst,
                                at(slot, c.place, add(c.place.back(), idx(e))));
      }
  }

  /// The K loop on mma.sync (sm_80+): per landed slice, each warp loads
  /// its A and B fragments with ldmatrix.x4 and issues its m16n8k16 MMAs
  /// (none when all its rows are padding), while the slice ahead is being
  /// copied. Returns the warp's (mi, ni) accumulators as vector<2x2xf32>
  /// (row g + 8 h, column 2 t + p of the tile).
  SmallVector<Value> mmaLoop(ArrayRef<RowCopy> aCopies,
                             ArrayRef<RowCopy> bCopies, Value numK, Value lane,
                             Value wm, Value wn);

  /// The K loop on wgmma (sm_90a): per landed slice, each warpgroup
  /// multiplies its 64 rows by the tile's columns with one
  /// wgmma.mma_async m64nNk16 per 16 of K, both operands read from the ring
  /// through descriptors, while the slice ahead is being copied. Returns
  /// each (m16, n8) accumulator as vector<2x2xf32> (row g + 8 h, column
  /// 2 t + p of the warp's tile (mi = 0, ni)): the mma.sync epilogue's form,
  /// as the wgmma D fragment repeats mma.sync's over the columns.
  SmallVector<Value> wgmmaLoop(ArrayRef<RowCopy> aCopies,
                               ArrayRef<RowCopy> bCopies, Value numK,
                               Value warp);

  /// Row tiles of 16 (cfg.direct): each warp multiplies the tile's 16 rows
  /// by its warpN columns with both operands loaded from global memory
  /// straight into mma.sync registers. Thread (g, t) loads 8 consecutive
  /// elements, [k0 + 8 t, k0 + 8 t + 8), of A rows g and g + 8 and of row g
  /// of each 8 columns of B: one 16-byte load each per 32 of K. The MMAs
  /// take the 32 in a permuted order, the same for both operands (a sum
  /// does not depend on it): mma j gives k = 2 t + q the position 8 t +
  /// 4 j + q and k = 2 t + 8 + q the position 8 t + 4 j + 2 + q (q = 0, 1),
  /// elements (4 j, 4 j + 1) and (4 j + 2, 4 j + 3) of each thread's loads.
  /// A loop iteration covers cfg.tileK() of K and issues the next one's
  /// loads before its MMAs. Returns the warp's accumulators as mmaLoop;
  /// rows holding no data are zero (as the staged kernels' zero-filled
  /// rows give).
  SmallVector<Value> directLoop(Value lane, Value wn);

  /// A pair of elements as an mma operand register: vector<2xf16> for
  /// f16, the i32 holding both halves for bf16.
  Value operand(Value pair) {
    if (elt.isF16())
      return pair;
    auto i32x1 = VectorType::get({1}, b.getI32Type());
    return vector::ExtractOp::create(
        b, vector::BitCastOp::create(b, i32x1, pair), ArrayRef<int64_t>{0});
  }

  /// An ldmatrix.x4 register as the mma operand.
  Value reg(Value frags, int64_t i) {
    return operand(vector::ExtractOp::create(b, frags, ArrayRef<int64_t>{i}));
  }

  /// Elements 2p, 2p + 1 of a loaded vector as the mma operand.
  Value pairReg(Value v, int64_t p) {
    return operand(vector::ShuffleOp::create(
        b, v, v, ArrayRef<int64_t>{2 * p, 2 * p + 1}));
  }

  /// `acc` + A B by one mma.sync.m16n8k16 (A row-major, B column-major,
  /// f32 accumulation) of operand registers `a` (4) and `bv` (2).
  Value mma(Value acc, ArrayRef<Value> a, ArrayRef<Value> bv) {
    Type f32 = b.getF32Type();
    auto llvmAcc =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes ptxType =
        elt.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
    SmallVector<Value> cv;
    for (int64_t q = 0; q < 4; ++q)
      cv.push_back(
          vector::ExtractOp::create(b, acc, ArrayRef<int64_t>{q / 2, q % 2}));
    Value d = NVVM::MmaOp::create(
        b, llvmAcc, a, bv, cv, {16, 8, 16}, std::nullopt, std::nullopt,
        std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    Value next = accZero;
    for (int64_t q = 0; q < 4; ++q) {
      Value v = LLVM::ExtractValueOp::create(b, d, ArrayRef<int64_t>{q});
      next =
          vector::InsertOp::create(b, v, next, ArrayRef<int64_t>{q / 2, q % 2});
    }
    return next;
  }
};

} // namespace mlir::moe::gpu_gemm

#endif // MOE_PASSES_GPU_GROUPEDGEMMPIPELINED_H
