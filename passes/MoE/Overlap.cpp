//===- Overlap.cpp - pipeline token chunks through the all-to-alls --------===//
//
// An expert-parallel layer is a chain: dispatch -> exchange -> experts ->
// exchange -> combine. Run on one block of tokens, the experts idle while
// the exchanges are in flight. Each layer is cloned per chunk of token rows,
// the exchanges split into start and wait, and the chunks' ops interleaved
// by stage (a stage ends at a wait), so chunk i+1's exchange is in flight
// while chunk i computes. Everything else that does not depend on an
// exchange (shared experts) is hoisted into the first communication window.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::moe {
#define GEN_PASS_DEF_OVERLAP
#include "passes/MoE/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// One expert-parallel layer: the ops from its dispatch to its combine.
struct ShardedLayer {
  DispatchOp dispatch;
  CombineOp combine;
  SmallVector<Operation *> ops; // dispatch .. combine, in block order
};

/// The layer ending in `combine`, if it is one moe-expert-parallel made: the
/// combine reads a returning all-to-all, every op between depends on the
/// dispatch, and nothing outside uses their values.
FailureOr<ShardedLayer> matchLayer(CombineOp combine) {
  if (!combine.getInput().getDefiningOp<AllToAllOp>())
    return failure();
  ShardedLayer layer;
  layer.combine = combine;
  layer.dispatch = combine.getSlots().getDefiningOp<DispatchOp>();
  if (!layer.dispatch || layer.dispatch->getBlock() != combine->getBlock())
    return failure();
  llvm::SetVector<Operation *> region;
  region.insert(layer.dispatch);
  for (size_t i = 0; i < region.size(); ++i) {
    if (region[i] == combine.getOperation())
      continue;
    for (Operation *user : region[i]->getUsers())
      region.insert(user);
  }
  for (Operation *op : region) {
    if (op->getBlock() != combine->getBlock() || combine->isBeforeInBlock(op))
      return failure();
  }
  // Token-row operands must be dynamic in rows, as moe-expert-parallel
  // leaves them, so that the ops can be cloned for smaller row blocks.
  for (Value v : {layer.dispatch.getInput(), layer.dispatch.getIds(),
                  combine.getWeights()})
    if (!cast<RankedTensorType>(v.getType()).isDynamicDim(0))
      return failure();
  layer.ops.assign(region.begin(), region.end());
  llvm::sort(layer.ops,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return layer;
}

/// Calls `f` with the defining op of every value `op` uses, its regions'
/// included (linalg bodies capture values from outside).
template <typename F> void forEachUsedDef(Operation *op, F f) {
  op->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (Operation *def = operand.getDefiningOp())
        f(def);
  });
}

/// Rows [offset, offset + size) of a [rows, cols] tensor.
Value rowBlock(OpBuilder &b, Location loc, Value v, Value offset, Value size) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<OpFoldResult> offsets = {offset, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {size, tensor::getMixedSizes(b, loc, v)[1]};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, type, v, offsets, sizes,
                                        strides);
}

class LayerPipeliner {
public:
  LayerPipeliner(ShardedLayer layer, int64_t chunks)
      : layer(std::move(layer)), chunks(chunks) {}
  void run();

private:
  struct Chunk {
    Value offset, size;
    SmallVector<Operation *> ops;
    DenseMap<Operation *, int64_t> stage;
    Value result;
  };
  void cloneChunk(OpBuilder &b, Chunk &chunk);

  ShardedLayer layer;
  int64_t chunks;
};

/// Clones the layer for one row block, exchanges split into start + wait,
/// and numbers each op's stage: the waits on its path from the dispatch.
void LayerPipeliner::cloneChunk(OpBuilder &b, Chunk &chunk) {
  Location loc = layer.combine.getLoc();
  IRMapping map;
  for (Value v : {layer.dispatch.getInput(), layer.dispatch.getIds(),
                  layer.combine.getWeights()})
    map.map(v, rowBlock(b, loc, v, chunk.offset, chunk.size));
  auto stageOf = [&](Operation *op) {
    int64_t s = 0;
    forEachUsedDef(
        op, [&](Operation *def) { s = std::max(s, chunk.stage.lookup(def)); });
    return s;
  };
  for (Operation *op : layer.ops) {
    if (auto a2a = dyn_cast<AllToAllOp>(op)) {
      AllToAllWaitOp wait = a2a.createAsync(b, map.lookup(a2a.getInput()),
                                            map.lookup(a2a.getSendCounts()));
      Operation *start = wait.getHandle().getDefiningOp();
      map.map(a2a.getResults(), wait.getResults());
      int64_t s = stageOf(start);
      chunk.stage[start] = s;
      chunk.stage[wait] = s + 1;
      chunk.ops.push_back(start);
      chunk.ops.push_back(wait);
      continue;
    }
    Operation *clone = b.clone(*op, map);
    chunk.stage[clone] = stageOf(clone);
    chunk.ops.push_back(clone);
  }
  chunk.result = map.lookup(layer.combine.getResult());
}

