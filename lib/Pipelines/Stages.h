//===- Stages.h - pass sequences shared by the named pipelines --*- C++ -*-===//

#ifndef MOE_LIB_PIPELINES_STAGES_H
#define MOE_LIB_PIPELINES_STAGES_H

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class OpPassManager;
namespace moe {
namespace detail {

/// The entry signature recorded (before lowering erases the tensor types),
/// then every dense onnx op lowered to core dialects (leftovers are errors).
void addImportedGraphToCore(OpPassManager &pm);

/// One-shot bufferization with identity-layout function boundaries, buffer
/// deallocation, and bufferization ops lowered to memref.
void addBufferization(OpPassManager &pm);

/// What a pipeline's MoE options say (fusions, expert parallelism).
struct MoESchedule {
  int64_t block = 1; // dispatch padding (GEMM tile rows)
  bool fuseActivation = true, fuseGather = true, fuseRoutingPlan = true;
  int64_t ranks = 1, rank = 0, chunks = 1;
  std::string placement = "contiguous";
  std::vector<int64_t> map;
  // The combine fusion is the CUDA pipeline's (it needs atomics).
  bool fuseCombine = false, deterministic = false;

  template <typename Options>
  static MoESchedule from(const Options &o, int64_t block) {
    return {block,    o.fuseActivation, o.fuseGather, o.fuseRoutingPlan,
            o.ranks,  o.rank,           o.chunks,     o.placement,
            std::vector<int64_t>(o.expertMap.begin(), o.expertMap.end())};
  }
};

/// moe.layer decomposed (rows padded to `s.block`), the activation fusion,
/// the sharding over `s.ranks` (this module becoming the program of
/// `s.rank`, chunk-pipelined when `s.chunks > 1`, exchanges lowered to
/// runtime calls), then the gather fusion (which needs the exchanges'
/// grouped rows gone), routing with its plan, and the combine fusion.
void addMoESchedule(OpPassManager &pm, const MoESchedule &s);

} // namespace detail
} // namespace moe
} // namespace mlir

#endif // MOE_LIB_PIPELINES_STAGES_H
