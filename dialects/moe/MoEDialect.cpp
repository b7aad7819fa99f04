//===- MoEDialect.cpp - moe dialect registration --------------------------===//

#include "moe/Dialect/MoE.h"

using namespace mlir;
using namespace mlir::moe;

#include "dialects/moe/MoEDialect.cpp.inc"

void MoEDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/moe/MoEOps.cpp.inc"
      >();
  registerAttributes();
  registerTypes();
}
