//===- Stages.h - pass sequences shared by the named pipelines --*- C++ -*-===//

#ifndef MOE_LIB_PIPELINES_STAGES_H
#define MOE_LIB_PIPELINES_STAGES_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace mlir {
class OpPassManager;
namespace moe {
struct MoESchedule;
namespace detail {

/// The import pipeline (raising; a no-op on raised IR), the entry
/// signature recorded (before lowering erases the tensor types), then every
/// dense onnx op lowered to core dialects (leftovers are errors); for the
/// `cpu`, MatMuls by constant weights as register-tiled loops.
void addImportedGraphToCore(OpPassManager &pm, bool cpu);

/// The MoE schedule (moe/Passes/MoE.h), then a sharded model's exchanges
/// lowered to runtime calls.
void addMoEGraph(OpPassManager &pm, const MoESchedule &schedule);

/// The lowering steps after the target's own MoE kernels that both targets
/// share: the reference lowering of
/// what is left of the moe ops, aggregates decomposed, named linalg ops
/// generalized, C interface wrappers requested. `cpu` adds the CPU's
/// lowering options (vectorized combine, per-token score rows) and
/// reassociable reductions; `int8Activations` is the lowering's option of
/// that name.
void addMoEToLinalg(OpPassManager &pm, bool cpu,
                    StringRef int8Activations = "");

/// One-shot bufferization with identity-layout function boundaries, buffer
/// deallocation, and bufferization ops lowered to memref.
void addBufferization(OpPassManager &pm);

/// The host side of a target to the LLVM dialect, the tail both pipelines
/// end with. Host code calls libmoe_runtime for run-time errors. On the CPU
/// (`cuda` false) parallel loops are OpenMP and vector math is approximated
/// by polynomials; on CUDA allocations are the runtime's (unified memory),
/// kernel launches become runtime calls and constants are copied to the
/// device once. Weights of `weightsThreshold` bytes or more move to a
/// weights file (moe-externalize-weights; negative: never).
void addHostToLLVM(OpPassManager &pm, bool cuda, int64_t weightsThreshold);

} // namespace detail
} // namespace moe
} // namespace mlir

#endif // MOE_LIB_PIPELINES_STAGES_H
