//===- GPUMapParallelLoops.cpp - parallel loops -> flat GPU launches ------===//
//
// Every outermost scf.parallel of host code becomes one gpu.launch whose
// threads cover the loop's whole iteration space, flattened and split into
// 256-thread blocks (the innermost loop dimension varies fastest across
// threads, so neighbouring threads touch neighbouring elements). Loops
// nested inside run sequentially on each thread. Bounds may be dynamic: the
// grid is computed at run time. Loops whose bodies cannot run on a device
// (heap allocations of dynamic size, calls) stay on the host.
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUMAPPARALLELLOOPS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
constexpr int64_t kBlockThreads = 256;
// Per-iteration scratch buffers up to this size become thread-private.
constexpr int64_t kMaxPrivateBytes = 1024;

bool isPrivateScratch(memref::AllocOp alloc) {
  MemRefType t = alloc.getType();
  if (!t.hasStaticShape() || !t.getLayout().isIdentity() ||
      !t.getElementType().isIntOrIndexOrFloat())
    return false;
  int64_t bits = t.getElementType().isIndex()
                     ? 64
                     : t.getElementType().getIntOrFloatBitWidth();
  return t.getNumElements() * bits / 8 <= kMaxPrivateBytes;
}

/// Whether the loop body can run as device code once rewritten.
bool deviceSafe(scf::ParallelOp loop) {
  if (loop.getNumResults() != 0)
    return false;
  WalkResult r = loop.getBody()->walk([](Operation *op) {
    if (auto alloc = dyn_cast<memref::AllocOp>(op))
      return isPrivateScratch(alloc) ? WalkResult::advance()
                                     : WalkResult::interrupt();
    if (isa<CallOpInterface, gpu::LaunchOp, memref::AllocaScopeOp>(op))
      return WalkResult::interrupt();
    if (auto inner = dyn_cast<scf::ParallelOp>(op))
      return inner.getNumResults() ? WalkResult::interrupt()
                                   : WalkResult::advance();
    return WalkResult::advance();
  });
  return !r.wasInterrupted();
}

/// A loop nest of scalar loads and stores for `copy` (no runtime call).
void expandCopy(RewriterBase &rewriter, memref::CopyOp copy) {
  Location loc = copy.getLoc();
  rewriter.setInsertionPoint(copy);
  Value src = copy.getSource(), dst = copy.getTarget();
  auto type = cast<MemRefType>(src.getType());
  SmallVector<Value> lbs, ubs, steps;
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  for (int64_t d = 0; d < type.getRank(); ++d) {
    lbs.push_back(zero);
    ubs.push_back(memref::DimOp::create(rewriter, loc, src, d));
    steps.push_back(one);
  }
  scf::buildLoopNest(rewriter, loc, lbs, ubs, steps,
                     [&](OpBuilder &b, Location l, ValueRange ivs) {
                       Value v = memref::LoadOp::create(b, l, src, ivs);
                       memref::StoreOp::create(b, l, v, dst, ivs);
                     });
  rewriter.eraseOp(copy);
}

/// Sequential loops for a nested parallel loop (it runs on one thread).
void serialize(RewriterBase &rewriter, scf::ParallelOp loop) {
  rewriter.setInsertionPoint(loop);
  scf::LoopNest nest =
      scf::buildLoopNest(rewriter, loop.getLoc(), loop.getLowerBound(),
                         loop.getUpperBound(), loop.getStep());
  Block *body = loop.getBody();
  rewriter.eraseOp(body->getTerminator());
  Block *inner = nest.loops.back().getBody();
  SmallVector<Value> ivs = llvm::map_to_vector(
      nest.loops, [](scf::ForOp f) { return f.getInductionVar(); });
  rewriter.inlineBlockBefore(body, inner->getTerminator(), ivs);
  rewriter.eraseOp(loop);
}

/// Whether the host may read `memref` without waiting for kernels: a view
/// of a constant global, or of a buffer the function allocates that no
/// kernel (so far) and nothing but host loads, stores, dims, frees and
/// views uses.
bool hostReadable(Value memref) {
  if (moe::isConstantGlobal(memref))
    return true;
  Value root = moe::viewedBuffer(memref);
  if (!isa_and_nonnull<memref::AllocOp, memref::AllocaOp>(root.getDefiningOp()))
    return false;
  return moe::usedOnlyBy(root, [](Operation *user) {
    return isa<memref::LoadOp, memref::StoreOp, memref::DimOp,
               memref::DeallocOp>(user) &&
           !user->getParentOfType<gpu::LaunchOp>();
  });
}

