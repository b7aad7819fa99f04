//===- Reduce.cpp - onnx Reduce* ops on linalg -----------------------------===//
//
// A reduction is an elementwise contribution (|x|, x*x, exp x), an
// associative combination (sum, max, min, product) over the axes, and an
// elementwise finish (divide by the count, sqrt, log). Constant axes become
// one linalg.reduce; axes known only at run time reduce each dimension in
// turn under an scf.if, which gives the same result for an associative
// combination.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
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

/// One reduction's arithmetic for an element type. Float sums and products
/// accumulate in f32 (max and min in the element type); integers in their
/// own type; booleans only under max (any) and min (all).
struct Reduction {
  ReduceKind kind;
  Type elt, acc;

  bool isFloat() const { return isa<FloatType>(elt); }
  bool isBool() const { return elt.isInteger(1); }
  bool isExtremum() const {
    return kind == ReduceKind::Max || kind == ReduceKind::Min;
  }
  bool hasFinish() const {
    return kind == ReduceKind::Mean || kind == ReduceKind::L2 ||
           kind == ReduceKind::LogSum || kind == ReduceKind::LogSumExp;
  }

  /// The value an element contributes, in the accumulator type.
  Value contribution(OpBuilder &b, Location l, Value x) const {
    if (isFloat() && !isExtremum())
      x = toF32(b, l, x);
    switch (kind) {
    case ReduceKind::L1:
      return isFloat() ? Value(math::AbsFOp::create(b, l, x))
                       : Value(math::AbsIOp::create(b, l, x));
    case ReduceKind::L2:
    case ReduceKind::SumSquare:
      return isFloat() ? Value(arith::MulFOp::create(b, l, x, x))
                       : Value(arith::MulIOp::create(b, l, x, x));
    case ReduceKind::LogSumExp:
      return math::ExpOp::create(b, l, x);
    default:
      return x;
    }
  }

  Value combine(OpBuilder &b, Location l, Value x, Value a) const {
    switch (kind) {
    case ReduceKind::Max:
      return isFloat()  ? Value(arith::MaximumFOp::create(b, l, x, a))
             : isBool() ? Value(arith::MaxUIOp::create(b, l, x, a))
                        : Value(arith::MaxSIOp::create(b, l, x, a));
    case ReduceKind::Min:
      return isFloat()  ? Value(arith::MinimumFOp::create(b, l, x, a))
             : isBool() ? Value(arith::MinUIOp::create(b, l, x, a))
                        : Value(arith::MinSIOp::create(b, l, x, a));
    case ReduceKind::Prod:
      return isFloat() ? Value(arith::MulFOp::create(b, l, x, a))
                       : Value(arith::MulIOp::create(b, l, x, a));
    default:
      return isFloat() ? Value(arith::AddFOp::create(b, l, x, a))
                       : Value(arith::AddIOp::create(b, l, x, a));
    }
  }

  TypedAttr initValue(OpBuilder &b) const {
    if (auto ft = dyn_cast<FloatType>(acc)) {
      double inf = std::numeric_limits<double>::infinity();
      double v = kind == ReduceKind::Max    ? -inf
                 : kind == ReduceKind::Min  ? inf
                 : kind == ReduceKind::Prod ? 1.0
                                            : 0.0;
      return b.getFloatAttr(ft, v);
    }
    unsigned w = acc.getIntOrFloatBitWidth();
    if (isBool())
      return b.getIntegerAttr(acc, kind == ReduceKind::Min ? 1 : 0);
    APInt v = kind == ReduceKind::Max    ? APInt::getSignedMinValue(w)
              : kind == ReduceKind::Min  ? APInt::getSignedMaxValue(w)
              : kind == ReduceKind::Prod ? APInt(w, 1)
                                         : APInt(w, 0);
    return b.getIntegerAttr(acc, v);
  }

