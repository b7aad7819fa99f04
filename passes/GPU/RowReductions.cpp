//===- RowReductions.cpp - a block per row for row reductions -------------===//
//
// A linalg reduction over a row's elements lowered to loops (an RMSNorm's
// sum of squares) is `scf.parallel (rows) { scf.for (j) { %a = load %A[rows];
// store (%a + f(j)), %A[rows] } }`: mapped like any parallel loop it runs
// one thread per row, each walking the whole row alone (at decode, one
// thread reads every element of the hidden state). Here such a loop becomes
// a kernel with one block per row whose threads stride the row, sum their
// shares, and reduce them by warp shuffles and workgroup memory. When the
// next loop is elementwise over the same rows and one more dimension and
// reads %A only at its row (the normalization), the block goes on to it,
// using the row's total from registers: one launch for the norm instead of
// two, and no round trip of the sums through memory.
//
//===----------------------------------------------------------------------===//

#include "GPU/BlockReduce.h"
#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/Support/MathExtras.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUROWREDUCTIONS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
constexpr int64_t kMaxThreads = 256;
constexpr int64_t kMinRow = 16;

/// The trip count of a loop over [lb, ub) by step when all three are
/// constants.
std::optional<int64_t> constantTrips(Value lb, Value ub, Value step) {
  std::optional<int64_t> l = getConstantIntValue(lb),
                         u = getConstantIntValue(ub),
                         s = getConstantIntValue(step);
  if (!l || !u || !s || *s <= 0)
    return std::nullopt;
  return *u > *l ? (*u - *l + *s - 1) / *s : 0;
}

/// Whether two index values are the same at run time: one value, equal
/// constants, or the same dimension of one memref.
bool sameIndex(Value a, Value b) {
  if (a == b)
    return true;
  std::optional<int64_t> ca = getConstantIntValue(a),
                         cb = getConstantIntValue(b);
  if (ca && cb)
    return *ca == *cb;
  auto da = a.getDefiningOp<memref::DimOp>(),
       db = b.getDefiningOp<memref::DimOp>();
  if (!da || !db || da.getSource() != db.getSource())
    return false;
  std::optional<int64_t> ia = da.getConstantIndex(), ib = db.getConstantIndex();
  return ia && ib && *ia == *ib;
}

bool hostLoop(scf::ParallelOp loop) {
  return loop.getNumResults() == 0 &&
         !loop->getParentOfType<scf::ParallelOp>() &&
         !loop->getParentOfType<gpu::LaunchOp>();
}

/// A row reduction: `rows` whose body is one `scf.for` accumulating into
/// `acc[rows' ivs]` by `addf(load, term)`.
struct RowReduction {
  scf::ParallelOp rows;
  scf::ForOp loop;
  memref::LoadOp load;
  memref::StoreOp store;
  arith::AddFOp add;
  Value acc; // the accumulator buffer

  Value accumulator() const { return acc; }

