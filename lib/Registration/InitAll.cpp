//===- InitAll.cpp - registration of dialects, passes, translations -------===//

#include "moe/InitAll.h"

#include "moe/Dialect/MoE.h"
#include "moe/Dialect/ONNX.h"
#include "moe/Passes/Passes.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

using namespace mlir;

namespace {
/// gpu.barrier orders the block's memory accesses: it reads and writes
/// memory. Upstream declares no effects for it, which buffer deallocation
/// rejects inside kernels built on tensors (moe-gpu-expert-matmul).
struct BarrierEffects
    : MemoryEffectOpInterface::ExternalModel<BarrierEffects, gpu::BarrierOp> {
  void
  getEffects(Operation *op,
             SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
                 &effects) const {
    effects.emplace_back(MemoryEffects::Read::get());
    effects.emplace_back(MemoryEffects::Write::get());
  }
};

/// gpu.launch_func reads and writes the buffers it is given (upstream
/// declares no effects, which buffer deallocation rejects).
struct LaunchFuncEffects
    : MemoryEffectOpInterface::ExternalModel<LaunchFuncEffects,
                                             gpu::LaunchFuncOp> {
  void
  getEffects(Operation *op,
             SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
                 &effects) const {
    for (OpOperand &operand : op->getOpOperands())
      if (isa<BaseMemRefType>(operand.get().getType())) {
        effects.emplace_back(MemoryEffects::Read::get(), &operand);
        effects.emplace_back(MemoryEffects::Write::get(), &operand);
      }
  }
};
} // namespace

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
  registry.addExtension(+[](MLIRContext *ctx, gpu::GPUDialect *) {
    gpu::BarrierOp::attachInterface<BarrierEffects>(*ctx);
    gpu::LaunchFuncOp::attachInterface<LaunchFuncEffects>(*ctx);
  });
}

void mlir::moe::registerAllPasses() {
  mlir::registerAllPasses();
  moe::registerMoEPasses();
  moe::registerPipelines();
}
