//===- CPUPipeline.cpp - --moe-cpu-pipeline -------------------------------===//

#include "moe/Pipelines/Pipelines.h"

#include "Stages.h"

#include "moe/Passes/CPU.h"
#include "moe/Passes/MoE.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::moe::buildCPUPipeline(OpPassManager &pm,
                                 const CPUPipelineOptions &options) {
  // Graph level: everything becomes linalg / tensor / scf.
  detail::addImportedGraphToCore(pm, /*cpu=*/true);
  MoESchedule schedule = MoESchedule::from(options, 1);
  schedule.fuseCombine = options.fuseCombine;
  detail::addMoEGraph(pm, schedule);
  detail::addMoEToLinalg(pm, /*cpu=*/true, options.int8Activations);

  detail::addBufferization(pm);
  pm.addPass(createCPUDefineDotIntrinsics());
  pm.addPass(createCPUFreeBuffersEarly());
  pm.addPass(createCPUPrefetchWeights());

  // Loops; the parallel ones run on libmoe_runtime's thread pool through
  // the OpenMP dialect (the runtime implements the libomp entry points the
  // OpenMP translation calls).
  pm.addPass(createForallToParallelLoopPass());
  pm.addPass(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createCPUSerialInnerLoop());
  pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(createCPULoopSchedule());
  pm.addPass(createCPUParallelThreshold());
  pm.addPass(createCPUOutlineLoopNests());
  detail::addHostToLLVM(pm, /*cuda=*/false,
                        options.weightsThresholdBytes());
}

void mlir::moe::registerPipelines() {
  PassPipelineRegistration<>(
      "moe-import-pipeline",
      "Raise the MoE blocks of an imported ONNX model to moe.layer "
      "(com.microsoft.MoE/QMoE, then exported subgraphs)",
      [](OpPassManager &pm) { buildImportPipeline(pm); });
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
