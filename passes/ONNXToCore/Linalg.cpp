//===- Linalg.cpp - onnx contractions, softmax, reductions, norms ---------===//
//
// Contractions accumulate in f32 (also for f16/bf16 operands) and round once,
// as the moe dialect does; normalizations compute their statistics in f32.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
RankedTensorType rankedFloat(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && isa<FloatType>(t.getElementType()) ? t : RankedTensorType();
}

/// A zero-filled f32 accumulator of `shape`, dynamic sizes from `sizes`.
Value zeroAcc(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes) {
  Type f32 = b.getF32Type();
  Value empty = tensor::EmptyOp::create(b, loc, sizes, f32);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

OpFoldResult sizeOf(OpBuilder &b, Location loc, Value v, int64_t dim) {
  auto t = cast<RankedTensorType>(v.getType());
  if (!t.isDynamicDim(dim))
    return b.getIndexAttr(t.getDimSize(dim));
  return tensor::DimOp::create(b, loc, v, dim).getResult();
}

/// Elementwise f32 -> `elt` rounding of a whole tensor.
Value roundTo(OpBuilder &b, Location loc, Value acc, Type elt) {
  auto type = cast<RankedTensorType>(acc.getType());
  if (type.getElementType() == elt)
    return acc;
  auto result =
      buildElementwise(b, loc, type.clone(elt), acc,
                       [&](OpBuilder &nb, Location nloc, ValueRange a) {
                         return fromF32(nb, nloc, a[0], elt);
                       });
  return *result; // Sizes come from `acc` itself; cannot fail.
}

/// `lhs * rhs` for [M, K] x [K, N] (optionally transposed operands).
Value matmul2D(OpBuilder &b, Location loc, Value lhs, Value rhs, bool transA,
               bool transB) {
  MLIRContext *ctx = b.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  auto map = [&](AffineExpr a, AffineExpr c) {
    return AffineMap::get(3, 0, {a, c}, ctx);
  };
  SmallVector<OpFoldResult> sizes = {sizeOf(b, loc, lhs, transA ? 1 : 0),
                                     sizeOf(b, loc, rhs, transB ? 0 : 1)};
  Value acc = zeroAcc(b, loc, sizes);
  auto maps =
      b.getAffineMapArrayAttr({transA ? map(k, m) : map(m, k),
                               transB ? map(n, k) : map(k, n), map(m, n)});
  return linalg::MatmulOp::create(b, loc, TypeRange{acc.getType()},
                                  ValueRange{lhs, rhs}, ValueRange{acc},
                                  {b.getNamedAttr("indexing_maps", maps)})
      .getResult(0);
}

struct MatMulPattern : OpRewritePattern<onnx::MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::MatMulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value a = op.getA(), b = op.getB();
    auto at = rankedFloat(a), bt = rankedFloat(b);
    auto type = rankedFloat(op.getY());
    if (!at || !bt || !type)
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    Type elt = type.getElementType();
    if (at.getRank() == 2 && bt.getRank() == 2) {
      rewriter.replaceOp(
          op, roundTo(rewriter, loc,
                      matmul2D(rewriter, loc, a, b, false, false), elt));
      return success();
    }
    if (at.getRank() > 2 && bt.getRank() == 2) {
      // [..., M, K] x [K, N]: fold the batch into the rows.
      SmallVector<ReassociationIndices> assoc(1);
      for (int64_t i = 0; i < at.getRank() - 1; ++i)
        assoc[0].push_back(i);
      assoc.push_back({at.getRank() - 1});
      Value flat = tensor::CollapseShapeOp::create(rewriter, loc, a, assoc);
      Value product = roundTo(
          rewriter, loc, matmul2D(rewriter, loc, flat, b, false, false), elt);
      SmallVector<OpFoldResult> sizes;
      for (int64_t i = 0; i < at.getRank() - 1; ++i)
        sizes.push_back(sizeOf(rewriter, loc, a, i));
      sizes.push_back(sizeOf(rewriter, loc, b, 1));
      int64_t dynamicBatch =
          llvm::count_if(at.getShape().drop_back(), ShapedType::isDynamic);
      if (dynamicBatch <= 1) {
        rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(op, type, product,
                                                           assoc, sizes);
        return success();
      }
      // Several dynamic sizes in one group: tensor.reshape, because LLVM 22's
      // expand-strided-metadata crashes on such a bufferized expand_shape.
      SmallVector<Value> shape;
      for (OpFoldResult s : sizes)
        shape.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, s));
      Value shapeTensor = tensor::FromElementsOp::create(rewriter, loc, shape);
      rewriter.replaceOpWithNewOp<tensor::ReshapeOp>(op, type, product,
                                                     shapeTensor);
      return success();
    }
    if (at.getRank() == 3 && bt.getRank() == 3 &&
        at.getDimSize(0) == bt.getDimSize(0) && !at.isDynamicDim(0)) {
      SmallVector<OpFoldResult> sizes = {sizeOf(rewriter, loc, a, 0),
                                         sizeOf(rewriter, loc, a, 1),
                                         sizeOf(rewriter, loc, b, 2)};
      Value acc = zeroAcc(rewriter, loc, sizes);
      Value product =
          linalg::BatchMatmulOp::create(rewriter, loc, TypeRange{acc.getType()},
                                        ValueRange{a, b}, ValueRange{acc})
              .getResult(0);
      rewriter.replaceOp(op, roundTo(rewriter, loc, product, elt));
      return success();
    }
    FailureOr<Value> product = batchedMatMul(rewriter, loc, a, b, type);
    if (failed(product))
      return rewriter.notifyMatchFailure(op, "cannot size the result");
    rewriter.replaceOp(op, roundTo(rewriter, loc, *product, elt));
    return success();
  }

  /// numpy matmul in general: 1-D operands promoted (and the added
  /// dimension dropped), batch dimensions broadcast, one f32 generic over
  /// (batch..., [m], [n], k). Batch sizes that must agree at run time are
  /// checked.
  static FailureOr<Value> batchedMatMul(PatternRewriter &rewriter, Location loc,
                                        Value a, Value b,
                                        RankedTensorType type) {
    MLIRContext *ctx = rewriter.getContext();
    auto at = cast<RankedTensorType>(a.getType());
    auto bt = cast<RankedTensorType>(b.getType());
    bool vecA = at.getRank() == 1, vecB = bt.getRank() == 1;
    int64_t batchRank = type.getRank() - (vecA ? 0 : 1) - (vecB ? 0 : 1);
    int64_t loops = type.getRank() + 1; // + k
    AffineExpr k = getAffineDimExpr(loops - 1, ctx);
    AffineExpr m = getAffineDimExpr(batchRank, ctx);
    AffineExpr n = getAffineDimExpr(batchRank + (vecA ? 0 : 1), ctx);
    // An operand's batch dimensions, right-aligned with the result's; a
    // static 1 against a larger result size broadcasts.
    auto batchExprs = [&](RankedTensorType t, int64_t own) {
      SmallVector<AffineExpr> exprs;
      int64_t offset = batchRank - own;
      for (int64_t i = 0; i < own; ++i) {
        int64_t r = offset + i;
        bool bcast = t.getDimSize(i) == 1 && type.getDimSize(r) != 1;
        exprs.push_back(bcast ? getAffineConstantExpr(0, ctx)
                              : getAffineDimExpr(r, ctx));
      }
      return exprs;
    };
    SmallVector<AffineExpr> aExprs =
        vecA ? SmallVector<AffineExpr>{} : batchExprs(at, at.getRank() - 2);
    if (!vecA)
      aExprs.push_back(m);
    aExprs.push_back(k);
    SmallVector<AffineExpr> bExprs =
        vecB ? SmallVector<AffineExpr>{} : batchExprs(bt, bt.getRank() - 2);
    bExprs.push_back(k);
    if (!vecB)
      bExprs.push_back(n);
    SmallVector<AffineExpr> outExprs;
    for (int64_t i = 0; i < type.getRank(); ++i)
      outExprs.push_back(getAffineDimExpr(i, ctx));

    // Result sizes: batch sizes from whichever operand has them unbroadcast.
    SmallVector<OpFoldResult> sizes;
    for (int64_t r = 0; r < batchRank; ++r) {
      OpFoldResult size = rewriter.getIndexAttr(type.getDimSize(r));
      if (type.isDynamicDim(r)) {
        Value from;
        int64_t dim = -1;
        for (auto [v, t, own] :
             {std::tuple(a, at, vecA ? 0 : at.getRank() - 2),
              std::tuple(b, bt, vecB ? 0 : bt.getRank() - 2)}) {
          int64_t i = r - (batchRank - own);
          if (i >= 0 && t.getDimSize(i) != 1 && !from) {
            from = v;
            dim = i;
          }
        }
        if (!from)
          return failure();
        size = tensor::DimOp::create(rewriter, loc, from, dim).getResult();
      }
      sizes.push_back(size);
    }
    // Both operands' dynamic batch sizes must equal the result's.
    SmallVector<Value> batchOperands;
    for (auto [v, t, own] : {std::tuple(a, at, vecA ? 0 : at.getRank() - 2),
                             std::tuple(b, bt, vecB ? 0 : bt.getRank() - 2)})
      for (int64_t i = 0; i < own; ++i) {
        if (!t.isDynamicDim(i))
          continue;
        Value got = tensor::DimOp::create(rewriter, loc, v, i);
        Value want = getValueOrCreateConstantIndexOp(
            rewriter, loc, sizes[i + batchRank - own]);
        // A dynamic size is taken as it is: one that is 1 at run time
        // against a larger result size is reported, not broadcast.
        Value ok = arith::CmpIOp::create(rewriter, loc,
                                         arith::CmpIPredicate::eq, got, want);
        cf::AssertOp::create(rewriter, loc, ok,
                             "MatMul: batch dimensions differ");
      }
    if (!vecA)
      sizes.push_back(sizeOf(rewriter, loc, a, at.getRank() - 2));
    if (!vecB)
      sizes.push_back(sizeOf(rewriter, loc, b, bt.getRank() - 1));
    Value acc = zeroAcc(rewriter, loc, sizes);
    SmallVector<utils::IteratorType> iterators(loops - 1,
                                               utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{acc.getType()}, ValueRange{a, b},
        ValueRange{acc},
        ArrayRef<AffineMap>{AffineMap::get(loops, 0, aExprs, ctx),
                            AffineMap::get(loops, 0, bExprs, ctx),
                            AffineMap::get(loops, 0, outExprs, ctx)},
        iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
          Value p = arith::MulFOp::create(nb, l, toF32(nb, l, args[0]),
                                          toF32(nb, l, args[1]));
          Value sum = arith::AddFOp::create(nb, l, args[2], p);
          linalg::YieldOp::create(nb, l, sum);
        });
    return generic.getResult(0);
  }
};

