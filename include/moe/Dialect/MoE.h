//===- MoE.h - the moe dialect: ops, attributes and types -------*- C++ -*-===//
//
// Public declarations of the `moe` dialect (generated from dialects/moe/*.td).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOE_H
#define MOE_DIALECT_MOE_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/moe/MoEDialect.h.inc"
#include "dialects/moe/MoEEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/moe/MoEAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/moe/MoETypes.h.inc"

#define GET_OP_CLASSES
#include "dialects/moe/MoEOps.h.inc"

namespace mlir::moe {
/// The operands and attributes of a `moe.expert_matmul`, named: fusions
/// build a variant of a GEMM by taking its parts, changing some and
/// creating the new op, without restating every operand.
struct ExpertMatmulParts {
  Value input, weight, offsets, bias, scales, zeroPoints;
  Value gatherSlots; // with gatherK, or null
  int64_t gatherK = 0;
  Value combineSlots, combineWeights, combineInit; // all or none
  int64_t weightBits = 0, quantBlock = 0;
  ActivationAttr epilogue;

  static ExpertMatmulParts of(ExpertMatmulOp op);
  ExpertMatmulOp create(OpBuilder &b, Location loc, Type result) const;
};
} // namespace mlir::moe

#endif // MOE_DIALECT_MOE_H
