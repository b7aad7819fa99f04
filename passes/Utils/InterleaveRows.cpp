//===- InterleaveRows.cpp - gate/up weights re-laid out at compile time ---===//

#include "InterleaveRows.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;

namespace {
/// The constant's bytes, row-major (a splat expanded), or nothing.
std::optional<std::vector<char>> constantBytes(Value v) {
  auto cst = v ? v.getDefiningOp<arith::ConstantOp>() : nullptr;
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : nullptr;
  if (!cst || !type || !type.hasStaticShape() ||
      !type.getElementType().isIntOrFloat() ||
      type.getElementTypeBitWidth() % 8 != 0)
    return std::nullopt;
  size_t size = type.getNumElements() * (type.getElementTypeBitWidth() / 8);
  ArrayRef<char> raw;
  if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue())) {
    raw = dense.getRawData();
    if (dense.isSplat()) {
      std::vector<char> out;
      out.reserve(size);
      while (out.size() < size)
        out.insert(out.end(), raw.begin(), raw.end());
      return out;
    }
  } else if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
    if (AsmResourceBlob *blob = res.getRawHandle().getBlob())
      raw = blob->getData();
  }
  if (raw.size() != size)
    return std::nullopt;
  return std::vector<char>(raw.begin(), raw.end());
}
} // namespace

Value mlir::moe::interleaveConstantRows(OpBuilder &b, Location loc, Value gate,
                                        Value up) {
  auto type = dyn_cast<RankedTensorType>(gate.getType());
  if (!type || type.getRank() < 2 || (up && up.getType() != type))
    return nullptr;
  std::optional<std::vector<char>> first = constantBytes(gate);
  std::optional<std::vector<char>> second =
      up ? constantBytes(up) : std::optional<std::vector<char>>();
  if (!first || (up && !second))
    return nullptr;
  int64_t experts = type.getDimSize(0);
  int64_t rows = up ? type.getDimSize(1) : type.getDimSize(1) / 2;
  if (!up && type.getDimSize(1) % 2)
    return nullptr;
  size_t rowBytes = first->size() / (experts * (up ? rows : 2 * rows));
  // Per expert: the gate rows, then the up rows (of one tensor or two).
  auto rowAt = [&](int64_t e, int64_t i, bool isUp) {
    const std::vector<char> &src = (up && isUp) ? *second : *first;
    int64_t perExpert = up ? rows : 2 * rows;
    int64_t row = e * perExpert + (!up && isUp ? rows + i : i);
    return src.begin() + row * rowBytes;
  };
  std::vector<char> out;
  out.reserve(experts * 2 * rows * rowBytes);
  for (int64_t e = 0; e < experts; ++e)
    for (int64_t i = 0; i < rows; ++i)
      for (bool isUp : {false, true}) {
        auto it = rowAt(e, i, isUp);
        out.insert(out.end(), it, it + rowBytes);
      }
  SmallVector<int64_t> shape(type.getShape());
  shape[1] = 2 * rows;
  auto outType = RankedTensorType::get(shape, type.getElementType());
  auto blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(out.data(), out.size()), alignof(uint64_t));
  return arith::ConstantOp::create(
      b, loc,
      DenseResourceElementsAttr::get(outType, "moe_interleaved",
                                     std::move(blob)));
}
