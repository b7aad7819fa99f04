//===- InterleaveRows.h - gate/up weights re-laid out at compile time -*- C++
//-*-===//
//
// Private to the MoE stage: the rows of constant expert tensors (weights,
// biases, scales) interleaved so that gate and up values of one output feature
// are neighbouring GEMM columns, the layout the fused gated epilogue reads.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_MOE_INTERLEAVEROWS_H
#define MOE_PASSES_MOE_INTERLEAVEROWS_H

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// For constant tensors `[E, I, ...]` (`gate`, `up`), or one `[E, 2I, ...]`
/// constant whose halves are gate and up (`up` null), a new constant
/// `[E, 2I, ...]` whose row 2i is gate row i and row 2i + 1 up row i;
/// created at `b`'s insertion point. Null when the values are not constants
/// of whole-byte elements (nothing is created then).
Value interleaveConstantRows(OpBuilder &b, Location loc, Value gate, Value up);

} // namespace mlir::moe

#endif // MOE_PASSES_MOE_INTERLEAVEROWS_H
