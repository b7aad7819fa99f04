//===- Weights.h - the weights file of a module -----------------*- C++ -*-===//
//
// Writes the weights file of a module that moe-externalize-weights rewrote
// (include/moe/Runtime/Weights.h has the layout) and removes the moved
// globals, so the library does not carry them too.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TARGET_WEIGHTS_H
#define MOE_TARGET_WEIGHTS_H

#include "moe/Target/SafeOutput.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>

namespace mlir::moe::detail {

/// The path of the weights file beside `output`: its extension replaced by
/// ".weights" (model.so -> model.weights).
std::string defaultWeightsPath(llvm::StringRef output);

/// Writes the module's weights to a temporary beside `path`, which the
/// caller commits once the library is written too (dropped: no file), and
/// records `{file = <base name>, size, hash}` in its `moe.weights` attribute
/// for the entry points; then erases the moved globals. Null for a module
/// without external weights.
FailureOr<std::unique_ptr<SafeOutput>> writeWeightsFile(ModuleOp module,
                                                        llvm::StringRef path);

} // namespace mlir::moe::detail

#endif // MOE_TARGET_WEIGHTS_H
