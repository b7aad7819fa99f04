//===- ONNXValueMatchers.cpp - facts about onnx values --------------------===//

#include "ONNXValueMatchers.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

static constexpr int64_t kDyn = ShapedType::kDynamic;

Value match::stripNoopCasts(Value v) {
  while (auto cast = v.getDefiningOp<onnx::CastOp>()) {
    if (cast.getInput().getType() != cast.getOutput().getType())
      break;
    v = cast.getInput();
  }
  return v;
}

Value match::stripFloatCasts(Value v) {
  while (auto cast = v.getDefiningOp<onnx::CastOp>()) {
    auto in = dyn_cast<ShapedType>(cast.getInput().getType());
    auto out = dyn_cast<ShapedType>(cast.getOutput().getType());
    if (!in || !out || !isa<FloatType>(in.getElementType()) ||
        !isa<FloatType>(out.getElementType()))
      break;
    v = cast.getInput();
  }
  return v;
}

RankedTensorType match::rankedType(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : nullptr;
}

std::optional<SmallVector<int64_t>> match::realDims(Value v) {
  auto t = rankedType(v);
  if (!t)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (int64_t d : t.getShape())
    if (d != 1)
      out.push_back(d);
  return out;
}

int64_t match::numRealDims(Value v) {
  auto dims = realDims(v);
  return dims ? static_cast<int64_t>(dims->size()) : -1;
}

std::optional<int64_t> match::realDimPos(Value v, unsigned i) {
  auto t = rankedType(v);
  if (!t)
    return std::nullopt;
  unsigned seen = 0;
  for (auto [pos, d] : llvm::enumerate(t.getShape()))
    if (d != 1 && seen++ == i)
      return pos;
  return std::nullopt;
}

bool match::isUnitReshape(Value in, Value out) {
  auto a = realDims(in), b = realDims(out);
  if (!a || !b || a->size() != b->size())
    return false;
  int dynamic = 0;
  for (auto [x, y] : llvm::zip(*a, *b)) {
    if (x != y)
      return false;
    dynamic += x == kDyn;
  }
  return dynamic <= 1;
}

std::optional<int64_t> match::scalarInt(Value v) {
  auto vals = onnx::getPartialInts(v);
  if (!vals || vals->size() != 1 || (*vals)[0] == kDyn)
    return std::nullopt;
  return (*vals)[0];
}

std::optional<int64_t> match::scalarConstant(Value v) {
  auto t = rankedType(v);
  if (!t || t.getRank() != 0)
    return std::nullopt;
  return scalarInt(v);
}

bool match::isFloatSplat(Attribute attr, double value) {
  auto dense = dyn_cast_or_null<DenseFPElementsAttr>(attr);
  if (!dense)
    return false;
  return llvm::all_of(dense.getValues<APFloat>(), [&](const APFloat &f) {
    return f.convertToDouble() == value;
  });
}

std::optional<double> match::scalarFloat(Value v) {
  auto cst = v.getDefiningOp<onnx::ConstantOp>();
  auto dense = cst ? dyn_cast<DenseFPElementsAttr>(cst.getValue()) : nullptr;
  if (!dense || dense.getNumElements() != 1)
    return std::nullopt;
  return (*dense.getValues<APFloat>().begin()).convertToDouble();
}

std::optional<double> match::scalarFloatOperand(Operation *binary,
                                                Value &other) {
  for (unsigned i = 0; i < 2; ++i)
    if (std::optional<double> f = scalarFloat(binary->getOperand(1 - i))) {
      other = binary->getOperand(i);
      return f;
    }
  return std::nullopt;
}

static bool isZeroFloatConstant(Value v) {
  auto cst = v.getDefiningOp<onnx::ConstantOp>();
  return cst && isFloatSplat(cst.getValue(), 0.0);
}

Value match::zerosShapedLike(Value v) {
  Value shapeOperand;
  if (auto c = v.getDefiningOp<onnx::ConstantOfShapeOp>()) {
    auto value = c.getValueAttr();
    if (value && !isFloatSplat(value, 0.0))
      return nullptr;
    shapeOperand = c.getInput();
  } else if (auto e = v.getDefiningOp<onnx::ExpandOp>()) {
    if (!isZeroFloatConstant(e.getInput()))
      return nullptr;
    shapeOperand = e.getShape();
  } else {
    return nullptr;
  }
  auto shape = shapeOperand.getDefiningOp<onnx::ShapeOp>();
  if (!shape || shape.getStart() != 0 || shape.getEnd() ||
      shape.getData().getType() != v.getType())
    return nullptr;
  return shape.getData();
}

bool match::isZerosLike(Value v, Value like) {
  Value source = zerosShapedLike(v);
  return source && source.getType() == like.getType();
}

bool match::isNoopExpand(onnx::ExpandOp op) {
  auto in = rankedType(op.getInput());
  auto target = onnx::getPartialInts(op.getShape());
  if (!in || !target || static_cast<int64_t>(target->size()) > in.getRank() ||
      op.getInput().getType() != op.getOutput().getType())
    return false;
  int64_t offset = in.getRank() - target->size();
  for (auto [i, d] : llvm::enumerate(*target))
    if (d != 1 && (d == kDyn || in.getDimSize(offset + i) != d))
      return false;
  return true;
}

bool match::isSingleAxis(Value axes, int64_t axis, int64_t rank) {
  auto vals = onnx::getConstantInts(axes);
  if (!vals || vals->size() != 1)
    return false;
  int64_t a = (*vals)[0] < 0 ? (*vals)[0] + rank : (*vals)[0];
  return a == axis;
}

bool match::hasValues(Value v, ArrayRef<int64_t> values) {
  if (auto ints = onnx::getConstantInts(v))
    return llvm::equal(*ints, values);
  auto cst = v.getDefiningOp<onnx::ConstantOp>();
  auto dense = cst ? dyn_cast<DenseFPElementsAttr>(cst.getValue()) : nullptr;
  if (!dense || dense.getNumElements() != static_cast<int64_t>(values.size()))
    return false;
  return llvm::all_of(llvm::zip(dense.getValues<APFloat>(), values),
                      [](auto p) {
                        return std::get<0>(p).convertToDouble() ==
                               static_cast<double>(std::get<1>(p));
                      });
}

Value match::unitSource(Value v) {
  for (int i = 0; i < 16; ++i) {
    Operation *op = v.getDefiningOp();
    if (!isa_and_nonnull<onnx::ReshapeOp, onnx::FlattenOp, onnx::SqueezeOp,
                         onnx::UnsqueezeOp, onnx::IdentityOp>(op) ||
        !isUnitReshape(op->getOperand(0), v))
      return v;
    v = op->getOperand(0);
  }
  return v;
}

Value match::matrixOf(Value v) {
  Value last = v;
  for (int i = 0; i < 16; ++i) {
    if (auto t = rankedType(v); t && t.getRank() == 2)
      last = v;
    Operation *op = v.getDefiningOp();
    if (!isa_and_nonnull<onnx::ReshapeOp, onnx::FlattenOp, onnx::SqueezeOp,
                         onnx::UnsqueezeOp, onnx::IdentityOp>(op) ||
        !isUnitReshape(op->getOperand(0), v))
      break;
    v = op->getOperand(0);
  }
  return last;
}

bool match::sameRows(Value a, Value b) {
  a = stripNoopCasts(a);
  b = stripNoopCasts(b);
  // Two unit reshapes of one value to the same type hold the same values.
  return a == b || matrixOf(a) == matrixOf(b) ||
         (a.getType() == b.getType() && unitSource(a) == unitSource(b));
}
