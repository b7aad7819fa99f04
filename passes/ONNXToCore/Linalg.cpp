//===- Linalg.cpp - onnx contractions and softmax on linalg ---------------===//
//
// Contractions accumulate in f32 (also for f16/bf16 operands) and round once,
// as the moe dialect does.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Utils/ConstantData.h"
#include "Utils/TiledContraction.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
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

/// Checks at run time, when either is dynamic, that the contracted sizes of
/// `a` and `b` (each with its last two dimensions swapped when `transA` /
/// `transB`; a 1-D operand's only one) agree: linalg would read past the
/// shorter operand.
void assertInnerDims(OpBuilder &b, Location loc, Value lhs, Value rhs,
                     bool transA, bool transB, StringRef opName) {
  auto lt = cast<RankedTensorType>(lhs.getType());
  auto rt = cast<RankedTensorType>(rhs.getType());
  int64_t la = lt.getRank() == 1 ? 0 : lt.getRank() - (transA ? 2 : 1);
  int64_t rb = rt.getRank() == 1 ? 0 : rt.getRank() - (transB ? 1 : 2);
  if (!lt.isDynamicDim(la) && !rt.isDynamicDim(rb))
    return;
  Value same = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::eq, tensor::DimOp::create(b, loc, lhs, la),
      tensor::DimOp::create(b, loc, rhs, rb));
  cf::AssertOp::create(b, loc, same,
                       (opName + ": inner dimensions differ").str());
}

/// The [rows, N] f32 `result` of a tiled product of `a` as the op's
/// `type`: rounded to its element type, reshaped to a's leading dimensions.
Value finishTiledMatMul(PatternRewriter &rewriter, Location loc, Value result,
                        Value a, RankedTensorType type) {
  Value product = roundTo(rewriter, loc, result, type.getElementType());
  int64_t rank = cast<RankedTensorType>(a.getType()).getRank();
  if (rank == 2)
    return product;
  SmallVector<Value> shape;
  for (int64_t i = 0; i < rank - 1; ++i)
    shape.push_back(getValueOrCreateConstantIndexOp(
        rewriter, loc, sizeOf(rewriter, loc, a, i)));
  shape.push_back(arith::ConstantIndexOp::create(
      rewriter, loc, cast<RankedTensorType>(result.getType()).getDimSize(1)));
  // tensor.reshape: an expand_shape with several dynamic sizes in one group
  // crashes LLVM 22's expand-strided-metadata once bufferized.
  return tensor::ReshapeOp::create(rewriter, loc, type, product,
                                   vectorOf(rewriter, loc, shape));
}

/// [..., M, K] x a constant [K, N] as register-tiled loops
/// (emitTiledContraction) over chunks of columns in parallel: the weight is
/// stored transposed ([N, K]) so both operands are read along K. Null when
/// `b` is not such a constant.
Value tiledConstantMatMul(PatternRewriter &rewriter, Location loc, Value a,
                          Value b, RankedTensorType type) {
  auto at = cast<RankedTensorType>(a.getType());
  auto bt = cast<RankedTensorType>(b.getType());
  if (at.getRank() < 2 || bt.getRank() != 2 || !bt.hasStaticShape() ||
      at.isDynamicDim(at.getRank() - 1))
    return nullptr;
  int64_t k = bt.getDimSize(0), n = bt.getDimSize(1);
  Value wt = k * n == 0 ? Value()
                        : moe::transposeConstant(rewriter, loc, b,
                                                 "matmul_weight_t",
                                                 /*asONNX=*/false);
  if (!wt)
    return nullptr;

  SmallVector<ReassociationIndices> assoc(1);
  for (int64_t i = 0; i < at.getRank() - 1; ++i)
    assoc[0].push_back(i);
  assoc.push_back({at.getRank() - 1});
  Value x = at.getRank() == 2
                ? a
                : Value(tensor::CollapseShapeOp::create(rewriter, loc, a, assoc));
  Value rows = tensor::DimOp::create(rewriter, loc, x, 0);
  Value out = tensor::EmptyOp::create(
      rewriter, loc, ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(n)},
      rewriter.getF32Type());
  // Column chunks of 64 (whole 4 x 8 tiles), the last one shorter: work
  // for every thread once N reaches a few hundred.
  constexpr int64_t kChunk = 64;
  int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks == 1) {
    // One chunk: the loops write the result directly (a one-iteration
    // forall would fold to a copy of its slice into the result).
    Value tile = moe::emitTiledContraction(rewriter, loc, x, wt, out, rows,
                                           rewriter.getIndexAttr(n),
                                           rewriter.getIndexAttr(k));
    return finishTiledMatMul(rewriter, loc, tile, a, type);
  }
  auto forall = scf::ForallOp::create(
      rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(chunks)},
      ValueRange{out}, std::nullopt);
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(forall.getTerminator());
    auto index = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value n0 = arith::MulIOp::create(rewriter, loc,
                                     forall.getInductionVars()[0],
                                     index(kChunk));
    Value cols = arith::MinUIOp::create(
        rewriter, loc, index(kChunk),
        arith::SubIOp::create(rewriter, loc, index(n), n0));
    OpFoldResult zero = rewriter.getIndexAttr(0),
                 one = rewriter.getIndexAttr(1);
    Value ws = tensor::ExtractSliceOp::create(
        rewriter, loc, wt, ArrayRef<OpFoldResult>{n0, zero},
        ArrayRef<OpFoldResult>{cols, rewriter.getIndexAttr(k)},
        ArrayRef<OpFoldResult>{one, one});
    Value dest = tensor::ExtractSliceOp::create(
        rewriter, loc, forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{zero, n0}, ArrayRef<OpFoldResult>{rows, cols},
        ArrayRef<OpFoldResult>{one, one});
    Value tile = moe::emitTiledContraction(rewriter, loc, x, ws, dest, rows,
                                           cols, rewriter.getIndexAttr(k));
    rewriter.setInsertionPointToEnd(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(
        rewriter, loc, tile, forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{zero, n0}, ArrayRef<OpFoldResult>{rows, cols},
        ArrayRef<OpFoldResult>{one, one});
  }
  return finishTiledMatMul(rewriter, loc, forall.getResult(0), a, type);
}

