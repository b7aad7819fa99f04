//===- ONNXImport.h - ONNX model -> onnx dialect importer -------*- C++ -*-===//

#ifndef MOE_IMPORT_ONNXIMPORT_H
#define MOE_IMPORT_ONNXIMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir {
class MLIRContext;
namespace moe {

/// True for paths the ONNX importer reads: `.onnx` (binary protobuf) and
/// `.onnxtxt` (ONNX textual syntax).
bool isONNXPath(llvm::StringRef path);

/// Human-readable form of a location the importer made: the file, or
/// "MatMul node '/layers.0/MatMul'" for a node.
std::string describeONNXLocation(Location loc);

/// Reads an ONNX model and translates its main graph into a module holding
/// one `func.func` of `onnx` ops. Errors are emitted as diagnostics on
/// `context` (with the file and, where it applies, the node); returns null
/// after an error.
OwningOpRef<ModuleOp> importONNXFile(llvm::StringRef path,
                                     MLIRContext *context);

/// Like importONNXFile, for a model already in memory (`text` selects the
/// ONNX textual syntax). `path` names the model in diagnostics, and its
/// directory is where external data is looked up.
OwningOpRef<ModuleOp> importONNXBuffer(llvm::StringRef bytes,
                                       llvm::StringRef path, bool text,
                                       MLIRContext *context);

} // namespace moe
} // namespace mlir

#endif // MOE_IMPORT_ONNXIMPORT_H
