//===- Emit.h - write a lowered module as LLVM IR, object or library -*- C++ -*-===//

#ifndef MOE_TARGET_EMIT_H
#define MOE_TARGET_EMIT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::moe {

enum class EmitKind { MLIR, LLVMIR, Object, Shared };

/// Parses "mlir", "llvm", "obj" or "shared".
std::optional<EmitKind> parseEmitKind(llvm::StringRef name);

/// Writes `module`, which must be in the LLVM dialect for all but MLIR, to
/// `outputPath` ("-" for stdout, text kinds only): LLVM IR, a host object
/// file, or a shared library linked with the C compiler driver (`cc`) and
/// the project's runtime library. Reports errors on the module; leaves no
/// output file behind on failure.
LogicalResult emitModule(ModuleOp module, EmitKind kind,
                         llvm::StringRef outputPath);

} // namespace mlir::moe

#endif // MOE_TARGET_EMIT_H
