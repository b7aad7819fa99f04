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

namespace {
/// The bytes of 2-D constants `parts` of one type laid out one after the
/// other as `[R, C]`, each stored `[R, C]` or, with `transpose`, `[C, R]`.
std::optional<std::vector<char>> stackedBytes(ArrayRef<Value> parts,
                                              bool transpose, int64_t rows,
                                              int64_t cols) {
  std::vector<char> out;
  for (Value part : parts) {
    std::optional<std::vector<char>> bytes =
        part.getType() == parts.front().getType() ? moe::constantBytes(part)
                                                  : std::nullopt;
    if (!bytes)
      return std::nullopt;
    if (!transpose) {
      out.insert(out.end(), bytes->begin(), bytes->end());
      continue;
    }
    // Stored [cols, rows]: element (r, c) is at c * rows + r.
    size_t eltBytes = bytes->size() / (rows * cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        auto it = bytes->begin() + (c * rows + r) * eltBytes;
        out.insert(out.end(), it, it + eltBytes);
      }
  }
  return out;
}

/// `[R, C]` of a 2-D tensor type read as `[C, R]` when `transpose`.
std::optional<std::pair<int64_t, int64_t>> rowsCols(Value v, bool transpose) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : nullptr;
  if (!type || type.getRank() != 2)
    return std::nullopt;
  return std::pair{type.getDimSize(transpose ? 1 : 0),
                   type.getDimSize(transpose ? 0 : 1)};
}
} // namespace

Value mlir::moe::stackConstants(OpBuilder &b, Location loc,
                                ArrayRef<Value> parts, bool transpose,
                                StringRef name) {
  auto shape =
      parts.empty() ? std::nullopt : rowsCols(parts.front(), transpose);
  auto bytes = shape
                   ? stackedBytes(parts, transpose, shape->first, shape->second)
                   : std::nullopt;
  if (!bytes)
    return nullptr;
  auto outType = RankedTensorType::get(
      {static_cast<int64_t>(parts.size()), shape->first, shape->second},
      cast<ShapedType>(parts.front().getType()).getElementType());
  return createBlobConstant(b, loc, outType, *bytes, name, /*asONNX=*/true);
}

Value mlir::moe::transposeConstant(OpBuilder &b, Location loc, Value v,
                                   StringRef name, bool asONNX) {
  auto shape = rowsCols(v, /*transpose=*/true);
  auto bytes =
      shape ? stackedBytes(v, /*transpose=*/true, shape->first, shape->second)
            : std::nullopt;
  if (!bytes)
    return nullptr;
  auto outType =
      RankedTensorType::get({shape->first, shape->second},
                            cast<ShapedType>(v.getType()).getElementType());
  return createBlobConstant(b, loc, outType, *bytes, name, asONNX);
}

Value mlir::moe::transposeStacked(OpBuilder &b, Location loc, Value v,
                                  StringRef name) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() != 3 || !type.hasStaticShape() ||
      type.getElementType().getIntOrFloatBitWidth() % 8)
    return nullptr;
  std::optional<std::vector<char>> bytes = constantBytes(v);
  if (!bytes)
    return nullptr;
  int64_t e = type.getDimSize(0), r = type.getDimSize(1),
          c = type.getDimSize(2);
  size_t w = type.getElementType().getIntOrFloatBitWidth() / 8;
  std::vector<char> out(bytes->size());
  for (int64_t x = 0; x < e; ++x)
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j)
        std::memcpy(out.data() + ((x * c + j) * r + i) * w,
                    bytes->data() + ((x * r + i) * c + j) * w, w);
  auto outType = RankedTensorType::get({e, c, r}, type.getElementType());
  return createBlobConstant(b, loc, outType, out, name, /*asONNX=*/true);
}

std::optional<std::vector<double>> mlir::moe::constantValues(Value v) {
  std::optional<std::vector<char>> bytes = constantBytes(v);
  if (!bytes)
    return std::nullopt;
  auto type = cast<RankedTensorType>(v.getType());
  Type elt = type.getElementType();
  unsigned width = elt.getIntOrFloatBitWidth();
  std::vector<double> out(type.getNumElements());
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t raw = 0;
    std::memcpy(&raw, bytes->data() + i * (width / 8), width / 8);
    if (auto ft = dyn_cast<FloatType>(elt)) {
      APFloat f(ft.getFloatSemantics(), APInt(width, raw));
      bool lost;
      f.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      out[i] = f.convertToDouble();
    } else if (elt.isUnsignedInteger()) {
      out[i] = static_cast<double>(raw);
    } else {
      out[i] = static_cast<double>(APInt(width, raw).getSExtValue());
    }
  }
  return out;
}

std::optional<std::vector<char>>
mlir::moe::floatBytes(ArrayRef<double> values, FloatType elt, bool exact) {
  unsigned bytes = elt.getWidth() / 8;
  std::vector<char> out(values.size() * bytes);
  for (auto [i, x] : llvm::enumerate(values)) {
    APFloat value(x);
    bool losesInfo = false;
    value.convert(elt.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    if (exact && losesInfo)
      return std::nullopt;
    uint64_t bits = value.bitcastToAPInt().getZExtValue();
    std::memcpy(out.data() + i * bytes, &bits, bytes);
  }
  return out;
}

/// The float constant `v`'s elements converted to `elt`, row-major bytes;
/// nothing when `v` is not a readable float constant or a value does not
/// convert exactly.
static std::optional<std::vector<char>> exactBytes(Value v, FloatType elt) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  auto from = type ? dyn_cast<FloatType>(type.getElementType()) : nullptr;
  if (!from || !type.hasStaticShape())
    return std::nullopt;
  if (from == elt)
    return moe::constantBytes(v);
  std::optional<std::vector<double>> values = moe::constantValues(v);
  if (!values)
    return std::nullopt;
  return moe::floatBytes(*values, elt, /*exact=*/true);
}

Value mlir::moe::convertConstantExactly(
    OpBuilder &b, Location loc, Value v, FloatType elt, StringRef name,
    std::optional<ArrayRef<int64_t>> shape) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape())
    return nullptr;
  SmallVector<int64_t> outShape(shape ? *shape : type.getShape());
  if (ShapedType::getNumElements(outShape) != type.getNumElements())
    return nullptr;
  if (type.getElementType() == elt &&
      ArrayRef<int64_t>(outShape) == type.getShape())
    return v;
  std::optional<std::vector<char>> bytes = exactBytes(v, elt);
  if (!bytes)
    return nullptr;
  return createBlobConstant(b, loc, RankedTensorType::get(outShape, elt),
                            *bytes, name, /*asONNX=*/true);
}

Value mlir::moe::stackVectors(OpBuilder &b, Location loc, ArrayRef<Value> parts,
                              FloatType elt, StringRef name) {
  if (parts.empty())
    return nullptr;
  std::vector<char> all;
  int64_t n = -1;
  for (Value part : parts) {
    auto type = dyn_cast<RankedTensorType>(part.getType());
    if (!type || !type.hasStaticShape() ||
        (n >= 0 && type.getNumElements() != n))
      return nullptr;
    n = type.getNumElements();
    std::optional<std::vector<char>> bytes = exactBytes(part, elt);
    if (!bytes)
      return nullptr;
    all.insert(all.end(), bytes->begin(), bytes->end());
  }
  return createBlobConstant(
      b, loc,
      RankedTensorType::get({static_cast<int64_t>(parts.size()), n}, elt), all,
      name, /*asONNX=*/true);
}
