//===- Stages.cpp - pass sequences shared by the named pipelines ----------===//

#include "Stages.h"

#include "moe/Passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void moe::detail::addImportedGraphToCore(OpPassManager &pm) {
  pm.addPass(createAnnotateABI());
  ConvertONNXToCoreOptions onnxOptions;
  onnxOptions.allowPartial = false;
  pm.addPass(createConvertONNXToCore(onnxOptions));
}

void moe::detail::addMoESchedule(OpPassManager &pm, const MoESchedule &s) {
  MoEDecomposeOptions decompose;
  decompose.dispatchBlock = s.block;
  pm.addPass(createMoEDecompose(decompose));
  if (s.fuseActivation)
    pm.addPass(createFuseExpertActivation());
  // Invalid counts reach the passes, which report them.
  if (s.ranks != 1) {
    ExpertParallelOptions shard;
    shard.ranks = s.ranks;
    shard.rank = s.rank;
    shard.placement = s.placement;
    shard.expertMap.assign(s.map.begin(), s.map.end());
    pm.addPass(createExpertParallel(shard));
    if (s.chunks != 1) {
      OverlapOptions overlap;
      overlap.chunks = s.chunks;
      pm.addPass(createOverlap(overlap));
    }
    pm.addPass(createConvertCollectivesToRuntime());
  }
  if (s.fuseGather)
    pm.addPass(createFuseDispatchGather());
  if (s.fuseRoutingPlan)
    pm.addPass(createFuseRoutingPlan());
  if (s.fuseCombine) {
    FuseCombineOptions combine;
    combine.deterministic = s.deterministic;
    pm.addPass(createFuseCombine(combine));
  }
}

void moe::detail::addBufferization(OpPassManager &pm) {
  // Functions take and return identity-layout memrefs (the C entry points
  // build plain descriptors).
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createCanonicalizerPass());
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  pm.addPass(createConvertBufferizationToMemRefPass());
}
