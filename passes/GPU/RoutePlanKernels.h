//===- RoutePlanKernels.h - bodies of the routing kernels -------*- C++ -*-===//
//
// Private to passes/GPU: the kernels moe-gpu-route-plan launches for a
// moe.route_plan (RoutePlan.cpp builds the host side): the routing kernel
// (a warp per token, the last block's plan) and its dot-product variant for
// large routers (blocks per token and pair of experts, the token's last
// block routing it, the last token's making the plan).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_ROUTEPLANKERNELS_H
#define MOE_PASSES_GPU_ROUTEPLANKERNELS_H

#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace mlir::moe::route_plan {

constexpr int64_t kWarps = 8;
constexpr int64_t kBlockThreads = kWarps * 32;
/// Workgroup memory holds kWarps rows of logits: beyond this many experts
/// the unfused route and plan are used.
constexpr int64_t kMaxExperts = 1024;
/// Experts whose dot products one block of the dot-product kernel computes
/// (4 warps each).
constexpr int64_t kDotExperts = kWarps / 4;

/// The kernel's arguments, in order.
struct PlanArgs {
  Value input, gate, bias; // logits [T, E] or hidden [T, H]; [E, H]; [E]
  Value weights, offsets;  // [T, k] out; [E + 1] i32 out
  Value slots;             // [R] i32 out, -1 on entry
  Value counts;            // [E + 2] i32, zero on entry; [E]: the ticket,
                           // [E + 1]: set when a pick is no expert; with
                           // the dot-product kernel, [E + 2 + T]: its
                           // tickets per token
  Value ids, pos;          // [T * k] i32 scratch
  /// With a router GEMM: its f32 logits [T, E], and whether it ran (index
  /// 0 or 1); otherwise the kernel computes the logits from `gate`.
  Value logits, precomputed;

  /// The fields in kernel-argument order (null ones are not arguments).
  SmallVector<Value *> fields() {
    return {&input,  &gate, &bias, &weights, &offsets,    &slots,
            &counts, &ids,  &pos,  &logits,  &precomputed};
  }
};

/// Builds the routing kernel's body into `fn` (arguments as in PlanArgs,
/// nulls skipped): a warp per token, then the last block's plan.
void buildKernel(gpu::GPUFuncOp fn, const PlanArgs &a, RoutingAttr routing,
                 int64_t experts, int64_t block);

/// Routing with the router's dot products spread over the device, in one
/// launch, on a grid of T x ceil(E / kDotExperts) blocks of kBlockThreads:
/// block (t, c) computes token t's logits of experts [c * 2, c * 2 + 2), 4
/// warps per dot product striding the hidden dimension, into the f32
/// logits; the last of token t's blocks to finish (a ticket per token after
/// the counts, at E + 2 + t) routes it from them and claims its positions;
/// the last token routed (a ticket in the counts) makes the plan. Decode
/// with a large router: the gate matrix is read once, by many blocks, and
/// no second kernel waits for the logits.
void buildDotsKernel(gpu::GPUFuncOp fn, const PlanArgs &a, RoutingAttr routing,
                     int64_t experts, int64_t block);

} // namespace mlir::moe::route_plan

#endif // MOE_PASSES_GPU_ROUTEPLANKERNELS_H