struct GemmPattern : OpRewritePattern<onnx::GemmOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::GemmOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = rankedFloat(op.getY());
    if (!type || !rankedFloat(op.getA()) || !rankedFloat(op.getB()))
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    Value acc = matmul2D(rewriter, loc, op.getA(), op.getB(),
                         op.getTransA() != 0, op.getTransB() != 0);
    float alpha = op.getAlpha().convertToFloat();
    float beta = op.getBeta().convertToFloat();
    SmallVector<Value> inputs = {acc};
    bool hasC = !isa<NoneType>(op.getC().getType()) && beta != 0.0f;
    if (hasC) {
      if (!rankedFloat(op.getC()))
        return rewriter.notifyMatchFailure(op, "needs a ranked C");
      inputs.push_back(op.getC());
    }
    Type elt = type.getElementType();
    auto result = buildElementwise(
        rewriter, loc, type, inputs,
        [&](OpBuilder &b, Location l, ValueRange v) -> Value {
          Type f32 = b.getF32Type();
          Value y = v[0];
          if (alpha != 1.0f)
            y = arith::MulFOp::create(
                b, l, y,
                arith::ConstantOp::create(b, l, b.getFloatAttr(f32, alpha)));
          if (hasC) {
            Value c = toF32(b, l, v[1]);
            if (beta != 1.0f)
              c = arith::MulFOp::create(
                  b, l, c,
                  arith::ConstantOp::create(b, l, b.getFloatAttr(f32, beta)));
            y = arith::AddFOp::create(b, l, y, c);
          }
          return fromF32(b, l, y, elt);
        });
    if (failed(result))
      return rewriter.notifyMatchFailure(op, "cannot size the result");
    rewriter.replaceOp(op, *result);
    return success();
  }
};

