//===- Stages.h - pass sequences shared by the named pipelines --*- C++ -*-===//

#ifndef MOE_LIB_PIPELINES_STAGES_H
#define MOE_LIB_PIPELINES_STAGES_H

namespace mlir {
class OpPassManager;
namespace moe {
struct CPUPipelineOptions;
namespace detail {

/// The entry signature recorded (before lowering erases the tensor types),
/// then every dense onnx op lowered to core dialects (leftovers are errors).
void addImportedGraphToCore(OpPassManager &pm);

/// One-shot bufferization with identity-layout function boundaries, buffer
/// deallocation, and bufferization ops lowered to memref.
void addBufferization(OpPassManager &pm);

/// Layers decomposed, sharded over `options.ranks` (this module becoming the
/// program of `options.rank`), chunk-pipelined when `options.chunks > 1`,
/// and the exchanges lowered to runtime calls.
void addExpertParallel(OpPassManager &pm, const CPUPipelineOptions &options);

} // namespace detail
} // namespace moe
} // namespace mlir

#endif // MOE_LIB_PIPELINES_STAGES_H