void LayerPipeliner::run() {
  CombineOp combine = layer.combine;
  OpBuilder b(combine);
  Location loc = combine.getLoc();
  Value rows = tensor::DimOp::create(b, loc, layer.dispatch.getInput(), 0);
  Value count = arith::ConstantIndexOp::create(b, loc, chunks);
  Value rowsPerChunk = arith::CeilDivUIOp::create(b, loc, rows, count);
  SmallVector<Chunk> pieces(chunks);
  for (int64_t c = 0; c < chunks; ++c) {
    Value begin = arith::MulIOp::create(
        b, loc, rowsPerChunk, arith::ConstantIndexOp::create(b, loc, c));
    Value end = arith::AddIOp::create(b, loc, begin, rowsPerChunk);
    begin = arith::MinUIOp::create(b, loc, begin, rows);
    end = arith::MinUIOp::create(b, loc, end, rows);
    pieces[c].offset = begin;
    pieces[c].size = arith::SubIOp::create(b, loc, end, begin);
  }
  for (Chunk &chunk : pieces)
    cloneChunk(b, chunk);

  // Software pipeline: at step t, stage s of chunk t - s, lower stages
  // first so that the next chunk's exchange starts before this one's
  // experts run.
  int64_t stages = 0;
  for (Chunk &chunk : pieces)
    for (auto [op, s] : chunk.stage)
      stages = std::max(stages, s + 1);
  auto resultType = cast<RankedTensorType>(combine.getType());
  Value out =
      tensor::EmptyOp::create(b, loc, resultType.getShape(),
                              resultType.getElementType(), ValueRange{rows});
  for (int64_t t = 0; t < chunks + stages - 1; ++t) {
    for (int64_t s = 0; s < stages; ++s) {
      int64_t c = t - s;
      if (c < 0 || c >= chunks)
        continue;
      for (Operation *op : pieces[c].ops)
        if (pieces[c].stage.lookup(op) == s)
          op->moveBefore(combine);
      if (s == stages - 1) {
        SmallVector<OpFoldResult> offsets = {pieces[c].offset,
                                             b.getIndexAttr(0)};
        SmallVector<OpFoldResult> sizes = {
            pieces[c].size, tensor::getMixedSizes(b, loc, out)[1]};
        SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
        out = tensor::InsertSliceOp::create(b, loc, pieces[c].result, out,
                                            offsets, sizes, strides);
      }
    }
  }
  combine.replaceAllUsesWith(out);
  for (Operation *op : llvm::reverse(layer.ops))
    op->erase();
}

/// Dependence-driven placement in one block: pure ops that depend on no
/// exchange move above the first wait (into the window in which the first
/// exchanges are in flight); each wait moves down to its first use.
void schedule(Block &block) {
  Operation *firstWait = nullptr;
  for (Operation &op : block)
    if (isa<AllToAllWaitOp>(op)) {
      firstWait = &op;
      break;
    }
  if (!firstWait)
    return;
  DenseSet<Operation *> dependent;
  SmallVector<Operation *> hoist;
  for (Operation *op = firstWait; op; op = op->getNextNode()) {
    bool onExchange = isa<AllToAllWaitOp>(op) || !isMemoryEffectFree(op) ||
                      op->hasTrait<OpTrait::IsTerminator>();
    forEachUsedDef(
        op, [&](Operation *def) { onExchange |= dependent.contains(def); });
    if (onExchange)
      dependent.insert(op);
    else
      hoist.push_back(op);
  }
  for (Operation *op : hoist)
    op->moveBefore(firstWait);

  SmallVector<AllToAllWaitOp> waits;
  for (Operation &op : block)
    if (auto wait = dyn_cast<AllToAllWaitOp>(op))
      waits.push_back(wait);
  for (AllToAllWaitOp wait : waits) {
    Operation *first = nullptr;
    for (Operation *user : wait->getUsers()) {
      Operation *inBlock = block.findAncestorOpInBlock(*user);
      if (inBlock && (!first || inBlock->isBeforeInBlock(first)))
        first = inBlock;
    }
    if (first && first != wait->getNextNode())
      wait->moveBefore(first);
  }
}

struct OverlapPass : moe::impl::OverlapBase<OverlapPass> {
  using Base::Base;
  void runOnOperation() override {
    if (chunks < 1) {
      mlir::emitError(getOperation().getLoc(),
                      "moe-overlap: chunks must be at least 1, got ")
          << static_cast<int64_t>(chunks);
      return signalPassFailure();
    }
    SmallVector<CombineOp> combines;
    getOperation().walk([&](CombineOp op) { combines.push_back(op); });
    llvm::SetVector<Block *> blocks;
    for (CombineOp combine : combines) {
      FailureOr<ShardedLayer> layer = matchLayer(combine);
      if (failed(layer))
        continue;
      blocks.insert(combine->getBlock());
      LayerPipeliner(std::move(*layer), chunks).run();
    }
    for (Block *block : blocks)
      schedule(*block);
  }
};
} // namespace
