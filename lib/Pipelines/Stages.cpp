//===- Stages.cpp - pass sequences shared by the named pipelines ----------===//

#include "Stages.h"

#include "moe/Passes/Passes.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void moe::detail::addImportedGraphToCore(OpPassManager &pm, bool cpu) {
  buildImportPipeline(pm);
  AnnotateABIOptions abi;
  abi.require = true;
  pm.addPass(createAnnotateABI(abi));
  ConvertONNXToCoreOptions onnxOptions;
  onnxOptions.allowPartial = false;
  onnxOptions.tileMatmuls = cpu;
  onnxOptions.checksInLoops = !cpu;
  pm.addPass(createConvertONNXToCore(onnxOptions));
}

void moe::detail::addMoEGraph(OpPassManager &pm, const MoESchedule &s) {
  addMoESchedule(pm, s);
  if (s.ranks != 1)
    pm.addPass(createConvertCollectivesToRuntime());
}

void moe::detail::addMoEToLinalg(OpPassManager &pm, bool cpu,
                                 StringRef int8Activations) {
  ConvertMoEToLinalgOptions lowering;
  lowering.int8Activations = int8Activations.str();
  lowering.vectorCombine = cpu;
  lowering.scoreRows = cpu;
  pm.addPass(createConvertMoEToLinalg(lowering));
  // No CSE here: it compares region ops with equal operands pairwise (the
  // remainder branches of every tiled MatMul test the same row count),
  // quadratic in the size of the graph; the CSE after bufferization and
  // LLVM's GVN do that cleanup.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createDecomposeLinalgAggregates());
  pm.addPass(createLinalgGeneralizeNamedOpsPass());
  pm.addPass(createFuseElementwise());
  // Reductions may be reordered (vectorized, fused multiply-add).
  if (cpu)
    pm.addPass(createReassociateReductions());
  pm.addNestedPass<func::FuncOp>(LLVM::createLLVMRequestCWrappersPass());
}

void moe::detail::addBufferization(OpPassManager &pm) {
  // Functions take and return identity-layout memrefs (the C entry points
  // build plain descriptors).
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  // CSE shares one empty destination among all same-shaped ops, which makes
  // the bufferization analysis quadratic in the graph size.
  pm.addPass(createSplitEmptyTensors());
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createCanonicalizerPass());
  // Upstream's deallocation pipeline, with each buffer that nothing else
  // can alias given its own dealloc before the simplification (whose
  // pairwise alias queries on a model function's one combined dealloc are
  // quadratic in the graph size).
  pm.addPass(memref::createExpandReallocPass(
      memref::ExpandReallocPassOptions{/*emitDeallocs=*/false}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createSplitDeallocations());
  pm.addPass(bufferization::createBufferDeallocationSimplificationPass());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createConvertBufferizationToMemRefPass());
}

void moe::detail::addHostToLLVM(OpPassManager &pm, bool cuda,
                                int64_t weightsThreshold) {
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  if (!cuda) {
    // The GEMM epilogues' activations stay vectors (not a libm call per
    // lane); the expert GEMM tiles' 1-D transfers become loads.
    pm.addPass(createCPUApproximateVectorMath());
    pm.addPass(createConvertVectorToLLVMPass());
  }
  // MemRef before SCF: the OpenMP conversion wraps loop bodies in
  // memref.alloca_scope, whose lowering needs them still single-block.
  // CUDA buffers are unified memory: the runtime's generic allocation
  // functions.
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = cuda;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  // Integer powers become small functions; the rest LLVM intrinsics or libm.
  pm.addPass(createConvertMathToFuncs());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertAssertsToRuntime());
  pm.addPass(createConvertControlFlowToLLVMPass());
  if (cuda)
    pm.addPass(createGpuToLLVMConversionPass());
  else
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  if (cuda)
    pm.addPass(createGPUDeviceConstants());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createStoreResultsThroughPointer());
  // Last: the device copies above read the mapped weights.
  if (weightsThreshold >= 0) {
    ExternalizeWeightsOptions weights;
    weights.thresholdBytes = weightsThreshold;
    pm.addPass(createExternalizeWeights(weights));
  }
}