/// `v` as a constant: an integer constant, or the dimension of a static
/// size that a memref.dim reads.
std::optional<int64_t> constantIndex(Value v) {
  APInt c;
  if (matchPattern(v, m_ConstantInt(&c)))
    return c.getSExtValue();
  auto dim = v.getDefiningOp<memref::DimOp>();
  if (!dim)
    return std::nullopt;
  auto type = dyn_cast<MemRefType>(dim.getSource().getType());
  std::optional<int64_t> d = constantIndex(dim.getIndex());
  if (!type || !d || *d < 0 || *d >= type.getRank() || type.isDynamicDim(*d))
    return std::nullopt;
  return type.getDimSize(*d);
}

/// Static trip counts of `loop`'s dimensions (kDynamic where not static).
SmallVector<int64_t> staticTrips(scf::ParallelOp loop) {
  SmallVector<int64_t> trips;
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    std::optional<int64_t> l = constantIndex(lb), u = constantIndex(ub),
                           s = constantIndex(step);
    trips.push_back(l && u && s && *s > 0 ? llvm::divideCeil(*u - *l, *s)
                                          : ShapedType::kDynamic);
  }
  return trips;
}

/// The product of `loop`'s static trip counts and how many are dynamic.
struct TripCounts {
  int64_t staticProduct = 1;
  int dynamicDims = 0;
};
TripCounts tripCounts(scf::ParallelOp loop) {
  TripCounts c;
  for (int64_t t : staticTrips(loop)) {
    if (ShapedType::isDynamic(t))
      ++c.dynamicDims;
    else
      c.staticProduct *= t;
  }
  return c;
}

bool onHost(Operation *op);

/// Whether host code (outside loops and kernels) loads from `buffer` or a
/// view of it.
bool readByHost(Value buffer) {
  for (Operation *user : buffer.getUsers()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(user);
        view && view.getViewSource() == buffer) {
      for (Value result : user->getResults())
        if (readByHost(result))
          return true;
      continue;
    }
    if (isa<memref::LoadOp>(user) && onHost(user))
      return true;
  }
  return false;
}

