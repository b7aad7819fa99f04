//===- OpsetNormalization.cpp - older ONNX op forms to the dialect's ------===//

#include "OpsetNormalization.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace {
/// Constant's scalar and list spellings as its `value` tensor.
LogicalResult normalizeConstant(Location loc, Builder &b,
                                SmallVectorImpl<NamedAttribute> &attrs) {
  for (NamedAttribute &attr : attrs) {
    StringRef name = attr.getName().strref();
    Attribute v = attr.getValue();
    Attribute value;
    if (name == "value") {
      continue;
    } else if (name == "value_float") {
      value = DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()),
                                     cast<FloatAttr>(v).getValue());
    } else if (name == "value_int") {
      value = DenseElementsAttr::get(RankedTensorType::get({}, b.getI64Type()),
                                     cast<IntegerAttr>(v).getInt());
    } else if (name == "value_floats") {
      SmallVector<float> floats;
      for (Attribute e : cast<ArrayAttr>(v))
        floats.push_back(cast<FloatAttr>(e).getValueAsDouble());
      value = DenseElementsAttr::get(
          RankedTensorType::get({static_cast<int64_t>(floats.size())},
                                b.getF32Type()),
          ArrayRef<float>(floats));
    } else if (name == "value_ints") {
      SmallVector<int64_t> ints;
      for (Attribute e : cast<ArrayAttr>(v))
        ints.push_back(cast<IntegerAttr>(e).getInt());
      value = DenseElementsAttr::get(
          RankedTensorType::get({static_cast<int64_t>(ints.size())},
                                b.getI64Type()),
          ArrayRef<int64_t>(ints));
    } else {
      return emitError(loc)
             << "Constant with '" << name << "' is not supported";
    }
    attr = b.getNamedAttr("value", value);
  }
  return success();
}

/// Moves list attribute `name` to operand `index` as an i64 constant.
void attributeToInput(StringRef name, unsigned index, Location loc,
                      OpBuilder &b, llvm::function_ref<Value()> none,
                      SmallVectorImpl<NamedAttribute> &attrs,
                      SmallVectorImpl<Value> &operands) {
  auto it = llvm::find_if(
      attrs, [&](NamedAttribute a) { return a.getName() == name; });
  if (it == attrs.end())
    return;
  SmallVector<int64_t> ints;
  for (Attribute e : cast<ArrayAttr>(it->getValue()))
    ints.push_back(cast<IntegerAttr>(e).getInt());
  attrs.erase(it);
  while (operands.size() < index)
    operands.push_back(none());
  auto type = RankedTensorType::get({static_cast<int64_t>(ints.size())},
                                    b.getI64Type());
  Value constant = onnx::ConstantOp::create(
      b, loc, type, DenseElementsAttr::get(type, ArrayRef<int64_t>(ints)));
  operands.insert(operands.begin() + index, constant);
}
/// Moves scalar attribute `name` (an int or a float) to operand
/// `index` as a constant of `type` and `shape` (one element).
void scalarAttributeToInput(StringRef name, unsigned index, Type type,
                            ArrayRef<int64_t> shape, Location loc, OpBuilder &b,
                            llvm::function_ref<Value()> none,
                            SmallVectorImpl<NamedAttribute> &attrs,
                            SmallVectorImpl<Value> &operands) {
  auto it = llvm::find_if(
      attrs, [&](NamedAttribute a) { return a.getName() == name; });
  if (it == attrs.end())
    return;
  auto t = RankedTensorType::get(shape, type);
  Attribute value;
  if (auto f = dyn_cast<FloatAttr>(it->getValue()))
    value = DenseElementsAttr::get(
        t, APFloat(f.getValueAsDouble()).convertToFloat());
  else
    value =
        DenseElementsAttr::get(t, cast<IntegerAttr>(it->getValue()).getInt());
  attrs.erase(it);
  while (operands.size() < index)
    operands.push_back(none());
  Value constant =
      onnx::ConstantOp::create(b, loc, t, cast<ElementsAttr>(value));
  if (operands.size() > index)
    operands[index] = constant;
  else
    operands.push_back(constant);
}

/// The integer attribute `name`, or `dflt`.
int64_t intAttr(ArrayRef<NamedAttribute> attrs, StringRef name, int64_t dflt) {
  for (NamedAttribute a : attrs)
    if (a.getName() == name)
      if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
        return i.getInt();
  return dflt;
}
} // namespace

LogicalResult moe::detail::normalizeNode(StringRef opType, int64_t opset,
                                         Location loc, OpBuilder &b,
                                         llvm::function_ref<Value()> none,
                                         SmallVectorImpl<NamedAttribute> &attrs,
                                         SmallVectorImpl<Value> &operands) {
  if (opType == "Constant")
    return normalizeConstant(loc, b, attrs);
  // Opset 13 made ReduceSum's axes an input, opset 18 the other
  // reductions'.
  bool reduction = opType.starts_with("Reduce");
  if (reduction && opset < (opType == "ReduceSum" ? 13 : 18))
    attributeToInput("axes", 1, loc, b, none, attrs, operands);
  // Opset 13 made Split's sizes and (Un)Squeeze's axes inputs.
  if (opset < 13 && opType == "Split")
    attributeToInput("split", 1, loc, b, none, attrs, operands);
  if (opset < 13 && (opType == "Squeeze" || opType == "Unsqueeze"))
    attributeToInput("axes", 1, loc, b, none, attrs, operands);
  // Opset 10 made Slice's bounds and TopK's k inputs, opset 11 Clip's
  // limits.
  if (opset < 10 && opType == "Slice") {
    attributeToInput("starts", 1, loc, b, none, attrs, operands);
    attributeToInput("ends", 2, loc, b, none, attrs, operands);
    attributeToInput("axes", 3, loc, b, none, attrs, operands);
  }
  if (opset < 10 && opType == "TopK")
    scalarAttributeToInput("k", 1, b.getI64Type(), {1}, loc, b, none, attrs,
                           operands);
  if (opset < 11 && opType == "Clip") {
    Type elt = operands.empty()
                   ? b.getF32Type()
                   : cast<ShapedType>(operands[0].getType()).getElementType();
    scalarAttributeToInput("min", 1, elt, {}, loc, b, none, attrs, operands);
    scalarAttributeToInput("max", 2, elt, {}, loc, b, none, attrs, operands);
  }
  // Before opset 13, Softmax normalized the input flattened to 2-D at
  // `axis` (everything from `axis` on at once), the same as today's only
  // for the last axis.
  if (opset < 13 && (opType == "Softmax" || opType == "LogSoftmax")) {
    int64_t axis = intAttr(attrs, "axis", 1);
    auto t = operands.empty()
                 ? RankedTensorType()
                 : dyn_cast<RankedTensorType>(operands[0].getType());
    if (!t || (axis != -1 && axis != t.getRank() - 1))
      return emitError(loc) << opType << " of opset " << opset
                            << " over the trailing dimensions from axis "
                            << axis << " is not supported (only the last "
                            << "axis)";
    attrs.push_back(b.getNamedAttr(
        "axis",
        IntegerAttr::get(
            IntegerType::get(b.getContext(), 64, IntegerType::Signed), -1)));
    llvm::erase_if(attrs, [&](NamedAttribute a) {
      return a.getName() == "axis" &&
             cast<IntegerAttr>(a.getValue()).getInt() != -1;
    });
  }
  return success();
}
