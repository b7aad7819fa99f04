//===- Scatter.cpp - onnx ScatterND/Elements, NonZero, CumSum, GatherND ---===//
//
// The ops exporters use to build routing plans by hand (positions from
// cumulative sums of one-hot masks, scatters into expert buffers, nonzero
// masks). Scatters, NonZero and CumSum are sequential by definition (later
// updates see earlier ones, outputs are in element order): loops over
// tensors with scf.for, which bufferize in place. GatherND is one
// linalg.generic. Indices are normalized and clamped like Gather's.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <functional>

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
Value idx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value dimOf(OpBuilder &b, Location loc, Value t, int64_t d) {
  return getValueOrCreateConstantIndexOp(b, loc,
                                         tensor::getMixedSize(b, loc, t, d));
}

bool isReduction(StringRef r) {
  return r == "none" || r == "add" || r == "mul" || r == "max" || r == "min";
}

/// Combines the current element with an update under an ONNX `reduction`.
FailureOr<Value> combine(OpBuilder &b, Location loc, StringRef reduction,
                         Value current, Value update) {
  bool isFloat = isa<FloatType>(update.getType());
  if (reduction == "none")
    return update;
  if (reduction == "add")
    return isFloat ? Value(arith::AddFOp::create(b, loc, current, update))
                   : Value(arith::AddIOp::create(b, loc, current, update));
  if (reduction == "mul")
    return isFloat ? Value(arith::MulFOp::create(b, loc, current, update))
                   : Value(arith::MulIOp::create(b, loc, current, update));
  if (reduction == "max")
    return isFloat ? Value(arith::MaximumFOp::create(b, loc, current, update))
                   : Value(arith::MaxSIOp::create(b, loc, current, update));
  if (reduction == "min")
    return isFloat ? Value(arith::MinimumFOp::create(b, loc, current, update))
                   : Value(arith::MinSIOp::create(b, loc, current, update));
  return failure();
}

/// A loop nest over every position of `shapeOf`, threading `init` through;
/// `body` returns the updated tensor.
Value forEachPosition(
    OpBuilder &b, Location loc, Value shapeOf, Value init,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body) {
  int64_t rank = cast<RankedTensorType>(shapeOf.getType()).getRank();
  SmallVector<Value> lbs(rank, idx(b, loc, 0)), steps(rank, idx(b, loc, 1));
  SmallVector<Value> ubs;
  for (int64_t d = 0; d < rank; ++d)
    ubs.push_back(dimOf(b, loc, shapeOf, d));
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbs, ubs, steps, ValueRange{init},
      [&](OpBuilder &nb, Location l, ValueRange ivs, ValueRange iter) {
        return scf::ValueVector{body(nb, l, ivs, iter[0])};
      });
  return nest.results.front();
}

/// Shared tail of the scatters: out[target] = combine(out[target], update).
Value scatterOne(OpBuilder &b, Location loc, StringRef reduction, Value out,
                 ValueRange target, Value update) {
  Value current = tensor::ExtractOp::create(b, loc, out, target);
  Value v = *combine(b, loc, reduction, current, update);
  return tensor::InsertOp::create(b, loc, v, out, target);
}

/// The data coordinates held at indices[prefix..., 0 .. sizes.size()),
/// each normalized against its data size (GatherND, ScatterND).
SmallVector<Value> indexTuple(OpBuilder &b, Location l, Value indices,
                              ValueRange prefix, ArrayRef<Value> sizes) {
  SmallVector<Value> at(prefix.begin(), prefix.end());
  at.push_back(Value());
  SmallVector<Value> coords;
  for (auto [d, size] : llvm::enumerate(sizes)) {
    at.back() = idx(b, l, d);
    Value raw = tensor::ExtractOp::create(b, l, indices, at);
    coords.push_back(normalizeIndex(b, l, raw, size));
  }
  return coords;
}

/// Where the update at a position of `updates` goes in the data.
using TargetFn =
    std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

