//===- Decompose.cpp - moe.layer -> route/dispatch/experts/combine --------===//
//
// The decomposition is the definition of moe.layer written as IR: every later
// pass (fusion, expert parallelism, lowering) works on the step ops.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEDECOMPOSE
#include "passes/MoE/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
constexpr int64_t kDynamic = ShapedType::kDynamic;

int64_t dimOf(Value v, unsigned d) {
  return cast<RankedTensorType>(v.getType()).getDimSize(d);
}

/// An uninitialized `[rows, cols]` tensor; `rows` follows `like`'s dim 0.
Value emptyRows(OpBuilder &b, Location loc, Value like, int64_t cols,
                Type elt) {
  SmallVector<OpFoldResult> sizes;
  int64_t rows = dimOf(like, 0);
  sizes.push_back(
      rows == kDynamic
          ? OpFoldResult(tensor::DimOp::create(b, loc, like, 0).getResult())
          : OpFoldResult(b.getIndexAttr(rows)));
  sizes.push_back(b.getIndexAttr(cols));
  return tensor::EmptyOp::create(b, loc, sizes, elt);
}

/// A `[rows, cols]` zero-filled accumulator.
Value zeroInit(OpBuilder &b, Location loc, Value like, int64_t cols, Type elt) {
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(elt));
  return linalg::FillOp::create(b, loc, zero,
                                emptyRows(b, loc, like, cols, elt))
      .getResult(0);
}

/// Converts a `[rows, cols]` float tensor elementwise to `elt` (identity
/// when equal), as a loop nest: arith casts on tensors do not bufferize.
Value castTensor(OpBuilder &b, Location loc, Value v, Type elt) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getElementType() == elt)
    return v;
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  bool narrow = elt.getIntOrFloatBitWidth() < type.getElementTypeBitWidth();
  return linalg::GenericOp::create(
             b, loc, TypeRange{type.clone(elt)}, ValueRange{v},
             ValueRange{emptyRows(b, loc, v, type.getDimSize(1), elt)},
             ArrayRef<AffineMap>{id, id},
             SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value c =
                   narrow
                       ? Value(arith::TruncFOp::create(nb, nloc, elt, args[0]))
                       : Value(arith::ExtFOp::create(nb, nloc, elt, args[0]));
               linalg::YieldOp::create(nb, nloc, c);
             })
      .getResult(0);
}

/// `x * w^T` for `x: [T, K]`, `w: [N, K]`, accumulated in f32 (the dialect's
/// precision rule) and returned in `x`'s element type.
Value matmulTransposedB(OpBuilder &b, Location loc, Value x, Value w) {
  MLIRContext *ctx = b.getContext();
  Type elt = cast<RankedTensorType>(x.getType()).getElementType();
  Type acc = b.getF32Type();
  Value init = zeroInit(b, loc, x, dimOf(w, 0), acc);
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  auto maps = b.getAffineMapArrayAttr({AffineMap::get(3, 0, {m, k}, ctx),
                                       AffineMap::get(3, 0, {n, k}, ctx),
                                       AffineMap::get(3, 0, {m, n}, ctx)});
  auto mm = linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                     ValueRange{x, w}, ValueRange{init},
                                     {b.getNamedAttr("indexing_maps", maps)});
  return castTensor(b, loc, mm.getResult(0), elt);
}

/// `routed + g * shared`, `g = sigmoid(gateLogit)` per token (or 1), as one
/// elementwise loop nest so no intermediate is materialized.
Value addShared(OpBuilder &b, Location loc, Value routed, Value shared,
                Value gateLogit) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(routed.getType());
  Type elt = type.getElementType();
  Value init = emptyRows(b, loc, routed, type.getDimSize(1), elt);
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  SmallVector<Value> inputs = {routed, shared};
  SmallVector<AffineMap> maps = {id, id};
  if (gateLogit) {
    inputs.push_back(gateLogit);
    maps.push_back(AffineMap::get(
        2, 0, {getAffineDimExpr(0, ctx), getAffineConstantExpr(0, ctx)}, ctx));
  }
  maps.push_back(id);
  SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, inputs, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Type f32 = nb.getF32Type();
        auto toF32 = [&](Value v) -> Value {
          return v.getType() == f32 ? v
                                    : arith::ExtFOp::create(nb, nloc, f32, v);
        };
        Value term = toF32(args[1]);
        if (gateLogit) {
          Value g = toF32(args[2]);
          Value one =
              arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1));
          Value e =
              math::ExpOp::create(nb, nloc, arith::NegFOp::create(nb, nloc, g));
          Value sig = arith::DivFOp::create(
              nb, nloc, one, arith::AddFOp::create(nb, nloc, one, e));
          term = arith::MulFOp::create(nb, nloc, term, sig);
        }
        Value sum = arith::AddFOp::create(nb, nloc, toF32(args[0]), term);
        if (elt != f32)
          sum = arith::TruncFOp::create(nb, nloc, elt, sum);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return generic.getResult(0);
}

