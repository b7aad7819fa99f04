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
/// (x of index type); `biasAt` is called only when `hasBias`. With
/// `scoreAt`, expert x's score is read from it (as emitScoreRow wrote it)
/// rather than computed from the logits wherever it is needed: top-k reads
/// each score k times.
TokenRoute emitTokenRoute(Emitter &e, RoutingAttr routing, int64_t experts,
                          function_ref<Value(Value)> logit,
                          function_ref<Value(Value)> biasAt, bool hasBias,
                          function_ref<Value(Value)> scoreAt = nullptr);

/// Writes one token's scores into `row` (a tensor<1 x experts x f32>), each
/// computed once and bit-identical to emitTokenRoute's own: softmax (the
/// max-subtracted exps, summed in expert order, each divided by the sum) or
/// sigmoid. Returns the written row.
Value emitScoreRow(Emitter &e, RoutingAttr routing, int64_t experts,
                   function_ref<Value(Value)> logit, Value row);

/// Rows of a routing plan for `tokens` tokens (index): the `tokens * k`
/// copies plus the padding of every expert's group to `block`, rounded down
/// to a multiple of `block` (DispatchOp::getRowCount at run time).
Value emitPlanRowCount(Emitter &e, Value tokens, int64_t k, int64_t experts,
                       int64_t block);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_ROUTING_H
