//===- HostMemory.cpp - what host code touches without the device --------===//

#include "HostMemory.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

bool mlir::moe::isHostOnlyBuffer(Value buffer) {
  if (!buffer.getDefiningOp<memref::AllocOp>() &&
      !buffer.getDefiningOp<memref::AllocaOp>())
    return false;
  for (Operation *user : buffer.getUsers()) {
    if (isa<memref::LoadOp, memref::StoreOp, memref::DeallocOp,
            memref::DimOp>(user))
      continue;
    // A reshape reads its shape operand on the host.
    if (auto reshape = dyn_cast<memref::ReshapeOp>(user);
        reshape && reshape.getShape() == buffer &&
        reshape.getSource() != buffer)
      continue;
    return false;
  }
  return true;
}

bool mlir::moe::isHostPrivate(Operation *op) {
  if (isa<cf::AssertOp>(op))
    return true;
  if (op->getNumRegions())
    return false;
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
    if (!v || !isHostOnlyBuffer(v))
      return false;
  }
  return true;
}

Value mlir::moe::viewedBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

bool mlir::moe::isFreshAllocation(Value v) {
  return isa_and_nonnull<memref::AllocOp, memref::AllocaOp>(v.getDefiningOp());
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
