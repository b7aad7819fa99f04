//===- Routing.h - one token's routing as scalar code -----------*- C++ -*-===//
//
// Private to passes/: moe.route's semantics for one token (scores, bias,
// group limits, top-k, renormalization, scale), shared by the reference
// lowering and the GPU routing kernel, which differ only in where the
// logits come from.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_ROUTING_H
#define MOE_PASSES_UTILS_ROUTING_H

#include "Emitter.h"
#include "moe/Dialect/MoE.h"

namespace mlir::moe {

/// A token's k picks, best first: final weights (f32) and expert ids (index).
struct TokenRoute {
  SmallVector<Value> weights;
  SmallVector<Value> ids;
};

/// Emits the routing of one token at `e`'s insertion point. `logit(x)` and
/// `biasAt(x)` return expert x's router logit and selection bias as f32
/// (x of index type); `biasAt` is called only when `hasBias`.
TokenRoute emitTokenRoute(Emitter &e, RoutingAttr routing, int64_t experts,
                          function_ref<Value(Value)> logit,
                          function_ref<Value(Value)> biasAt, bool hasBias);

/// Rows of a routing plan for `tokens` tokens (index): the `tokens * k`
/// copies plus the padding of every expert's group to `block`, rounded down
/// to a multiple of `block` (DispatchOp::getRowCount at run time).
Value emitPlanRowCount(Emitter &e, Value tokens, int64_t k, int64_t experts,
                       int64_t block);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_ROUTING_H
