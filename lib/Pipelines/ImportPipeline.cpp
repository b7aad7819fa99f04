//===- ImportPipeline.cpp - --moe-import-pipeline -------------------------===//
//
// What moe-opt runs on every imported ONNX model, and what both compile
// pipelines start with: the raising of MoE blocks to moe.layer. Raised IR
// passes through unchanged.
//
//===----------------------------------------------------------------------===//

#include "moe/Pipelines/Pipelines.h"

#include "moe/Passes/ONNXToCore.h"
#include "moe/Passes/Raise.h"

#include "mlir/Pass/PassManager.h"

using namespace mlir;

void mlir::moe::buildImportPipeline(OpPassManager &pm) {
  // Quantized constant weights read as floats (quantized experts raise).
  pm.addPass(createFoldDequantization());
  // The contrib ops first: a decomposed block never contains one.
  pm.addPass(createRaiseONNXMoE());
  pm.addPass(createRaiseDecomposedMoE());
  // Last: a trace-specialized loop that was raised is gone, the layer
  // covers every expert.
  pm.addPass(createWarnTraceSpecialized());
}
