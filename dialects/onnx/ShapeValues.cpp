//===- ShapeValues.cpp - compile-time values of onnx shape tensors --------===//
//
// Exporters compute Reshape/Expand targets from Shape, Gather and Concat
// rather than writing constants; the importer's type inference and the
// raising passes both need what of such a tensor is known at compile time.
// Also the shape helpers that the inference rules share.
//
//===----------------------------------------------------------------------===//

#include "ShapeInference.h"

#include "moe/Dialect/ONNX.h"

#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::onnx;

using namespace mlir::onnx::detail;

Type onnx::detail::elementTypeOf(Value v) { return getTensorElementType(v); }
Shape onnx::detail::shapeOf(Value v) { return getTensorShape(v); }
bool onnx::detail::isNone(Value v) { return isa<NoneType>(v.getType()); }

Type onnx::detail::makeType(const Shape &shape, Type elt) {
  if (!shape)
    return UnrankedTensorType::get(elt);
  return RankedTensorType::get(*shape, elt);
}

std::optional<int64_t> onnx::detail::normAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

Shape onnx::detail::broadcast(const Shape &a, const Shape &b,
                              std::string &error) {
  if (!a || !b)
    return std::nullopt;
  size_t rank = std::max(a->size(), b->size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a->size() ? 1 : (*a)[i - (rank - a->size())];
    int64_t y = i < rank - b->size() ? 1 : (*b)[i - (rank - b->size())];
    if (x == 1)
      out[i] = y;
    else if (y == 1)
      out[i] = x;
    else if (x == kDyn)
      out[i] = y;
    else if (y == kDyn || x == y)
      out[i] = x;
    else {
      error = "cannot broadcast dimension " + std::to_string(x) + " with " +
              std::to_string(y);
      return std::nullopt;
    }
  }
  return out;
}

std::optional<int64_t> onnx::detail::staticLength(Value v) {
  Shape s = shapeOf(v);
  if (!s || s->size() != 1 || (*s)[0] == kDyn)
    return std::nullopt;
  return (*s)[0];
}

Type onnx::typeFromONNXCode(MLIRContext *ctx, int64_t code) {
  Builder b(ctx);
  auto uint = [&](unsigned w) {
    return IntegerType::get(ctx, w, IntegerType::Unsigned);
  };
  switch (code) {
  case 1:
    return b.getF32Type();
  case 2:
    return uint(8);
  case 3:
    return b.getIntegerType(8);
  case 4:
    return uint(16);
  case 5:
    return b.getIntegerType(16);
  case 6:
    return b.getIntegerType(32);
  case 7:
    return b.getIntegerType(64);
  case 9:
    return b.getI1Type();
  case 10:
    return b.getF16Type();
  case 11:
    return b.getF64Type();
  case 12:
    return uint(32);
  case 13:
    return uint(64);
  case 16:
    return b.getBF16Type();
  default:
    return {};
  }
}

std::string onnx::onnxElementTypeName(int64_t code) {
  static const char *const names[] = {
      "UNDEFINED",    "FLOAT",          "UINT8",      "INT8",
      "UINT16",       "INT16",          "INT32",      "INT64",
      "STRING",       "BOOL",           "FLOAT16",    "DOUBLE",
      "UINT32",       "UINT64",         "COMPLEX64",  "COMPLEX128",
      "BFLOAT16",     "FLOAT8E4M3FN",   "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
      "FLOAT8E5M2FNUZ", "UINT4",        "INT4",       "FLOAT4E2M1",
      "FLOAT8E8M0",   "UINT2",          "INT2"};
  if (code >= 0 && code < static_cast<int64_t>(std::size(names)))
    return names[code];
  return "type " + std::to_string(code);
}

Type mlir::onnx::getTensorElementType(Value value) {
  if (auto t = dyn_cast<TensorType>(value.getType()))
    return t.getElementType();
  return {};
}

std::optional<SmallVector<int64_t>> mlir::onnx::getTensorShape(Value value) {
  auto t = dyn_cast<RankedTensorType>(value.getType());
  if (!t)
    return std::nullopt;
  return SmallVector<int64_t>(t.getShape());
}

