//===- DenseRouters.cpp - MoE forms that stay dense, and why --------------===//
//
// Two exported routers have no moe.layer form: Llama4 scatters its top-k
// sigmoid scores into a dense [T, E] matrix that scales every expert's
// input (every expert then runs on every token), and Switch Transformers
// drop the tokens past an expert's capacity. Their blocks compile as dense
// ops and match PyTorch; a remark at the router says why they stay so.
//
//===----------------------------------------------------------------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

namespace {
/// The top-k scores scattered into a dense matrix along the experts.
bool scattersScoresDensely(onnx::TopKOp topk) {
  for (Operation *user : topk.getIndices().getUsers()) {
    auto sc = dyn_cast<onnx::ScatterElementsOp>(user);
    if (sc && sc.getIndices() == topk.getIndices() &&
        sc.getUpdates() == topk.getValues() &&
        (sc.getAxis() == 1 || sc.getAxis() == -1))
      return true;
  }
  return false;
}

/// A running count of the tokens routed to each expert (CumSum over the
/// tokens of a one-hot of the router's choice) compared with a capacity.
bool countsAgainstCapacity(onnx::CumSumOp cumsum) {
  auto oneHot = stripNoopCasts(cumsum.getX()).getDefiningOp<onnx::OneHotOp>();
  if (!oneHot || !isa_and_nonnull<onnx::ArgMaxOp, onnx::TopKOp>(
                     stripNoopCasts(oneHot.getIndices()).getDefiningOp()))
    return false;
  return llvm::any_of(cumsum.getY().getUsers(), [](Operation *user) {
    return isa<onnx::LessOrEqualOp, onnx::LessOp>(user);
  });
}
} // namespace

void mlir::moe::remarkDenseRouters(Operation *root) {
  root->walk([](Operation *op) {
    if (auto topk = dyn_cast<onnx::TopKOp>(op); topk &&
                                                scattersScoresDensely(topk))
      emitRemark(op->getLoc(),
                 "MoE block left as dense ops: its router scatters the top-k "
                 "scores into a dense [tokens, experts] matrix that scales "
                 "every expert's input (Llama4); moe.layer weights the "
                 "experts' outputs, so every expert runs on every token");
    if (auto cumsum = dyn_cast<onnx::CumSumOp>(op);
        cumsum && countsAgainstCapacity(cumsum))
      emitRemark(op->getLoc(),
                 "MoE block left as dense ops: it drops the tokens past an "
                 "expert's capacity (Switch Transformers' expert_capacity), "
                 "which moe.layer does not express");
  });
}