struct SoftmaxPattern : OpRewritePattern<onnx::SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::SoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    auto type = rankedFloat(op.getOutput());
    if (!type || !rankedFloat(op.getInput()))
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    int64_t rank = type.getRank(), axis = op.getAxis();
    if (axis < -rank || axis >= rank)
      return op.emitError()
             << "softmax axis " << axis << " is out of range for rank " << rank;
    if (axis < 0)
      axis += rank;
    auto init = emptyFor(rewriter, op.getLoc(), type, op.getInput());
    if (failed(init))
      return failure();
    rewriter.replaceOpWithNewOp<linalg::SoftmaxOp>(op, TypeRange{type},
                                                   op.getInput(), *init, axis);
    return success();
  }
};

/// What a reduction accumulates and how it finishes.
enum class ReduceKind {
  Sum,
  Mean,
  Max,
  Min,
  Prod,
  L1,
  L2,
  SumSquare,
  LogSum,
  LogSumExp
};

/// Reductions over constant axes. Float sums and products accumulate in f32
/// (max and min in the element type); integers in their own type.
template <typename OpT, ReduceKind K>
struct ReducePattern : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;

  static constexpr bool isExtremum =
      K == ReduceKind::Max || K == ReduceKind::Min;

  /// The value an element contributes (float: in f32).
  static Value contribution(OpBuilder &b, Location l, Value x, bool isFloat) {
    if (isFloat && !isExtremum)
      x = toF32(b, l, x);
    switch (K) {
    case ReduceKind::L1:
      return isFloat ? Value(math::AbsFOp::create(b, l, x))
                     : Value(math::AbsIOp::create(b, l, x));
    case ReduceKind::L2:
    case ReduceKind::SumSquare:
      return isFloat ? Value(arith::MulFOp::create(b, l, x, x))
                     : Value(arith::MulIOp::create(b, l, x, x));
    case ReduceKind::LogSumExp:
      return math::ExpOp::create(b, l, x);
    default:
      return x;
    }
  }

  static Value combine(OpBuilder &b, Location l, Value x, Value acc,
                       bool isFloat) {
    switch (K) {
    case ReduceKind::Max:
      return isFloat ? Value(arith::MaximumFOp::create(b, l, x, acc))
                     : Value(arith::MaxSIOp::create(b, l, x, acc));
    case ReduceKind::Min:
      return isFloat ? Value(arith::MinimumFOp::create(b, l, x, acc))
                     : Value(arith::MinSIOp::create(b, l, x, acc));
    case ReduceKind::Prod:
      return isFloat ? Value(arith::MulFOp::create(b, l, x, acc))
                     : Value(arith::MulIOp::create(b, l, x, acc));
    default:
      return isFloat ? Value(arith::AddFOp::create(b, l, x, acc))
                     : Value(arith::AddIOp::create(b, l, x, acc));
    }
  }

  static TypedAttr initValue(OpBuilder &b, Type accType) {
    if (auto ft = dyn_cast<FloatType>(accType)) {
      double inf = std::numeric_limits<double>::infinity();
      double v = K == ReduceKind::Max    ? -inf
                 : K == ReduceKind::Min  ? inf
                 : K == ReduceKind::Prod ? 1.0
                                         : 0.0;
      return b.getFloatAttr(ft, v);
    }
    unsigned w = accType.getIntOrFloatBitWidth();
    APInt v = K == ReduceKind::Max    ? APInt::getSignedMinValue(w)
              : K == ReduceKind::Min  ? APInt::getSignedMaxValue(w)
              : K == ReduceKind::Prod ? APInt(w, 1)
                                      : APInt(w, 0);
    return b.getIntegerAttr(accType, v);
  }

  /// The accumulated value's last step (element-wise on the result);
  /// `count` is the number of reduced elements in the accumulator's type.
  static Value finish(OpBuilder &b, Location l, Value v, Value count,
                      bool isFloat) {
    switch (K) {
    case ReduceKind::Mean:
      return isFloat ? Value(arith::DivFOp::create(b, l, v, count))
                     : Value(arith::DivSIOp::create(b, l, v, count));
    case ReduceKind::L2:
      return math::SqrtOp::create(b, l, v);
    case ReduceKind::LogSum:
    case ReduceKind::LogSumExp:
      return math::LogOp::create(b, l, v);
    default:
      return v;
    }
  }

  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value data = op.getData();
    auto inType = dyn_cast<RankedTensorType>(data.getType());
    auto outType = dyn_cast<RankedTensorType>(op.getReduced().getType());
    if (!inType || !outType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    Type elt = inType.getElementType();
    bool isFloat = isa<FloatType>(elt);
    bool floatOnly = K == ReduceKind::L2 || K == ReduceKind::LogSum ||
                     K == ReduceKind::LogSumExp;
    if (!isFloat && (!elt.isSignlessInteger() || elt.isInteger(1) || floatOnly))
      return op.emitError()
             << op->getName() << " of " << elt << " elements is not supported";
    int64_t rank = inType.getRank();
    SmallVector<int64_t> axes;
    if (!isa<NoneType>(op.getAxes().getType())) {
      auto constAxes = constantInts(op.getAxes());
      if (!constAxes)
        return op.emitError() << "reduction axes known only at run time are "
                                 "not supported";
      axes = *constAxes;
    }
    if (axes.empty()) {
      if (op.getNoopWithEmptyAxes()) {
        rewriter.replaceOp(op, data);
        return success();
      }
      for (int64_t i = 0; i < rank; ++i)
        axes.push_back(i);
    }
    for (int64_t &a : axes) {
      if (a < -rank || a >= rank)
        return op.emitError() << "reduction axis " << a
                              << " is out of range for rank " << rank;
      if (a < 0)
        a += rank;
    }
    llvm::sort(axes);
    axes.erase(std::unique(axes.begin(), axes.end()), axes.end());

    Type accType = (isExtremum || !isFloat) ? elt : rewriter.getF32Type();
    SmallVector<OpFoldResult> keptSizes;
    for (int64_t i = 0; i < rank; ++i)
      if (!llvm::is_contained(axes, i))
        keptSizes.push_back(sizeOf(rewriter, loc, data, i));
    Value empty = tensor::EmptyOp::create(rewriter, loc, keptSizes, accType);
    Value initScalar =
        arith::ConstantOp::create(rewriter, loc, initValue(rewriter, accType));
    Value init =
        linalg::FillOp::create(rewriter, loc, initScalar, empty).getResult(0);
    Value reduced =
        linalg::ReduceOp::create(
            rewriter, loc, ValueRange{data}, ValueRange{init}, axes,
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value x = contribution(b, l, args[0], isFloat);
              linalg::YieldOp::create(b, l, combine(b, l, x, args[1], isFloat));
            })
            .getResult(0);
    auto reducedType = cast<RankedTensorType>(reduced.getType());
    if (K == ReduceKind::Mean || K == ReduceKind::L2 ||
        K == ReduceKind::LogSum || K == ReduceKind::LogSumExp) {
      // The number of reduced elements (read at run time when dynamic).
      Value count = arith::ConstantIndexOp::create(rewriter, loc, 1);
      for (int64_t a : axes)
        count = arith::MulIOp::create(
            rewriter, loc, count,
            getValueOrCreateConstantIndexOp(rewriter, loc,
                                            sizeOf(rewriter, loc, data, a)));
      Value countAcc =
          isFloat ? Value(arith::UIToFPOp::create(
                        rewriter, loc, rewriter.getF32Type(),
                        arith::IndexCastUIOp::create(
                            rewriter, loc, rewriter.getI64Type(), count)))
                  : Value(arith::IndexCastOp::create(rewriter, loc, accType,
                                                     count));
      reduced = *buildElementwise(
          rewriter, loc, reducedType, reduced,
          [&](OpBuilder &b, Location l, ValueRange v) -> Value {
            return finish(b, l, v[0], countAcc, isFloat);
          });
    }
    reduced = roundTo(rewriter, loc, reduced, elt);
    if (op.getKeepdims()) {
      // Re-insert the reduced axes as size-1 dimensions: each group of the
      // expansion holds one kept dimension and the reduced ones around it
      // (no groups at all when everything was reduced to a scalar).
      SmallVector<ReassociationIndices> assoc;
      if (!keptSizes.empty()) {
        bool groupHasKept = false;
        for (int64_t i = 0; i < rank; ++i) {
          bool kept = !llvm::is_contained(axes, i);
          if (assoc.empty() || (kept && groupHasKept)) {
            assoc.emplace_back();
            groupHasKept = false;
          }
          assoc.back().push_back(i);
          groupHasKept |= kept;
        }
      }
      SmallVector<OpFoldResult> outSizes;
      for (int64_t i = 0; i < rank; ++i)
        outSizes.push_back(llvm::is_contained(axes, i)
                               ? OpFoldResult(rewriter.getIndexAttr(1))
                               : sizeOf(rewriter, loc, data, i));
      reduced = tensor::ExpandShapeOp::create(rewriter, loc, outType, reduced,
                                              assoc, outSizes);
    }
    rewriter.replaceOp(op, reduced);
    return success();
  }
};

