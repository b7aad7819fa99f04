//===- ModelLoader.h - read an ONNX file into a ModelProto ------*- C++ -*-===//
//
// Private to lib/Import. Kept apart from the importer because it is the only
// code compiled with exceptions: libonnx's text parser may throw.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_IMPORT_MODELLOADER_H
#define MOE_LIB_IMPORT_MODELLOADER_H

#include "onnx/onnx_pb.h"

#include <string>

namespace mlir::moe::detail {

/// Parses `bytes` as a binary ModelProto (`text == false`) or as ONNX textual
/// syntax. On failure returns false and sets `error`; never throws.
bool parseModel(const char *bytes, size_t size, bool text,
                ::onnx::ModelProto &model, std::string &error);

} // namespace mlir::moe::detail

#endif // MOE_LIB_IMPORT_MODELLOADER_H