  /// The accumulated value's last step; `count` is the number of reduced
  /// elements in the accumulator's type.
  Value finish(OpBuilder &b, Location l, Value v, Value count) const {
    switch (kind) {
    case ReduceKind::Mean:
      return isFloat() ? Value(arith::DivFOp::create(b, l, v, count))
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

  /// `count` (index) in the accumulator type.
  Value countIn(OpBuilder &b, Location l, Value count) const {
    if (!isFloat())
      return arith::IndexCastOp::create(b, l, acc, count);
    return arith::UIToFPOp::create(
        b, l, b.getF32Type(),
        arith::IndexCastUIOp::create(b, l, b.getI64Type(), count));
  }

  /// The contributions of `data`, elementwise.
  Value contributions(OpBuilder &b, Location l, Value data) const {
    auto type = cast<RankedTensorType>(data.getType());
    if (type.getElementType() == acc && kind != ReduceKind::L1 &&
        kind != ReduceKind::L2 && kind != ReduceKind::SumSquare &&
        kind != ReduceKind::LogSumExp)
      return data;
    return *buildElementwise(b, l, type.clone(acc), data,
                             [&](OpBuilder &nb, Location nl, ValueRange a) {
                               return contribution(nb, nl, a[0]);
                             });
  }

  /// `finish` over a whole tensor, then rounded to the element type.
  Value finished(OpBuilder &b, Location l, Value v, Value count) const {
    auto type = cast<RankedTensorType>(v.getType());
    if (hasFinish()) {
      Value c = countIn(b, l, count);
      v = *buildElementwise(b, l, type, v,
                            [&](OpBuilder &nb, Location nl, ValueRange a) {
                              return finish(nb, nl, a[0], c);
                            });
    }
    return roundTo(b, l, v, elt);
  }

  /// `v` (accumulator type, contributions applied) combined over `axes`
  /// (sorted, unique, non-empty): the kept dimensions remain.
  Value reduce(OpBuilder &b, Location l, Value v,
               ArrayRef<int64_t> axes) const {
    int64_t rank = cast<RankedTensorType>(v.getType()).getRank();
    SmallVector<OpFoldResult> keptSizes;
    for (int64_t i = 0; i < rank; ++i)
      if (!llvm::is_contained(axes, i))
        keptSizes.push_back(sizeOf(b, l, v, i));
    Value empty = tensor::EmptyOp::create(b, l, keptSizes, acc);
    Value initScalar = arith::ConstantOp::create(b, l, initValue(b));
    Value init = linalg::FillOp::create(b, l, initScalar, empty).getResult(0);
    return linalg::ReduceOp::create(
               b, l, ValueRange{v}, ValueRange{init}, axes,
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, nl, combine(nb, nl, args[0], args[1]));
               })
        .getResult(0);
  }
};

/// Reinserts the reduced `axes` of `data` (rank `rank`) into `reduced` as
/// size-1 dims: each group of the expansion holds one kept dimension and the
/// reduced ones around it (no groups at all when everything was reduced to
/// a scalar).
Value keepDims(OpBuilder &b, Location loc, Value reduced, Value data,
               ArrayRef<int64_t> axes) {
  auto dataType = cast<RankedTensorType>(data.getType());
  int64_t rank = dataType.getRank();
  SmallVector<ReassociationIndices> assoc;
  if (static_cast<int64_t>(axes.size()) < rank) {
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
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    bool isReduced = llvm::is_contained(axes, i);
    outSizes.push_back(isReduced ? OpFoldResult(b.getIndexAttr(1))
                                 : sizeOf(b, loc, data, i));
    shape.push_back(isReduced ? 1 : dataType.getDimSize(i));
  }
  auto type = RankedTensorType::get(
      shape, cast<RankedTensorType>(reduced.getType()).getElementType());
  return tensor::ExpandShapeOp::create(b, loc, type, reduced, assoc, outSizes);
}