  static std::optional<RowReduction> match(scf::ParallelOp rows) {
    if (!hostLoop(rows))
      return std::nullopt;
    Block *body = rows.getBody();
    if (body->getOperations().size() != 2)
      return std::nullopt;
    auto loop = dyn_cast<scf::ForOp>(body->front());
    if (!loop || loop.getNumResults() != 0 ||
        !llvm::all_of(ValueRange{loop.getLowerBound(), loop.getUpperBound(),
                                 loop.getStep()},
                      [&](Value v) { return rows.isDefinedOutsideOfLoop(v); }))
      return std::nullopt;
    // Rows known to be short stay one thread each: a warp per row would
    // leave most lanes idle.
    std::optional<int64_t> trips = constantTrips(
        loop.getLowerBound(), loop.getUpperBound(), loop.getStep());
    if (trips && *trips < kMinRow)
      return std::nullopt;
    RowReduction r{rows, loop, {}, {}, {}, {}};
    SmallVector<Value> ivs = rows.getInductionVars();
    for (Operation &op : loop.getBody()->without_terminator()) {
      if (auto store = dyn_cast<memref::StoreOp>(op)) {
        if (r.store || !llvm::equal(store.getIndices(), ivs) ||
            !rows.isDefinedOutsideOfLoop(store.getMemRef()))
          return std::nullopt;
        r.store = store;
        continue;
      }
      // Globals are host symbols (moe-gpu-map-parallel-loops reads them
      // before its launches; this kernel would not).
      if (isa<memref::GetGlobalOp>(op) ||
          (!isa<memref::LoadOp>(op) &&
           (!isMemoryEffectFree(&op) || op.getNumRegions())))
        return std::nullopt;
    }
    if (!r.store)
      return std::nullopt;
    r.acc = r.store.getMemRef();
    for (auto load : loop.getBody()->getOps<memref::LoadOp>())
      if (load.getMemRef() == r.store.getMemRef() &&
          llvm::equal(load.getIndices(), ivs))
        r.load = load;
    if (!r.load || !r.load->hasOneUse() || !r.load->isBeforeInBlock(r.store))
      return std::nullopt;
    r.add = r.store.getValueToStore().getDefiningOp<arith::AddFOp>();
    if (!r.add || r.add->getBlock() != loop.getBody() ||
        !llvm::is_contained(r.add->getOperands(), r.load.getResult()) ||
        !r.add.getType().isF32())
      return std::nullopt;
    // Every other load reads a buffer that cannot be the accumulator.
    Value root = moe::viewedBuffer(r.accumulator());
    WalkResult other = loop.getBody()->walk([&](memref::LoadOp l) {
      if (l != r.load &&
          !moe::cannotOverlap(moe::viewedBuffer(l.getMemRef()), root))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (other.wasInterrupted())
      return std::nullopt;
    return r;
  }
};

/// Whether `next` can run in the reduction's block after it: elementwise
/// over the same rows and one more dimension, reading the accumulator only
/// at its row and writing nothing the reduction reads.
bool fusable(RowReduction r, scf::ParallelOp next) {
  if (!hostLoop(next) || next.getNumLoops() != r.rows.getNumLoops() + 1)
    return false;
  for (unsigned d = 0; d < r.rows.getNumLoops(); ++d)
    if (!sameIndex(next.getLowerBound()[d], r.rows.getLowerBound()[d]) ||
        !sameIndex(next.getUpperBound()[d], r.rows.getUpperBound()[d]) ||
        !sameIndex(next.getStep()[d], r.rows.getStep()[d]))
      return false;
  SmallVector<Value> nextIvs = next.getInductionVars();
  ArrayRef<Value> rowIvs = ArrayRef<Value>(nextIvs).drop_back();
  Value acc = r.accumulator();
  SmallVector<Value> readRoots;
  r.loop.getBody()->walk([&](memref::LoadOp l) {
    readRoots.push_back(moe::viewedBuffer(l.getMemRef()));
  });
  WalkResult result = next.getBody()->walk([&](Operation *op) {
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      if (load.getMemRef() == acc && !llvm::equal(load.getIndices(), rowIvs))
        return WalkResult::interrupt();
      return WalkResult::advance();
    }
    if (auto store = dyn_cast<memref::StoreOp>(op)) {
      Value root = moe::viewedBuffer(store.getMemRef());
      if (store.getMemRef() == acc || llvm::any_of(readRoots, [&](Value read) {
            return !moe::cannotOverlap(root, read);
          }))
        return WalkResult::interrupt();
      return WalkResult::advance();
    }
    if (isa<scf::ReduceOp, scf::ReduceReturnOp>(op) ||
        (isMemoryEffectFree(op) && !isa<memref::GetGlobalOp>(op)))
      return WalkResult::advance();
    return WalkResult::interrupt();
  });
  return !result.wasInterrupted();
}

/// The next host parallel loop after `rows`, past ops that neither touch
/// memory nor run code elsewhere (index arithmetic, allocations), or null.
scf::ParallelOp nextLoop(scf::ParallelOp rows) {
  for (Operation *op = rows->getNextNode(); op; op = op->getNextNode()) {
    if (auto next = dyn_cast<scf::ParallelOp>(op))
      return next;
    if (!isMemoryEffectFree(op) && !isa<memref::AllocOp>(op))
      return nullptr;
  }
  return nullptr;
}

/// Threads per block for a loop over [lb, ub) by step: a power of two from
/// a warp to kMaxThreads, at least the trip count when it is static.
int64_t threadsFor(Value lb, Value ub, Value step) {
  std::optional<int64_t> trips = constantTrips(lb, ub, step);
  if (!trips)
    return kMaxThreads;
  return std::clamp<int64_t>(int64_t(llvm::PowerOf2Ceil(*trips)), 32,
                             kMaxThreads);
}

void buildKernel(OpBuilder &b, RowReduction r, scf::ParallelOp next) {
  Location loc = r.rows.getLoc();
  MLIRContext *ctx = b.getContext();
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value one = idx(1);
  SmallVector<Value> trips;
  Value total = one;
  for (auto [lb, ub, step] : llvm::zip(
           r.rows.getLowerBound(), r.rows.getUpperBound(), r.rows.getStep())) {
    Value span = arith::SubIOp::create(b, loc, ub, lb);
    trips.push_back(arith::CeilDivUIOp::create(b, loc, span, step));
    total = arith::MulIOp::create(b, loc, total, trips.back());
  }
  int64_t threads = threadsFor(r.loop.getLowerBound(), r.loop.getUpperBound(),
                               r.loop.getStep());
  if (next)
    threads = std::max(threads, threadsFor(next.getLowerBound().back(),
                                           next.getUpperBound().back(),
                                           next.getStep().back()));
  int64_t warps = threads / 32;
  Value threadCount = idx(threads);
  auto launch =
      gpu::LaunchOp::create(b, loc, total, one, one, threadCount, one, one);
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Type f32 = b.getF32Type();
  Value partials = launch.addWorkgroupAttribution(
      MemRefType::get({warps}, f32, MemRefLayoutAttrInterface(), workgroup),
      loc);
  Block &body = launch.getBody().front();
  b.setInsertionPointToStart(&body);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&body);