/// The scatters: out = data, then, in the order of the updates' positions,
/// out[target(p)] = combine(out[target(p)], updates[p]). `Derived::prepare`
/// checks the op's shapes and returns its target function.
template <typename OpT, typename Derived>
struct ScatterPattern : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    Value data = op.getData(), updates = op.getUpdates();
    auto type = dyn_cast<RankedTensorType>(data.getType());
    auto idxType = dyn_cast<RankedTensorType>(op.getIndices().getType());
    auto updType = dyn_cast<RankedTensorType>(updates.getType());
    if (!type || !idxType || !updType || !isa<RankedTensorType>(op.getType()))
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    if (!isReduction(op.getReduction()))
      return op.emitError() << "unsupported reduction '" << op.getReduction()
                            << "' (expected none, add, mul, max or min)";
    FailureOr<TargetFn> target =
        Derived::prepare(op, rewriter, type, idxType, updType);
    if (failed(target))
      return failure();
    StringRef reduction = op.getReduction();
    Value result = forEachPosition(
        rewriter, op.getLoc(), updates, data,
        [&](OpBuilder &b, Location l, ValueRange ivs, Value out) {
          Value u = tensor::ExtractOp::create(b, l, updates, ivs);
          return scatterOne(b, l, reduction, out, (*target)(b, l, ivs), u);
        });
    replaceWithCast(rewriter, op, result, op.getType());
    return success();
  }
};

struct ScatterElementsPattern
    : ScatterPattern<onnx::ScatterElementsOp, ScatterElementsPattern> {
  using ScatterPattern::ScatterPattern;
  static FailureOr<TargetFn> prepare(onnx::ScatterElementsOp op,
                                     PatternRewriter &rewriter,
                                     RankedTensorType type,
                                     RankedTensorType idxType,
                                     RankedTensorType updType) {
    int64_t rank = type.getRank();
    if (idxType.getRank() != rank || updType.getRank() != rank)
      return op.emitError("indices and updates must have the data's rank");
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return op.emitError() << "scatter axis " << op.getAxis()
                            << " is out of range for rank " << rank;
    Value axisSize = dimOf(rewriter, op.getLoc(), op.getData(), axis);
    Value indices = op.getIndices();
    return TargetFn([=](OpBuilder &b, Location l, ValueRange ivs) {
      SmallVector<Value> target(ivs.begin(), ivs.end());
      Value raw = tensor::ExtractOp::create(b, l, indices, ivs);
      target[axis] = normalizeIndex(b, l, raw, axisSize);
      return target;
    });
  }
};

struct ScatterNDPattern : ScatterPattern<onnx::ScatterNDOp, ScatterNDPattern> {
  using ScatterPattern::ScatterPattern;
  static FailureOr<TargetFn> prepare(onnx::ScatterNDOp op,
                                     PatternRewriter &rewriter,
                                     RankedTensorType type,
                                     RankedTensorType idxType,
                                     RankedTensorType updType) {
    int64_t r = type.getRank(), q = idxType.getRank();
    int64_t m = q ? idxType.getDimSize(q - 1) : ShapedType::kDynamic;
    if (q < 1 || ShapedType::isDynamic(m) || m > r)
      return op.emitError("ScatterND needs indices whose last dimension is "
                          "static and at most the data's rank");
    if (updType.getRank() != q - 1 + r - m)
      return op.emitError() << "updates must have rank " << q - 1 + r - m
                            << ", got " << updType.getRank();
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < m; ++d)
      sizes.push_back(dimOf(rewriter, op.getLoc(), op.getData(), d));
    Value indices = op.getIndices();
    return TargetFn([=](OpBuilder &b, Location l, ValueRange ivs) {
      SmallVector<Value> target =
          indexTuple(b, l, indices, ivs.take_front(q - 1), sizes);
      target.append(ivs.begin() + (q - 1), ivs.end());
      return target;
    });
  }
};

