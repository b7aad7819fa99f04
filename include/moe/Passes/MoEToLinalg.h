//===- MoEToLinalg.h - moe step ops to tiled linalg/tensor/scf --*- C++ -*-===//
//
// Declarations and registration of the MoEToLinalg stage's passes
// (passes/MoEToLinalg/).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_MOETOLINALG_H
#define MOE_PASSES_MOETOLINALG_H

#include "mlir/Pass/Pass.h"

namespace mlir::moe {

#define GEN_PASS_DECL
#include "passes/MoEToLinalg/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/MoEToLinalg/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_MOETOLINALG_H
