//===- ONNXDialect.cpp - onnx dialect registration ------------------------===//

#include "moe/Dialect/ONNX.h"

#include "llvm/ADT/StringMap.h"

#include <cstring>

using namespace mlir;
using namespace mlir::onnx;

#include "dialects/onnx/ONNXDialect.cpp.inc"

void ONNXDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/onnx/ONNXOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "dialects/onnx/ONNXOps.cpp.inc"

namespace {
template <typename... OpTs> llvm::StringMap<OpArity> buildArityTable() {
  llvm::StringMap<OpArity> table;
  (table.try_emplace(OpTs::getOperationName().drop_front(strlen("onnx.")),
                     OpArity{OpTs::kNumInputs, OpTs::kNumOutputs}),
   ...);
  return table;
}
} // namespace

std::optional<OpArity> mlir::onnx::lookupOpArity(StringRef opType) {
  static const llvm::StringMap<OpArity> table = buildArityTable<
#define GET_OP_LIST
#include "dialects/onnx/ONNXOps.cpp.inc"
      >();
  auto it = table.find(opType);
  if (it == table.end())
    return std::nullopt;
  return it->second;
}
