//===- Passes.h - declarations and registration of moe passes ---*- C++ -*-===//

#ifndef MOE_PASSES_PASSES_H
#define MOE_PASSES_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "moe/Dialect/MoE.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace moe {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

/// Patterns rewriting moe.layer into its step ops (used by moe-decompose and
/// by pipelines that decompose as part of a larger pattern application).
void populateDecomposeLayerPatterns(RewritePatternSet &patterns,
                                    int64_t dispatchBlock = 1);

/// The rewrite of moe-fuse-expert-activation (activation into the grouped
/// GEMM's epilogue), for passes that model the pipelines' schedule.
void populateFuseExpertActivationPatterns(RewritePatternSet &patterns);

/// The rewrite of moe-fuse-dispatch-gather (expert GEMMs reading the tokens
/// through the dispatch's slots).
void populateFuseDispatchGatherPatterns(RewritePatternSet &patterns);

/// moe-fuse-routing-plan's pattern.
void populateFuseRoutingPlanPatterns(RewritePatternSet &patterns);

/// moe-fuse-combine on everything under `root` (for the pass and for
/// costing a schedule).
void applyFuseCombine(Operation *root, bool deterministic);

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOE_PASSES_PASSES_H
