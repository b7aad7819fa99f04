//===- GemmTiles.cpp - tile configurations of the GPU grouped GEMM --------===//

#include "Utils/GemmTiles.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir::moe;

bool mlir::moe::fitsPipelinedGemm(Type input, Type weight, int64_t k) {
  return (input.isF16() || input.isBF16()) && weight == input &&
         !ShapedType::isDynamic(k) && k % 8 == 0;
}

double GemmTile::instructionsPerMma() const {
  if (wgmma) {
    // Per warp and K slice: one wgmma per 16 of K (64 x n x 16, n / 2
    // mma.sync's worth for each of the warpgroup's 4 warps), two
    // descriptors' address math each, the copies, about 40 for the ring's
    // waits, the fences and the loop (as in the PTX).
    double steps = static_cast<double>(k) / 16;
    double mmas = steps * static_cast<double>(n) / 8;
    double copies = static_cast<double>((m + n) * k / 8) / threads();
    return (3 * steps + 2 * copies + 40) / mmas;
  }
  double slices = static_cast<double>(k) / 16;
  if (direct) {
    // Per warp and iteration: an mma per 16 of K and 8 columns, a 16-byte
    // load per 32 of K for each of its columns' 8-row groups and the two
    // A rows, about 16 for the pointers and the loop (as in the PTX).
    double mmas = warpN() / 8 * slices;
    double loads = (warpN() / 8 + 2) * slices / 2;
    return (mmas + loads + 16) / mmas;
  }
  double mmas = static_cast<double>(warpM() / 16) * (warpN() / 8) * slices;
  double ldmatrix = static_cast<double>(warpM() / 16 + warpN() / 16) * slices;
  // Each 16-byte copy also costs its source address; the rest of the loop
  // (ring waits, barrier, commit, slot rotation, branches) is about 30.
  // Both as measured in the PTX of the two tiles (bench/ptx_metrics.py).
  double copies = static_cast<double>((m + n) * k / 8) / threads();
  return (mmas + ldmatrix + 2 * copies + 30) / mmas;
}

std::string GemmTile::describe() const {
  return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
         (wgmma ? " wgmma" : "") +
         (direct ? " ld.global.v4 x" : " cp.async x") + std::to_string(stages);
}

bool mlir::moe::isKnownChip(llvm::StringRef chip) {
  if (!chip.consume_front("sm_"))
    return false;
  chip.consume_back("a");
  unsigned sm = 0;
  return chip.size() >= 2 && chip.size() <= 3 &&
         llvm::all_of(chip, [](char c) { return c >= '0' && c <= '9'; }) &&
         !chip.getAsInteger(10, sm) && sm >= 70;
}

GpuModel mlir::moe::gpuModelFor(llvm::StringRef chip) {
  unsigned sm = 80;
  if (chip.consume_front("sm_"))
    chip.take_while([](char c) { return c >= '0' && c <= '9'; })
        .getAsInteger(10, sm);
  if (sm >= 90) {
    GpuModel h100{"H100 SXM", 132, 1.83e9, 660e12, 3.35e12, 7.5e12};
    if (sm == 90 && chip.ends_with("a"))
      h100.wgmmaFlops = 989e12;
    return h100;
  }
  return {"A100 SXM", 108, 1.41e9, 290e12, 2.04e12, 4.8e12};
}

double mlir::moe::expectedActiveExperts(double copies, double experts) {
  if (experts <= 1)
    return copies > 0 ? 1 : 0;
  return experts * (1 - std::pow(1 - 1 / experts, copies));
}

TileEstimate mlir::moe::estimateTile(const GemmTile &tile,
                                     const GroupedGemmShape &shape,
                                     const GpuModel &gpu) {
  TileEstimate est;
  if (shape.active <= 0 || shape.copies <= 0)
    return est;
  // A warpgroup's wgmma covers its 64 rows, padding or not.
  double m = tile.m, warpM = tile.wgmma ? 64 : tile.warpM();
  double perExpert = shape.copies / shape.active;
  double padded = std::ceil(perExpert / kGemmRowAlign) * kGemmRowAlign;
  double tilesPerExpert = std::ceil(padded / m);
  double full = std::floor(perExpert / m);
  double rest = perExpert - full * m;
  // Warps whose rows are all padding skip their MMAs.
  double rowsDone = full * m + (rest > 0 ? std::ceil(rest / warpM) * warpM : 0);
  double colBlocks = std::ceil(shape.n / tile.n);
  // The register-operand kernel takes K past its last whole iteration in
  // steps of 32.
  double kStep = tile.direct ? 32 : tile.k;
  double kPadded = std::ceil(shape.k / kStep) * kStep;
  est.flops = 2 * shape.active * rowsDone * colBlocks * tile.n * kPadded;
  est.blocks = shape.active * tilesPerExpert * colBlocks;
  double mmas = est.flops / (2.0 * 16 * 8 * 16);
  double issue = mmas * tile.instructionsPerMma() / (gpu.sms * 4 * gpu.clockHz);
  double weights = shape.n * shape.k * shape.eltBytes;
  // Blocks walk row tiles in groups of 16 sharing weight slices via L2.
  double streams = std::ceil(tilesPerExpert / 16);
  est.hbmBytes = shape.bytes + shape.active * (streams - 1) * weights;
  est.l2Bytes = est.blocks * (m + tile.n) * kPadded * shape.eltBytes;
  // Fewer blocks than SMs leave SMs idle for the issue, tensor-core and L2
  // shares; HBM is not scaled (a block's cp.async ring keeps several slices
  // in flight).
  double fill = std::min(1.0, est.blocks / gpu.sms);
  double peak = tile.wgmma ? gpu.wgmmaFlops : gpu.mmaFlops;
  est.seconds = std::max(
      std::max({issue, est.flops / peak, est.l2Bytes / gpu.l2BytesPerS}) / fill,
      est.hbmBytes / gpu.hbmBytesPerS);
  return est;
}

