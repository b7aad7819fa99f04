//===- FuseCombine.cpp - moe.combine into the down GEMM's epilogue --------===//
//
// The combine reads every expert row once, scales it and sums k rows per
// token: done in the GEMM that produces the rows, the tokens x k x hidden
// intermediate disappears and so does a kernel. A following `routed + X`
// (shared experts, residual) becomes the GEMM's initial value.
//
//===----------------------------------------------------------------------===//

#include "Utils/Emitter.h"
#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_FUSECOMBINE
#include "passes/MoE/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Whether `offsets` and `slots` are one routing plan's.
bool samePlan(Value offsets, Value slots) {
  Operation *plan = offsets.getDefiningOp();
  return plan && plan == slots.getDefiningOp() &&
         isa<DispatchOp, RoutePlanOp>(plan);
}

/// An elementwise linalg.generic computing `sum + X` (X free of `sum`),
/// possibly as truncf(extf(sum) + X): the addition to peel off.
struct PeeledAdd {
  linalg::GenericOp generic;
  unsigned input;                // the operand that is `sum`
  SmallVector<Operation *> skip; // body ops that exist only for the addition
  Value other;                   // X, in the body
};

/// Size queries of the combine's result: answered from its operands, so
/// that the result may move.
bool onlySizeQueries(Operation *user) {
  auto dim = dyn_cast<tensor::DimOp>(user);
  std::optional<int64_t> d = dim ? dim.getConstantIndex() : std::nullopt;
  return d &&
         (*d == 0 ||
          !cast<RankedTensorType>(dim.getSource().getType()).isDynamicDim(*d));
}

void replaceSizeQueries(PatternRewriter &rewriter, CombineOp op) {
  for (Operation *user : llvm::make_early_inc_range(op->getUsers())) {
    auto dim = dyn_cast<tensor::DimOp>(user);
    if (!dim)
      continue;
    rewriter.setInsertionPoint(dim);
    int64_t d = *dim.getConstantIndex();
    if (d == 0)
      rewriter.replaceOpWithNewOp<tensor::DimOp>(dim, op.getWeights(), 0);
    else
      rewriter.replaceOpWithNewOp<arith::ConstantIndexOp>(
          dim, op.getType().getDimSize(d));
  }
}

std::optional<PeeledAdd> matchAddition(Value sum) {
  linalg::GenericOp generic;
  for (Operation *user : sum.getUsers()) {
    if (onlySizeQueries(user))
      continue;
    if (generic)
      return std::nullopt;
    generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic)
      return std::nullopt;
  }
  if (!generic || llvm::count(generic->getOperands(), sum) != 1)
    return std::nullopt;
  if (!generic || generic.getNumDpsInits() != 1 ||
      generic.getNumResults() != 1 ||
      generic.getResult(0).getType() != sum.getType() ||
      generic.getNumReductionLoops() != 0 ||
      !generic.getMatchingBlockArgument(generic.getDpsInitOperand(0))
           .use_empty())
    return std::nullopt;
  PeeledAdd p{generic, 0, {}, nullptr};
  OpOperand *use = nullptr;
  for (OpOperand &u : sum.getUses())
    if (u.getOwner() == generic)
      use = &u;
  p.input = use->getOperandNumber();
  if (!generic.getMatchingIndexingMap(use).isIdentity())
    return std::nullopt;
  Value arg = generic.getMatchingBlockArgument(use);
  auto yield = cast<linalg::YieldOp>(generic.getBody()->getTerminator());
  Value y = yield.getOperand(0);
  auto trunc = y.getDefiningOp<arith::TruncFOp>();
  if (trunc) {
    y = trunc.getIn();
    p.skip.push_back(trunc);
  }
  auto add = y.getDefiningOp<arith::AddFOp>();
  if (!add || !add->hasOneUse())
    return std::nullopt;
  p.skip.push_back(add);
  for (unsigned side = 0; side < 2; ++side) {
    Value mine = add->getOperand(side), other = add->getOperand(1 - side);
    if (auto ext = mine.getDefiningOp<arith::ExtFOp>()) {
      if (!trunc || ext.getIn() != arg || !ext->hasOneUse())
        continue;
      p.skip.push_back(ext);
    } else if (trunc || mine != arg) {
      continue;
    }
    if (!arg.hasOneUse())
      return std::nullopt;
    p.other = other;
    return p;
  }
  return std::nullopt;
}