template <typename OpT, ReduceKind K>
struct ReducePattern : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;

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
    bool extremum = K == ReduceKind::Max || K == ReduceKind::Min;
    bool supported =
        isFloat || (elt.isInteger(1) && extremum) ||
        (elt.isSignlessInteger() && !elt.isInteger(1) && !floatOnly);
    if (!supported)
      return op.emitError()
             << op->getName() << " of " << elt << " elements is not supported";
    Reduction r{K, elt, (extremum || !isFloat) ? elt : rewriter.getF32Type()};
    int64_t rank = inType.getRank();
    SmallVector<int64_t> axes;
    Value axesInput = op.getAxes();
    if (!isa<NoneType>(axesInput.getType())) {
      auto constAxes = constantInts(axesInput);
      if (!constAxes)
        return rewriteRuntimeAxes(op, rewriter, r, axesInput);
      axes = *constAxes;
    }
    if (axes.empty() && op.getNoopWithEmptyAxes()) {
      // Reduced over no axis: each element's contribution, finished.
      Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
      replaceWithCast(rewriter, op,
                      r.finished(rewriter, loc,
                                 r.contributions(rewriter, loc, data), one),
                      outType);
      return success();
    }
    if (axes.empty())
      for (int64_t i = 0; i < rank; ++i)
        axes.push_back(i);
    for (int64_t &a : axes) {
      if (a < -rank || a >= rank)
        return op.emitError() << "reduction axis " << a
                              << " is out of range for rank " << rank;
      if (a < 0)
        a += rank;
    }
    llvm::sort(axes);
    axes.erase(std::unique(axes.begin(), axes.end()), axes.end());

    Value reduced =
        r.reduce(rewriter, loc, r.contributions(rewriter, loc, data), axes);
    // The number of reduced elements (read at run time when dynamic).
    Value count = arith::ConstantIndexOp::create(rewriter, loc, 1);
    for (int64_t a : axes)
      count = arith::MulIOp::create(
          rewriter, loc, count,
          getValueOrCreateConstantIndexOp(rewriter, loc,
                                          sizeOf(rewriter, loc, data, a)));
    reduced = r.finished(rewriter, loc, reduced, count);
    if (op.getKeepdims())
      reduced = keepDims(rewriter, loc, reduced, data, axes);
    replaceWithCast(rewriter, op, reduced, outType);
    return success();
  }

  /// Axes read at run time: dimension d is reduced when some axis names it
  /// (or when there are no axes and noop_with_empty_axes is off), one
  /// dimension at a time, kept as size 1; without keepdims a final reshape
  /// drops the reduced dimensions.
  LogicalResult rewriteRuntimeAxes(OpT op, PatternRewriter &rewriter,
                                   const Reduction &r, Value axesInput) const {
    Location loc = op.getLoc();
    Value data = op.getData();
    auto inType = cast<RankedTensorType>(data.getType());
    auto outType = cast<RankedTensorType>(op.getReduced().getType());
    auto axesType = dyn_cast<RankedTensorType>(axesInput.getType());
    if (!axesType || axesType.getRank() != 1 ||
        !axesType.getElementType().isSignlessInteger())
      return rewriter.notifyMatchFailure(op, "axes must be a 1-D integer "
                                             "tensor");
    int64_t rank = inType.getRank();
    if (!op.getKeepdims() && axesType.isDynamicDim(0))
      return op.emitError() << "reduction without keepdims over a number of "
                               "axes known only at run time is not supported";
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value numAxes = tensor::DimOp::create(rewriter, loc, axesInput, 0);
    Value noAxes = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq,
                                         numAxes, idx(0));
    Value allIfEmpty = arith::ConstantIntOp::create(
        rewriter, loc, rewriter.getI1Type(), !op.getNoopWithEmptyAxes());
    Value reduceAll = arith::AndIOp::create(rewriter, loc, noAxes, allIfEmpty);

    // Each axis checked once, then whether it names dimension d.
    Type axisType = axesType.getElementType();
    auto axisAt = [&](OpBuilder &b, Location l, Value j) -> Value {
      Value a = tensor::ExtractOp::create(b, l, axesInput, ValueRange{j});
      Value a64 = axisType.isInteger(64)
                      ? a
                      : Value(arith::ExtSIOp::create(b, l, b.getI64Type(), a));
      Value r64 = arith::ConstantIntOp::create(b, l, b.getI64Type(), rank);
      Value zero = arith::ConstantIntOp::create(b, l, b.getI64Type(), 0);
      Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, a64,
                                        zero);
      return arith::SelectOp::create(
          b, l, neg, arith::AddIOp::create(b, l, a64, r64), a64);
    };
    scf::ForOp::create(
        rewriter, loc, idx(0), numAxes, idx(1), ValueRange{},
        [&](OpBuilder &b, Location l, Value j, ValueRange) {
          Value a = axisAt(b, l, j);
          Value zero = arith::ConstantIntOp::create(b, l, b.getI64Type(), 0);
          Value r64 = arith::ConstantIntOp::create(b, l, b.getI64Type(), rank);
          Value ok = arith::AndIOp::create(
              b, l,
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, a, zero),
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, a, r64));
          cf::AssertOp::create(
              b, l, ok,
              (op->getName().stripDialect() +
               ": a reduction axis is out of range for rank " + Twine(rank))
                  .str());
          scf::YieldOp::create(b, l);
        });
    SmallVector<Value> reducedDim;
    for (int64_t d = 0; d < rank; ++d) {
      auto scan = scf::ForOp::create(
          rewriter, loc, idx(0), numAxes, idx(1), ValueRange{reduceAll},
          [&](OpBuilder &b, Location l, Value j, ValueRange iter) {
            Value hit = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::eq, axisAt(b, l, j),
                arith::ConstantIntOp::create(b, l, b.getI64Type(), d));
            scf::YieldOp::create(b, l,
                                 ValueRange{arith::OrIOp::create(b, l, iter[0],
                                                                 hit)});
          });
      reducedDim.push_back(scan.getResult(0));
    }

    // Reduce dimension by dimension; the value keeps rank `rank`.
    Value v = r.contributions(rewriter, loc, data);
    auto dynType = RankedTensorType::get(
        SmallVector<int64_t>(rank, ShapedType::kDynamic), r.acc);
    v = tensor::CastOp::create(rewriter, loc, dynType, v);
    Value count = idx(1);
    for (int64_t d = 0; d < rank; ++d) {
      Value in = v;
      auto ifOp = scf::IfOp::create(
          rewriter, loc, reducedDim[d],
          [&](OpBuilder &b, Location l) {
            Value red = r.reduce(b, l, in, {d});
            Value kept = keepDims(b, l, red, in, {d});
            scf::YieldOp::create(
                b, l, ValueRange{tensor::CastOp::create(b, l, dynType, kept)});
          },
          [&](OpBuilder &b, Location l) {
            scf::YieldOp::create(b, l, ValueRange{in});
          });
      v = ifOp.getResult(0);
      Value size = getValueOrCreateConstantIndexOp(
          rewriter, loc, sizeOf(rewriter, loc, data, d));
      count = arith::MulIOp::create(
          rewriter, loc, count,
          arith::SelectOp::create(rewriter, loc, reducedDim[d], size, idx(1)));
    }
    v = r.finished(rewriter, loc, v, count);

    if (!op.getKeepdims()) {
      // The kept sizes, in order, as the reshape's shape operand.
      int64_t outRank = outType.getRank();
      Value shape = tensor::EmptyOp::create(
          rewriter, loc, ArrayRef<int64_t>{outRank}, rewriter.getIndexType());
      Value dropFlags =
          vectorOf(rewriter, loc, reducedDim, rewriter.getI1Type());
      auto fill = scf::ForOp::create(
          rewriter, loc, idx(0), idx(rank), idx(1), ValueRange{shape, idx(0)},
          [&](OpBuilder &b, Location l, Value d, ValueRange iter) {
            Value dropped =
                tensor::ExtractOp::create(b, l, dropFlags, ValueRange{d});
            Value size = tensor::DimOp::create(b, l, data, d);
            auto keep = scf::IfOp::create(
                b, l, dropped,
                [&](OpBuilder &tb, Location tl) {
                  scf::YieldOp::create(tb, tl, iter);
                },
                [&](OpBuilder &eb, Location el) {
                  // Positions past the end only happen for repeated axes,
                  // which the check below reports.
                  Value inRange = arith::CmpIOp::create(
                      eb, el, arith::CmpIPredicate::slt, iter[1],
                      arith::ConstantIndexOp::create(eb, el, outRank));
                  Value at = arith::SelectOp::create(
                      eb, el, inRange, iter[1],
                      arith::ConstantIndexOp::create(eb, el, 0));
                  Value s = tensor::InsertOp::create(eb, el, size, iter[0],
                                                     ValueRange{at});
                  Value next = arith::AddIOp::create(
                      eb, el, iter[1], arith::ConstantIndexOp::create(eb, el, 1));
                  scf::YieldOp::create(eb, el, ValueRange{s, next});
                });
            scf::YieldOp::create(b, l, keep.getResults());
          });
      Value kept = fill.getResult(1);
      Value exact = arith::CmpIOp::create(rewriter, loc,
                                          arith::CmpIPredicate::eq, kept,
                                          idx(outRank));
      cf::AssertOp::create(
          rewriter, loc, exact,
          (op->getName().stripDialect() + ": the reduction axes repeat an axis")
              .str());
      auto flatType = RankedTensorType::get(
          SmallVector<int64_t>(outRank, ShapedType::kDynamic),
          outType.getElementType());
      v = tensor::ReshapeOp::create(rewriter, loc, flatType, v,
                                    fill.getResult(0));
    }
    replaceWithCast(rewriter, op, v, outType);
    return success();
  }
};
} // namespace

void mlir::moe::onnx_to_core::populateReducePatterns(
    RewritePatternSet &patterns) {
  patterns.add<ReducePattern<onnx::ReduceSumOp, ReduceKind::Sum>,
               ReducePattern<onnx::ReduceMeanOp, ReduceKind::Mean>,
               ReducePattern<onnx::ReduceMaxOp, ReduceKind::Max>,
               ReducePattern<onnx::ReduceMinOp, ReduceKind::Min>,
               ReducePattern<onnx::ReduceProdOp, ReduceKind::Prod>,
               ReducePattern<onnx::ReduceL1Op, ReduceKind::L1>,
               ReducePattern<onnx::ReduceL2Op, ReduceKind::L2>,
               ReducePattern<onnx::ReduceSumSquareOp, ReduceKind::SumSquare>,
               ReducePattern<onnx::ReduceLogSumOp, ReduceKind::LogSum>,
               ReducePattern<onnx::ReduceLogSumExpOp, ReduceKind::LogSumExp>>(
      patterns.getContext());
}
