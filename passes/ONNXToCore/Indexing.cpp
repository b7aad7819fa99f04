//===- Indexing.cpp - onnx Gather, TopK, ArgMax -> linalg / scf -----------===//
//
// Index-producing and index-consuming ops. Indices that ONNX leaves
// undefined when out of range are clamped into range, so bad indices give
// wrong values, never out-of-bounds memory accesses.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Utils/RowTopK.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::moe::onnx_to_core;
using mlir::moe::emitRowTopK;
using mlir::moe::insertForallRows;
using mlir::moe::RowPick;

namespace {
Value idx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

struct GatherPattern : OpRewritePattern<onnx::GatherOp> {
  GatherPattern(MLIRContext *ctx, bool checkInLoop)
      : OpRewritePattern(ctx), checkInLoop(checkInLoop) {}

  /// Whether run-time indices are checked inside the gather's loop, each
  /// where it is read (GPU kernels report such checks through a flag the
  /// host reads at the end of the call), rather than by a reduction before
  /// it whose result the host reads at once.
  bool checkInLoop;

  /// Indices must lie in [-size, size) (ONNX; onnxruntime fails the run
  /// otherwise). Constant ones against a static size are checked here;
  /// others (without checkInLoop) by a reduction over the indices whose
  /// result a check on the calling thread tests before the gather reads
  /// anything (on the CPU, a check inside the gather's parallel loop would
  /// fire on a pool thread and run once per element read).
  static LogicalResult checkIndices(PatternRewriter &rewriter,
                                    onnx::GatherOp op, Value indices,
                                    Value axisSize, int64_t axis) {
    Location loc = op.getLoc();
    auto idxType = cast<RankedTensorType>(indices.getType());
    std::optional<int64_t> size = getConstantIntValue(axisSize);
    std::optional<SmallVector<int64_t>> values = constantInts(indices);
    if (values && size) {
      for (int64_t v : *values)
        if (v < -*size || v >= *size)
          return op.emitError()
                 << "Gather index " << v << " is out of range for axis " << axis
                 << " of size " << *size;
      return success();
    }
    Type elt = idxType.getElementType();
    auto flag = RankedTensorType::get({}, rewriter.getI1Type());
    Value none =
        linalg::FillOp::create(
            rewriter, loc,
            ValueRange{arith::ConstantOp::create(rewriter, loc,
                                                 rewriter.getBoolAttr(false))},
            ValueRange{tensor::EmptyOp::create(
                rewriter, loc, ArrayRef<int64_t>{}, rewriter.getI1Type())})
            .getResult(0);
    int64_t q = idxType.getRank();
    MLIRContext *ctx = rewriter.getContext();
    auto bad = linalg::GenericOp::create(
        rewriter, loc, TypeRange{flag}, ValueRange{indices}, ValueRange{none},
        ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(q, ctx),
                            AffineMap::get(q, 0, ctx)},
        SmallVector<utils::IteratorType>(q, utils::IteratorType::reduction),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value n = arith::IndexCastOp::create(b, l, elt, axisSize);
          Value low = arith::SubIOp::create(
              b, l, arith::ConstantOp::create(b, l, b.getZeroAttr(elt)), n);
          Value under = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt,
                                              args[0], low);
          Value over = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge,
                                             args[0], n);
          Value out = arith::OrIOp::create(b, l, under, over);
          linalg::YieldOp::create(
              b, l, arith::OrIOp::create(b, l, args[1], out).getResult());
        });
    Value any = tensor::ExtractOp::create(rewriter, loc, bad.getResult(0),
                                          ValueRange{});
    Value ok = arith::XOrIOp::create(
        rewriter, loc, any,
        arith::ConstantOp::create(rewriter, loc, rewriter.getBoolAttr(true)));
    cf::AssertOp::create(rewriter, loc, ok,
                         ("Gather: an index is out of range for axis " +
                          Twine(axis) + " (indices must lie in [-size, size))")
                             .str());
    return success();
  }

  /// `raw` in [-size, size), or the call fails with the reduction's
  /// message.
  static void checkIndex(OpBuilder &b, Location l, Value raw, Value axisSize,
                         int64_t axis) {
    Value n = arith::IndexCastOp::create(b, l, raw.getType(), axisSize);
    Value zero = arith::ConstantOp::create(b, l, b.getZeroAttr(raw.getType()));
    Value low = arith::SubIOp::create(b, l, zero, n);
    Value notUnder =
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, raw, low);
    Value notOver =
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, raw, n);
    Value ok = arith::AndIOp::create(b, l, notUnder, notOver);
    cf::AssertOp::create(b, l, ok,
                         ("Gather: an index is out of range for axis " +
                          Twine(axis) + " (indices must lie in [-size, size))")
                             .str());
  }

  LogicalResult matchAndRewrite(onnx::GatherOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value data = op.getData(), indices = op.getIndices();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto dataType = dyn_cast<RankedTensorType>(data.getType());
    auto idxType = dyn_cast<RankedTensorType>(indices.getType());
    if (!type || !dataType || !idxType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t rank = dataType.getRank(), q = idxType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return op.emitError() << "gather axis " << op.getAxis()
                            << " is out of range for rank " << rank;
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < axis; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, data, i));
    for (int64_t i = 0; i < q; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, indices, i));
    for (int64_t i = axis + 1; i < rank; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, data, i));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    Value axisSize = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, data, axis));
    bool constantIndices = constantInts(indices).has_value();
    if ((!checkInLoop || constantIndices) &&
        failed(checkIndices(rewriter, op, indices, axisSize, axis)))
      return failure();
    bool checkRead = checkInLoop && !constantIndices;
    int64_t outRank = type.getRank();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{},
        ValueRange{init},
        ArrayRef<AffineMap>{
            AffineMap::getMultiDimIdentityMap(outRank, rewriter.getContext())},
        SmallVector<utils::IteratorType>(outRank,
                                         utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange) {
          SmallVector<Value> ivs;
          for (int64_t i = 0; i < outRank; ++i)
            ivs.push_back(linalg::IndexOp::create(b, l, i));
          SmallVector<Value> idxPos(ivs.begin() + axis, ivs.begin() + axis + q);
          Value raw = tensor::ExtractOp::create(b, l, indices, idxPos);
          if (checkRead)
            checkIndex(b, l, raw, axisSize, axis);
          SmallVector<Value> pos(ivs.begin(), ivs.begin() + axis);
          pos.push_back(normalizeIndex(b, l, raw, axisSize));
          pos.append(ivs.begin() + axis + q, ivs.end());
          linalg::YieldOp::create(
              b, l, tensor::ExtractOp::create(b, l, data, pos).getResult());
        });
    Value result = generic.getResult(0);
    replaceWithCast(rewriter, op, result, type);
    return success();
  }
};

