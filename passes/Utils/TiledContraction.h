//===- TiledContraction.h - register-tiled x * w^T on tensors ---*- C++ -*-===//
//
// Private to passes/: the CPU form of an expert's GEMM, written as loops
// whose innermost body keeps a tile of accumulators in registers.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_TILEDCONTRACTION_H
#define MOE_PASSES_UTILS_TILEDCONTRACTION_H

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// result[m, n] = sum_c x[m, c] * w[n, c] in f32, for x: [rows, K] and
/// w: [N, K] tensors (any float type): 4 x 4 tiles of (m, n) whose k loop
/// carries 16 independent sums (8 contiguous loads per 16 multiply-adds,
/// reassociation allowed so the k loop vectorizes), then remainder rows and
/// columns. Returns the [rows, N] f32 tensor.
Value emitTiledContraction(OpBuilder &b, Location loc, Value x, Value w,
                           Value rows, OpFoldResult n, OpFoldResult k);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_TILEDCONTRACTION_H
