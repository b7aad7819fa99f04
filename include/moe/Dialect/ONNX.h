//===- ONNX.h - the onnx import dialect -------------------------*- C++ -*-===//
//
// Public declarations of the `onnx` dialect (generated from dialects/onnx).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_ONNX_H
#define MOE_DIALECT_ONNX_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/onnx/ONNXDialect.h.inc"

#define GET_OP_CLASSES
#include "dialects/onnx/ONNXOps.h.inc"

namespace mlir::onnx {
/// Number of inputs and outputs an onnx op declares in ODS, counting
/// optional ones; -1 for a variadic list.
struct OpArity {
  int inputs;
  int outputs;
};

/// Arity of `onnx.<opType>`, or nullopt when the dialect has no such op.
std::optional<OpArity> lookupOpArity(llvm::StringRef opType);
} // namespace mlir::onnx

#endif // MOE_DIALECT_ONNX_H