/// The estimated time of `tile` for `copies` copies routed uniformly.
static double tileSeconds(const GemmTile &tile, double copies, double experts,
                          double n, double k, double eltBytes,
                          const GpuModel &gpu) {
  double active = expectedActiveExperts(copies, experts);
  double bytes = (active * n * k + copies * (n + k)) * eltBytes;
  return estimateTile(tile, {copies, active, n, k, eltBytes, bytes}, gpu)
      .seconds;
}

std::vector<TileChoice> mlir::moe::rowTilePlan(double experts, double n,
                                               double k, double eltBytes,
                                               const GpuModel &gpu) {
  std::vector<GemmTile> tiles = {kSmallRowTile};
  if (gpu.wgmmaFlops > 0) {
    tiles.insert(tiles.end(), {kWgmmaLargeRowTile, kWgmmaHugeRowTile});
    // 128 accumulators per thread leave no registers for a partial last
    // slice's per-copy source sizes (ptxas spills).
    if (static_cast<int64_t>(k) % kWgmmaWideRowTile.k == 0)
      tiles.push_back(kWgmmaWideRowTile);
  } else
    tiles.insert(tiles.end(), {kLargeRowTile, kHugeRowTile});
  std::vector<TileChoice> plan = {{tiles[0], 0}};
  size_t current = 0;
  auto seconds = [&](size_t t, int64_t copies) {
    return tileSeconds(tiles[t], static_cast<double>(copies), experts, n, k,
                       eltBytes, gpu);
  };
  for (int64_t copies = 1; copies <= (int64_t(1) << 24); copies *= 2) {
    // The fastest tile at this count, if faster than the current one.
    size_t best = current;
    for (size_t t = current + 1; t < tiles.size(); ++t)
      if (seconds(t, copies) < seconds(best, copies))
        best = t;
    if (best == current)
      continue;
    // The first count in (copies / 2, copies] where it beats the current.
    int64_t lo = copies / 2, hi = copies;
    while (hi - lo > 1) {
      int64_t mid = lo + (hi - lo) / 2;
      (seconds(best, mid) < seconds(current, mid) ? hi : lo) = mid;
    }
    plan.push_back({tiles[best], hi});
    current = best;
  }
  return plan;
}

const TileChoice &mlir::moe::choiceFor(const std::vector<TileChoice> &plan,
                                       double copies) {
  size_t i = 0;
  while (i + 1 < plan.size() && copies >= static_cast<double>(plan[i + 1].from))
    ++i;
  return plan[i];
}

GemmTile mlir::moe::routerGemmTile(const GpuModel &gpu) {
  return gpu.wgmmaFlops > 0 ? kWgmmaLargeRowTile : kLargeRowTile;
}

RouterLogitsPlan mlir::moe::routerLogitsPlan(double experts, double hidden,
                                             double eltBytes, bool gemmFits,
                                             const GpuModel &gpu) {
  // A kernel launch and the [T, E] f32 logits written and read back.
  constexpr double kLaunchSeconds = 4e-6;
  // The dot-product routing kernel's dependent second phase: the token's
  // last block, once every block of the token has finished, reads the
  // logits back and routes.
  constexpr double kSecondPhaseSeconds = 2e-6;
  RouterLogitsPlan plan{kNeverTokens, kNeverTokens};
  for (int64_t tokens = 1; tokens <= (int64_t(1) << 20); tokens *= 2) {
    double t = static_cast<double>(tokens);
    double elements = t * experts * hidden;
    double roundTrip = kLaunchSeconds + 2 * t * experts * 4 / gpu.hbmBytesPerS;
    // The routing kernel: 8 warps (tokens) per block; per element a lane
    // loads the weight (the token's value comes from L1) and multiplies.
    double fill = std::min(1.0, std::ceil(t / 8) / gpu.sms);
    double fused = std::max(3 * elements / 32 / (gpu.sms * 4 * gpu.clockHz),
                            elements * eltBytes / gpu.l2BytesPerS) /
                   fill;
    // The dot-product routing kernel: both rows from L2 (the weights from
    // HBM once), two loads, two conversions and an FMA per element; no
    // launch of its own, but the logits' round trip through memory and the
    // second phase.
    double blocks = t * experts / 2;
    double gemv =
        std::max({std::max(5 * elements / 32 / (gpu.sms * 4 * gpu.clockHz),
                           2 * elements * eltBytes / gpu.l2BytesPerS) /
                      std::min(1.0, blocks / gpu.sms),
                  (experts + t) * hidden * eltBytes / gpu.hbmBytesPerS}) +
        roundTrip - kLaunchSeconds + kSecondPhaseSeconds;
    double bytes = (experts * hidden + t * hidden) * eltBytes + t * experts * 4;
    // Where the GEMM cannot run it is no candidate, neither here nor as
    // the choice the dot products must beat.
    double gemm =
        gemmFits ? estimateTile(routerGemmTile(gpu),
                                {t, 1, experts, hidden, eltBytes, bytes}, gpu)
                           .seconds +
                       roundTrip
                 : std::numeric_limits<double>::infinity();
    if (plan.gemvFrom == kNeverTokens && std::min(gemv, gemm) < fused)
      plan.gemvFrom = tokens;
    if (gemm < std::min(gemv, fused)) {
      plan.gemmFrom = tokens;
      break;
    }
  }
  plan.gemvFrom = std::min(plan.gemvFrom, plan.gemmFrom);
  return plan;
}