/// A[..., M, K] x B[..., K, N] with equal static batch dimensions as
/// register-tiled loops, one batch per parallel iteration: B transposed to
/// [..., N, K] first (a copy, small beside the product) so that both
/// operands are read along K. Null when the batches differ or are dynamic.
Value tiledBatchedMatMul(PatternRewriter &rewriter, Location loc, Value a,
                         Value b, RankedTensorType type) {
  auto at = cast<RankedTensorType>(a.getType());
  auto bt = cast<RankedTensorType>(b.getType());
  int64_t rank = at.getRank();
  if (rank < 2 || bt.getRank() != rank ||
      at.getShape().drop_back(2) != bt.getShape().drop_back(2) ||
      llvm::any_of(at.getShape().drop_back(2), ShapedType::isDynamic))
    return nullptr;
  int64_t batch = 1;
  for (int64_t d : at.getShape().drop_back(2))
    batch *= d;
  SmallVector<int64_t> perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  std::swap(perm[rank - 2], perm[rank - 1]);
  SmallVector<OpFoldResult> tSizes;
  for (int64_t p : perm)
    tSizes.push_back(sizeOf(rewriter, loc, b, p));
  Value init =
      tensor::EmptyOp::create(rewriter, loc, tSizes, bt.getElementType());
  Value bT =
      linalg::TransposeOp::create(rewriter, loc, b, init, perm).getResult()[0];
  // [batch, rows, cols]
  auto collapse = [&](Value v) -> Value {
    SmallVector<ReassociationIndices> assoc(1);
    for (int64_t i = 0; i < rank - 2; ++i)
      assoc[0].push_back(i);
    assoc.push_back({rank - 2});
    assoc.push_back({rank - 1});
    if (rank == 2)
      return tensor::ExpandShapeOp::create(
          rewriter, loc,
          RankedTensorType::get(
              {1, cast<RankedTensorType>(v.getType()).getDimSize(0),
               cast<RankedTensorType>(v.getType()).getDimSize(1)},
              cast<RankedTensorType>(v.getType()).getElementType()),
          v, SmallVector<ReassociationIndices>{{0, 1}, {2}},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1),
                                 sizeOf(rewriter, loc, v, 0),
                                 sizeOf(rewriter, loc, v, 1)});
    return tensor::CollapseShapeOp::create(rewriter, loc, v, assoc);
  };
  Value a3 = collapse(a), b3 = collapse(bT);
  OpFoldResult m = sizeOf(rewriter, loc, a3, 1), k = sizeOf(rewriter, loc, a3, 2);
  OpFoldResult n = sizeOf(rewriter, loc, b3, 1);
  Value out = tensor::EmptyOp::create(
      rewriter, loc,
      ArrayRef<OpFoldResult>{rewriter.getIndexAttr(batch), m, n},
      rewriter.getF32Type());
  auto forall = scf::ForallOp::create(
      rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(batch)},
      ValueRange{out}, std::nullopt);
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(forall.getTerminator());
    Value i = forall.getInductionVars()[0];
    OpFoldResult zero = rewriter.getIndexAttr(0),
                 one = rewriter.getIndexAttr(1);
    auto matrix = [&](Value v, OpFoldResult rows, OpFoldResult cols) {
      auto t = cast<RankedTensorType>(v.getType());
      auto type = RankedTensorType::get(
          {getConstantIntValue(rows).value_or(ShapedType::kDynamic),
           getConstantIntValue(cols).value_or(ShapedType::kDynamic)},
          t.getElementType());
      return tensor::ExtractSliceOp::create(
          rewriter, loc, type, v, ArrayRef<OpFoldResult>{i, zero, zero},
          ArrayRef<OpFoldResult>{one, rows, cols},
          ArrayRef<OpFoldResult>{one, one, one});
    };
    Value xs = matrix(a3, m, k), ws = matrix(b3, n, k);
    Value dest = matrix(forall.getRegionIterArgs()[0], m, n);
    Value rows = getValueOrCreateConstantIndexOp(rewriter, loc, m);
    Value tile = moe::emitTiledContraction(rewriter, loc, xs, ws, dest, rows,
                                           n, k);
    rewriter.setInsertionPointToEnd(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(
        rewriter, loc, tile, forall.getRegionIterArgs()[0],
        ArrayRef<OpFoldResult>{i, zero, zero},
        ArrayRef<OpFoldResult>{one, m, n}, ArrayRef<OpFoldResult>{one, one, one});
  }
  Value product =
      roundTo(rewriter, loc, forall.getResult(0), type.getElementType());
  SmallVector<Value> shape;
  for (int64_t d = 0; d < rank - 1; ++d)
    shape.push_back(getValueOrCreateConstantIndexOp(
        rewriter, loc, sizeOf(rewriter, loc, a, d)));
  shape.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, n));
  return tensor::ReshapeOp::create(rewriter, loc, type, product,
                                   vectorOf(rewriter, loc, shape));
}