/// `w: [N, K]` as the one expert of a grouped matmul, `[1, N, K]`: a
/// constant is re-typed in place (so that later passes still see a
/// constant), anything else reshaped.
Value asOneExpert(OpBuilder &b, Location loc, Value w) {
  auto type = cast<RankedTensorType>(w.getType());
  auto expertType = RankedTensorType::get(
      {1, type.getDimSize(0), type.getDimSize(1)}, type.getElementType());
  if (auto cst = w.getDefiningOp<arith::ConstantOp>()) {
    if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue()))
      return arith::ConstantOp::create(b, loc, dense.reshape(expertType));
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue()))
      return arith::ConstantOp::create(
          b, loc,
          DenseResourceElementsAttr::get(expertType, res.getRawHandle()));
  }
  return tensor::ExpandShapeOp::create(
      b, loc, expertType, w, SmallVector<ReassociationIndices>{{0, 1}, {2}});
}

/// `x * w^T` for `x: [T, K]`, `w: [N, K]` as a grouped matmul of one expert
/// over all tokens (`offsets = [0, T]`): the dense shared-expert FFN runs on
/// the expert GEMM kernels (tiled, threaded; tensor cores on GPUs) and takes
/// the activation fusion. Accumulates in f32, rounds once to `x`'s type.
Value denseExpertMatmul(OpBuilder &b, Location loc, Value x, Value w,
                        Value offsets) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto type = RankedTensorType::get({xType.getDimSize(0), dimOf(w, 0)},
                                    xType.getElementType());
  ExpertMatmulParts parts;
  parts.input = x;
  parts.weight = asOneExpert(b, loc, w);
  parts.offsets = offsets;
  return parts.create(b, loc, type);
}

/// `[0, T]`: every token is a row of the one expert.
Value allTokens(OpBuilder &b, Location loc, Value x) {
  Type i32 = b.getI32Type();
  Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  Value rows = arith::IndexCastOp::create(b, loc, i32,
                                          tensor::DimOp::create(b, loc, x, 0));
  return tensor::FromElementsOp::create(b, loc, RankedTensorType::get({2}, i32),
                                        ValueRange{zero, rows});
}

struct DecomposeLayer : OpRewritePattern<LayerOp> {
  DecomposeLayer(MLIRContext *ctx, int64_t block)
      : OpRewritePattern(ctx), block(block) {}

  LogicalResult matchAndRewrite(LayerOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value hidden = op.getHidden();
    auto hiddenType = cast<RankedTensorType>(hidden.getType());
    Type elt = hiddenType.getElementType();
    Type i32 = rewriter.getI32Type();
    int64_t tokens = hiddenType.getDimSize(0);
    int64_t hiddenSize = hiddenType.getDimSize(1);
    int64_t experts = op.getNumExperts();
    int64_t k = op.getRouting().getK();
    ActivationAttr act = op.getActivation();
    bool separate = act.getGating() == Gating::separate;

    // The routing plan indexes the hidden rows by the logits' rows: token
    // counts the verifier cannot compare (one is dynamic) are compared at
    // run time, or a short hidden tensor would be read past its end.
    if (Value logits = op.getRouterLogits()) {
      auto logitsType = cast<RankedTensorType>(logits.getType());
      if (hiddenType.isDynamicDim(0) || logitsType.isDynamicDim(0)) {
        Value a = tensor::DimOp::create(rewriter, loc, hidden, 0);
        Value b = tensor::DimOp::create(rewriter, loc, logits, 0);
        cf::AssertOp::create(
            rewriter, loc,
            arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq, a,
                                  b),
            "moe.layer: the router logits and the hidden states have "
            "different token counts");
      }
    }

