//===- MergeModules.cpp - one gpu.module per model ------------------------===//
//
// gpu-kernel-outlining makes a module per launch (main_graph_kernel,
// main_graph_kernel_0, ...), each a separate PTX module, cubin, module
// load and emulator image. Their kernels move into one module; clashing
// names are made unique inside the source module first (SymbolTable::rename
// updates the uses there), then launches are pointed at the new place.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/GPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUMERGEMODULES
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
struct GPUMergeModulesPass
    : moe::impl::GPUMergeModulesBase<GPUMergeModulesPass> {
  void runOnOperation() override {
    ModuleOp top = getOperation();
    SmallVector<gpu::GPUModuleOp> modules(top.getOps<gpu::GPUModuleOp>());
    if (modules.size() < 2)
      return;
    gpu::GPUModuleOp target = modules.front();
    for (gpu::GPUModuleOp m : modules)
      if (m.getName() == "moe_kernels")
        target = m;
    for (gpu::GPUModuleOp m : modules)
      if (m.getTargetsAttr() != target.getTargetsAttr()) {
        m.emitError("cannot merge GPU modules with different targets");
        return signalPassFailure();
      }
    SymbolTable targetSymbols(target);
    // (module, old kernel name) -> new kernel name.
    DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> moved;
    for (gpu::GPUModuleOp m : modules) {
      if (m == target)
        continue;
      SymbolTable symbols(m);
      SmallVector<Operation *> ops;
      for (Operation &op : *m.getBody())
        if (!op.hasTrait<OpTrait::IsTerminator>())
          ops.push_back(&op);
      for (Operation *op : ops) {
        auto name =
            op->getAttrOfType<StringAttr>(SymbolTable::getSymbolAttrName());
        StringAttr newName = name;
        if (name) {
          unsigned suffix = 0;
          while (targetSymbols.lookup(newName) ||
                 (newName != name && symbols.lookup(newName)))
            newName = StringAttr::get(&getContext(),
                                      name.getValue() + "_" + Twine(++suffix));
          if (newName != name && failed(symbols.rename(op, newName))) {
            op->emitError("cannot rename this symbol to merge its module");
            return signalPassFailure();
          }
          moved[{m.getNameAttr(), name}] = newName;
        }
        // (gpu.module may or may not end in a terminator.)
        Block *body = target.getBody();
        if (!body->empty() && body->back().hasTrait<OpTrait::IsTerminator>())
          op->moveBefore(&body->back());
        else
          op->moveBefore(body, body->end());
        if (newName)
          targetSymbols.insert(op);
      }
    }
    top.walk([&](gpu::LaunchFuncOp launch) {
      SymbolRefAttr kernel = launch.getKernel();
      auto it =
          moved.find({kernel.getRootReference(), kernel.getLeafReference()});
      if (it == moved.end())
        return;
      launch.setKernelAttr(SymbolRefAttr::get(
          target.getNameAttr(), {FlatSymbolRefAttr::get(it->second)}));
    });
    for (gpu::GPUModuleOp m : modules)
      if (m != target)
        m.erase();
  }
};
} // namespace
