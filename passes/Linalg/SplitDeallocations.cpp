//===- SplitDeallocations.cpp - one dealloc per unaliased buffer ----------===//
//
// Tracing every operand of a block's combined bufferization.dealloc to its
// allocation once replaces the simplification's pairwise alias queries
// (quadratic in the number of buffers of a model function) by a lookup.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/Linalg.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::moe {
#define GEN_PASS_DEF_SPLITDEALLOCATIONS
#include "passes/Linalg/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// Where a buffer comes from: the result of an allocation, an argument of
/// the enclosing function (never one of its allocations), or unknown.
struct Origin {
  enum Kind { Allocation, Argument, Unknown } kind;
  Value allocation;
};

Origin originOf(Value v) {
  while (true) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      Operation *parent = arg.getOwner()->getParentOp();
      if (isa<FunctionOpInterface>(parent) && arg.getOwner()->isEntryBlock())
        return {Origin::Argument, {}};
      return {Origin::Unknown, {}};
    }
    Operation *def = v.getDefiningOp();
    if (isa<memref::AllocOp, memref::AllocaOp>(def))
      return {Origin::Allocation, v};
    if (auto meta = dyn_cast<memref::ExtractStridedMetadataOp>(def)) {
      v = meta.getSource();
      continue;
    }
    if (auto view = dyn_cast<ViewLikeOpInterface>(def)) {
      v = view.getViewSource();
      continue;
    }
    return {Origin::Unknown, {}};
  }
}

void split(bufferization::DeallocOp dealloc) {
  // A retained value of unknown origin may alias any buffer: nothing moves.
  DenseSet<Value> retainedAllocations;
  for (Value retained : dealloc.getRetained()) {
    Origin origin = originOf(retained);
    if (origin.kind == Origin::Unknown)
      return;
    if (origin.kind == Origin::Allocation)
      retainedAllocations.insert(origin.allocation);
  }
  SmallVector<Origin> origins;
  DenseMap<Value, unsigned> operandsOfAllocation;
  for (Value memref : dealloc.getMemrefs()) {
    origins.push_back(originOf(memref));
    if (origins.back().kind == Origin::Allocation)
      ++operandsOfAllocation[origins.back().allocation];
  }
  SmallVector<Value> keptMemrefs, keptConditions;
  OpBuilder builder(dealloc);
  for (auto [memref, condition, origin] : llvm::zip_equal(
           dealloc.getMemrefs(), dealloc.getConditions(), origins)) {
    bool alone = origin.kind == Origin::Allocation &&
                 operandsOfAllocation.lookup(origin.allocation) == 1 &&
                 !retainedAllocations.contains(origin.allocation);
    if (!alone) {
      keptMemrefs.push_back(memref);
      keptConditions.push_back(condition);
      continue;
    }
    bufferization::DeallocOp::create(builder, dealloc.getLoc(), memref,
                                     condition, ValueRange{});
  }
  if (keptMemrefs.size() == dealloc.getMemrefs().size())
    return;
  dealloc.getMemrefsMutable().assign(keptMemrefs);
  dealloc.getConditionsMutable().assign(keptConditions);
}

struct SplitDeallocationsPass
    : moe::impl::SplitDeallocationsBase<SplitDeallocationsPass> {
  void runOnOperation() override {
    SmallVector<bufferization::DeallocOp> deallocs;
    getOperation()->walk(
        [&](bufferization::DeallocOp op) { deallocs.push_back(op); });
    for (bufferization::DeallocOp op : deallocs)
      if (op.getMemrefs().size() > 1)
        split(op);
  }
};
} // namespace
