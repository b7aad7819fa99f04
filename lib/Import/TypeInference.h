//===- TypeInference.h - result types of imported onnx ops ------*- C++ -*-===//
//
// Private to lib/Import: the importer asks for the result types of each node
// it creates. Shapes are inferred from operand types, attributes and operand
// values that are constants; what cannot be known stays dynamic (or unranked).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_IMPORT_TYPEINFERENCE_H
#define MOE_LIB_IMPORT_TYPEINFERENCE_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/ValueRange.h"
#include "mlir/IR/Types.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir::moe::detail {

/// Result types for `onnx.<opType>` with `operands` (`none` for absent
/// inputs) and `attrs`. `numResults` is the number of results to produce;
/// results beyond what inference knows are unranked tensors of the first
/// operand's element type. Returns an error message for operands that
/// contradict the op (e.g. a MatMul of mismatched inner dimensions).
std::optional<std::string>
inferResultTypes(llvm::StringRef opType, ValueRange operands,
                 DictionaryAttr attrs, unsigned numResults,
                 llvm::SmallVectorImpl<Type> &results);

} // namespace mlir::moe::detail

#endif // MOE_LIB_IMPORT_TYPEINFERENCE_H
