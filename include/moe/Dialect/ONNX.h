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

/// Integer values of an `onnx.Constant` of rank <= 1 (any integer element
/// type), or nullopt when `value` is not such a constant.
std::optional<llvm::SmallVector<int64_t>> getConstantInts(Value value);

/// The MLIR element type of an ONNX TensorProto data type number (f32, ui8,
/// i1 for BOOL, ...), or null for types the compiler does not take.
Type typeFromONNXCode(MLIRContext *ctx, int64_t code);

/// The ONNX name of a TensorProto data type number ("FLOAT8E4M3FN"), or
/// "type <code>" for a number the standard does not define.
std::string onnxElementTypeName(int64_t code);

/// The element type of a tensor value (ranked or not), or null.
Type getTensorElementType(Value value);

/// The shape of a ranked tensor value (dynamic sizes as
/// `ShapedType::kDynamic`), or nullopt when even its rank is unknown.
std::optional<llvm::SmallVector<int64_t>> getTensorShape(Value value);

/// Element values of a small integer tensor computed from shapes (Shape,
/// Gather, Concat, Unsqueeze, Squeeze, Cast, Identity, Constant): known
/// elements are their values, the others `ShapedType::kDynamic`. Nullopt
/// when not even the element count is known this way.
std::optional<llvm::SmallVector<int64_t>> getPartialInts(Value value);

/// The dialect's shape inference: result types for `onnx.<opType>` with
/// `operands` (`none` for absent inputs) and `attrs`, `numResults` of them.
/// Results the rules cannot describe are unranked tensors of the first
/// operand's element type. Returns an error message for operands that
/// contradict the op (e.g. a MatMul of mismatched inner dimensions).
std::optional<std::string>
inferResultTypes(llvm::StringRef opType, ValueRange operands,
                 DictionaryAttr attrs, unsigned numResults,
                 llvm::SmallVectorImpl<Type> &results);
} // namespace mlir::onnx

#endif // MOE_DIALECT_ONNX_H