/// Position arithmetic stays on the host too: a loop over one dynamic
/// dimension (the tokens) that fills integer buffers of one dynamic
/// dimension from nothing but its indices and constants, where host code
/// then reads what it wrote (an exported LM's position ids, whose last
/// value sizes buffers): as a kernel, the host would wait for it. Its work
/// grows with the tokens alone.
bool isPositionArithmetic(scf::ParallelOp loop) {
  TripCounts trips = tripCounts(loop);
  if (trips.dynamicDims != 1 || trips.staticProduct > moe::kHostShapeElements)
    return false;
  bool needed = false;
  WalkResult r = loop->walk([&](Operation *op) {
    if (auto load = dyn_cast<memref::LoadOp>(op))
      return moe::isConstantGlobal(load.getMemRef()) ? WalkResult::advance()
                                                     : WalkResult::interrupt();
    if (auto store = dyn_cast<memref::StoreOp>(op)) {
      auto type = store.getMemRefType();
      if (!type.getElementType().isIntOrIndex() || type.getNumDynamicDims() > 1)
        return WalkResult::interrupt();
      needed |= readByHost(moe::viewedBuffer(store.getMemRef()));
      return WalkResult::advance();
    }
    if (isa<memref::AllocOp, memref::CopyOp, CallOpInterface>(op) ||
        (!isMemoryEffectFree(op) && !op->getNumRegions()))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return !r.wasInterrupted() && needed;
}

/// Shape arithmetic stays on the host (HostMemory.h): a loop qualifies
/// when its trip count is static and small, every buffer it touches is a
/// shape buffer and every one it reads the host can read without waiting
/// (constants, or what host code wrote): never data a kernel computed,
/// such as the routing plan's counts.
bool isShapeArithmetic(scf::ParallelOp loop) {
  if (isPositionArithmetic(loop))
    return true;
  TripCounts trips = tripCounts(loop);
  if (trips.dynamicDims || trips.staticProduct > moe::kHostShapeElements)
    return false;
  WalkResult r = loop->walk([](Operation *op) {
    Value memref;
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      memref = load.getMemRef();
      if (!hostReadable(memref))
        return WalkResult::interrupt();
    } else if (auto store = dyn_cast<memref::StoreOp>(op)) {
      memref = store.getMemRef();
    } else if (isa<memref::AllocOp, memref::CopyOp, CallOpInterface>(op))
      return WalkResult::interrupt();
    if (memref && !moe::isShapeBuffer(memref))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return !r.wasInterrupted();
}

/// Whether `op` is host code: in a function, outside kernels and loops
/// that will become kernels.
bool onHost(Operation *op) {
  return !op->getParentOfType<scf::ParallelOp>() &&
         !op->getParentOfType<gpu::LaunchOp>() &&
         !op->getParentOfType<gpu::GPUModuleOp>() &&
         op->getParentOfType<FunctionOpInterface>();
}

struct ParallelToLaunch : OpRewritePattern<scf::ParallelOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(scf::ParallelOp loop,
                                PatternRewriter &rewriter) const override {
    if (!onHost(loop))
      return failure();
    if (!deviceSafe(loop))
      return rewriter.notifyMatchFailure(loop, "body must stay on the host");
    if (isShapeArithmetic(loop))
      return rewriter.notifyMatchFailure(loop, "shape arithmetic");
    Location loc = loop.getLoc();
    // Globals are host symbols: read them before the launch.
    SmallVector<memref::GetGlobalOp> globals;
    loop.getBody()->walk([&](memref::GetGlobalOp g) { globals.push_back(g); });
    for (memref::GetGlobalOp g : globals)
      rewriter.moveOpBefore(g, loop);

    rewriter.setInsertionPoint(loop);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    SmallVector<Value> trips;
    Value total = one;
    for (auto [lb, ub, step] : llvm::zip(
             loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
      Value span = arith::SubIOp::create(rewriter, loc, ub, lb);
      Value trip = arith::CeilDivUIOp::create(rewriter, loc, span, step);
      trips.push_back(trip);
      total = arith::MulIOp::create(rewriter, loc, total, trip);
    }
    Value threads =
        arith::ConstantIndexOp::create(rewriter, loc, kBlockThreads);
    Value grid = arith::CeilDivUIOp::create(rewriter, loc, total, threads);
    auto launch =
        gpu::LaunchOp::create(rewriter, loc, grid, one, one, threads, one, one);
    Block &body = launch.getBody().front();
    rewriter.setInsertionPointToStart(&body);
    Value linear = arith::AddIOp::create(
        rewriter, loc,
        arith::MulIOp::create(rewriter, loc, launch.getBlockIds().x, threads),
        launch.getThreadIds().x);
    Value inRange = arith::CmpIOp::create(
        rewriter, loc, arith::CmpIPredicate::ult, linear, total);
    auto guard = scf::IfOp::create(rewriter, loc, inRange, false);
    gpu::TerminatorOp::create(rewriter, loc);

    rewriter.setInsertionPointToStart(&guard.getThenRegion().front());
    SmallVector<Value> ivs(trips.size());
    Value rest = linear;
    for (int64_t d = static_cast<int64_t>(trips.size()) - 1; d >= 0; --d) {
      Value index =
          d == 0 ? rest : arith::RemUIOp::create(rewriter, loc, rest, trips[d]);
      if (d > 0)
        rest = arith::DivUIOp::create(rewriter, loc, rest, trips[d]);
      Value scaled =
          arith::MulIOp::create(rewriter, loc, index, loop.getStep()[d]);
      ivs[d] =
          arith::AddIOp::create(rewriter, loc, loop.getLowerBound()[d], scaled);
    }
    Block *loopBody = loop.getBody();
    rewriter.eraseOp(loopBody->getTerminator());
    rewriter.inlineBlockBefore(
        loopBody, guard.getThenRegion().front().getTerminator(), ivs);
    rewriter.eraseOp(loop);

    // Device-side cleanup of the moved body.
    SmallVector<scf::ParallelOp> nested;
    SmallVector<memref::CopyOp> copies;
    SmallVector<memref::AllocOp> allocs;
    launch.getBody().walk([&](Operation *op) {
      if (auto p = dyn_cast<scf::ParallelOp>(op))
        nested.push_back(p);
      else if (auto c = dyn_cast<memref::CopyOp>(op))
        copies.push_back(c);
      else if (auto a = dyn_cast<memref::AllocOp>(op))
        allocs.push_back(a);
    });
    for (memref::AllocOp alloc : allocs) {
      for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
        if (isa<memref::DeallocOp>(user))
          rewriter.eraseOp(user);
      // Once per thread, at kernel entry (not once per loop iteration).
      rewriter.setInsertionPointToStart(&body);
      auto alloca = memref::AllocaOp::create(
          rewriter, alloc.getLoc(), alloc.getType(), alloc.getAlignmentAttr());
      rewriter.replaceOp(alloc, alloca);
    }
    for (memref::CopyOp copy : copies)
      expandCopy(rewriter, copy);
    // Post-order: inner loops first.
    for (scf::ParallelOp p : nested)
      serialize(rewriter, p);
    return success();
  }
};

/// A host copy between buffers becomes a parallel loop (then a kernel), so
/// that the data stays on the device.
struct CopyToParallel : OpRewritePattern<memref::CopyOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(memref::CopyOp copy,
                                PatternRewriter &rewriter) const override {
    if (!onHost(copy))
      return failure();
    Location loc = copy.getLoc();
    Value src = copy.getSource(), dst = copy.getTarget();
    auto type = cast<MemRefType>(src.getType());
    if (type.getRank() == 0)
      return failure();
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    SmallVector<Value> lbs(type.getRank(), zero), steps(type.getRank(), one);
    SmallVector<Value> ubs;
    for (int64_t d = 0; d < type.getRank(); ++d)
      ubs.push_back(memref::DimOp::create(rewriter, loc, src, d));
    scf::ParallelOp::create(rewriter, loc, lbs, ubs, steps,
                            [&](OpBuilder &b, Location l, ValueRange ivs) {
                              Value v = memref::LoadOp::create(b, l, src, ivs);
                              memref::StoreOp::create(b, l, v, dst, ivs);
                            });
    rewriter.eraseOp(copy);
    return success();
  }
};

/// A sequential host loop over buffers (building the routing plan) runs on
/// one GPU thread, so that its buffers do not travel to the host and back.
struct SerialLoopToLaunch : OpRewritePattern<scf::ForOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rewriter) const override {
    if (!onHost(loop) || loop->getParentOfType<scf::ForOp>() ||
        loop.getNumResults() != 0)
      return failure();
    bool touchesMemory = false;
    WalkResult r = loop.getBody()->walk([&](Operation *op) {
      if (isa<memref::LoadOp, memref::StoreOp>(op))
        touchesMemory = true;
      if (isa<memref::AllocOp, memref::GetGlobalOp, CallOpInterface,
              gpu::LaunchOp, memref::CopyOp, memref::AllocaScopeOp>(op))
        return WalkResult::interrupt();
      if (auto p = dyn_cast<scf::ParallelOp>(op); p && p.getNumResults())
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (r.wasInterrupted() || !touchesMemory)
      return failure();
    Location loc = loop.getLoc();
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    auto launch =
        gpu::LaunchOp::create(rewriter, loc, one, one, one, one, one, one);
    Block &body = launch.getBody().front();
    rewriter.setInsertionPointToStart(&body);
    gpu::TerminatorOp::create(rewriter, loc);
    rewriter.moveOpBefore(loop, body.getTerminator());
    SmallVector<scf::ParallelOp> nested;
    loop.getBody()->walk([&](scf::ParallelOp p) { nested.push_back(p); });
    for (scf::ParallelOp p : nested)
      serialize(rewriter, p);
    return success();
  }
};

struct GPUMapParallelLoopsPass
    : moe::impl::GPUMapParallelLoopsBase<GPUMapParallelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    {
      RewritePatternSet patterns(ctx);
      patterns.add<CopyToParallel>(ctx);
      walkAndApplyPatterns(getOperation(), std::move(patterns));
    }
    RewritePatternSet patterns(ctx);
    patterns.add<ParallelToLaunch>(ctx);
    if (serialLoops)
      patterns.add<SerialLoopToLaunch>(ctx);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
