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

/// The variant of entry function F that runs on the caller's device buffers
/// and stream is F + kAsyncEntrySuffix (moe-gpu-async-entry); where F has
/// none, F carries kAsyncUnsupportedAttr with the reason.
inline constexpr llvm::StringLiteral kAsyncEntrySuffix = "__async";
inline constexpr llvm::StringLiteral kAsyncUnsupportedAttr =
    "moe.async_unsupported";
/// On F__async when its host code never waits for the device: its calls
/// can be captured into CUDA graphs.
inline constexpr llvm::StringLiteral kGraphCapturableAttr =
    "moe.graph_capturable";

#define GEN_PASS_DECL
#include "passes/GPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/GPU/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_H