/// TopK along the last axis with a constant k: per row, k passes each
/// taking the best element ranked after the previous pick (value order,
/// ties to the lower index, as onnxruntime does).
struct TopKPattern : OpRewritePattern<onnx::TopKOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::TopKOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getX();
    auto xType = dyn_cast<RankedTensorType>(x.getType());
    auto vType = dyn_cast<RankedTensorType>(op.getValues().getType());
    auto iType = dyn_cast<RankedTensorType>(op.getIndices().getType());
    auto k = constantInts(op.getK());
    if (!xType || !vType || !iType || !k || k->size() != 1 ||
        !isa<FloatType>(xType.getElementType()))
      return rewriter.notifyMatchFailure(
          op, "needs ranked float input, constant k");
    int64_t rank = xType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis != rank - 1 || rank < 1)
      return rewriter.notifyMatchFailure(op, "only the last axis");
    int64_t kk = (*k)[0];
    bool largest = op.getLargest() != 0;
    Type elt = xType.getElementType();

    // Rows: the product of the leading dims.
    Value rows = idx(rewriter, loc, 1);
    for (int64_t i = 0; i < rank - 1; ++i)
      rows = arith::MulIOp::create(
          rewriter, loc, rows,
          getValueOrCreateConstantIndexOp(
              rewriter, loc, tensor::getMixedSize(rewriter, loc, x, i)));
    Value width = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, x, rank - 1));
    SmallVector<ReassociationIndices> assoc;
    if (rank > 1) {
      assoc.emplace_back();
      for (int64_t i = 0; i < rank - 1; ++i)
        assoc.back().push_back(i);
      assoc.push_back({rank - 1});
    }
    Value flat = x;
    if (rank > 2)
      flat = tensor::CollapseShapeOp::create(rewriter, loc, x, assoc);
    if (rank == 1)
      flat = tensor::ExpandShapeOp::create(
          rewriter, loc, RankedTensorType::get({1, xType.getDimSize(0)}, elt),
          x, SmallVector<ReassociationIndices>{{0, 1}},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1),
                                 tensor::getMixedSize(rewriter, loc, x, 0)});

    Value valuesInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(kk)},
        elt);
    Value indicesInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(kk)},
        rewriter.getI64Type());
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rows},
        ValueRange{valuesInit, indicesInit}, std::nullopt);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(forall.getTerminator());
      Value r = forall.getInductionVars()[0];
      SmallVector<Value> vals, ids;
      for (RowPick pick : emitRowTopK(
               rewriter, loc, width, kk, largest, elt, [&](Value c) -> Value {
                 return tensor::ExtractOp::create(rewriter, loc, flat,
                                                  ValueRange{r, c});
               })) {
        vals.push_back(pick.score);
        ids.push_back(arith::IndexCastOp::create(
            rewriter, loc, rewriter.getI64Type(), pick.index));
      }
      Value vRow = tensor::FromElementsOp::create(
          rewriter, loc, RankedTensorType::get({1, kk}, elt), vals);
      Value iRow = tensor::FromElementsOp::create(
          rewriter, loc, RankedTensorType::get({1, kk}, rewriter.getI64Type()),
          ids);
      insertForallRows(rewriter, loc, forall, r, {vRow, iRow});
    }
    // Back to the input's leading shape.
    auto restore = [&](Value v, RankedTensorType want) -> Value {
      if (rank == 2) {
        return v.getType() == want
                   ? v
                   : Value(tensor::CastOp::create(rewriter, loc, want, v));
      }
      SmallVector<OpFoldResult> outSizes;
      for (int64_t i = 0; i < rank - 1; ++i)
        outSizes.push_back(tensor::getMixedSize(rewriter, loc, x, i));
      outSizes.push_back(rewriter.getIndexAttr(kk));
      SmallVector<Value> shape;
      for (OpFoldResult s : outSizes)
        shape.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, s));
      Value shapeTensor = vectorOf(rewriter, loc, shape);
      return tensor::ReshapeOp::create(rewriter, loc, want, v, shapeTensor);
    };
    rewriter.replaceOp(op, {restore(forall.getResult(0), vType),
                            restore(forall.getResult(1), iType)});
    return success();
  }
};

