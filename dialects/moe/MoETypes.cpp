//===- MoETypes.cpp - moe dialect types -----------------------------------===//

#include "moe/Dialect/MoE.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::moe;

#define GET_TYPEDEF_CLASSES
#include "dialects/moe/MoETypes.cpp.inc"

LogicalResult
AllToAllHandleType::verify(function_ref<InFlightDiagnostic()> emitError,
                           int64_t ranks, RankedTensorType data) {
  if (ranks < 1)
    return emitError() << "an all-to-all needs at least one rank, got "
                       << ranks;
  if (data.getRank() != 2)
    return emitError() << "exchanged data must be a [rows, H] tensor, got "
                       << data;
  return success();
}

void MoEDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/moe/MoETypes.cpp.inc"
      >();
}