/// GatherND: out[b..., i..., r...] = data[b..., indices[b..., i..., :], r...].
struct GatherNDPattern : OpRewritePattern<onnx::GatherNDOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::GatherNDOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value data = op.getData(), indices = op.getIndices();
    auto type = dyn_cast<RankedTensorType>(data.getType());
    auto idxType = dyn_cast<RankedTensorType>(indices.getType());
    auto outType = dyn_cast<RankedTensorType>(op.getType());
    if (!type || !idxType || !outType)
      return rewriter.notifyMatchFailure(op, "needs ranked tensors");
    int64_t r = type.getRank(), q = idxType.getRank();
    int64_t bd = op.getBatchDims();
    int64_t m = q ? idxType.getDimSize(q - 1) : ShapedType::kDynamic;
    if (q < 1 || bd < 0 || bd >= q || ShapedType::isDynamic(m) || bd + m > r)
      return op.emitError("GatherND needs 0 <= batch_dims < rank(indices) "
                          "and a static last index dimension with "
                          "batch_dims + it <= rank(data)");
    int64_t outRank = q - 1 + r - m - bd;
    SmallVector<OpFoldResult> sizes;
    for (int64_t d = 0; d < q - 1; ++d)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, indices, d));
    for (int64_t d = bd + m; d < r; ++d)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, data, d));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, sizes, type.getElementType());
    SmallVector<Value> dataSizes;
    for (int64_t d = 0; d < m; ++d)
      dataSizes.push_back(dimOf(rewriter, loc, data, bd + d));
    MLIRContext *ctx = rewriter.getContext();
    AffineMap id = AffineMap::getMultiDimIdentityMap(outRank, ctx);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{},
        ValueRange{init}, ArrayRef<AffineMap>{id},
        SmallVector<utils::IteratorType>(outRank,
                                         utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange) {
          SmallVector<Value> ivs;
          for (int64_t d = 0; d < outRank; ++d)
            ivs.push_back(linalg::IndexOp::create(b, l, d));
          SmallVector<Value> pos(ivs.begin(), ivs.begin() + bd);
          pos.append(indexTuple(b, l, indices,
                                ValueRange(ivs).take_front(q - 1), dataSizes));
          pos.append(ivs.begin() + (q - 1), ivs.end());
          linalg::YieldOp::create(
              b, l, tensor::ExtractOp::create(b, l, data, pos).getResult());
        });
    replaceWithCast(rewriter, op, generic.getResult(0), outType);
    return success();
  }
};

/// NonZero: [rank, count] int64 coordinates of the non-zero elements in
/// row-major order.
struct NonZeroPattern : OpRewritePattern<onnx::NonZeroOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::NonZeroOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getX();
    auto type = dyn_cast<RankedTensorType>(x.getType());
    if (!type || !isa<RankedTensorType>(op.getType()) || type.getRank() == 0)
      return rewriter.notifyMatchFailure(op,
                                         "needs a ranked input of rank >= 1");
    int64_t rank = type.getRank();
    Type elt = type.getElementType();
    auto isNonZero = [&](OpBuilder &b, Location l, Value v) -> Value {
      Value zero = arith::ConstantOp::create(b, l, b.getZeroAttr(elt));
      if (isa<FloatType>(elt))
        return arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNE, v, zero);
      return arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, v, zero);
    };
    // Count, then fill: two passes over the input.
    Value zeroIdx = idx(rewriter, loc, 0);
    auto countInit = tensor::FromElementsOp::create(
        rewriter, loc, RankedTensorType::get({}, rewriter.getIndexType()),
        ValueRange{zeroIdx});
    Value countT = forEachPosition(
        rewriter, loc, x, countInit,
        [&](OpBuilder &b, Location l, ValueRange ivs, Value acc) {
          Value v = tensor::ExtractOp::create(b, l, x, ivs);
          Value c = tensor::ExtractOp::create(b, l, acc, ValueRange{});
          Value inc = arith::SelectOp::create(b, l, isNonZero(b, l, v),
                                              idx(b, l, 1), idx(b, l, 0));
          return tensor::InsertOp::create(b, l,
                                          arith::AddIOp::create(b, l, c, inc),
                                          acc, ValueRange{})
              .getResult();
        });
    Value count =
        tensor::ExtractOp::create(rewriter, loc, countT, ValueRange{});
    Value out = tensor::EmptyOp::create(
        rewriter, loc,
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(rank), count},
        rewriter.getI64Type());
    // The fill carries (coordinates so far, next column) in one tensor
    // pair: the column counter rides in a 0-d tensor beside the output.
    int64_t n = rank;
    SmallVector<Value> lbs(n, zeroIdx), steps(n, idx(rewriter, loc, 1)), ubs;
    for (int64_t d = 0; d < n; ++d)
      ubs.push_back(dimOf(rewriter, loc, x, d));
    scf::LoopNest nest = scf::buildLoopNest(
        rewriter, loc, lbs, ubs, steps, ValueRange{out, zeroIdx},
        [&](OpBuilder &b, Location l, ValueRange ivs, ValueRange iter) {
          Value v = tensor::ExtractOp::create(b, l, x, ivs);
          auto ifOp = scf::IfOp::create(
              b, l, isNonZero(b, l, v),
              [&](OpBuilder &tb, Location tl) {
                Value o = iter[0];
                for (int64_t d = 0; d < n; ++d) {
                  Value c = arith::IndexCastOp::create(tb, tl, tb.getI64Type(),
                                                       ivs[d]);
                  o = tensor::InsertOp::create(
                      tb, tl, c, o, ValueRange{idx(tb, tl, d), iter[1]});
                }
                Value next =
                    arith::AddIOp::create(tb, tl, iter[1], idx(tb, tl, 1));
                scf::YieldOp::create(tb, tl, ValueRange{o, next});
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, iter);
              });
          return scf::ValueVector(ifOp.getResults().begin(),
                                  ifOp.getResults().end());
        });
    replaceWithCast(rewriter, op, nest.results.front(), op.getType());
    return success();
  }
};