/// TopK in general: any axis (moved last and back), k known only at run
/// time (a sort when k is the axis size), integer or float elements. Each
/// row takes k scans, each picking the best element ranked after the
/// previous pick (ties to the lower index), as the constant-k form does.
struct GeneralTopKPattern : OpRewritePattern<onnx::TopKOp> {
  GeneralTopKPattern(MLIRContext *ctx) : OpRewritePattern(ctx, /*benefit=*/0) {}

  /// (v, i) ranked before (w, j).
  static Value before(OpBuilder &b, Location loc, bool largest, Value v,
                      Value i, Value w, Value j) {
    bool isFloat = isa<FloatType>(v.getType());
    Value better =
        isFloat
            ? Value(arith::CmpFOp::create(b, loc,
                                          largest ? arith::CmpFPredicate::OGT
                                                  : arith::CmpFPredicate::OLT,
                                          v, w))
            : Value(arith::CmpIOp::create(b, loc,
                                          largest ? arith::CmpIPredicate::sgt
                                                  : arith::CmpIPredicate::slt,
                                          v, w));
    Value equal = isFloat ? Value(arith::CmpFOp::create(
                                b, loc, arith::CmpFPredicate::OEQ, v, w))
                          : Value(arith::CmpIOp::create(
                                b, loc, arith::CmpIPredicate::eq, v, w));
    Value tie = arith::AndIOp::create(
        b, loc, equal,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, i, j));
    return arith::OrIOp::create(b, loc, better, tie);
  }

  /// [rows, n] -> ([rows, k] values, [rows, k] i64 indices).
  static std::pair<Value, Value> topRows(PatternRewriter &rewriter,
                                         Location loc, Value flat, Value k,
                                         bool largest) {
    auto type = cast<RankedTensorType>(flat.getType());
    Type elt = type.getElementType();
    Value rows = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, flat, 0));
    Value n = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, flat, 1));
    Value vInit = tensor::EmptyOp::create(rewriter, loc,
                                          ArrayRef<OpFoldResult>{rows, k}, elt);
    Value iInit = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rows, k}, rewriter.getI64Type());
    Value zero = idx(rewriter, loc, 0), one = idx(rewriter, loc, 1);
    Value placeholder =
        arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elt));
    Value falseV =
        arith::ConstantOp::create(rewriter, loc, rewriter.getBoolAttr(false));
    auto perRow = scf::ForOp::create(
        rewriter, loc, zero, rows, one, ValueRange{vInit, iInit},
        [&](OpBuilder &b, Location l, Value r, ValueRange outs) {
          auto picks = scf::ForOp::create(
              b, l, zero, k, one,
              ValueRange{outs[0], outs[1], placeholder, zero, falseV},
              [&](OpBuilder &pb, Location pl, Value j, ValueRange acc) {
                Value prevV = acc[2], prevI = acc[3], hasPrev = acc[4];
                auto scan = scf::ForOp::create(
                    pb, pl, zero, n, one, ValueRange{placeholder, zero, falseV},
                    [&](OpBuilder &sb, Location sl, Value i, ValueRange best) {
                      Value v = tensor::ExtractOp::create(sb, sl, flat,
                                                          ValueRange{r, i});
                      Value after = arith::OrIOp::create(
                          sb, sl,
                          arith::XOrIOp::create(
                              sb, sl, hasPrev,
                              arith::ConstantOp::create(sb, sl,
                                                        sb.getBoolAttr(true))),
                          before(sb, sl, largest, prevV, prevI, v, i));
                      Value beats = arith::OrIOp::create(
                          sb, sl,
                          arith::XOrIOp::create(
                              sb, sl, best[2],
                              arith::ConstantOp::create(sb, sl,
                                                        sb.getBoolAttr(true))),
                          before(sb, sl, largest, v, i, best[0], best[1]));
                      Value take = arith::AndIOp::create(sb, sl, after, beats);
                      scf::YieldOp::create(
                          sb, sl,
                          ValueRange{
                              arith::SelectOp::create(sb, sl, take, v, best[0]),
                              arith::SelectOp::create(sb, sl, take, i, best[1]),
                              arith::OrIOp::create(sb, sl, take, best[2])});
                    });
                Value bv = scan.getResult(0), bi = scan.getResult(1);
                Value vs = tensor::InsertOp::create(pb, pl, bv, acc[0],
                                                    ValueRange{r, j});
                Value is = tensor::InsertOp::create(
                    pb, pl,
                    arith::IndexCastOp::create(pb, pl, pb.getI64Type(), bi),
                    acc[1], ValueRange{r, j});
                Value truthy =
                    arith::ConstantOp::create(pb, pl, pb.getBoolAttr(true));
                scf::YieldOp::create(pb, pl,
                                     ValueRange{vs, is, bv, bi, truthy});
              });
          scf::YieldOp::create(
              b, l, ValueRange{picks.getResult(0), picks.getResult(1)});
        });
    return {perRow.getResult(0), perRow.getResult(1)};
  }

  /// `v` with dimensions `a` and `b` swapped.
  static Value swapDims(PatternRewriter &rewriter, Location loc, Value v,
                        int64_t a, int64_t b) {
    if (a == b)
      return v;
    auto type = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> perm(type.getRank());
    for (int64_t i = 0; i < type.getRank(); ++i)
      perm[i] = i;
    std::swap(perm[a], perm[b]);
    SmallVector<OpFoldResult> sizes;
    for (int64_t p : perm)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, v, p));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    return linalg::TransposeOp::create(rewriter, loc, v, init, perm)
        .getResult()[0];
  }

  LogicalResult matchAndRewrite(onnx::TopKOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getX();
    auto xType = dyn_cast<RankedTensorType>(x.getType());
    auto vType = dyn_cast<RankedTensorType>(op.getValues().getType());
    auto iType = dyn_cast<RankedTensorType>(op.getIndices().getType());
    auto kType = dyn_cast<RankedTensorType>(op.getK().getType());
    if (!xType || !vType || !iType || !kType || xType.getRank() < 1 ||
        kType.getNumElements() != 1 ||
        !(isa<FloatType>(xType.getElementType()) ||
          xType.getElementType().isSignlessInteger()))
      return op.emitError("TopK needs a ranked input of integers or floats "
                          "and a one-element k");
    int64_t rank = xType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return op.emitError()
             << "TopK axis " << op.getAxis() << " is out of range";
    Value kv = tensor::ExtractOp::create(
        rewriter, loc, op.getK(),
        SmallVector<Value>(kType.getRank(), idx(rewriter, loc, 0)));
    Value k =
        arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), kv);
    // The axis last, the rest flattened into rows.
    Value moved = swapDims(rewriter, loc, x, axis, rank - 1);
    Value n = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, moved, rank - 1));
    Value ok = arith::AndIOp::create(
        rewriter, loc,
        arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::sge, k,
                              idx(rewriter, loc, 0)),
        arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::sle, k, n));
    cf::AssertOp::create(rewriter, loc, ok,
                         "TopK: k is outside [0, the axis size]");
    auto movedType = cast<RankedTensorType>(moved.getType());
    SmallVector<Value> shape;
    Value rows = idx(rewriter, loc, 1);
    for (int64_t i = 0; i < rank - 1; ++i) {
      Value s = getValueOrCreateConstantIndexOp(
          rewriter, loc, tensor::getMixedSize(rewriter, loc, moved, i));
      shape.push_back(s);
      rows = arith::MulIOp::create(rewriter, loc, rows, s);
    }
    auto flatType = RankedTensorType::get(
        {ShapedType::kDynamic, movedType.getDimSize(rank - 1)},
        movedType.getElementType());
    Value flat = tensor::ReshapeOp::create(
        rewriter, loc, flatType, moved,
        tensor::FromElementsOp::create(rewriter, loc, ValueRange{rows, n}));
    auto [vals, ids] = topRows(rewriter, loc, flat, k, op.getLargest() != 0);
    shape.push_back(k);
    Value shapeTensor = vectorOf(rewriter, loc, shape);
    auto unflat = [&](Value v, Type elt) -> Value {
      SmallVector<int64_t> dims(movedType.getShape());
      dims.back() = ShapedType::kDynamic;
      Value r = tensor::ReshapeOp::create(
          rewriter, loc, RankedTensorType::get(dims, elt), v, shapeTensor);
      return swapDims(rewriter, loc, r, axis, rank - 1);
    };
    Value values = unflat(vals, movedType.getElementType());
    Value indices = unflat(ids, rewriter.getI64Type());
    auto castTo = [&](Value v, Type t) -> Value {
      return v.getType() == t
                 ? v
                 : Value(tensor::CastOp::create(rewriter, loc, t, v));
    };
    rewriter.replaceOp(op, {castTo(values, vType), castTo(indices, iType)});
    return success();
  }
};