/// RMS normalization (`rms`) or layer normalization of `x` over the
/// trailing axes from `axis` (already in [0, rank)), statistics in f32:
/// y = (x - mean) * rsqrt(var + eps) * scale (+ bias), no mean for RMS.
FailureOr<Value> buildNormalization(PatternRewriter &rewriter, Location loc,
                                    Value x, Value scale, Value bias,
                                    int64_t axis, double eps, bool kRms,
                                    RankedTensorType outType) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = rewriter.getContext();

  // Statistics tensor over the leading dims [0, axis).
  SmallVector<OpFoldResult> leadSizes;
  SmallVector<AffineExpr> leadExprs;
  for (int64_t i = 0; i < axis; ++i) {
    leadSizes.push_back(sizeOf(rewriter, loc, x, i));
    leadExprs.push_back(getAffineDimExpr(i, ctx));
  }
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap lead = AffineMap::get(rank, 0, leadExprs, ctx);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  for (int64_t i = axis; i < rank; ++i)
    iters[i] = utils::IteratorType::reduction;
  Value count = arith::ConstantIndexOp::create(rewriter, loc, 1);
  for (int64_t i = axis; i < rank; ++i)
    count =
        arith::MulIOp::create(rewriter, loc, count,
                              getValueOrCreateConstantIndexOp(
                                  rewriter, loc, sizeOf(rewriter, loc, x, i)));
  Value countF =
      arith::UIToFPOp::create(rewriter, loc, rewriter.getF32Type(),
                              arith::IndexCastUIOp::create(
                                  rewriter, loc, rewriter.getI64Type(), count));

  auto rowSum = [&](Value mean) {
    Value acc = zeroAcc(rewriter, loc, leadSizes);
    SmallVector<Value> ins = {x};
    SmallVector<AffineMap> maps = {id};
    if (mean) {
      ins.push_back(mean);
      maps.push_back(lead);
    }
    maps.push_back(lead);
    return linalg::GenericOp::create(
               rewriter, loc, TypeRange{acc.getType()}, ins, ValueRange{acc},
               maps, iters,
               [&](OpBuilder &b, Location l, ValueRange a) {
                 Value v = toF32(b, l, a[0]);
                 if (mean) // centered square for the variance
                   v = arith::SubFOp::create(b, l, v, a[1]);
                 if (mean || kRms)
                   v = arith::MulFOp::create(b, l, v, v);
                 Value sum = arith::AddFOp::create(b, l, v, a.back());
                 linalg::YieldOp::create(b, l, sum);
               })
        .getResult(0);
  };
  Value mean;
  if (!kRms) {
    Value sum = rowSum(Value());
    mean = linalg::GenericOp::create(
               rewriter, loc, TypeRange{sum.getType()}, ValueRange{sum},
               ValueRange{sum},
               SmallVector<AffineMap>(
                   2, AffineMap::getMultiDimIdentityMap(axis, ctx)),
               SmallVector<utils::IteratorType>(axis,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &b, Location l, ValueRange a) {
                 Value m = arith::DivFOp::create(b, l, a[0], countF);
                 linalg::YieldOp::create(b, l, m);
               })
               .getResult(0);
  }
  Value squares = rowSum(mean);

  // y = (x - mean) * rsqrt(squares / n + eps) * scale (+ bias)
  SmallVector<Value> ins = {x, squares, scale};
  SmallVector<AffineMap> maps = {id, lead};
  auto trailing = [&](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<AffineExpr> exprs;
    for (int64_t j = 0; j < t.getRank(); ++j) {
      int64_t i = rank - t.getRank() + j;
      exprs.push_back(t.getDimSize(j) == 1 && outType.getDimSize(i) != 1
                          ? getAffineConstantExpr(0, ctx)
                          : getAffineDimExpr(i, ctx));
    }
    return AffineMap::get(rank, 0, exprs, ctx);
  };
  maps.push_back(trailing(scale));
  if (bias) {
    ins.push_back(bias);
    maps.push_back(trailing(bias));
  }
  if (mean) {
    ins.push_back(mean);
    maps.push_back(lead);
  }
  maps.push_back(id);
  auto init = emptyFor(rewriter, loc, outType, x);
  if (failed(init))
    return failure();
  Type elt = outType.getElementType();
  auto norm = linalg::GenericOp::create(
      rewriter, loc, TypeRange{outType}, ins, ValueRange{*init}, maps,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value v = toF32(b, l, a[0]);
        if (mean)
          v = arith::SubFOp::create(b, l, v, a[bias ? 4 : 3]);
        Value var = arith::DivFOp::create(b, l, a[1], countF);
        Value denom = math::RsqrtOp::create(
            b, l,
            arith::AddFOp::create(
                b, l, var,
                arith::ConstantOp::create(b, l, b.getF32FloatAttr(eps))));
        Value y = arith::MulFOp::create(
            b, l, arith::MulFOp::create(b, l, v, denom), toF32(b, l, a[2]));
        if (bias)
          y = arith::AddFOp::create(b, l, y, toF32(b, l, a[3]));
        linalg::YieldOp::create(b, l, fromF32(b, l, y, elt));
      });
  return norm.getResult(0);
}

