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

/// What a pipeline's expert-parallel options say.
struct Sharding {
  int64_t ranks = 1, rank = 0, chunks = 1;
  std::string placement = "contiguous";
  std::vector<int64_t> map;

  template <typename Options>
  static Sharding from(const Options &o) {
    return {o.ranks, o.rank, o.chunks, o.placement,
            std::vector<int64_t>(o.expertMap.begin(), o.expertMap.end())};
  }
};

/// Decomposed layers sharded over `s.ranks` (this module becoming the
/// program of `s.rank`), chunk-pipelined when `s.chunks > 1`, and the
/// exchanges lowered to runtime calls. Expects moe-decompose to have run.
void addExpertParallel(OpPassManager &pm, const Sharding &s);

} // namespace detail
} // namespace moe
} // namespace mlir

#endif // MOE_LIB_PIPELINES_STAGES_H
