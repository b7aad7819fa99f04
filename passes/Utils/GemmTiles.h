//===- GemmTiles.h - tile configurations of the GPU GEMM --------*- C++ -*-===//
//
// Private to passes/: the row-tile configurations of the pipelined
// tensor-core grouped GEMM and the cost model that picks one by token
// count, shared by the kernel generator (GPU/ExpertMatmul.cpp, which emits
// both and chooses at run time) and the cost report.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_GEMMTILES_H
#define MOE_PASSES_UTILS_GEMMTILES_H

#include "mlir/IR/Types.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::moe {

/// The dispatch pads every expert's row group to a multiple of this; row
/// tiles of any configuration start at a group's start.
constexpr int64_t kGemmRowAlign = 16;

/// Whether rows of `input` elements times `weight` elements over a
/// reduction of `k` (dynamic: ShapedType::kDynamic) run on the pipelined
/// tensor-core kernel: f16/bf16 on both sides, K a static multiple of 8
/// (16-byte cp.async chunks). Quantized weights never do.
bool fitsPipelinedGemm(Type input, Type weight, int64_t k);

/// One block's tile of the pipelined kernel: `m` x `n` outputs, K slices of
/// `k` in a ring of `stages`, `warpsM` x `warpsN` warps; with `wgmma`
/// (sm_90a), warpgroups of 4 warps each multiply 64 rows by all `n` columns
/// (wgmma.mma_async m64nNk16 from shared memory: warpsN is 1). With
/// `direct`, no shared memory: each warp loads its operands from global
/// memory straight into mma.sync registers, `k` of K per loop iteration,
/// `stages` iterations' loads in registers (warpsM is 1, m 16).
struct GemmTile {
  int64_t m, n, k, stages, warpsM, warpsN;
  bool wgmma = false;
  bool direct = false;
  int64_t threads() const { return 32 * warpsM * warpsN; }
  int64_t warpM() const { return m / warpsM; }
  int64_t warpN() const { return n / warpsN; }
  /// Whether the kernel rounds a combined 16-bit output itself, per token
  /// once its additions are in (GroupedGemm.h, convertCompletedRows): not
  /// the 128 x 256 wgmma tile, whose 128 accumulators per thread leave no
  /// registers for it (ptxas spills); a rounding launch follows that one.
  bool roundsRows() const { return !(wgmma && n > 128); }
  /// Warp instructions of one K slice per mma (mma, ldmatrix, cp.async with
  /// its address, about 30 for the ring's waits and the loop), as in the
  /// PTX.
  double instructionsPerMma() const;
  std::string describe() const;
};

/// Few rows per expert (decode): 16-row tiles of 4 warps, 16 x 32 each,
/// operands loaded into registers (`direct`) 64 of K per iteration, the
/// next iteration's loads in flight during this one's MMAs. With 16 rows
/// every weight element feeds one mma: staging it through shared memory
/// (cp.async, a barrier, ldmatrix) only adds instructions.
constexpr GemmTile kSmallRowTile = {16, 128, 64, 2, 1, 4, false, true};
/// Many rows per expert (prefill): 64-row tiles of 4 warps, 32 x 64 each,
/// K slices of 32 in a ring of 4 (48 KB, swizzled rows without padding;
/// about 180 registers a thread keep an SM at 2 blocks whatever the ring
/// takes, so the fourth slice costs no occupancy).
constexpr GemmTile kLargeRowTile = {64, 128, 32, 4, 2, 2};
/// Very many rows per expert: 128-row tiles of 8 warps, 32 x 64 each, K
/// slices of 32 in a ring of 4 (64 KB of dynamic shared memory; about 168
/// registers a thread hold an SM to one block, which the deeper ring keeps
/// fed). A block moves 256 K elements from L2 per 128 x 128 K
/// multiply-adds, a third less per product than 64-row tiles.
constexpr GemmTile kHugeRowTile = {128, 128, 32, 4, 4, 2};
/// sm_90a, many rows per expert: one warpgroup's wgmma m64n128k16 per K step
/// of 16, slices of 32 in a ring of 4 (48 KB; 3 blocks of about 170
/// registers a thread fill an SM's registers before its shared memory).
constexpr GemmTile kWgmmaLargeRowTile = {64, 128, 32, 4, 4, 1, true};
/// sm_90a, very many rows: two warpgroups of 64 rows each, a ring of 4
/// (64 KB of dynamic shared memory).
constexpr GemmTile kWgmmaHugeRowTile = {128, 128, 32, 4, 8, 1, true};
/// sm_90a, the most rows: two warpgroups of 64 x 256 (wgmma m64n256k16),
/// double-buffered (48 KB): 85 FLOP per L2 byte, where 128 x 128 tiles
/// move 64. Only where 32 divides K (255 registers: a partial last slice
/// spills, and so does a ring in dynamic shared memory, whose base the
/// kernel keeps in registers, in the down GEMMs of Qwen3 and DeepSeek-V3
/// shapes).
constexpr GemmTile kWgmmaWideRowTile = {128, 256, 32, 2, 8, 1, true};