    // Routing: the router matmul stays fused when the layer holds the weight.
    Value routeInput = op.getRouterLogits() ? op.getRouterLogits() : hidden;
    auto route = RouteOp::create(
        rewriter, loc, RankedTensorType::get({tokens, k}, elt),
        RankedTensorType::get({tokens, k}, i32), routeInput,
        op.getRouterWeight(), op.getRouterBias(), op.getRouting());

    int64_t rows = DispatchOp::getRowCount(tokens, k, experts, block);
    auto dispatch = DispatchOp::create(
        rewriter, loc, RankedTensorType::get({rows, hiddenSize}, elt),
        RankedTensorType::get({experts + 1}, i32),
        RankedTensorType::get({rows}, i32), hidden, route.getIds(),
        rewriter.getI64IntegerAttr(experts), rewriter.getI64IntegerAttr(block));
    Value grouped = dispatch.getGrouped(), offsets = dispatch.getOffsets();

    // Quantized weights stay quantized: the grouped GEMM reads the bytes.
    int64_t bits = op.getWeightBits(), qblock = op.getQuantBlock();
    auto expertMatmul = [&](Value input, Value weight, Value bias,
                            Value scales, Value zeroPoints) -> Value {
      auto type = RankedTensorType::get({rows, dimOf(weight, 1)}, elt);
      ExpertMatmulParts parts;
      parts.input = input;
      parts.weight = weight;
      parts.offsets = offsets;
      parts.bias = bias;
      parts.scales = scales;
      parts.zeroPoints = zeroPoints;
      parts.weightBits = bits;
      parts.quantBlock = qblock;
      return parts.create(rewriter, loc, type);
    };
    int64_t inter = dimOf(op.getFc2(), 2);
    if (bits && inter != ShapedType::kDynamic)
      inter = inter * 8 / bits;
    Value gate =
        expertMatmul(grouped, op.getFc1(), op.getFc1Bias(), op.getFc1Scales(),
                     op.getFc1ZeroPoints());
    Value up = separate ? expertMatmul(grouped, op.getFc3(), op.getFc3Bias(),
                                       op.getFc3Scales(), op.getFc3ZeroPoints())
                        : Value();
    Value activated = ActivationOp::create(
        rewriter, loc, RankedTensorType::get({rows, inter}, elt), gate, up,
        act);
    Value down = expertMatmul(activated, op.getFc2(), op.getFc2Bias(),
                              op.getFc2Scales(), op.getFc2ZeroPoints());
    Value result = CombineOp::create(rewriter, loc, op.getType(), down,
                                     dispatch.getSlots(), route.getWeights());

    if (op.hasSharedExperts()) {
      int64_t sharedInter = dimOf(op.getSharedFc2(), 1);
      Value all = allTokens(rewriter, loc, hidden);
      Value sGate =
          denseExpertMatmul(rewriter, loc, hidden, op.getSharedFc1(), all);
      Value sUp = separate ? denseExpertMatmul(rewriter, loc, hidden,
                                               op.getSharedFc3(), all)
                           : Value();
      Value sAct = ActivationOp::create(
          rewriter, loc, RankedTensorType::get({tokens, sharedInter}, elt),
          sGate, sUp, act);
      Value shared =
          denseExpertMatmul(rewriter, loc, sAct, op.getSharedFc2(), all);
      Value gateLogit =
          op.getSharedGate()
              ? matmulTransposedB(rewriter, loc, hidden, op.getSharedGate())
              : Value();
      result = addShared(rewriter, loc, result, shared, gateLogit);
    }
    rewriter.replaceOp(op, result);
    return success();
  }

  int64_t block;
};

struct MoEDecomposePass : moe::impl::MoEDecomposeBase<MoEDecomposePass> {
  using Base::Base;

  void runOnOperation() override {
    if (dispatchBlock < 1) {
      getOperation()->emitError()
          << "moe-decompose: block must be at least 1, got "
          << static_cast<int64_t>(dispatchBlock);
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    populateDecomposeLayerPatterns(patterns, dispatchBlock);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace

void mlir::moe::populateDecomposeLayerPatterns(RewritePatternSet &patterns,
                                               int64_t dispatchBlock) {
  patterns.add<DecomposeLayer>(patterns.getContext(), dispatchBlock);
}