/// The cumulative sum of `x` along `axis`: a loop over the axis carrying
/// the running sum (a slice of size 1 along the axis), written at each
/// position before (exclusive) or after (inclusive) adding; reverse walks
/// backwards.
Value buildCumSum(OpBuilder &builder, Location loc, Value x, int64_t axis,
                  bool exclusive, bool reverse) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  Type elt = type.getElementType();
  bool isFloat = isa<FloatType>(elt);
    SmallVector<OpFoldResult> sliceSizes, offsets, strides;
    for (int64_t d = 0; d < rank; ++d) {
      sliceSizes.push_back(d == axis
                               ? builder.getIndexAttr(1)
                               : tensor::getMixedSize(builder, loc, x, d));
      offsets.push_back(builder.getIndexAttr(0));
      strides.push_back(builder.getIndexAttr(1));
    }
    Value zero =
        arith::ConstantOp::create(builder, loc, builder.getZeroAttr(elt));
    Value acc0 =
        linalg::FillOp::create(
            builder, loc, zero,
            ValueRange{tensor::EmptyOp::create(builder, loc, sliceSizes, elt)})
            .getResult(0);
    SmallVector<OpFoldResult> fullSizes;
    for (int64_t d = 0; d < rank; ++d)
      fullSizes.push_back(tensor::getMixedSize(builder, loc, x, d));
    Value out0 = tensor::EmptyOp::create(builder, loc, fullSizes, elt);
    Value n = dimOf(builder, loc, x, axis);
    auto loop = scf::ForOp::create(
        builder, loc, idx(builder, loc, 0), n, idx(builder, loc, 1),
        ValueRange{acc0, out0},
        [&](OpBuilder &b, Location l, Value j, ValueRange iter) {
          Value pos = j;
          if (reverse)
            pos = arith::SubIOp::create(
                b, l, arith::SubIOp::create(b, l, n, idx(b, l, 1)), j);
          SmallVector<OpFoldResult> at = offsets;
          at[axis] = pos;
          Value xs =
              tensor::ExtractSliceOp::create(b, l, x, at, sliceSizes, strides);
          Value acc = iter[0];
          // Exclusive: write the running sum before adding (the write reads
          // acc before the in-place add overwrites it).
          Value written;
          if (exclusive)
            written = tensor::InsertSliceOp::create(b, l, acc, iter[1], at,
                                                    sliceSizes, strides);
          auto sliceType = cast<RankedTensorType>(acc.getType());
          AffineMap id =
              AffineMap::getMultiDimIdentityMap(rank, b.getContext());
          Value sum =
              linalg::GenericOp::create(
                  b, l, TypeRange{sliceType}, ValueRange{xs}, ValueRange{acc},
                  SmallVector<AffineMap>(2, id),
                  SmallVector<utils::IteratorType>(
                      rank, utils::IteratorType::parallel),
                  [&](OpBuilder &gb, Location gl, ValueRange a) {
                    Value s =
                        isFloat
                            ? Value(arith::AddFOp::create(gb, gl, a[1], a[0]))
                            : Value(arith::AddIOp::create(gb, gl, a[1], a[0]));
                    linalg::YieldOp::create(gb, gl, s);
                  })
                  .getResult(0);
          if (!exclusive)
            written = tensor::InsertSliceOp::create(b, l, sum, iter[1], at,
                                                    sliceSizes, strides);
          scf::YieldOp::create(b, l, ValueRange{sum, written});
        });
  return loop.getResult(1);
}