/// SimplifiedLayerNormalization (RMS) and LayerNormalization.
template <typename OpT> struct NormPattern : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  static constexpr bool kRms =
      std::is_same_v<OpT, onnx::SimplifiedLayerNormalizationOp>;

  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getX();
    auto type = rankedFloat(x);
    auto outType = rankedFloat(op.getY());
    if (!type || !outType)
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    for (Value extra : op->getResults().drop_front())
      if (!extra.use_empty())
        return rewriter.notifyMatchFailure(op, "statistics outputs are used");
    Value scale = op->getOperands()[1];
    Value bias = kRms ? Value() : op->getOperands()[2];
    if (bias && isa<NoneType>(bias.getType()))
      bias = Value();
    if (!rankedFloat(scale) || (bias && !rankedFloat(bias)))
      return rewriter.notifyMatchFailure(op, "needs ranked scale and bias");
    int64_t rank = type.getRank(), axis = op.getAxis();
    if (axis < -rank || axis >= rank)
      return op.emitError() << "normalization axis " << axis
                            << " is out of range for rank " << rank;
    if (axis < 0)
      axis += rank;
    auto y =
        buildNormalization(rewriter, op.getLoc(), x, scale, bias, axis,
                           op.getEpsilon().convertToDouble(), kRms, outType);
    if (failed(y))
      return failure();
    // The statistics outputs are unused (checked above).
    rewriter.replaceAllUsesWith(op->getResult(0), *y);
    rewriter.eraseOp(op);
    return success();
  }
};

