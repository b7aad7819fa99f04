//===- GPU.h - GPU code generation passes -----------------------*- C++ -*-===//
//
// Declarations and registration of the GPU stage's passes (passes/GPU/).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_H
#define MOE_PASSES_GPU_H

#include "mlir/Pass/Pass.h"

namespace mlir::moe {

#define GEN_PASS_DECL
#include "passes/GPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/GPU/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_H
