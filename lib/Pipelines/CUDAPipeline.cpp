//===- CUDAPipeline.cpp - --moe-cuda-pipeline -----------------------------===//
//
// The CUDA target: the same graph-level lowering as the CPU, then kernels.
// Expert GEMMs become one grouped-GEMM launch (moe-gpu-expert-matmul, on
// plans padded to its row tile), routing with its plan one more
// (moe-gpu-route-plan); every other parallel loop becomes a
// flat launch (moe-gpu-map-parallel-loops); sequential plan-building loops
// stay on the host. All buffers are unified memory (the generic allocation
// functions are the runtime's), so host and device code share them.
// Kernels go through NVVM to PTX and ptxas to cubin, embedded together.
//
//===----------------------------------------------------------------------===//

#include "moe/Pipelines/Pipelines.h"

#include "Stages.h"

#include "moe/Passes/GPU.h"
#include "moe/Passes/MoE.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::moe::buildCUDAPipeline(OpPassManager &pm,
                                  const CUDAPipelineOptions &options) {
  // Graph level: everything becomes linalg / tensor / scf.
  detail::addImportedGraphToCore(pm, /*cpu=*/false);
  // Row groups padded to 16 rows, where every grouped-GEMM row tile (16 or
  // 64 rows) may start. Under expert parallelism the exchanges are host
  // calls between kernels (buffers are unified memory, each launch
  // completes in order).
  MoESchedule schedule = MoESchedule::from(options, 16);
  schedule.fuseCombine = options.fuseCombine;
  schedule.deterministic = options.deterministic;
  detail::addMoEGraph(pm, schedule);
  GPUExpertMatmulOptions gemm;
  gemm.allowTF32 = options.allowTF32;
  gemm.asyncCopies = options.asyncCopies;
  gemm.chip = "sm_" + options.sm;
  pm.addPass(createGPUExpertMatmul(gemm));
  GPURoutePlanOptions plan;
  plan.routerGemvFrom = options.routerGemvFrom;
  plan.routerGemmFrom = options.routerGemmFrom;
  plan.chip = "sm_" + options.sm;
  pm.addPass(createGPURoutePlan(plan));
  detail::addMoEToLinalg(pm, /*cpu=*/false);

  detail::addBufferization(pm);

  // Kernels; whole-buffer fills and copies go to the copy engine.
  pm.addPass(createGPUCopyEngine());
  pm.addPass(createForallToParallelLoopPass());
  pm.addPass(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createCanonicalizerPass());
  // Adjacent loops over the same elements, the second reading only what
  // the first wrote there (a MatMul and the rounding of its result), become
  // one kernel.
  pm.addNestedPass<func::FuncOp>(createGPUFuseParallelLoops());
  // A norm's row sums: one block per row, with the normalization after.
  pm.addNestedPass<func::FuncOp>(createGPURowReductions());
  pm.addPass(createGPUMapParallelLoops());
  pm.addPass(createGPUPromoteAccumulators());
  pm.addPass(createGPUDeviceChecks());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createGPUMergeModules());
  // One stream per call: launches, fills, copies and buffers in order on
  // it, the host waiting only where it touches memory: once, at the end,
  // where it also reads the kernels' check flags.
  pm.addPass(createGPUDeferHostChecks());
  pm.addNestedPass<func::FuncOp>(createGPUStreamAllocations());
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  pm.addNestedPass<func::FuncOp>(createGPUHostSharedAllocs());
  pm.addNestedPass<func::FuncOp>(createGPUMergeWaits());
  // F__async: the caller's device buffers and stream, no wait at the end.
  if (options.asyncEntry)
    pm.addPass(createGPUAsyncEntry());
  GpuNVVMAttachTargetOptions target;
  target.chip = "sm_" + options.sm;
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  device.addPass(memref::createExpandStridedMetadataPass());
  device.addPass(createLowerAffinePass());
  device.addPass(createSCFToControlFlowPass());
  // nvgpu (cp.async, ldmatrix) to NVVM before the memrefs are lowered.
  device.addPass(createConvertNVGPUToNVVMPass());
  device.addPass(createConvertGpuOpsToNVVMOps());
  // NVVM ops without an LLVM intrinsic (wgmma.mma_async) as inline PTX.
  device.addPass(createConvertNVVMToLLVMPass());
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  device.addPass(createReconcileUnrealizedCastsPass());
  GPUSerializeOptions serialize;
  serialize.toolkit = options.toolkit;
  serialize.failOnSpills = options.failOnSpills;
  serialize.emulator = options.emulator;
  pm.addPass(createGPUSerialize(serialize));

  detail::addHostToLLVM(pm, /*cuda=*/true,
                        options.weightsThresholdBytes());
}