/// SkipSimplifiedLayerNormalization (com.microsoft): s = input + skip
/// (+ bias), output = RMSNorm(s) * gamma over the last axis; the sum is the
/// optional fourth output.
struct SkipNormPattern
    : OpRewritePattern<onnx::SkipSimplifiedLayerNormalizationOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(onnx::SkipSimplifiedLayerNormalizationOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = rankedFloat(op.getInput());
    auto outType = rankedFloat(op.getOutput());
    if (!type || !outType || !rankedFloat(op.getSkip()) ||
        !rankedFloat(op.getGamma()))
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    if (!op.getMean().use_empty() || !op.getInvStdVar().use_empty())
      return rewriter.notifyMatchFailure(op, "statistics outputs are used");
    Value bias = op.getBias();
    if (bias && isa<NoneType>(bias.getType()))
      bias = Value();
    SmallVector<Value> terms = {op.getInput(), op.getSkip()};
    if (bias)
      terms.push_back(bias);
    Type elt = type.getElementType();
    auto sum =
        buildElementwise(rewriter, loc, type, terms,
                         [&](OpBuilder &b, Location l, ValueRange a) {
                           Value s = toF32(b, l, a[0]);
                           for (Value v : a.drop_front())
                             s = arith::AddFOp::create(b, l, s, toF32(b, l, v));
                           return fromF32(b, l, s, elt);
                         });
    if (failed(sum))
      return failure();
    auto y = buildNormalization(rewriter, loc, *sum, op.getGamma(), Value(),
                                type.getRank() - 1,
                                op.getEpsilon().convertToDouble(),
                                /*kRms=*/true, outType);
    if (failed(y))
      return failure();
    rewriter.replaceAllUsesWith(op.getOutput(), *y);
    Value sumResult = op.getInputSkipBiasSum();
    if (!sumResult.use_empty()) {
      Value v = *sum;
      if (v.getType() != sumResult.getType())
        v = tensor::CastOp::create(rewriter, loc, sumResult.getType(), v);
      rewriter.replaceAllUsesWith(sumResult, v);
    }
    rewriter.eraseOp(op);
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<MatMulPattern, GemmPattern, SoftmaxPattern,
               ReducePattern<onnx::ReduceSumOp, ReduceKind::Sum>,
               ReducePattern<onnx::ReduceMeanOp, ReduceKind::Mean>,
               ReducePattern<onnx::ReduceMaxOp, ReduceKind::Max>,
               ReducePattern<onnx::ReduceMinOp, ReduceKind::Min>,
               ReducePattern<onnx::ReduceProdOp, ReduceKind::Prod>,
               ReducePattern<onnx::ReduceL1Op, ReduceKind::L1>,
               ReducePattern<onnx::ReduceL2Op, ReduceKind::L2>,
               ReducePattern<onnx::ReduceSumSquareOp, ReduceKind::SumSquare>,
               ReducePattern<onnx::ReduceLogSumOp, ReduceKind::LogSum>,
               ReducePattern<onnx::ReduceLogSumExpOp, ReduceKind::LogSumExp>,
               NormPattern<onnx::SimplifiedLayerNormalizationOp>,
               NormPattern<onnx::LayerNormalizationOp>, SkipNormPattern>(
      patterns.getContext());
}
