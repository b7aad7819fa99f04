//===- Runtime.h - lowering to the runtime ABI ------------------*- C++ -*-===//
//
// Declarations and registration of the Runtime stage's passes
// (passes/Runtime/).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_RUNTIME_H
#define MOE_PASSES_RUNTIME_H

#include "mlir/Pass/Pass.h"

namespace mlir::moe {

/// What moe-externalize-weights leaves for --emit: the pointer the entry
/// points set to the mapped weights, the offset of each moved global, and
/// the module's total (`{size = N : i64}`).
inline constexpr llvm::StringLiteral kWeightsBaseSymbol = "moe__weights_base";
inline constexpr llvm::StringLiteral kWeightsOffsetAttr = "moe.weights_offset";
inline constexpr llvm::StringLiteral kWeightsAttr = "moe.weights";

#define GEN_PASS_DECL
#include "passes/Runtime/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Runtime/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_RUNTIME_H
