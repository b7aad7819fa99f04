//===- Raise.h - raising of ONNX MoE blocks to moe.layer --------*- C++ -*-===//
//
// Declarations and registration of the Raise stage's passes (passes/Raise/).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_RAISE_H
#define MOE_PASSES_RAISE_H

#include "mlir/Pass/Pass.h"

namespace mlir::moe {

#define GEN_PASS_DECL
#include "passes/Raise/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Raise/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_RAISE_H
