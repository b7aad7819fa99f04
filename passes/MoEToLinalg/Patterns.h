//===- Patterns.h - moe-convert-moe-to-linalg's patterns --------*- C++ -*-===//
//
// Private to the MoEToLinalg stage: the lowering of each moe step op, one
// file each, collected by the pass.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_MOETOLINALG_PATTERNS_H
#define MOE_PASSES_MOETOLINALG_PATTERNS_H

#include "Utils/TiledContraction.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {

/// moe.route as per-token scalar code in an scf.forall; with `scoreRows`
/// every token's scores are first written once (top-k then reads them).
void populateRouteLoweringPatterns(RewritePatternSet &patterns, bool scoreRows);
/// moe.dispatch as a counting sort plus a gather of the token rows.
void populateDispatchLoweringPatterns(RewritePatternSet &patterns);
/// moe.expert_matmul as register-tiled grouped GEMMs over active experts.
/// `int8`: quantized GEMMs of few rows with int8 activations (see
/// emitInt8Contraction); none: f32 products.
void populateExpertMatmulLoweringPatterns(RewritePatternSet &patterns,
                                          std::optional<Int8Dot> int8);
/// moe.activation as one elementwise linalg.generic.
void populateActivationLoweringPatterns(RewritePatternSet &patterns);
/// moe.combine as a weighted un-permute-and-sum; with `vectorRows` one
/// parallel iteration per token, its row summed 16 lanes at a time.
void populateCombineLoweringPatterns(RewritePatternSet &patterns,
                                     bool vectorRows);
/// moe.route_plan and a combined moe.expert_matmul as their unfused steps.
void populateFusedFormExpansionPatterns(RewritePatternSet &patterns);

/// `v` as `type`, through a tensor.cast when only the static sizes differ.
Value castIfNeeded(OpBuilder &b, Location loc, Value v, Type type);

} // namespace mlir::moe

#endif // MOE_PASSES_MOETOLINALG_PATTERNS_H
