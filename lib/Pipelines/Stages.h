//===- Stages.h - pass sequences shared by the named pipelines --*- C++ -*-===//

#ifndef MOE_LIB_PIPELINES_STAGES_H
#define MOE_LIB_PIPELINES_STAGES_H

namespace mlir {
class OpPassManager;
namespace moe::detail {

/// The entry signature recorded (before lowering erases the tensor types),
/// then every dense onnx op lowered to core dialects (leftovers are errors).
void addImportedGraphToCore(OpPassManager &pm);

/// One-shot bufferization with identity-layout function boundaries, buffer
/// deallocation, and bufferization ops lowered to memref.
void addBufferization(OpPassManager &pm);

} // namespace moe::detail
} // namespace mlir

#endif // MOE_LIB_PIPELINES_STAGES_H
