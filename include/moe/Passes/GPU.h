//===- GPU.h - GPU code generation passes -----------------------*- C++ -*-===//
//
// Declarations and registration of the GPU stage's passes (passes/GPU/).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_H
#define MOE_PASSES_GPU_H

#include "mlir/Pass/Pass.h"

namespace mlir::moe {

/// On a host memref.load of a word that kernels set to a non-zero value when
/// a run-time check fails (and leave 0 otherwise): the read, and the
/// cf.assert computed from it, may move after later launches, which then
/// skip their work when the word is set (moe-gpu-defer-host-checks).
inline constexpr llvm::StringLiteral kCheckFlagAttr = "moe.check_flag";

#define GEN_PASS_DECL
#include "passes/GPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/GPU/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_H
