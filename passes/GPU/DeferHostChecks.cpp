//===- DeferHostChecks.cpp - device checks read once, at the end ----------===//
//
// The routing plan's flag of tokens without an expert and the flags of
// moe-gpu-device-checks are written by kernels and read by the host right
// after their launch: each read waits for the device, so a call waited once
// per checked kernel. The read and its cf.assert move to the end of the
// function instead, after the call's one wait. The kernels launched between
// would otherwise run on the output of a failed check (an expert id out of
// range left a plan that makes the next kernel write out of bounds): each
// takes the flag words as arguments and returns at once when one is set.
// The host then fails the call with the first failed check's message, as
// before.
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUDEFERHOSTCHECKS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
bool isFlagRead(Operation *op) {
  return isa<memref::LoadOp>(op) && op->hasAttr(moe::kCheckFlagAttr);
}

/// A check and what moves with it: the flag reads and the ops computed
/// from them (in order), and the flag buffers' deallocations.
struct Deferred {
  cf::AssertOp check;
  SmallVector<Operation *> ops;
  SmallVector<Operation *> deallocs;
  SmallVector<memref::LoadOp> flags;
};

/// The buffer `v` views (through casts).
Value rootOf(Value v) {
  while (auto cast = v.getDefiningOp<memref::CastOp>())
    v = cast.getSource();
  return v;
}

/// `check` as a Deferred when its condition comes from flag reads through
/// pure ops used by nothing else, and nothing but deallocations uses the
/// flag buffers after the reads.
std::optional<Deferred> deferrable(cf::AssertOp check) {
  Block *block = check->getBlock();
  SetVector<Operation *> slice;
  SmallVector<Value> work = {check.getArg()};
  while (!work.empty()) {
    Operation *def = work.pop_back_val().getDefiningOp();
    if (!def || def->getBlock() != block || slice.contains(def))
      continue;
    slice.insert(def);
    // A read's buffer and indices are the function's, defined before.
    if (isFlagRead(def))
      continue;
    if (!isMemoryEffectFree(def) || def->getNumRegions())
      return std::nullopt;
    llvm::append_range(work, def->getOperands());
  }
  // What moves: the reads and what is computed from them; the rest of the
  // slice (constants, sizes) is defined before and stays.
  Deferred d{check, {}, {}, {}};
  SmallPtrSet<Operation *, 8> moving;
  for (Operation &op : *block) {
    if (!slice.contains(&op))
      continue;
    if (!isFlagRead(&op) && llvm::none_of(op.getOperands(), [&](Value v) {
          return moving.contains(v.getDefiningOp());
        }))
      continue;
    for (Operation *user : op.getUsers())
      if (user != check && !slice.contains(user))
        return std::nullopt;
    moving.insert(&op);
    d.ops.push_back(&op);
    if (isFlagRead(&op))
      d.flags.push_back(cast<memref::LoadOp>(op));
  }
  if (d.flags.empty())
    return std::nullopt;
  for (memref::LoadOp flag : d.flags) {
    SmallVector<Value> views = {rootOf(flag.getMemRef())};
    for (size_t i = 0; i < views.size(); ++i)
      for (Operation *user : views[i].getUsers()) {
        if (auto cast = dyn_cast<memref::CastOp>(user))
          views.push_back(cast.getResult());
        if (user->getBlock() != block || !flag->isBeforeInBlock(user) ||
            moving.contains(user) || isa<memref::CastOp>(user))
          continue;
        if (!isa<memref::DeallocOp, gpu::DeallocOp>(user))
          return std::nullopt;
        if (!llvm::is_contained(d.deallocs, user))
          d.deallocs.push_back(user);
      }
  }
  d.ops.push_back(check);
  return d;
}

/// Whether the host code after `check` only launches, fills, copies,
/// allocates and frees, works on host-only memory, or touches no buffer
/// device work has used before it (what the host itself computed, such as
/// an LM's position ids): nothing it does reads what a failed check left
/// behind.
bool onlyDeviceWorkAfter(cf::AssertOp check) {
  SmallVector<Value> deviceBuffers;
  for (Operation &op : *check->getBlock()) {
    if (&op == check.getOperation())
      break;
    moe::addQueuedBuffers(&op, deviceBuffers);
  }
  for (Operation *op = check->getNextNode(); op; op = op->getNextNode()) {
    if (moe::addQueuedBuffers(op, deviceBuffers))
      continue;
    if (isa<gpu::WaitOp, gpu::AllocOp, gpu::DeallocOp, memref::AllocOp,
            memref::DeallocOp, cf::AssertOp, func::ReturnOp>(op) ||
        isFlagRead(op) || moe::isHostPrivate(op) ||
        moe::touchesNoneOf(op, deviceBuffers))
      continue;
    return false;
  }
  return true;
}