struct MatMulPattern : OpRewritePattern<onnx::MatMulOp> {
  MatMulPattern(MLIRContext *ctx, bool tiled = false)
      : OpRewritePattern(ctx), tiled(tiled) {}
  bool tiled;

  LogicalResult matchAndRewrite(onnx::MatMulOp op,
                                PatternRewriter &rewriter) const override {
    Value a = op.getA(), b = op.getB();
    auto type = rankedFloat(op.getY());
    if (!rankedFloat(a) || !rankedFloat(b) || !type)
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    assertInnerDims(rewriter, op.getLoc(), a, b, false, false, "MatMul");
    if (tiled)
      for (auto tiledForm : {tiledConstantMatMul, tiledBatchedMatMul})
        if (Value v = tiledForm(rewriter, op.getLoc(), a, b, type)) {
          replaceWithCast(rewriter, op, v, type);
          return success();
        }
    FailureOr<Value> product =
        lower(rewriter, op.getLoc(), a, b, type, /*transA=*/false,
              /*transB=*/false);
    if (failed(product))
      return rewriter.notifyMatchFailure(op, "cannot size the result");
    rewriter.replaceOp(op, *product);
    return success();
  }

  /// The numpy product of `a` and `b` (each with its last two dimensions
  /// swapped when `transA`/`transB`) as `type`.
  static FailureOr<Value> lower(PatternRewriter &rewriter, Location loc,
                                Value a, Value b, RankedTensorType type,
                                bool transA, bool transB) {
    auto at = rankedFloat(a), bt = rankedFloat(b);
    Type elt = type.getElementType();
    if (at.getRank() == 2 && bt.getRank() == 2)
      return roundTo(rewriter, loc,
                     matmul2D(rewriter, loc, a, b, transA, transB), elt);
    a = transposeLast(rewriter, loc, a, transA);
    b = transposeLast(rewriter, loc, b, transB);
    at = rankedFloat(a);
    bt = rankedFloat(b);
    if (at.getRank() > 2 && bt.getRank() == 2) {
      // [..., M, K] x [K, N]: fold the batch into the rows.
      SmallVector<ReassociationIndices> assoc(1);
      for (int64_t i = 0; i < at.getRank() - 1; ++i)
        assoc[0].push_back(i);
      assoc.push_back({at.getRank() - 1});
      Value flat = tensor::CollapseShapeOp::create(rewriter, loc, a, assoc);
      Value product = roundTo(
          rewriter, loc, matmul2D(rewriter, loc, flat, b, false, false), elt);
      auto productType = type.clone(elt);
      SmallVector<OpFoldResult> sizes;
      for (int64_t i = 0; i < at.getRank() - 1; ++i)
        sizes.push_back(sizeOf(rewriter, loc, a, i));
      sizes.push_back(sizeOf(rewriter, loc, b, 1));
      int64_t dynamicBatch =
          llvm::count_if(at.getShape().drop_back(), ShapedType::isDynamic);
      if (dynamicBatch <= 1) {
        return Value(tensor::ExpandShapeOp::create(rewriter, loc, productType,
                                                   product, assoc, sizes));
      }
      // Several dynamic sizes in one group: tensor.reshape, because LLVM 22's
      // expand-strided-metadata crashes on such a bufferized expand_shape.
      SmallVector<Value> shape;
      for (OpFoldResult s : sizes)
        shape.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, s));
      Value shapeTensor = vectorOf(rewriter, loc, shape);
      return Value(tensor::ReshapeOp::create(rewriter, loc, productType,
                                             product, shapeTensor));
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
      return roundTo(rewriter, loc, product, elt);
    }
    FailureOr<Value> product = batchedMatMul(rewriter, loc, a, b, type);
    if (failed(product))
      return failure();
    return roundTo(rewriter, loc, *product, elt);
  }

  /// `v` with its last two dimensions swapped (itself unless `swap` and
  /// rank >= 2).
  static Value transposeLast(OpBuilder &b, Location loc, Value v, bool swap) {
    auto t = cast<RankedTensorType>(v.getType());
    int64_t rank = t.getRank();
    if (!swap || rank < 2)
      return v;
    SmallVector<int64_t> perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    std::swap(perm[rank - 2], perm[rank - 1]);
    SmallVector<OpFoldResult> sizes;
    for (int64_t p : perm)
      sizes.push_back(sizeOf(b, loc, v, p));
    Value init = tensor::EmptyOp::create(b, loc, sizes, t.getElementType());
    return linalg::TransposeOp::create(b, loc, v, init, perm).getResult()[0];
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
    assertInnerDims(rewriter, loc, op.getA(), op.getB(), op.getTransA() != 0,
                    op.getTransB() != 0, "Gemm");
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

/// FusedMatMul (com.microsoft): alpha * MatMul(op(A), op(B)).
struct FusedMatMulPattern : OpRewritePattern<onnx::FusedMatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::FusedMatMulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value a = op.getA(), b = op.getB();
    auto type = rankedFloat(op.getY());
    if (!rankedFloat(a) || !rankedFloat(b) || !type)
      return rewriter.notifyMatchFailure(op, "needs ranked float tensors");
    if (op.getTransBatchA() || op.getTransBatchB())
      return op.emitError("FusedMatMul with transBatchA or transBatchB is "
                          "not supported");
    assertInnerDims(rewriter, loc, a, b, op.getTransA() != 0,
                    op.getTransB() != 0, "FusedMatMul");
    FailureOr<Value> product = MatMulPattern::lower(
        rewriter, loc, a, b, type, op.getTransA() != 0, op.getTransB() != 0);
    if (failed(product))
      return rewriter.notifyMatchFailure(op, "cannot size the result");
    Value result = *product;
    double alpha = op.getAlpha().convertToDouble();
    if (alpha != 1.0) {
      auto resultType = cast<RankedTensorType>(result.getType());
      Type elt = resultType.getElementType();
      auto scaled = buildElementwise(
          rewriter, loc, resultType, result,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value s = arith::ConstantOp::create(
                nb, l, nb.getF32FloatAttr(static_cast<float>(alpha)));
            return fromF32(nb, l,
                           arith::MulFOp::create(nb, l, toF32(nb, l, args[0]), s),
                           elt);
          });
      if (failed(scaled))
        return failure();
      result = *scaled;
    }
    replaceWithCast(rewriter, op, result, type);
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

} // namespace

void mlir::moe::onnx_to_core::populateLinalgPatterns(
    RewritePatternSet &patterns, bool tileMatmuls) {
  patterns.add<MatMulPattern>(patterns.getContext(), tileMatmuls);
  patterns.add<FusedMatMulPattern, GemmPattern, SoftmaxPattern>(
      patterns.getContext());
}
