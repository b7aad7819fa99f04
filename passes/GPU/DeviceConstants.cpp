//===- GPUDeviceConstants.cpp - constant globals read through the device --===//
//
// Host code of a CUDA model passes pointers to kernels; a constant global
// (model weights lowered from memref.global) lives in host memory, which a
// kernel cannot read. Each use of such a global in host code goes through
// moe_cuda_constant(host, bytes) instead, which returns a device copy made
// once per process (runtime/cuda/gpu.c), unless host loads are all it
// reaches (shape arithmetic kept on the host reads the host's copy).
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/GPU.h"
#include "moe/Runtime/Symbols.h"

#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUDEVICECONSTANTS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

/// Whether the address `ptr` (of a global) only reaches host loads: through
/// GEPs and memref descriptors (insert/extractvalue), never as an operand
/// of anything else (a call, a store, a launch's argument array). Such uses
/// read the host's own copy: the device copy is device memory.
bool onlyLoadedByHost(Value ptr) {
  SmallVector<Value> work = {ptr};
  DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (auto load = dyn_cast<LLVM::LoadOp>(user);
          load && load.getAddr() == v)
        continue;
      if (auto gep = dyn_cast<LLVM::GEPOp>(user); gep && gep.getBase() == v) {
        work.push_back(gep.getResult());
        continue;
      }
      if (isa<LLVM::InsertValueOp, LLVM::ExtractValueOp>(user)) {
        work.push_back(user->getResult(0));
        continue;
      }
      return false;
    }
  }
  return true;
}

struct GPUDeviceConstantsPass
    : moe::impl::GPUDeviceConstantsBase<GPUDeviceConstantsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SymbolTable symbols(module);
    SmallVector<LLVM::AddressOfOp> uses;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      fn.walk([&](LLVM::AddressOfOp op) {
        auto global = symbols.lookup<LLVM::GlobalOp>(op.getGlobalName());
        // Tensor data (0-d tensors become scalar globals), not strings
        // (assert messages) or mutable state.
        if (global && global.getConstant() && global.getValueOrNull() &&
            isa<ElementsAttr, FloatAttr, IntegerAttr>(
                global.getValueOrNull()))
          uses.push_back(op);
      });
    if (uses.empty())
      return;

    OpBuilder b(ctx);
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    FailureOr<LLVM::LLVMFuncOp> fn = LLVM::lookupOrCreateFn(
        b, module, moe::runtime::kCudaConstant, {ptr, i64}, ptr);
    if (failed(fn))
      return signalPassFailure();
    DataLayout layout(module);
    for (LLVM::AddressOfOp op : uses) {
      if (onlyLoadedByHost(op.getResult()))
        continue;
      auto global = symbols.lookup<LLVM::GlobalOp>(op.getGlobalName());
      int64_t bytes = layout.getTypeSize(global.getType());
      b.setInsertionPointAfter(op);
      Value size = LLVM::ConstantOp::create(b, op.getLoc(), i64,
                                            b.getI64IntegerAttr(bytes));
      auto call = LLVM::CallOp::create(b, op.getLoc(), *fn,
                                       ValueRange{op.getResult(), size});
      op.getResult().replaceAllUsesExcept(call.getResult(), call);
    }
  }
};
} // namespace
