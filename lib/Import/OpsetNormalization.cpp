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
  return success();
}