  // The row of this block.
  SmallVector<Value> rowIvs(trips.size());
  Value rest = launch.getBlockIds().x;
  for (int64_t d = static_cast<int64_t>(trips.size()) - 1; d >= 0; --d) {
    Value index =
        d == 0 ? rest : arith::RemUIOp::create(b, loc, rest, trips[d]);
    if (d > 0)
      rest = arith::DivUIOp::create(b, loc, rest, trips[d]);
    rowIvs[d] = arith::AddIOp::create(
        b, loc, r.rows.getLowerBound()[d],
        arith::MulIOp::create(b, loc, index, r.rows.getStep()[d]));
  }
  Value tid = launch.getThreadIds().x;
  // The value the row's sum starts from, read before any thread writes it.
  Value start = memref::LoadOp::create(b, loc, r.accumulator(), rowIvs);

  // This thread's share: elements tid, tid + threads, ... of the row.
  IRMapping map;
  map.map(r.rows.getInductionVars(), rowIvs);
  Value step = r.loop.getStep();
  Value first = arith::AddIOp::create(b, loc, r.loop.getLowerBound(),
                                      arith::MulIOp::create(b, loc, tid, step));
  Value stride = arith::MulIOp::create(b, loc, step, threadCount);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  auto share = scf::ForOp::create(
      b, loc, first, r.loop.getUpperBound(), stride, ValueRange{zero},
      [&](OpBuilder &nb, Location l, Value j, ValueRange acc) {
        map.map(r.loop.getInductionVar(), j);
        map.map(r.load.getResult(), acc[0]);
        for (Operation &op : r.loop.getBody()->without_terminator())
          if (&op != r.store.getOperation() && &op != r.load.getOperation())
            nb.clone(op, map);
        scf::YieldOp::create(nb, l, map.lookup(r.add.getResult()));
      });
  Value rowSum = arith::AddFOp::create(
      b, loc, start,
      moe::emitBlockSum(b, loc, share.getResult(0), tid, partials, warps));
  // The accumulator keeps its meaning for any other reader.
  auto writer = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, idx(0)),
      false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&writer.getThenRegion().front());
    memref::StoreOp::create(b, loc, rowSum, r.accumulator(), rowIvs);
  }
  if (!next)
    return;

  // The elementwise loop over the row, strided over the threads, reading
  // the row's sum from registers.
  unsigned last = next.getNumLoops() - 1;
  Value cStep = next.getStep()[last];
  Value cFirst =
      arith::AddIOp::create(b, loc, next.getLowerBound()[last],
                            arith::MulIOp::create(b, loc, tid, cStep));
  Value cStride = arith::MulIOp::create(b, loc, cStep, threadCount);
  auto columns =
      scf::ForOp::create(b, loc, cFirst, next.getUpperBound()[last], cStride);
  b.setInsertionPointToStart(columns.getBody());
  IRMapping nextMap;
  SmallVector<Value> nextIvs = next.getInductionVars();
  nextMap.map(ArrayRef<Value>(nextIvs).drop_back(), rowIvs);
  nextMap.map(nextIvs.back(), columns.getInductionVar());
  for (Operation &op : next.getBody()->without_terminator()) {
    auto load = dyn_cast<memref::LoadOp>(op);
    if (load && load.getMemRef() == r.accumulator()) {
      nextMap.map(load.getResult(), rowSum);
      continue;
    }
    b.clone(op, nextMap);
  }
}

struct GPURowReductionsPass
    : moe::impl::GPURowReductionsBase<GPURowReductionsPass> {
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation().walk([&](scf::ParallelOp p) { loops.push_back(p); });
    // Loops fused into an earlier one's kernel are gone by their turn.
    llvm::SmallPtrSet<Operation *, 4> erased;
    for (scf::ParallelOp rows : loops) {
      if (erased.contains(rows))
        continue;
      std::optional<RowReduction> r = RowReduction::match(rows);
      if (!r)
        continue;
      scf::ParallelOp next = nextLoop(rows);
      if (next && !fusable(*r, next))
        next = nullptr;
      // At the later loop's place: its bounds may be defined between the
      // two, and what lies between touches no memory.
      OpBuilder b(next ? next.getOperation() : rows.getOperation());
      buildKernel(b, *r, next);
      if (next) {
        next->walk([&](Operation *op) { erased.insert(op); });
        next.erase();
      }
      rows.erase();
    }
  }
};
} // namespace
