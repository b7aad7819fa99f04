//===- InterleaveRows.cpp - gate/up weights re-laid out at compile time ---===//

#include "InterleaveRows.h"
#include "Utils/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

using namespace mlir;

Value mlir::moe::interleaveConstantRows(OpBuilder &b, Location loc, Value gate,
                                        Value up) {
  auto type = dyn_cast<RankedTensorType>(gate.getType());
  if (!type || type.getRank() < 2 || (up && up.getType() != type))
    return nullptr;
  // Read in place (a copy only for splats).
  std::vector<char> firstCopy, secondCopy;
  std::optional<ArrayRef<char>> first =
      moe::constantDataOrCopy(gate, firstCopy);
  std::optional<ArrayRef<char>> second =
      up ? moe::constantDataOrCopy(up, secondCopy)
         : std::optional<ArrayRef<char>>();
  if (!first || (up && !second))
    return nullptr;
  int64_t experts = type.getDimSize(0);
  int64_t rows = up ? type.getDimSize(1) : type.getDimSize(1) / 2;
  if (!up && type.getDimSize(1) % 2)
    return nullptr;
  size_t rowBytes = first->size() / (experts * (up ? rows : 2 * rows));
  // Per expert: the gate rows, then the up rows (of one tensor or two).
  auto rowAt = [&](int64_t e, int64_t i, bool isUp) {
    ArrayRef<char> src = (up && isUp) ? *second : *first;
    int64_t perExpert = up ? rows : 2 * rows;
    int64_t row = e * perExpert + (!up && isUp ? rows + i : i);
    return src.data() + row * rowBytes;
  };
  SmallVector<int64_t> shape(type.getShape());
  shape[1] = 2 * rows;
  auto outType = RankedTensorType::get(shape, type.getElementType());
  Value out = moe::createBlobConstant(
      b, loc, outType, experts * 2 * rows * rowBytes,
      [&](MutableArrayRef<char> dst) {
        char *at = dst.data();
        for (int64_t e = 0; e < experts; ++e)
          for (int64_t i = 0; i < rows; ++i)
            for (bool isUp : {false, true}) {
              std::memcpy(at, rowAt(e, i, isUp), rowBytes);
              at += rowBytes;
            }
      },
      "moe_interleaved");
  moe::releaseConstantPages(gate);
  if (up)
    moe::releaseConstantPages(up);
  return out;
}
