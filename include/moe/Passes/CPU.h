//===- CPU.h - CPU code generation passes -----------------------*- C++ -*-===//
//
// Declarations and registration of the CPU stage's passes (passes/CPU/).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_CPU_H
#define MOE_PASSES_CPU_H

#include "mlir/Pass/Pass.h"

namespace mlir::moe {

#define GEN_PASS_DECL
#include "passes/CPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/CPU/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_CPU_H
