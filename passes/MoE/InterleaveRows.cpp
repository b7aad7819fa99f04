//===- InterleaveRows.cpp - gate/up weights re-laid out at compile time ---===//

#include "InterleaveRows.h"
#include "Utils/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;

Value mlir::moe::interleaveConstantRows(OpBuilder &b, Location loc, Value gate,
                                        Value up) {
  auto type = dyn_cast<RankedTensorType>(gate.getType());
  if (!type || type.getRank() < 2 || (up && up.getType() != type))
    return nullptr;
  std::optional<std::vector<char>> first = moe::constantBytes(gate);
  std::optional<std::vector<char>> second =
      up ? moe::constantBytes(up) : std::optional<std::vector<char>>();
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
  return moe::createBlobConstant(b, loc, outType, out, "moe_interleaved");
}
