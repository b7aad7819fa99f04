//===- ONNXToCore.h - dense onnx ops to upstream core dialects --*- C++ -*-===//
//
// Declarations and registration of the ONNXToCore stage's passes
// (passes/ONNXToCore/).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_ONNXTOCORE_H
#define MOE_PASSES_ONNXTOCORE_H

#include "mlir/Pass/Pass.h"

namespace mlir::moe {

#define GEN_PASS_DECL
#include "passes/ONNXToCore/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/ONNXToCore/Passes.h.inc"

} // namespace mlir::moe

#endif // MOE_PASSES_ONNXTOCORE_H
