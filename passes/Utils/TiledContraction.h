//===- TiledContraction.h - register-tiled x * w^T on tensors ---*- C++ -*-===//
//
// Private to passes/: the CPU form of a GEMM (the experts', and dense MatMuls
// with constant weights), written as loops whose innermost body keeps a
// tile of accumulators in registers.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_TILEDCONTRACTION_H
#define MOE_PASSES_UTILS_TILEDCONTRACTION_H

#include "mlir/IR/Builders.h"

#include <functional>

namespace mlir::moe {

/// What a tile does with its f32 sums before storing them (bias,
/// activation, rounding), so that the GEMM's results are written once,
/// from registers, in their final form.
struct TileEpilogue {
  /// The results of a tm x tn tile whose first column is `n0`, from its
  /// sums (a row-major vector<tm*tn x f32>): a row-major vector of
  /// tm * (tn / colsPerResult) elements of the destination's type.
  std::function<Value(OpBuilder &, Location, Value sums, int64_t tm, int64_t tn,
                      Value n0)>
      apply;
  /// Sum columns per result column: 2 for a gated activation over
  /// interleaved (gate, up) columns.
  int64_t colsPerResult = 1;
};

/// dest[m, n] = epilogue(sum_c x[m, c] * w[n, c]) accumulated in f32, for
/// x: [rows, K] and w: [N, K] tensors (any float type) and dest:
/// [rows, N / colsPerResult]: 4 x 4 tiles of (m, n) whose k loop carries 16
/// independent sums (8 contiguous loads per 16 multiply-adds, reassociation
/// allowed so the k loop vectorizes), then remainder rows and columns.
/// Without an epilogue dest is f32 and takes the sums. N must be a multiple
/// of colsPerResult. Returns dest, written.
Value emitTiledContraction(OpBuilder &b, Location loc, Value x, Value w,
                           Value dest, Value rows, OpFoldResult n,
                           OpFoldResult k,
                           const TileEpilogue *epilogue = nullptr);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_TILEDCONTRACTION_H