/// Makes `kernel` return at once when a word of `flags` is set: each flag
/// buffer becomes one more argument, read at the kernel's entry.
void guardKernel(gpu::GPUFuncOp kernel, ArrayRef<memref::LoadOp> flags) {
  Location loc = kernel.getLoc();
  SmallVector<Value> words;
  for (memref::LoadOp flag : flags) {
    unsigned index = kernel.getNumArguments();
    (void)kernel.insertArgument(index, flag.getMemRef().getType(),
                                DictionaryAttr(), loc);
    words.push_back(kernel.getArgument(index));
  }
  Block *entry = &kernel.front();
  Block *body = entry->splitBlock(entry->begin());
  OpBuilder b = OpBuilder::atBlockEnd(entry);
  Value failed;
  for (auto [flagOp, word] : llvm::zip_equal(flags, words)) {
    memref::LoadOp flag = flagOp;
    SmallVector<Value> at;
    for (Value i : flag.getIndices()) {
      // Indices are host constants; the kernel makes its own.
      auto c = i.getDefiningOp<arith::ConstantIndexOp>();
      at.push_back(arith::ConstantIndexOp::create(b, loc, c.value()));
    }
    Value v = memref::LoadOp::create(b, loc, word, at);
    Value set = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne, v,
        arith::ConstantOp::create(b, loc, b.getZeroAttr(v.getType())));
    failed = failed ? arith::OrIOp::create(b, loc, failed, set) : set;
  }
  Block *exit = b.createBlock(&kernel.getBody());
  gpu::ReturnOp::create(b, loc);
  b.setInsertionPointToEnd(entry);
  cf::CondBranchOp::create(b, loc, failed, exit, body);
}

struct GPUDeferHostChecksPass
    : moe::impl::GPUDeferHostChecksBase<GPUDeferHostChecksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTableCollection symbols;
    // Kernels launched from one place only can take a guard of their own.
    llvm::DenseMap<Operation *, int> launches;
    module.walk([&](gpu::LaunchFuncOp l) {
      ++launches[symbols.lookupNearestSymbolFrom(l, l.getKernel())];
    });
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      Block &block = fn.getBody().front();
      SmallVector<Deferred> deferred;
      for (Operation &op : block) {
        auto check = dyn_cast<cf::AssertOp>(op);
        if (!check)
          continue;
        std::optional<Deferred> d = deferrable(check);
        if (!d || !onlyDeviceWorkAfter(check))
          continue;
        bool guardable = true;
        for (Operation *o = check->getNextNode(); o; o = o->getNextNode())
          if (auto l = dyn_cast<gpu::LaunchFuncOp>(o))
            guardable &= launches.lookup(symbols.lookupNearestSymbolFrom(
                             l, l.getKernel())) == 1;
        for (memref::LoadOp flag : d->flags)
          for (Value i : flag.getIndices())
            guardable &= static_cast<bool>(
                i.getDefiningOp<arith::ConstantIndexOp>());
        if (guardable)
          deferred.push_back(std::move(*d));
      }
      Operation *end = block.getTerminator();
      for (Deferred &d : deferred) {
        for (Operation *o = d.check->getNextNode(); o; o = o->getNextNode())
          if (auto l = dyn_cast<gpu::LaunchFuncOp>(o)) {
            auto kernel = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(
                l, l.getKernel());
            guardKernel(kernel, d.flags);
            for (memref::LoadOp flag : d.flags)
              l.getKernelOperandsMutable().append(flag.getMemRef());
          }
      }
      // In program order: the first failing check still reports first.
      for (Deferred &d : deferred)
        for (Operation *op : d.ops)
          op->moveBefore(end);
      for (Deferred &d : deferred)
        for (Operation *dealloc : d.deallocs)
          dealloc->moveBefore(end);
    }
  }
};
} // namespace
