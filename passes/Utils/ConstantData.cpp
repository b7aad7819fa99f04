//===- ConstantData.cpp - bytes of constant tensors at compile time -------===//

#include "ConstantData.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

using namespace mlir;

std::optional<std::vector<char>> mlir::moe::constantBytes(Value v) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : nullptr;
  if (!type || !type.hasStaticShape() ||
      !type.getElementType().isIntOrFloat() ||
      type.getElementTypeBitWidth() % 8 != 0)
    return std::nullopt;
  Attribute value;
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    value = cst.getValue();
  else if (auto cst = v.getDefiningOp<onnx::ConstantOp>())
    value = cst.getValue();
  else
    return std::nullopt;
  size_t size = type.getNumElements() * (type.getElementTypeBitWidth() / 8);
  ArrayRef<char> raw;
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    raw = dense.getRawData();
    if (dense.isSplat()) {
      std::vector<char> out;
      out.reserve(size);
      while (out.size() < size)
        out.insert(out.end(), raw.begin(), raw.end());
      return out;
    }
  } else if (auto res = dyn_cast<DenseResourceElementsAttr>(value)) {
    if (AsmResourceBlob *blob = res.getRawHandle().getBlob())
      raw = blob->getData();
  }
  if (raw.size() != size)
    return std::nullopt;
  return std::vector<char>(raw.begin(), raw.end());
}

Value mlir::moe::createBlobConstant(OpBuilder &b, Location loc,
                                    RankedTensorType type, ArrayRef<char> bytes,
                                    StringRef name, bool asONNX) {
  auto blob =
      HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, alignof(uint64_t));
  auto attr = DenseResourceElementsAttr::get(type, name, std::move(blob));
  if (asONNX)
    return onnx::ConstantOp::create(b, loc, type, attr);
  return arith::ConstantOp::create(b, loc, attr);
}

Value mlir::moe::stackConstants(OpBuilder &b, Location loc,
                                ArrayRef<Value> parts, bool transpose,
                                StringRef name) {
  if (parts.empty())
    return nullptr;
  auto type = dyn_cast<RankedTensorType>(parts.front().getType());
  if (!type || type.getRank() != 2)
    return nullptr;
  int64_t rows = type.getDimSize(transpose ? 1 : 0);
  int64_t cols = type.getDimSize(transpose ? 0 : 1);
  std::vector<char> out;
  size_t eltBytes = 0;
  for (Value part : parts) {
    std::optional<std::vector<char>> bytes =
        part.getType() == type ? constantBytes(part) : std::nullopt;
    if (!bytes)
      return nullptr;
    eltBytes = bytes->size() / (rows * cols);
    if (!transpose) {
      out.insert(out.end(), bytes->begin(), bytes->end());
      continue;
    }
    // Stored [cols, rows]: element (r, c) is at c * rows + r.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        auto it = bytes->begin() + (c * rows + r) * eltBytes;
        out.insert(out.end(), it, it + eltBytes);
      }
  }
  auto outType = RankedTensorType::get(
      {static_cast<int64_t>(parts.size()), rows, cols}, type.getElementType());
  return createBlobConstant(b, loc, outType, out, name, /*asONNX=*/true);
}

Value mlir::moe::transposeConstant(OpBuilder &b, Location loc, Value v,
                                   StringRef name) {
  Value stacked = stackConstants(b, loc, v, /*transpose=*/true, name);
  if (!stacked)
    return nullptr;
  auto type = cast<RankedTensorType>(stacked.getType());
  auto cst = stacked.getDefiningOp<onnx::ConstantOp>();
  auto attr = cast<DenseResourceElementsAttr>(cst.getValue());
  auto outType = RankedTensorType::get(type.getShape().drop_front(),
                                       type.getElementType());
  auto out = onnx::ConstantOp::create(
      b, loc, outType,
      DenseResourceElementsAttr::get(outType, attr.getRawHandle()));
  cst.erase();
  return out;
}

Value mlir::moe::convertConstantExactly(OpBuilder &b, Location loc, Value v,
                                        FloatType elt, StringRef name) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  auto from = type ? dyn_cast<FloatType>(type.getElementType()) : nullptr;
  if (!from)
    return nullptr;
  if (from == elt)
    return v;
  std::optional<std::vector<char>> bytes = constantBytes(v);
  if (!bytes)
    return nullptr;
  unsigned inBytes = from.getWidth() / 8, outBytes = elt.getWidth() / 8;
  std::vector<char> out(type.getNumElements() * outBytes);
  for (int64_t i = 0; i < type.getNumElements(); ++i) {
    uint64_t raw = 0;
    std::memcpy(&raw, bytes->data() + i * inBytes, inBytes);
    APFloat value(from.getFloatSemantics(), APInt(from.getWidth(), raw));
    bool losesInfo = false;
    value.convert(elt.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    if (losesInfo)
      return nullptr;
    uint64_t bits = value.bitcastToAPInt().getZExtValue();
    std::memcpy(out.data() + i * outBytes, &bits, outBytes);
  }
  return createBlobConstant(b, loc, RankedTensorType::get(type.getShape(), elt),
                            out, name,
                            /*asONNX=*/true);
}
