//===- Emit.h - write a lowered module as LLVM IR, object or library -*- C++
//-*-===//

#ifndef MOE_TARGET_EMIT_H
#define MOE_TARGET_EMIT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::moe {

enum class EmitKind { MLIR, LLVMIR, Object, Shared, Header, PTX };

/// Parses "mlir", "llvm", "obj", "shared" or "header".
std::optional<EmitKind> parseEmitKind(llvm::StringRef name);

/// Writes `module`, which must be in the LLVM dialect for all but MLIR, to
/// `outputPath` ("-" for stdout, text kinds only): LLVM IR, a host object
/// file, a shared library (the object plus the generated C entry points,
/// linked by the C compiler driver `cc` with the project's runtime library),
/// or the C header declaring those entry points. Reports errors on the module;
/// leaves no output file behind on failure. `cpu` names the target CPU for code
/// generation ("host": this machine's CPU and features; otherwise an LLVM CPU
/// name such as "haswell" (AVX2) or "skylake-avx512", with that CPU's
/// features). `timing`, when given, receives the translation, optimization
/// and code generation phases (--mlir-timing). A module whose weights
/// moe-externalize-weights moved also gets its weights file (LLVM IR,
/// objects and libraries), at `weightsPath` or beside the output with the
/// extension ".weights"; the library looks for it under that file name.
LogicalResult emitModule(ModuleOp module, EmitKind kind,
                         llvm::StringRef outputPath,
                         llvm::StringRef cpu = "host",
                         TimingScope *timing = nullptr,
                         llvm::StringRef weightsPath = "");

} // namespace mlir::moe

#endif // MOE_TARGET_EMIT_H
