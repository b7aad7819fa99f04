//===- HostMemory.cpp - what host code touches without the device --------===//

#include "HostMemory.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

/// Whether every use of `buffer` is a host load, store, dim, free or a
/// reshape's shape operand, or a view whose uses all are.
static bool onlyHostAccesses(Value buffer) {
  for (Operation *user : buffer.getUsers()) {
    if (isa<memref::LoadOp, memref::StoreOp, memref::DeallocOp, memref::DimOp>(
            user))
      continue;
    // A reshape reads its shape operand on the host.
    if (auto reshape = dyn_cast<memref::ReshapeOp>(user);
        reshape && reshape.getShape() == buffer &&
        reshape.getSource() != buffer)
      continue;
    // Views (a subview a shape's Concat writes through).
    if (auto view = dyn_cast<ViewLikeOpInterface>(user);
        view && view.getViewSource() == buffer &&
        !isa<memref::ReshapeOp>(user) &&
        llvm::all_of(user->getResults(), onlyHostAccesses))
      continue;
    return false;
  }
  return true;
}

bool mlir::moe::isHostOnlyBuffer(Value buffer) {
  Value root = moe::viewedBuffer(buffer);
  if (!root.getDefiningOp<memref::AllocOp>() &&
      !root.getDefiningOp<memref::AllocaOp>())
    return false;
  return onlyHostAccesses(root);
}

bool mlir::moe::isConstantGlobal(Value v) {
  auto get = moe::viewedBuffer(v).getDefiningOp<memref::GetGlobalOp>();
  if (!get)
    return false;
  auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      get, get.getNameAttr());
  return global && global.getConstant();
}

/// Whether every buffer host op `op` has a memory effect on is one
/// `allowed` accepts (reads of constant globals aside): ops without effects
/// and cf.asserts qualify, host loops and branches when their ops do, an
/// effect on no named buffer never.
static bool everyEffectOn(Operation *op,
                          llvm::function_ref<bool(Value)> allowed) {
  if (isa<cf::AssertOp>(op))
    return true;
  if (op->getNumRegions()) {
    if (!isa<RegionBranchOpInterface>(op) ||
        !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return false;
    for (Region &region : op->getRegions())
      for (Operation &nested : region.getOps())
        if (!everyEffectOn(&nested, allowed))
          return false;
    return true;
  }
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return isMemoryEffectFree(op);
  SmallVector<MemoryEffects::EffectInstance> list;
  effects.getEffects(list);
  for (const MemoryEffects::EffectInstance &e : list) {
    Value v = e.getValue();
    // An allocation's effect may name its result, or nothing.
    if (!v && isa<MemoryEffects::Allocate>(e.getEffect()) &&
        op->getNumResults() == 1)
      v = op->getResult(0);
    if (v && isa<MemoryEffects::Read>(e.getEffect()) &&
        mlir::moe::isConstantGlobal(v))
      continue;
    if (!v || !allowed(v))
      return false;
  }
  return true;
}

bool mlir::moe::isHostPrivate(Operation *op) {
  return everyEffectOn(op, isHostOnlyBuffer);
}

bool mlir::moe::isShapeBuffer(Value memref) {
  auto type = dyn_cast<MemRefType>(memref.getType());
  return type && type.hasStaticShape() &&
         type.getNumElements() <= kHostShapeElements &&
         type.getElementType().isIntOrIndex();
}

Value mlir::moe::viewedBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

bool mlir::moe::isFreshAllocation(Value v) {
  return isa_and_nonnull<memref::AllocOp, memref::AllocaOp, gpu::AllocOp>(
      v.getDefiningOp());
}

bool mlir::moe::usedOnlyBy(Value buffer,
                           llvm::function_ref<bool(Operation *)> allowed) {
  for (Operation *user : buffer.getUsers()) {
    // A view (cast, reshape, ...) of the buffer, not one that only takes it
    // as an operand such as a reshape's shape.
    if (auto view = dyn_cast<ViewLikeOpInterface>(user)) {
      if (view.getViewSource() != buffer)
        return false;
      for (Value result : user->getResults())
        if (!usedOnlyBy(result, allowed))
          return false;
      continue;
    }
    if (!allowed(user))
      return false;
  }
  return true;
}

bool mlir::moe::addQueuedBuffers(Operation *op,
                                 SmallVectorImpl<Value> &buffers) {
  if (!isa<gpu::LaunchFuncOp, gpu::MemsetOp, gpu::MemcpyOp>(op))
    return false;
  for (Value v : op->getOperands())
    if (isa<BaseMemRefType>(v.getType()))
      buffers.push_back(viewedBuffer(v));
  return true;
}

bool mlir::moe::touchesNoneOf(Operation *op, ArrayRef<Value> buffers) {
  return everyEffectOn(op, [&](Value v) {
    Value root = viewedBuffer(v);
    return llvm::all_of(buffers,
                        [&](Value b) { return cannotOverlap(root, b); });
  });
}
