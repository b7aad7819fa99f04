//===- ExternalizeWeights.cpp - large constants read from a mapped file ---===//
//
// A library that embeds gigabytes of weights is slow to link, load and
// ship, and every process loading it holds a private copy of whatever it
// touched. Moved into a weights file the entry points map read-only, the
// weights are paged in only where routed to and shared between processes.
// This pass only rewrites the IR; --emit writes the file.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/Runtime.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::moe {
#define GEN_PASS_DEF_EXTERNALIZEWEIGHTS
#include "passes/Runtime/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
constexpr uint64_t kAlignment = 64;

/// Whether --emit can write `global`'s bytes as the translation would lay
/// them out: whole-byte integer or float elements.
bool hasWritableBytes(LLVM::GlobalOp global) {
  auto value = dyn_cast_or_null<ElementsAttr>(global.getValueOrNull());
  if (!global.getConstant() || !value ||
      !isa<DenseElementsAttr, DenseResourceElementsAttr>(value))
    return false;
  Type element = value.getElementType();
  return element.isIntOrFloat() && element.getIntOrFloatBitWidth() % 8 == 0;
}

struct ExternalizeWeightsPass
    : moe::impl::ExternalizeWeightsBase<ExternalizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (thresholdBytes < 0 || module->hasAttr(moe::kWeightsAttr))
      return;
    DataLayout layout(module);
    SymbolTable symbols(module);

    // Candidates: large tensor constants used only by addressof in
    // functions (an initializer elsewhere could not follow the move).
    llvm::MapVector<LLVM::GlobalOp, SmallVector<LLVM::AddressOfOp>> uses;
    for (auto global : module.getOps<LLVM::GlobalOp>())
      if (hasWritableBytes(global) &&
          static_cast<int64_t>(layout.getTypeSize(global.getType())) >=
              minBytes)
        uses[global];
    if (uses.empty())
      return;
    module.walk([&](LLVM::AddressOfOp op) {
      auto global = symbols.lookup<LLVM::GlobalOp>(op.getGlobalName());
      auto it = global ? uses.find(global) : uses.end();
      if (it == uses.end())
        return;
      if (op->getParentOfType<LLVM::LLVMFuncOp>())
        it->second.push_back(op);
      else
        uses.erase(it);
    });
    uint64_t total = 0;
    for (auto &entry : uses)
      total += layout.getTypeSize(entry.first.getType());
    if (uses.empty() || total < static_cast<uint64_t>(thresholdBytes))
      return;

    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i8 = IntegerType::get(ctx, 8);
    b.setInsertionPointToStart(module.getBody());
    Location loc = module.getLoc();
    // Defined here (null) so that an object file links on its own; the
    // entry points store the mapping into it.
    auto base = LLVM::GlobalOp::create(b, loc, ptr, /*isConstant=*/false,
                                       LLVM::Linkage::External,
                                       moe::kWeightsBaseSymbol, Attribute());
    base.setVisibility_(LLVM::Visibility::Hidden);
    {
      Block *init = b.createBlock(&base.getInitializerRegion());
      b.setInsertionPointToStart(init);
      Value null = LLVM::ZeroOp::create(b, loc, ptr);
      LLVM::ReturnOp::create(b, loc, null);
    }

    uint64_t offset = 0;
    for (auto &[global, addressOfs] : uses) {
      global->setAttr(moe::kWeightsOffsetAttr, b.getI64IntegerAttr(offset));
      for (LLVM::AddressOfOp op : addressOfs) {
        b.setInsertionPoint(op);
        Value slot = LLVM::AddressOfOp::create(b, op.getLoc(), base);
        Value data = LLVM::LoadOp::create(b, op.getLoc(), ptr, slot);
        // A 64-bit index: offsets pass 2 GiB.
        Value index = LLVM::ConstantOp::create(
            b, op.getLoc(), b.getI64Type(),
            b.getI64IntegerAttr(static_cast<int64_t>(offset)));
        Value at = LLVM::GEPOp::create(b, op.getLoc(), ptr, i8, data,
                                       ArrayRef<LLVM::GEPArg>{index});
        op.replaceAllUsesWith(at);
        op.erase();
      }
      offset = llvm::alignTo(offset + layout.getTypeSize(global.getType()),
                             kAlignment);
    }
    module->setAttr(moe::kWeightsAttr,
                    b.getDictionaryAttr(b.getNamedAttr(
                        "size", b.getI64IntegerAttr(offset))));
  }
};
} // namespace
