//===- InitAll.cpp - registration of dialects, passes, translations -------===//

#include "moe/InitAll.h"

#include "moe/Dialect/MoE.h"
#include "moe/Dialect/ONNX.h"
#include "moe/Passes/Passes.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void mlir::moe::registerAllDialects(DialectRegistry &registry) {
  registry.insert<moe::MoEDialect, onnx::ONNXDialect>();
  // Every upstream dialect with its interface implementations (bufferization,
  // tiling, value bounds, ...), which the lowering pipelines rely on.
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  // #nvvm.target serializes GPU modules (PTX via LLVM's NVPTX backend, cubin
  // via ptxas); without it gpu-module-to-binary has no target to call.
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

void mlir::moe::registerAllPasses() {
  mlir::registerAllPasses();
  moe::registerMoEPasses();
  moe::registerPipelines();
}
