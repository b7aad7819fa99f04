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

#endif // MOE_DIALECT_MOE_H
