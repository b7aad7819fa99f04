//===- FusedForms.cpp - fused moe ops as their unfused composition --------===//

#include "MoEToLinalg/Patterns.h"
#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// moe.route_plan is moe.route then moe.dispatch's plan: the reference
/// lowering builds the plan in slot order (a valid order of the fused op).
/// The dispatch's grouped rows are unused, so any [T, X] input will do.
struct ExpandRoutePlan : OpRewritePattern<RoutePlanOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RoutePlanOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto wType = cast<RankedTensorType>(op.getWeights().getType());
    auto idType =
        RankedTensorType::get(wType.getShape(), rewriter.getI32Type());
    auto route =
        RouteOp::create(rewriter, loc, TypeRange{wType, idType}, op.getInput(),
                        op.getGateWeight(), op.getBias(), op.getRouting());
    auto inType = cast<RankedTensorType>(op.getInput().getType());
    auto slotsType = cast<RankedTensorType>(op.getSlots().getType());
    auto groupedType =
        RankedTensorType::get({slotsType.getDimSize(0), inType.getDimSize(1)},
                              inType.getElementType());
    auto dispatch = DispatchOp::create(
        rewriter, loc,
        TypeRange{groupedType, op.getOffsets().getType(), slotsType},
        op.getInput(), route.getIds(), op.getNumExperts(), op.getBlock());
    rewriter.replaceOp(
        op, {route.getWeights(), dispatch.getOffsets(), dispatch.getSlots()});
    return success();
  }
};

/// A combined moe.expert_matmul is the GEMM's rows, moe.combine, and the
/// addition of `init` (the CPU keeps these steps apart: threads over
/// experts would contend for token rows).
struct ExpandCombinedMatmul : OpRewritePattern<ExpertMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.isCombined())
      return failure();
    Location loc = op.getLoc();
    auto resType = cast<RankedTensorType>(op.getType());
    auto rowsType = RankedTensorType::get(
        {cast<RankedTensorType>(op.getCombineSlots().getType()).getDimSize(0),
         resType.getDimSize(1)},
        resType.getElementType());
    ExpertMatmulParts parts = ExpertMatmulParts::of(op);
    parts.combineSlots = parts.combineWeights = parts.combineInit = nullptr;
    auto rows = parts.create(rewriter, loc, rowsType);
    Value sum = CombineOp::create(rewriter, loc, resType, rows.getResult(),
                                  op.getCombineSlots(), op.getCombineWeights());
    Value init = op.getCombineInit();
    auto zero = init.getDefiningOp<linalg::FillOp>();
    if (zero && matchPattern(zero.value(), m_AnyZeroFloat())) {
      rewriter.replaceOp(op, sum);
      return success();
    }
    // Into a fresh tensor: `init` may be a function argument (a residual),
    // which must not be written in place.
    Value out = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, init),
        resType.getElementType());
    Value result = linalg::AddOp::create(rewriter, loc, TypeRange{resType},
                                         ValueRange{sum, init}, ValueRange{out})
                       .getResult(0);
    rewriter.replaceOp(op, result);
    return success();
  }
};
} // namespace

void mlir::moe::populateFusedFormExpansionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ExpandRoutePlan, ExpandCombinedMatmul>(patterns.getContext());
}