std::optional<SmallVector<int64_t>> mlir::onnx::getConstantInts(Value value) {
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
// Gather, Slice, Concat, reshapes, Cast, Constant, arithmetic, OneHot of
// constant positions): known elements are
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
  if (isa<UnsqueezeOp, SqueezeOp, IdentityOp, ReshapeOp, FlattenOp>(op) ||
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
  // A filled vector of a constant length.
  if (auto fill = dyn_cast<ConstantOfShapeOp>(op)) {
    auto len = getConstantInts(fill.getInput());
    auto value = dyn_cast_or_null<DenseIntElementsAttr>(fill.getValueAttr());
    if (!len || len->size() != 1 || (*len)[0] < 0 || (*len)[0] > 64 ||
        (fill.getValueAttr() && (!value || value.getNumElements() != 1)))
      return std::nullopt;
    int64_t x = value ? (*value.getValues<APInt>().begin()).getSExtValue() : 0;
    return SmallVector<int64_t>((*len)[0], x);
  }
  // Elementwise integer arithmetic, comparison and selection (how torch
  // resolves -1 entries of an expand target); a scalar broadcasts.
  // A slice of a vector with constant bounds.
  if (auto slice = dyn_cast<SliceOp>(op)) {
    auto data = partialInts(slice.getData(), depth + 1);
    auto starts = getConstantInts(slice.getStarts());
    auto ends = getConstantInts(slice.getEnds());
    auto steps = isa<NoneType>(slice.getSteps().getType())
                     ? std::optional(SmallVector<int64_t>{1})
                     : getConstantInts(slice.getSteps());
    bool axis0 = isa<NoneType>(slice.getAxes().getType()) ||
                 getConstantInts(slice.getAxes()) == SmallVector<int64_t>{0} ||
                 getConstantInts(slice.getAxes()) == SmallVector<int64_t>{-1};
    Shape s = shapeOf(slice.getData());
    if (!data || !starts || !ends || !steps || !axis0 || !s || s->size() != 1 ||
        starts->size() != 1 || ends->size() != 1 || steps->size() != 1 ||
        (*steps)[0] <= 0)
      return std::nullopt;
    int64_t n = data->size();
    auto clampTo = [&](int64_t x) {
      return std::clamp<int64_t>(x < 0 ? x + n : x, 0, n);
    };
    SmallVector<int64_t> out;
    for (int64_t i = clampTo((*starts)[0]); i < clampTo((*ends)[0]);
         i += (*steps)[0])
      out.push_back((*data)[i]);
    return out;
  }
  // OneHot of constant positions: `off` everywhere, `on` at the indices
  // (how torch.onnx writes repeat_interleave's repeats).
  if (auto oneHot = dyn_cast<OneHotOp>(op)) {
    auto idx = getConstantInts(oneHot.getIndices());
    auto size = getConstantInts(oneHot.getDepth());
    auto values = partialInts(oneHot.getValues(), depth + 1);
    Shape s = shapeOf(oneHot.getIndices());
    if (!idx || !size || size->size() != 1 || !values || values->size() != 2 ||
        !s || s->size() > 1 || (s->size() == 1 && idx->size() != 1) ||
        (*size)[0] < 0 || (*size)[0] > 64)
      return std::nullopt;
    int64_t d = (*size)[0], at = (*idx)[0] < 0 ? (*idx)[0] + d : (*idx)[0];
    SmallVector<int64_t> out(d, (*values)[0]);
    if (at >= 0 && at < d)
      out[at] = (*values)[1];
    return out;
  }
  if (isa<AddOp, SubOp, MulOp, DivOp, EqualOp, WhereOp>(op)) {
    SmallVector<SmallVector<int64_t>> args;
    size_t n = 1;
    for (Value in : op->getOperands()) {
      auto vals = partialInts(in, depth + 1);
      if (!vals || (vals->size() != 1 && n != 1 && vals->size() != n))
        return std::nullopt;
      n = std::max(n, vals->size());
      args.push_back(std::move(*vals));
    }
    auto at = [&](unsigned arg, size_t i) {
      return args[arg].size() == 1 ? args[arg][0] : args[arg][i];
    };
    SmallVector<int64_t> out;
    for (size_t i = 0; i < n; ++i) {
      int64_t a = at(0, i), b = at(1, i), r = kDyn;
      if (isa<WhereOp>(op)) {
        if (a != kDyn)
          r = a ? b : at(2, i);
      } else if (a != kDyn && b != kDyn) {
        if (isa<EqualOp>(op))
          r = a == b;
        else if (isa<AddOp>(op) && !llvm::AddOverflow(a, b, r)) {
        } else if (isa<SubOp>(op) && !llvm::SubOverflow(a, b, r)) {
        } else if (isa<MulOp>(op) && !llvm::MulOverflow(a, b, r)) {
        } else if (isa<DivOp>(op) && b != 0 && !(a == INT64_MIN && b == -1)) {
          r = a / b; // ONNX's integer division truncates, as C++'s does
        } else {
          r = kDyn;
        }
      }
      out.push_back(r);
    }
    return out;
  }
  return std::nullopt;
}

std::optional<SmallVector<int64_t>> mlir::onnx::getPartialInts(Value value) {
  return partialInts(value, 0);
}