/// The generic without the addition: computes X, the combine's init.
Value buildOther(PatternRewriter &rewriter, const PeeledAdd &p) {
  linalg::GenericOp g = p.generic;
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  SmallVector<BlockArgument> args;
  for (OpOperand *in : g.getDpsInputOperands()) {
    if (in->getOperandNumber() == p.input)
      continue;
    inputs.push_back(in->get());
    maps.push_back(g.getMatchingIndexingMap(in));
    args.push_back(g.getMatchingBlockArgument(in));
  }
  OpOperand *out = g.getDpsInitOperand(0);
  maps.push_back(g.getMatchingIndexingMap(out));
  Type elt = getElementTypeOrSelf(g.getResult(0).getType());
  auto other = linalg::GenericOp::create(
      rewriter, g.getLoc(), g.getResultTypes(), inputs, ValueRange{out->get()},
      maps, g.getIteratorTypesArray(),
      [&](OpBuilder &b, Location loc, ValueRange newArgs) {
        IRMapping map;
        for (auto [old, now] : llvm::zip(args, newArgs))
          map.map(old, now);
        map.map(g.getMatchingBlockArgument(out), newArgs.back());
        for (Operation &op : g.getBody()->without_terminator())
          if (!llvm::is_contained(p.skip, &op))
            b.clone(op, map);
        Value x = map.lookupOrDefault(p.other);
        if (x.getType() != elt)
          x = arith::TruncFOp::create(b, loc, elt, x);
        linalg::YieldOp::create(b, loc, x);
      });
  return other.getResult(0);
}

struct FuseIntoGemm : OpRewritePattern<CombineOp> {
  FuseIntoGemm(MLIRContext *ctx, bool deterministic)
      : OpRewritePattern(ctx), deterministic(deterministic) {}

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    auto gemm = op.getInput().getDefiningOp<ExpertMatmulOp>();
    if (!gemm || gemm.isCombined() || !gemm->hasOneUse() ||
        !samePlan(gemm.getOffsets(), op.getSlots()))
      return rewriter.notifyMatchFailure(
          op, "not the only reader of a GEMM grouped by its plan");
    auto type = cast<RankedTensorType>(op.getType());
    int64_t k = cast<RankedTensorType>(op.getWeights().getType()).getDimSize(1);
    if (ShapedType::isDynamic(k))
      return rewriter.notifyMatchFailure(op, "k must be static");
    // Only 0 + a + b is the same sum in every order.
    if (deterministic && k > 2)
      return rewriter.notifyMatchFailure(op, "order-dependent sum");
    std::optional<PeeledAdd> add;
    if (!deterministic)
      add = matchAddition(op.getResult());
    Operation *replaced = op;
    Value init;
    if (add) {
      replaceSizeQueries(rewriter, op);
      rewriter.setInsertionPoint(add->generic);
      init = buildOther(rewriter, *add);
      replaced = add->generic;
    } else {
      Location loc = op.getLoc();
      init = Emitter{rewriter, loc}.filled(
          {tensor::getMixedSize(rewriter, loc, op.getWeights(), 0),
           tensor::getMixedSize(rewriter, loc, op.getInput(), 1)},
          cast<TypedAttr>(rewriter.getZeroAttr(type.getElementType())));
    }
    ExpertMatmulParts parts = ExpertMatmulParts::of(gemm);
    parts.combineSlots = op.getSlots();
    parts.combineWeights = op.getWeights();
    parts.combineInit = init;
    auto fused = parts.create(rewriter, gemm.getLoc(), type);
    rewriter.replaceOp(replaced, fused.getResult());
    if (replaced != op)
      rewriter.eraseOp(op);
    rewriter.eraseOp(gemm);
    return success();
  }

  bool deterministic;
};

struct FuseCombinePass : moe::impl::FuseCombineBase<FuseCombinePass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseIntoGemm>(&getContext(), deterministic);
    // Greedy, not a walk: a fusion erases the addition after the combine.
    // Nothing else changes (no folding, no region simplification).
    GreedyRewriteConfig config;
    config.enableFolding(false);
    config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    (void)applyPatternsGreedily(getOperation(), std::move(patterns), config);
  }
};
} // namespace
