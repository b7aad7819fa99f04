//===- HostMemory.h - what host code touches without the device -*- C++ -*-===//
//
// Private to passes/GPU: which host buffers and host operations the device
// never sees, so that host code can run them while kernels are queued; and
// what a buffer is a view of, and who uses it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_HOSTMEMORY_H
#define MOE_PASSES_GPU_HOSTMEMORY_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

namespace mlir::moe {

/// Whether `buffer` is host memory only: a view of a buffer the function
/// allocates (memref.alloc / alloca) used, it and its views, only by host
/// loads, stores, dims, its free and as the shape of a memref.reshape.
bool isHostOnlyBuffer(Value buffer);

/// Whether `op` leaves device-visible memory alone: no memory effects, or
/// effects only on host-only buffers and reads of constant globals, or a
/// cf.assert (whose failure path drains the stream before anything is
/// freed), or a host loop or branch of such ops.
bool isHostPrivate(Operation *op);

/// Whether `v` views a constant global: memory nothing writes, which the
/// host reads from its own copy (moe-gpu-device-constants).
bool isConstantGlobal(Value v);

/// Shape arithmetic (an exported model's Shape / Gather / Concat chains
/// feeding Reshape) stays on the host, which reads its results to size
/// buffers: as kernels, copies or fills it would cost a wait for a handful
/// of integers. Its buffers are small static integer buffers.
constexpr int64_t kHostShapeElements = 64;
bool isShapeBuffer(Value memref);

/// The buffer `v` views (through view-like ops), or `v` itself.
Value viewedBuffer(Value v);

/// Whether `v` is a buffer the function allocates (memref.alloc, alloca,
/// gpu.alloc): it overlaps no other buffer of a different root.
bool isFreshAllocation(Value v);

/// Whether buffers rooted at `a` and `b` (viewedBuffer) cannot overlap:
/// different roots of which one is a fresh allocation.
inline bool cannotOverlap(Value a, Value b) {
  return a != b && (isFreshAllocation(a) || isFreshAllocation(b));
}

/// Whether `op` is device work a stream runs (a launch, fill or copy);
/// if so, appends the buffers (viewedBuffer) of its memref operands, what
/// it may touch, to `buffers`.
bool addQueuedBuffers(Operation *op, llvm::SmallVectorImpl<Value> &buffers);

/// Whether host op `op` touches none of `buffers` (roots): its every
/// memory effect names a buffer that overlaps none of them, or reads a
/// constant global; loops and branches when their ops do; a cf.assert.
bool touchesNoneOf(Operation *op, llvm::ArrayRef<Value> buffers);

/// Whether every use of `buffer`, and of each view of it (as the view's
/// source; any other operand role fails), is an op `allowed` accepts.
bool usedOnlyBy(Value buffer, llvm::function_ref<bool(Operation *)> allowed);

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_HOSTMEMORY_H
