//===- Schedule.cpp - the MoE passes in the pipelines' order --------------===//
//
// The one statement of which MoE transforms run and in which order: both
// pipelines build it, and moe-cost-report runs it on a copy of each
// function to cost what the pipelines would produce.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"

#include "mlir/Pass/PassManager.h"

using namespace mlir;

void moe::addMoESchedule(OpPassManager &pm, const MoESchedule &s) {
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
  }
  // The exchanges keep the grouped rows they send, so the gather and
  // routing-plan fusions leave sharded layers' dispatches alone.
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
