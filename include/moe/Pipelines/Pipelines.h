//===- Pipelines.h - the named end-to-end pass pipelines --------*- C++ -*-===//

#ifndef MOE_PIPELINES_PIPELINES_H
#define MOE_PIPELINES_PIPELINES_H

namespace mlir {
class OpPassManager;
namespace moe {

/// ONNX-imported or moe-dialect IR -> LLVM dialect for the host CPU: dense
/// onnx ops to core dialects, moe ops to linalg (reference lowering),
/// bufferization, loops, and the LLVM conversions. Every function gets a C
/// interface wrapper (`_mlir_ciface_<name>`) taking memref descriptors.
void buildCPUPipeline(OpPassManager &pm);

/// Registers `--moe-cpu-pipeline` with moe-opt's pass registry.
void registerPipelines();

} // namespace moe
} // namespace mlir

#endif // MOE_PIPELINES_PIPELINES_H
