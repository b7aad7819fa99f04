//===- BlockReduce.h - warp- and block-wide f32 sums ------------*- C++ -*-===//
//
// Private to passes/GPU: the reductions the row-reduction kernels and the
// routing kernels' dot products end with.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_BLOCKREDUCE_H
#define MOE_PASSES_GPU_BLOCKREDUCE_H

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// The sum of the f32 `value` over the calling warp, for every lane: five
/// xor shuffles.
Value emitWarpSum(OpBuilder &b, Location loc, Value value);

/// The sum of the f32 `value` over a block of `warps` full warps, for every
/// thread: shuffles within each warp, lane 0 of each storing its warp's sum
/// into `partials` (workgroup memory of `warps` f32), a barrier, then the
/// partials added in warp order. `tid` is the thread's index in the block.
Value emitBlockSum(OpBuilder &b, Location loc, Value value, Value tid,
                   Value partials, int64_t warps);

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_BLOCKREDUCE_H
