//===- Utils.cpp - helpers shared by the onnx -> core patterns ------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace mlir::moe::onnx_to_core {

FailureOr<SmallVector<OpFoldResult>> broadcastSizes(OpBuilder &b, Location loc,
                                                    RankedTensorType type,
                                                    ValueRange from) {
  SmallVector<OpFoldResult> sizes;
  int64_t rank = type.getRank();
  for (int64_t i = 0; i < rank; ++i) {
    if (!type.isDynamicDim(i)) {
      sizes.push_back(b.getIndexAttr(type.getDimSize(i)));
      continue;
    }
    Value source;
    int64_t sourceDim = 0;
    for (Value v : from) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      if (!t)
        continue;
      int64_t j = i - (rank - t.getRank());
      if (j >= 0 && t.isDynamicDim(j)) {
        source = v;
        sourceDim = j;
        break;
      }
    }
    if (!source)
      return failure();
    sizes.push_back(
        tensor::DimOp::create(b, loc, source, sourceDim).getResult());
  }
  return sizes;
}

FailureOr<Value> emptyFor(OpBuilder &b, Location loc, RankedTensorType type,
                          ValueRange from) {
  auto sizes = broadcastSizes(b, loc, type, from);
  if (failed(sizes))
    return failure();
  return Value(tensor::EmptyOp::create(b, loc, *sizes, type.getElementType()));
}

void assertBroadcastable(OpBuilder &b, Location loc, ValueRange inputs,
                         ArrayRef<OpFoldResult> sizes) {
  int64_t rank = sizes.size();
  for (auto [k, v] : llvm::enumerate(inputs)) {
    auto t = cast<RankedTensorType>(v.getType());
    for (int64_t j = 0; j < t.getRank(); ++j) {
      if (!t.isDynamicDim(j))
        continue;
      int64_t i = j + rank - t.getRank();
      Value have = tensor::DimOp::create(b, loc, v, j);
      Value want = getValueOrCreateConstantIndexOp(b, loc, sizes[i]);
      if (have == want)
        continue;
      Value same =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, have, want);
      cf::AssertOp::create(
          b, loc, same,
          ("operand " + Twine(k) + " dimension " + Twine(j) +
           " differs from the result at run time (dynamic broadcasting is "
           "not supported)")
              .str());
    }
  }
}

FailureOr<Value>
buildElementwise(OpBuilder &b, Location loc, RankedTensorType type,
                 ValueRange inputs,
                 function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  auto sizes = broadcastSizes(b, loc, type, inputs);
  if (failed(sizes))
    return failure();
  // linalg takes loop bounds from the inputs too: a dynamic input size must
  // equal the result's, or the loops would run past the result buffer.
  assertBroadcastable(b, loc, inputs, *sizes);
  Value init = tensor::EmptyOp::create(b, loc, *sizes, type.getElementType());
  MLIRContext *ctx = b.getContext();
  int64_t rank = type.getRank();
  SmallVector<AffineMap> maps;
  for (Value v : inputs) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<AffineExpr> exprs;
    for (int64_t j = 0; j < t.getRank(); ++j) {
      int64_t i = j + rank - t.getRank();
      // A static 1 against a larger result dimension is broadcast.
      bool broadcast = t.getDimSize(j) == 1 && type.getDimSize(i) != 1;
      exprs.push_back(broadcast ? getAffineConstantExpr(0, ctx)
                                : getAffineDimExpr(i, ctx));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, ctx));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, inputs, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, result);
      });
  return generic.getResult(0);
}

std::optional<SmallVector<int64_t>> constantInts(Value v) {
  Attribute attr;
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    attr = c.getValue();
  else if (auto c = v.getDefiningOp<onnx::ConstantOp>())
    attr = c.getValue();
  auto dense = dyn_cast_or_null<DenseIntElementsAttr>(attr);
  if (!dense || dense.getType().getRank() > 1)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &i : dense.getValues<APInt>())
    out.push_back(i.getSExtValue());
  return out;
}

Value toF32(OpBuilder &b, Location loc, Value v) {
  Type f32 = b.getF32Type();
  if (v.getType() == f32)
    return v;
  return arith::ExtFOp::create(b, loc, f32, v);
}

Value fromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

void replaceWithCast(PatternRewriter &rewriter, Operation *op, Value result,
                     Type type) {
  if (result.getType() != type)
    result = tensor::CastOp::create(rewriter, op->getLoc(), type, result);
  rewriter.replaceOp(op, result);
}

Value vectorOf(OpBuilder &b, Location loc, ValueRange values,
               Type elementType) {
  if (!elementType)
    elementType = values.empty() ? b.getIndexType() : values[0].getType();
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    elementType);
  return tensor::FromElementsOp::create(b, loc, type, values);
}

RankedTensorType rankedFloat(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && isa<FloatType>(t.getElementType()) ? t : RankedTensorType();
}

OpFoldResult sizeOf(OpBuilder &b, Location loc, Value v, int64_t dim) {
  auto t = cast<RankedTensorType>(v.getType());
  if (!t.isDynamicDim(dim))
    return b.getIndexAttr(t.getDimSize(dim));
  return tensor::DimOp::create(b, loc, v, dim).getResult();
}

Value zeroAcc(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes) {
  Type f32 = b.getF32Type();
  Value empty = tensor::EmptyOp::create(b, loc, sizes, f32);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

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

} // namespace mlir::moe::onnx_to_core

Value mlir::moe::onnx_to_core::normalizeIndex(OpBuilder &b, Location loc,
                                              Value i, Value size) {
  Value v = arith::IndexCastOp::create(b, loc, b.getIndexType(), i);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v, zero);
  v = arith::SelectOp::create(b, loc, neg,
                              arith::AddIOp::create(b, loc, v, size), v);
  v = arith::MaxSIOp::create(b, loc, v, zero);
  Value last = arith::SubIOp::create(b, loc, size,
                                     arith::ConstantIndexOp::create(b, loc, 1));
  return arith::MinSIOp::create(b, loc, v, last);
}
