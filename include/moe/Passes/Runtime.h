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

#define GEN_PASS_DECL
#include "passes/Runtime/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Runtime/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_RUNTIME_H