struct GatherElementsPattern : OpRewritePattern<onnx::GatherElementsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::GatherElementsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value data = op.getData(), indices = op.getIndices();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto dataType = dyn_cast<RankedTensorType>(data.getType());
    auto idxType = dyn_cast<RankedTensorType>(indices.getType());
    if (!type || !dataType || !idxType ||
        dataType.getRank() != idxType.getRank())
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t rank = dataType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return op.emitError() << "gather axis " << op.getAxis()
                            << " is out of range for rank " << rank;
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, indices, i));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    Value axisSize = getValueOrCreateConstantIndexOp(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, data, axis));
    MLIRContext *ctx = rewriter.getContext();
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{indices},
        ValueRange{init}, ArrayRef<AffineMap>{id, id},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          SmallVector<Value> pos;
          for (int64_t i = 0; i < rank; ++i)
            pos.push_back(i == axis ? normalizeIndex(b, l, args[0], axisSize)
                                    : Value(linalg::IndexOp::create(b, l, i)));
          linalg::YieldOp::create(
              b, l, tensor::ExtractOp::create(b, l, data, pos).getResult());
        });
    Value result = generic.getResult(0);
    replaceWithCast(rewriter, op, result, type);
    return success();
  }
};

/// ArgMax: one reduction carrying (best value, its index); ties keep the
/// first index unless select_last_index.
struct ArgMaxPattern : OpRewritePattern<onnx::ArgMaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ArgMaxOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value data = op.getData();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto dataType = dyn_cast<RankedTensorType>(data.getType());
    if (!type || !dataType || !isa<FloatType>(dataType.getElementType()))
      return rewriter.notifyMatchFailure(op, "needs ranked float input");
    int64_t rank = dataType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return op.emitError() << "argmax axis " << op.getAxis()
                            << " is out of range for rank " << rank;
    MLIRContext *ctx = rewriter.getContext();
    Type elt = dataType.getElementType();
    SmallVector<OpFoldResult> sizes;
    SmallVector<AffineExpr> kept;
    for (int64_t i = 0; i < rank; ++i)
      if (i != axis) {
        sizes.push_back(tensor::getMixedSize(rewriter, loc, data, i));
        kept.push_back(getAffineDimExpr(i, ctx));
      }
    auto filled = [&](TypedAttr value) -> Value {
      Value empty =
          tensor::EmptyOp::create(rewriter, loc, sizes, value.getType());
      Value scalar = arith::ConstantOp::create(rewriter, loc, value);
      return linalg::FillOp::create(rewriter, loc, scalar, empty).getResult(0);
    };
    Value bestInit = filled(
        rewriter.getFloatAttr(elt, -std::numeric_limits<double>::infinity()));
    Value idxInit = filled(rewriter.getI64IntegerAttr(0));
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    iters[axis] = utils::IteratorType::reduction;
    AffineMap outMap = AffineMap::get(rank, 0, kept, ctx);
    bool last = op.getSelectLastIndex() != 0;
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{bestInit.getType(), idxInit.getType()},
        ValueRange{data}, ValueRange{bestInit, idxInit},
        ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(rank, ctx),
                            outMap, outMap},
        iters, [&](OpBuilder &b, Location l, ValueRange args) {
          Value better = arith::CmpFOp::create(b, l,
                                               last ? arith::CmpFPredicate::OGE
                                                    : arith::CmpFPredicate::OGT,
                                               args[0], args[1]);
          Value i = arith::IndexCastOp::create(
              b, l, b.getI64Type(), linalg::IndexOp::create(b, l, axis));
          linalg::YieldOp::create(
              b, l,
              ValueRange{
                  arith::SelectOp::create(b, l, better, args[0], args[1]),
                  arith::SelectOp::create(b, l, better, i, args[2])});
        });
    Value result = generic.getResult(1);
    if (op.getKeepdims()) {
      SmallVector<OpFoldResult> outSizes;
      SmallVector<ReassociationIndices> assoc;
      for (int64_t i = 0; i < rank; ++i)
        outSizes.push_back(i == axis
                               ? OpFoldResult(rewriter.getIndexAttr(1))
                               : tensor::getMixedSize(rewriter, loc, data, i));
      // The unit axis joins its neighbour's group.
      if (rank > 1) {
        for (int64_t i = 0; i < rank; ++i) {
          if (i == axis)
            continue;
          assoc.push_back({i});
        }
        if (axis == 0)
          assoc.front().insert(assoc.front().begin(), 0);
        else
          assoc[axis - 1].push_back(axis);
      }
      result = tensor::ExpandShapeOp::create(rewriter, loc, type, result, assoc,
                                             outSizes);
    }
    replaceWithCast(rewriter, op, result, type);
    return success();
  }
};

