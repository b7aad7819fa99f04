//===- OpsetNormalization.h - older ONNX op forms to the dialect's -*- C++
//-*-===//
//
// Private to lib/Import: the onnx dialect declares each op in one form (the
// newest opset's); a node written for an older opset, or in one of an op's
// alternative attribute spellings, is rewritten into that form on import.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_IMPORT_OPSETNORMALIZATION_H
#define MOE_LIB_IMPORT_OPSETNORMALIZATION_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mlir::moe::detail {

/// Rewrites node `opType` of default-domain opset `opset`, given its
/// converted attributes and operands, into the form the dialect declares:
/// attributes that later opsets made inputs become constant operands (built
/// with `b` at `loc`; `none` gives the absent-input value for gaps), and
/// Constant's `value_*` spellings become its `value` tensor. Fails with a
/// diagnostic at `loc` on a form that cannot be converted.
LogicalResult normalizeNode(StringRef opType, int64_t opset, Location loc,
                            OpBuilder &b, llvm::function_ref<Value()> none,
                            SmallVectorImpl<NamedAttribute> &attrs,
                            SmallVectorImpl<Value> &operands);

} // namespace mlir::moe::detail

#endif // MOE_LIB_IMPORT_OPSETNORMALIZATION_H
