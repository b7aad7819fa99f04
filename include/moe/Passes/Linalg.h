//===- Linalg.h - linalg preparation for code generation --------*- C++ -*-===//
//
// Declarations and registration of the Linalg stage's passes (passes/Linalg/).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_LINALG_H
#define MOE_PASSES_LINALG_H

#include "mlir/Pass/Pass.h"

namespace mlir::moe {

#define GEN_PASS_DECL
#include "passes/Linalg/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Linalg/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_LINALG_H
