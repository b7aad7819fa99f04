//===- GroupedGemm.h - kernel bodies of the grouped expert GEMM -*- C++ -*-===//
//
// Every kernel computes, per block, one row tile x kTileN (or its
// configuration's) columns of
//   out[r, n] = sum_c x[r, c] * w[e, n, c] (+ bias[e, n])
// where e is the expert owning the tile's rows. Row groups are padded to
// kGemmRowAlign (16) rows; a block finds its tile by walking the experts'
// groups (rowTile): tiles start at a group's start, and a tile's rows past
// its group's end belong to the next expert, so they are neither read nor
// written. Rows past offsets[E] are unspecified. The kernels differ in how
// a block's threads share the tile.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_GROUPEDGEMM_H
#define MOE_PASSES_GPU_GROUPEDGEMM_H

#include "Utils/GemmTiles.h"
#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::moe::gpu_gemm {

/// Rows of a block's tile in the scalar-staged kernels (SIMT, MMA).
constexpr int64_t kTileM = 64;
/// Columns of a block's tile.
constexpr int64_t kTileN = 64;

/// The kernel's arguments (block arguments of its gpu.func).
struct Operands {
  Value x;       // [R, K] grouped rows
  Value w;       // [E, N, K]
  Value offsets; // [E + 1] i32; null for dense rows (denseEnd)
  Value bias;    // [E, N] or null
  Value scales;  // quantized weights: [E, N] or [E, N, K / block]; or null
  Value zeroPoints; // i8 of the scales' shape, or null (2^(bits - 1))
  Value out;     // [R, N]
  Value slots;   // gathered input: [R] i32 slots into x: [T, K]; or null
  int64_t gatherK = 0;
  /// Combined output (moe.expert_matmul's `combine`): row r, of slot
  /// t * k + j >= 0, is scaled by weights[t, j] and added atomically to
  /// out[t] ([T, N], initialized before the launch). Null otherwise.
  Value combineSlots, combineWeights;
  int64_t combineK = 0;
  /// Dense rows (one expert over `[0, T]`, offsets not padded to the tile):
  /// the row count T, below which rows are read and written; null when the
  /// plan pads every group to the tile.
  Value rowLimit;
  /// Dense rows: offsets[1] (index), the end of the one expert's rows.
  Value denseEnd;
  /// Combined 16-bit output accumulated in f32 (`out`), converted by the
  /// kernel itself (convertCompletedRows): `converted` [T, N] of the
  /// operands' type, `arrivals` [T] i32, zero before the launch, and
  /// `addend` [T, N], the initial value added as it is rounded (or null:
  /// `out` holds it). Null otherwise.
  Value converted, arrivals, addend;
  /// Set by the kernel body (KernelBuilder::rowTile): rows at or past it
  /// are not the tile's expert's (the next group, or past the dense row
  /// count): read as zeros, never written.
  Value rowEnd;
  int64_t experts;
  int64_t bits = 0, block = 0; // weight quantization (moe.expert_matmul)
  /// Activation applied before the store (moe.expert_matmul's epilogue),
  /// or null. Interleaved gating: columns (2i, 2i + 1) are (gate, up) and
  /// `out` is [R, N / 2].
  ActivationAttr epilogue;
  bool pairedEpilogue() const { return epilogue && epilogue.isGated(); }
};

/// A memref type with a fully dynamic strided layout: whatever layout
/// bufferization gives a kernel operand, a cast to this type is valid.
inline MemRefType anyLayout(RankedTensorType t) {
  SmallVector<int64_t> strides(t.getRank(), ShapedType::kDynamic);
  return MemRefType::get(
      t.getShape(), t.getElementType(),
      StridedLayoutAttr::get(t.getContext(), ShapedType::kDynamic, strides));
}

/// `tensor` as a read-only kernel operand (any layout), or null for null.
inline Value toKernelBuffer(OpBuilder &b, Location loc, Value tensor) {
  if (!tensor)
    return nullptr;
  return bufferization::ToBufferOp::create(
      b, loc, anyLayout(cast<RankedTensorType>(tensor.getType())), tensor,
      /*readOnly=*/true);
}

/// The module's `@moe_kernels` GPU module, where the generated kernels live
/// (created, and the module marked as a GPU container, on first use).
gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module);

/// A kernel `name` in `module`'s kernel module taking `operands`, its body
/// written by `body` with the operands' block arguments.
gpu::GPUFuncOp
createKernel(ModuleOp module, Location loc, StringRef name, ValueRange operands,
             function_ref<void(gpu::GPUFuncOp, ValueRange)> body);

/// A shared-memory buffer of `fn`, declared 16-byte aligned. Without an
/// explicit alignment the PTX declares only the element type's, while LLVM
/// assumes more for large variables (and vectorizes accesses on it): the
/// two must agree, as the CUDA emulator checks.
Value addSharedBuffer(gpu::GPUFuncOp fn, MemRefType type);

/// Static shared memory's limit per block; more is dynamic shared memory,
/// which a kernel must be allowed at launch (the runtime raises the limit).
constexpr int64_t kStaticSharedBytes = 48 * 1024;

/// Threads of a block, (x, y), the columns of its output tile and the
/// dynamic shared memory it is launched with.
struct BlockShape {
  int64_t x, y, tileN;
  int64_t dynamicSharedBytes = 0;
};

/// The bytes of a static-shaped buffer of `type`.
int64_t bufferBytes(MemRefType type);

