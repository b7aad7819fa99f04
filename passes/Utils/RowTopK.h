//===- RowTopK.h - top-k selection in a row, shared by lowerings -*- C++
//-*-===//
//
// Private to passes/: the selection algorithm of moe.route and onnx.TopK,
// and the per-row result writes of their scf.forall loops.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_ROWTOPK_H
#define MOE_PASSES_UTILS_ROWTOPK_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// One pick: its score and its index (index type).
struct RowPick {
  Value score;
  Value index;
};

/// The k best of `count` elements, best first: k scans, each taking the best
/// element ranked after the previous pick, in order of score (descending
/// when `largest`, else ascending), ties to the lower index. `scoreAt(i)`
/// returns element i's score, of type `scoreType`; an element that must
/// never be picked before others can score -inf (+inf when !largest).
SmallVector<RowPick> emitRowTopK(OpBuilder &b, Location loc, Value count,
                                 int64_t k, bool largest, Type scoreType,
                                 function_ref<Value(Value index)> scoreAt);

/// Inserts one [1, width] row per entry of `rows` into the corresponding
/// shared output of `forall` at row `row` (in its terminator).
void insertForallRows(OpBuilder &b, Location loc, scf::ForallOp forall,
                      Value row, ArrayRef<Value> rows);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_ROWTOPK_H
