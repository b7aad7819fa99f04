//===- Activation.h - the math of #moe.activation ---------------*- C++ -*-===//
//
// Private to passes/: the activation functions as f32 arith/math ops,
// shared by the CPU lowering and the GPU GEMM epilogues so that both
// compute exactly the same expression.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_ACTIVATION_H
#define MOE_PASSES_UTILS_ACTIVATION_H

#include "moe/Dialect/MoE.h"

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// `act(g)` for an ungated activation, `act(g) * u` for a gated one (gate
/// clamped to `limit`, up clamped to [-limit, limit] and offset by `beta`).
/// `g` and `u` are f32 scalars or vectors of f32, of one type; so is the
/// result.
Value emitActivation(OpBuilder &b, Location loc, ActivationAttr act, Value g,
                     Value u);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_ACTIVATION_H