/// What the model needs of a GPU: figures of the SXM parts (data sheets;
/// `mmaFlops` is mma.sync's sustained 16-bit rate, below the wgmma peak on
/// sm_90; L2 bandwidth from microbenchmarks). `wgmmaFlops` is the dense
/// 16-bit tensor peak where the target has wgmma (sm_90a), else 0.
struct GpuModel {
  const char *name;
  double sms, clockHz, mmaFlops, hbmBytesPerS, l2BytesPerS;
  double wgmmaFlops = 0;
};

/// Whether `chip` names an NVIDIA architecture the CUDA pipeline compiles
/// for: `sm_` and a compute capability of sm_70 or later (two or three
/// digits), optionally with `a` (architecture-specific features).
bool isKnownChip(llvm::StringRef chip);

/// The model of a chip (`sm_80`, `sm_90`, `sm_90a`, ...): A100 for sm_8x,
/// H100 for sm_90 and newer; wgmma only for sm_90a (the architecture-
/// specific target whose PTX has it).
GpuModel gpuModelFor(llvm::StringRef chip);

/// One grouped GEMM: `copies` token rows over `active` experts with rows,
/// [N, K] weights per expert of `eltBytes`, and `bytes` the operands and
/// results read or written once (weights of the active experts included).
struct GroupedGemmShape {
  double copies, active, n, k, eltBytes, bytes;
};

/// The kernel's estimated time and the work behind it.
struct TileEstimate {
  double seconds = 0, flops = 0, hbmBytes = 0, l2Bytes = 0, blocks = 0;
};

/// Roofline of what `tile` does for `shape` on `gpu`: padded rows (warps of
/// padding rows skip their MMAs), issue slots, weights streamed from HBM
/// once per group of 16 row tiles, operand slices moved from L2 once per
/// block; issue, tensor-core and L2 rates scaled by the share of SMs the
/// grid fills.
TileEstimate estimateTile(const GemmTile &tile, const GroupedGemmShape &shape,
                          const GpuModel &gpu);

/// Expected experts with rows when `copies` token copies are routed
/// uniformly over `experts`.
double expectedActiveExperts(double copies, double experts);

/// A row tile and the token-copy count from which the run-time choice
/// takes it (until the next choice's).
struct TileChoice {
  GemmTile tile;
  int64_t from;
};

/// The row tiles of a grouped GEMM of `experts` experts of [n, k] weights,
/// in order of token copies: the first from 0 copies, each next one from
/// the count at which the model estimates it faster than the one before
/// (tiles only grow with the copies; tiles never chosen are left out).
std::vector<TileChoice> rowTilePlan(double experts, double n, double k,
                                    double eltBytes, const GpuModel &gpu);

/// The choice of `plan` for `copies` token copies.
const TileChoice &choiceFor(const std::vector<TileChoice> &plan, double copies);

/// The router GEMM's tile (one expert: the gate as [1, E, H]): one
/// warpgroup's wgmma where `gpu` has it, else mma.sync, 64 x 128 either way.
GemmTile routerGemmTile(const GpuModel &gpu);

/// Where the router's logits ([T, H] by [E, H] of `eltBytes`) come from,
/// by token count: the routing kernel's own dot products (a warp per token
/// reads the whole gate matrix from L2, each lane a load and an FMA per
/// element) below `gemvFrom`; from `gemvFrom`, the dot-product routing
/// kernel (blocks per token and pair of experts, 4 warps per dot product:
/// many blocks at decode, weights read once from HBM; the logits go
/// through memory to the token's last block); a tensor-core GEMM
/// (routerGemmTile) from `gemmFrom`, a launch of its own before the routing
/// kernel. Powers of two; kNeverTokens when a choice never wins, and for
/// the GEMM when `gemmFits` is false (fitsPipelinedGemm).
struct RouterLogitsPlan {
  int64_t gemvFrom, gemmFrom;
};
constexpr int64_t kNeverTokens = int64_t(1) << 40;
RouterLogitsPlan routerLogitsPlan(double experts, double hidden,
                                  double eltBytes, bool gemmFits,
                                  const GpuModel &gpu);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_GEMMTILES_H