/// Buffers of `types`, 16-byte aligned and in order, in the kernel's
/// dynamic shared memory (built at `b`): views of one
/// `gpu.dynamic_shared_memory` buffer. Returns the bytes they take.
int64_t addDynamicSharedBuffers(ImplicitLocOpBuilder &b,
                                ArrayRef<MemRefType> types,
                                SmallVectorImpl<Value> &views);

/// Writes a kernel body for the roles of `ops` as the kernel's arguments.
using KernelBody =
    llvm::function_ref<BlockShape(gpu::GPUFuncOp, const Operands &)>;

/// A grouped GEMM kernel named `name` in `module`'s kernel module, taking
/// the buffers of `ops` (host values; null roles are no arguments) in the
/// order of Operands, its body written by `body`, launched at `b` over
/// ceil(N / tile columns) x `gridY` blocks. With `fixBlockSize` the kernel
/// declares its block size (known_block_size: .maxntid for ptxas).
gpu::GPUFuncOp launchGemm(ImplicitLocOpBuilder &b, ModuleOp module,
                          StringRef name, const Operands &ops, KernelBody body,
                          Value gridY, bool fixBlockSize);

/// Scalar helpers bound to a builder.
struct KernelBuilder {
  ImplicitLocOpBuilder &b;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
  }
  Value minIdx(Value x, Value y) { return arith::MinUIOp::create(b, x, y); }
  Value toF32(Value v) {
    return v.getType().isF32() ? v
                               : arith::ExtFOp::create(b, b.getF32Type(), v);
  }
  Value fromF32(Value v, Type t) {
    return t.isF32() ? v : arith::TruncFOp::create(b, t, v);
  }
  Value loadOffset(Value offsets, Value i) {
    Value v = memref::LoadOp::create(b, offsets, i);
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }
  /// Row tile number `tile` of `rows` rows: each expert's group is cut
  /// into ceil(group rows / rows) tiles, in expert order (dense rows: tile
  /// i starts at row i * rows). Sets `ops.rowEnd`.
  struct RowTile {
    Value first;  // the tile's first row
    Value expert; // its expert (index)
    Value active; // whether the tile exists (false: past the last group)
  };
  RowTile rowTile(Operands &ops, Value tile, int64_t rows);
  /// w[e, n, k] as f32: converted, or dequantized from its byte,
  /// (q - 2^(bits - 1)) * scale, for quantized weights.
  Value loadWeightF32(const Operands &ops, Value e, Value n, Value k);
  /// The row of `x` that row `r` of the grouped input reads, always in
  /// bounds, and whether it holds data (null: always): gathered, token
  /// slots[r] / k, not for a padding slot (-1); dense rows, r, not past the
  /// row count (row 0 stands in).
  std::pair<Value, Value> inputRow(const Operands &ops, Value r);
  /// Row `r` of the grouped input at column `c` (in bounds): its inputRow
  /// at column `c`, zero where that row holds no data.
  Value loadInputRow(const Operands &ops, Value r, Value c);
  /// Stores `v` at out[row, col] when col < n.
  void storeIfInColumns(Value out, Value v, Value row, Value col, Value n);
  /// GEMM output row `row`, column `col` (< n) of value `v` (f32): stored
  /// in the output's type, or, combined, weighted and added into its
  /// token's row.
  void storeOut(const Operands &ops, Value v, Value row, Value col, Value n);
  /// The f32 accumulator `v` of GEMM column `col` (bias added) through an
  /// ungated epilogue, rounded to the output's type and stored when col < n.
  void storeUnpaired(const Operands &ops, Value v, Value row, Value col,
                     Value n);
  /// A (gate, up) pair of accumulators of GEMM columns (col, col + 1), col
  /// even, through the gated epilogue, stored at out[row, col / 2].
  void storePair(const Operands &ops, Value gate, Value up, Value row,
                 Value col, Value n);
  /// With ops.converted, after the block's additions into `out` for its
  /// `rows`-row tile from `r0` (thread `tid`; at least `rows` threads):
  /// each row takes a ticket for its token, and the warp whose ticket
  /// completes the token's contributions (k copies times the grid's column
  /// blocks) rounds the token's f32 row into `converted`, once: no
  /// separate conversion launch.
  void convertCompletedRows(const Operands &ops, Value tid, int64_t rows,
                            Value r0);
};

/// f32 FMA on CUDA cores, any element type: 16 x 16 threads, each a 4 x 4
/// register tile, operands staged in workgroup memory as f32.
BlockShape buildSIMTKernel(gpu::GPUFuncOp fn, const Operands &ops);

/// f16/bf16 on tensor cores (mma.sync m16n8k16, f32 accumulation, sm_80+),
/// or f32 as tf32 (m16n8k8): 4 warps, each a 32 x 32 sub-tile of 2 x 4 MMA
/// tiles.
BlockShape buildMMAKernel(gpu::GPUFuncOp fn, const Operands &ops);

/// Whether buildPipelinedKernel applies: f16/bf16 rows and weights (not
/// quantized) and a static K that is a multiple of 8.
bool canPipeline(const Operands &ops);

/// f16/bf16 on tensor cores (sm_80+), tiles as `tile` configures them
/// (GemmTiles.h): cp.async multi-stage staging with ldmatrix fragments or
/// wgmma, or, for `direct` tiles, operands loaded into registers by 16-byte
/// loads. Without `asyncCopies` operands are read by scalar loads, as
/// misaligned operands are.
BlockShape buildPipelinedKernel(gpu::GPUFuncOp fn, const Operands &ops,
                                bool asyncCopies, const GemmTile &tile);

} // namespace mlir::moe::gpu_gemm

#endif // MOE_PASSES_GPU_GROUPEDGEMM_H
