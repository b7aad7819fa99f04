//===- ShapeValues.cpp - compile-time values of onnx shape tensors --------===//
//
// Exporters compute Reshape/Expand targets from Shape, Gather and Concat
// rather than writing constants; the importer's type inference and the
// raising passes both need what of such a tensor is known at compile time.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/ONNX.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::onnx;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

Type elementTypeOf(Value v) {
  if (auto t = dyn_cast<TensorType>(v.getType()))
    return t.getElementType();
  return {};
}

std::optional<SmallVector<int64_t>> shapeOf(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t)
    return std::nullopt;
  return SmallVector<int64_t>(t.getShape());
}
using Shape = std::optional<SmallVector<int64_t>>;
} // namespace

std::optional<SmallVector<int64_t>>
mlir::onnx::getConstantInts(Value value) {
  if (!value)
    return std::nullopt;
  auto cst = value.getDefiningOp<ConstantOp>();
  if (!cst)
    return std::nullopt;
  auto type = dyn_cast<ShapedType>(cst.getValue().getType());
  if (!type || !type.getElementType().isInteger() || type.getRank() > 1)
    return std::nullopt;
  SmallVector<int64_t> out;
  if (auto dense = dyn_cast<DenseIntElementsAttr>(cst.getValue())) {
    for (const APInt &v : dense.getValues<APInt>())
      out.push_back(v.getSExtValue());
    return out;
  }
  return std::nullopt;
}

// Element values of a small integer tensor computed from shapes (Shape,
// Gather, Concat, Unsqueeze, Squeeze, Cast, Constant): known elements are
// their values, the others kDyn. Exporters build Reshape and Expand targets
// this way ("[-1, x.shape[2]]"), and knowing the static entries keeps
// static dimensions static.
static std::optional<SmallVector<int64_t>> partialInts(Value v, int depth) {
  if (!v || depth > 16)
    return std::nullopt;
  if (auto known = getConstantInts(v))
    return known;
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;
  if (auto shapeOp = dyn_cast<ShapeOp>(op)) {
    Shape s = shapeOf(shapeOp.getData());
    if (!s)
      return std::nullopt;
    int64_t rank = s->size();
    auto clampAxis = [&](int64_t a) {
      return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank);
    };
    int64_t start = clampAxis(shapeOp.getStart());
    int64_t end = clampAxis(shapeOp.getEnd().value_or(rank));
    if (end <= start)
      return SmallVector<int64_t>();
    return SmallVector<int64_t>(s->begin() + start, s->begin() + end);
  }
  if (auto gather = dyn_cast<GatherOp>(op)) {
    auto data = partialInts(gather.getData(), depth + 1);
    auto idx = getConstantInts(gather.getIndices());
    if (!data || !idx || gather.getAxis() != 0)
      return std::nullopt;
    SmallVector<int64_t> out;
    int64_t n = data->size();
    for (int64_t i : *idx) {
      if (i < -n || i >= n)
        return std::nullopt;
      out.push_back((*data)[i < 0 ? i + n : i]);
    }
    return out;
  }
  if (auto concat = dyn_cast<ConcatOp>(op)) {
    SmallVector<int64_t> out;
    for (Value in : concat.getInputs()) {
      auto part = partialInts(in, depth + 1);
      if (!part)
        return std::nullopt;
      out.append(*part);
    }
    return out;
  }
  // Rank changes of a scalar or vector keep its values in order.
  if (isa<UnsqueezeOp, SqueezeOp, IdentityOp>(op) ||
      (isa<CastOp>(op) && elementTypeOf(op->getResult(0)) &&
       elementTypeOf(op->getResult(0)).isInteger(64))) {
    Shape s = shapeOf(op->getResult(0));
    if (!s || s->size() > 1)
      return std::nullopt;
    Value in = op->getOperand(0);
    if (!elementTypeOf(in) || !elementTypeOf(in).isInteger())
      return std::nullopt;
    return partialInts(in, depth + 1);
  }
  return std::nullopt;
}

std::optional<SmallVector<int64_t>> mlir::onnx::getPartialInts(Value value) {
  return partialInts(value, 0);
}
