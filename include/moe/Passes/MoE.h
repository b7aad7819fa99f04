//===- MoE.h - moe graph transforms and the MoE schedule --------*- C++ -*-===//
//
// Declarations and registration of the MoE stage's passes (passes/MoE/):
// decomposition, fusions, expert parallelism, overlap, cost report; and the
// schedule of those passes that both pipelines and the cost report run.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_MOE_H
#define MOE_PASSES_MOE_H

#include "mlir/Pass/Pass.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class OpPassManager;
class RewritePatternSet;
namespace moe {

#define GEN_PASS_DECL
#include "passes/MoE/Passes.h.inc"

/// Patterns rewriting moe.layer into its step ops (used by moe-decompose and
/// by lowerings that decompose what is left of a layer).
void populateDecomposeLayerPatterns(RewritePatternSet &patterns,
                                    int64_t dispatchBlock = 1);

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
    return {block,
            o.fuseActivation,
            o.fuseGather,
            o.fuseRoutingPlan,
            o.ranks,
            o.rank,
            o.chunks,
            o.placement,
            std::vector<int64_t>(o.expertMap.begin(), o.expertMap.end())};
  }
};

/// The MoE schedule, in order: moe.layer decomposed (rows padded to
/// `s.block`), the activation fusion, the sharding over `s.ranks` (the
/// module becoming the program of `s.rank`, chunk-pipelined when
/// `s.chunks > 1`), the gather fusion, routing with its plan, and the
/// combine fusion. With `ranks == 1` every pass runs on any op (the cost
/// report schedules it on one function); sharding needs a module.
void addMoESchedule(OpPassManager &pm, const MoESchedule &s);

#define GEN_PASS_REGISTRATION
#include "passes/MoE/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOE_PASSES_MOE_H