/// CumSum along a constant axis, or along one read at run time (a switch
/// over the possible axes).
struct CumSumPattern : OpRewritePattern<onnx::CumSumOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::CumSumOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getX();
    auto type = dyn_cast<RankedTensorType>(x.getType());
    if (!type || !isa<RankedTensorType>(op.getType()) || type.getRank() == 0)
      return rewriter.notifyMatchFailure(op, "needs a ranked input");
    int64_t rank = type.getRank();
    bool exclusive = op.getExclusive() != 0, reverse = op.getReverse() != 0;
    std::optional<SmallVector<int64_t>> axes = constantInts(op.getAxis());
    if (axes) {
      if (axes->size() != 1)
        return op.emitError() << "CumSum axis must be one value, not "
                              << axes->size();
      int64_t axis = (*axes)[0] < 0 ? (*axes)[0] + rank : (*axes)[0];
      if (axis < 0 || axis >= rank)
        return op.emitError() << "CumSum axis " << (*axes)[0]
                              << " is out of range for rank " << rank;
      replaceWithCast(rewriter, op,
                      buildCumSum(rewriter, loc, x, axis, exclusive, reverse),
                      op.getType());
      return success();
    }
    auto axisType = dyn_cast<RankedTensorType>(op.getAxis().getType());
    if (!axisType || axisType.getRank() > 1 ||
        !axisType.getElementType().isSignlessInteger() ||
        (axisType.getRank() == 1 && axisType.getDimSize(0) != 1))
      return op.emitError() << "CumSum axis must be an integer scalar or "
                               "one-element tensor";
    SmallVector<Value> at(axisType.getRank(), idx(rewriter, loc, 0));
    Value raw = tensor::ExtractOp::create(rewriter, loc, op.getAxis(), at);
    Value a = arith::IndexCastOp::create(rewriter, loc,
                                         rewriter.getIndexType(), raw);
    Value r = idx(rewriter, loc, rank);
    Value neg = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt,
                                      a, idx(rewriter, loc, 0));
    a = arith::SelectOp::create(rewriter, loc, neg,
                                arith::AddIOp::create(rewriter, loc, a, r), a);
    Value ok = arith::AndIOp::create(
        rewriter, loc,
        arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::sge, a,
                              idx(rewriter, loc, 0)),
        arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt, a, r));
    cf::AssertOp::create(rewriter, loc, ok,
                         ("CumSum: the axis is out of range for rank " +
                          Twine(rank))
                             .str());
    // Cases 0 .. rank-2; the last axis is the default.
    SmallVector<int64_t> cases;
    for (int64_t d = 0; d + 1 < rank; ++d)
      cases.push_back(d);
    auto full = RankedTensorType::get(
        SmallVector<int64_t>(rank, ShapedType::kDynamic), type.getElementType());
    auto sw = scf::IndexSwitchOp::create(rewriter, loc, TypeRange{full}, a,
                                         cases, cases.size());
    auto fill = [&](Region &region, int64_t axis) {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&region.emplaceBlock());
      Value v = buildCumSum(rewriter, loc, x, axis, exclusive, reverse);
      v = tensor::CastOp::create(rewriter, loc, full, v);
      scf::YieldOp::create(rewriter, loc, v);
    };
    for (int64_t d = 0; d + 1 < rank; ++d)
      fill(sw.getCaseRegions()[d], d);
    fill(sw.getDefaultRegion(), rank - 1);
    replaceWithCast(rewriter, op, sw.getResult(0), op.getType());
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateScatterPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ScatterElementsPattern, ScatterNDPattern, GatherNDPattern,
               NonZeroPattern, CumSumPattern>(patterns.getContext());
}