/// OneHot: output[..., d, ...] = (index == d) ? on : off, with negative
/// indices counting from the end of the depth.
struct OneHotPattern : OpRewritePattern<onnx::OneHotOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::OneHotOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value indices = op.getIndices();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto idxType = dyn_cast<RankedTensorType>(indices.getType());
    if (!type || !idxType ||
        type.isDynamicDim(op.getAxis() < 0 ? op.getAxis() + type.getRank()
                                           : op.getAxis()))
      return rewriter.notifyMatchFailure(op, "needs a constant depth");
    int64_t rank = type.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    int64_t depth = type.getDimSize(axis);
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0, j = 0; i < rank; ++i)
      sizes.push_back(i == axis
                          ? OpFoldResult(rewriter.getIndexAttr(depth))
                          : tensor::getMixedSize(rewriter, loc, indices, j++));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    Value values = op.getValues();
    Value off = tensor::ExtractOp::create(rewriter, loc, values,
                                          ValueRange{idx(rewriter, loc, 0)});
    Value on = tensor::ExtractOp::create(rewriter, loc, values,
                                         ValueRange{idx(rewriter, loc, 1)});
    Value depthV = idx(rewriter, loc, depth);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{},
        ValueRange{init},
        ArrayRef<AffineMap>{
            AffineMap::getMultiDimIdentityMap(rank, rewriter.getContext())},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange) {
          SmallVector<Value> pos;
          for (int64_t i = 0; i < rank; ++i)
            if (i != axis)
              pos.push_back(linalg::IndexOp::create(b, l, i));
          Value raw = tensor::ExtractOp::create(b, l, indices, pos);
          if (isa<FloatType>(raw.getType()))
            raw = arith::FPToSIOp::create(b, l, b.getI64Type(), raw);
          Value v = arith::IndexCastOp::create(b, l, b.getIndexType(), raw);
          Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, v,
                                            idx(b, l, 0));
          v = arith::SelectOp::create(
              b, l, neg, arith::AddIOp::create(b, l, v, depthV), v);
          Value hit =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, v,
                                    linalg::IndexOp::create(b, l, axis));
          linalg::YieldOp::create(
              b, l, arith::SelectOp::create(b, l, hit, on, off).getResult());
        });
    Value result = generic.getResult(0);
    replaceWithCast(rewriter, op, result, type);
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateIndexingPatterns(
    RewritePatternSet &patterns, bool checksInLoops) {
  patterns.add<GatherPattern>(patterns.getContext(), checksInLoops);
  patterns.add<GatherElementsPattern, TopKPattern, GeneralTopKPattern,
               ArgMaxPattern, OneHotPattern>(patterns.getContext());
}
