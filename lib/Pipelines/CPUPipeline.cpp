//===- CPUPipeline.cpp - --moe-cpu-pipeline -------------------------------===//

#include "moe/Pipelines/Pipelines.h"

#include "Stages.h"

#include "moe/Passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::moe::buildCPUPipeline(OpPassManager &pm,
                                 const CPUPipelineOptions &options) {
  // Graph level: everything becomes linalg / tensor / scf.
  detail::addImportedGraphToCore(pm);
  detail::MoESchedule schedule = detail::MoESchedule::from(options, 1);
  schedule.fuseCombine = options.fuseCombine;
  detail::addMoESchedule(pm, schedule);
  ConvertMoEToLinalgOptions lowering;
  lowering.vectorCombine = true;
  lowering.scoreRows = true;
  pm.addPass(createConvertMoEToLinalg(lowering));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Reductions may be reordered (vectorized, fused multiply-add).
  pm.addPass(createDecomposeLinalgAggregates());
  pm.addPass(createLinalgGeneralizeNamedOpsPass());
  pm.addPass(createReassociateReductions());
  pm.addNestedPass<func::FuncOp>(LLVM::createLLVMRequestCWrappersPass());

  detail::addBufferization(pm);
  pm.addPass(moe::createCPUPrefetchWeights());

  // Loops; the parallel ones run on libmoe_runtime's thread pool through
  // the OpenMP dialect (the runtime implements the libomp entry points the
  // OpenMP translation calls).
  pm.addPass(createForallToParallelLoopPass());
  pm.addPass(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(moe::createCPULoopSchedule());
  pm.addPass(moe::createCPUParallelThreshold());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // The GEMM epilogues' activations stay vectors (not a libm call per lane).
  pm.addPass(moe::createCPUApproximateVectorMath());
  // The expert GEMM tiles' explicit vectors (1-D transfers become loads).
  pm.addPass(createConvertVectorToLLVMPass());
  // MemRef before SCF: the OpenMP conversion wraps loop bodies in
  // memref.alloca_scope, whose lowering needs them still single-block.
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createAssertsToRuntime());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::moe::registerPipelines() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "moe-cpu-pipeline",
      "Lower an imported model (onnx and moe ops) to the LLVM dialect for "
      "the host CPU",
      [](OpPassManager &pm, const CPUPipelineOptions &options) {
        buildCPUPipeline(pm, options);
      });
  PassPipelineRegistration<CUDAPipelineOptions>(
      "moe-cuda-pipeline",
      "Lower an imported model (onnx and moe ops) to host code in the LLVM "
      "dialect with embedded CUDA kernels (cubin + PTX)",
      [](OpPassManager &pm, const CUDAPipelineOptions &options) {
        buildCUDAPipeline(pm, options);
      });
}
