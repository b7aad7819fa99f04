//===- ExpertParallel.cpp - shard experts over ranks ----------------------===//
//
// Each rank runs the same program on its own tokens and keeps the weights of
// its experts only. A decomposed layer's expert compute (everything between
// moe.dispatch and moe.combine that reads the grouped rows or the offsets)
// moves behind a pair of all-to-alls: token copies go to the rank of their
// expert, are grouped there by local expert, computed, put back into the
// order they arrived in, and return. Because the dispatch groups copies in
// placement order (rank-major), the rows for rank p are one contiguous block
// and the returning rows land exactly where the single-rank program had
// them, so the final combine (and its summation order) is unchanged. The
// sender's dispatch only groups rows for sending, so it is never padded; the
// receiver's, which feeds the grouped GEMMs, keeps the layer's padding.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"
#include "Utils/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SetVector.h"

#include <cstring>

namespace mlir::moe {
#define GEN_PASS_DEF_EXPERTPARALLEL
#include "passes/MoE/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
constexpr int64_t kDynamic = ShapedType::kDynamic;

/// Where every expert lives, and the orders derived from it.
struct Placement {
  SmallVector<int64_t> position;   // expert -> row-group index (rank-major)
  SmallVector<int64_t> firstPos;   // rank -> first position; [ranks] = E
  SmallVector<int64_t> localOfPos; // position -> index among its rank's
  SmallVector<int64_t> mine;       // this rank's experts, ascending

  bool identityOrder() const {
    for (auto [e, p] : llvm::enumerate(position))
      if (static_cast<int64_t>(e) != p)
        return false;
    return true;
  }
};

Placement makePlacement(ArrayRef<int64_t> rankOf, int64_t ranks, int64_t rank) {
  Placement p;
  int64_t experts = rankOf.size();
  p.position.assign(experts, 0);
  p.localOfPos.assign(experts, 0);
  int64_t next = 0;
  for (int64_t r = 0; r < ranks; ++r) {
    p.firstPos.push_back(next);
    int64_t local = 0;
    for (int64_t e = 0; e < experts; ++e) {
      if (rankOf[e] != r)
        continue;
      p.position[e] = next;
      p.localOfPos[next] = local++;
      ++next;
      if (r == rank)
        p.mine.push_back(e);
    }
  }
  p.firstPos.push_back(next);
  return p;
}

Value constIndex(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value constI32Table(OpBuilder &b, Location loc, ArrayRef<int64_t> values) {
  SmallVector<int32_t> data(values.begin(), values.end());
  auto type = RankedTensorType::get({static_cast<int64_t>(data.size())},
                                    b.getI32Type());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, ArrayRef<int32_t>(data)));
}

/// `table[clamp(v)]` for an i32 `v` inside a linalg body.
Value lookup(OpBuilder &b, Location loc, Value table, Value v, int64_t size) {
  Value idx = arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  idx = arith::MaxSIOp::create(b, loc, idx, constIndex(b, loc, 0));
  idx = arith::MinSIOp::create(b, loc, idx, constIndex(b, loc, size - 1));
  return tensor::ExtractOp::create(b, loc, table, ValueRange{idx});
}

/// Rewrites one decomposed layer. Fails (with a diagnostic) on a shape the
/// sharding does not understand.
class LayerSharder {
public:
  LayerSharder(DispatchOp dispatch, CombineOp combine,
               const Placement &placement, int64_t ranks,
               DenseMap<Value, Value> &weightSlices)
      : combine(combine), placement(placement), ranks(ranks),
        weightSlices(weightSlices), dispatch(dispatch) {}

  LogicalResult run();

private:
  LogicalResult collectExpertCompute();
  Value placementIds(OpBuilder &b, Location loc, Value ids);
  Value sendCounts(OpBuilder &b, Location loc, Value offsets);
  Value localIds(OpBuilder &b, Location loc, Value slots, Value pids);
  Value localWeight(OpBuilder &b, Value weight);
  Value computeLocally(OpBuilder &b, Location loc, Value rows, Value ids);

  CombineOp combine;
  const Placement &placement;
  int64_t ranks;
  DenseMap<Value, Value> &weightSlices;
  DispatchOp dispatch;
  SmallVector<Operation *> compute; // in program order
};

LogicalResult LayerSharder::collectExpertCompute() {
  if (dispatch->getBlock() != combine->getBlock())
    return combine.emitError("moe-expert-parallel: dispatch and combine must "
                             "be in one block");
  // Forward from the grouped rows and offsets: the ops that depend on them.
  llvm::SetVector<Operation *> dependent;
  for (Value v : {dispatch.getGrouped(), dispatch.getOffsets()})
    for (Operation *user : v.getUsers())
      dependent.insert(user);
  for (size_t i = 0; i < dependent.size(); ++i)
    for (Value r : dependent[i]->getResults())
      for (Operation *user : r.getUsers())
        if (user != combine.getOperation())
          dependent.insert(user);
  Operation *producer = combine.getInput().getDefiningOp();
  if (!producer || !dependent.contains(producer))
    return combine.emitError("moe-expert-parallel: the combine's input is "
                             "not computed from the dispatched rows");
  for (Operation *op : dependent) {
    if (op->getBlock() != combine->getBlock() || !op->isBeforeInBlock(combine))
      return op->emitError("moe-expert-parallel: uses an expert "
                           "computation's rows outside the layer");
    if (auto mm = dyn_cast<ExpertMatmulOp>(op); mm && mm.isGathered())
      return op->emitError("moe-expert-parallel: the exchange needs the "
                           "grouped rows; run moe-fuse-dispatch-gather after "
                           "moe-expert-parallel");
    if (!isa<ExpertMatmulOp, ActivationOp>(op))
      return op->emitError("moe-expert-parallel: cannot shard '")
             << op->getName() << "' in an expert computation (only "
             << "moe.expert_matmul and moe.activation)";
    compute.push_back(op);
  }
  llvm::sort(compute,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return success();
}

Value LayerSharder::placementIds(OpBuilder &b, Location loc, Value ids) {
  if (placement.identityOrder())
    return ids;
  int64_t experts = placement.position.size();
  Value table = constI32Table(b, loc, placement.position);
  auto type = cast<RankedTensorType>(ids.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, ids);
  Value init = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  AffineMap id = b.getMultiDimIdentityMap(2);
  SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{ids}, ValueRange{init},
             ArrayRef<AffineMap>{id, id}, iters,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               // An id out of range stays out of range, for the dispatch's
               // run-time check to report.
               Value zero =
                   arith::ConstantIntOp::create(nb, nloc, nb.getI32Type(), 0);
               Value count = arith::ConstantIntOp::create(
                   nb, nloc, nb.getI32Type(), experts);
               Value inRange = arith::AndIOp::create(
                   nb, nloc,
                   arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::sge,
                                         args[0], zero),
                   arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::slt,
                                         args[0], count));
               Value mapped = lookup(nb, nloc, table, args[0], experts);
               linalg::YieldOp::create(
                   nb, nloc,
                   arith::SelectOp::create(nb, nloc, inRange, mapped, args[0])
                       .getResult());
             })
      .getResult(0);
}

/// send_counts[p] = offsets[firstPos[p + 1]] - offsets[firstPos[p]].
Value LayerSharder::sendCounts(OpBuilder &b, Location loc, Value offsets) {
  SmallVector<Value> bounds;
  for (int64_t pos : placement.firstPos)
    bounds.push_back(
        tensor::ExtractOp::create(b, loc, offsets, constIndex(b, loc, pos)));
  SmallVector<Value> counts;
  for (int64_t p = 0; p < ranks; ++p)
    counts.push_back(arith::SubIOp::create(b, loc, bounds[p + 1], bounds[p]));
  return tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({ranks}, b.getI32Type()), counts);
}

/// For each grouped row, the index of its expert among its rank's experts,
/// as a `[rows, 1]` tensor (the ids operand of the receiver's dispatch).
Value LayerSharder::localIds(OpBuilder &b, Location loc, Value slots,
                             Value pids) {
  int64_t experts = placement.position.size();
  int64_t k = cast<RankedTensorType>(pids.getType()).getDimSize(1);
  Value table = constI32Table(b, loc, placement.localOfPos);
  auto slotsType = cast<RankedTensorType>(slots.getType());
  Type i32 = b.getI32Type();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, slots);
  sizes.push_back(b.getIndexAttr(1));
  Value init = tensor::EmptyOp::create(b, loc, sizes, i32);
  MLIRContext *ctx = b.getContext();
  auto maps = SmallVector<AffineMap>{
      AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx),
      b.getMultiDimIdentityMap(2)};
  SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
  auto type = RankedTensorType::get({slotsType.getDimSize(0), 1}, i32);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{slots}, ValueRange{init}, maps,
             iters,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value slot = arith::IndexCastOp::create(
                   nb, nloc, nb.getIndexType(), args[0]);
               Value kk = constIndex(nb, nloc, k);
               Value t = arith::DivUIOp::create(nb, nloc, slot, kk);
               Value j = arith::RemUIOp::create(nb, nloc, slot, kk);
               Value pos =
                   tensor::ExtractOp::create(nb, nloc, pids, ValueRange{t, j});
               linalg::YieldOp::create(nb, nloc,
                                       lookup(nb, nloc, table, pos, experts));
             })
      .getResult(0);
}

/// This rank's experts of a `[E, ...]` weight: a constant sliced now, any
/// other value sliced (and concatenated) in the program.
Value LayerSharder::localWeight(OpBuilder &b, Value weight) {
  if (Value cached = weightSlices.lookup(weight))
    return cached;
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t count = placement.mine.size();
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = count;
  auto localType = RankedTensorType::get(shape, type.getElementType());
  Location loc = weight.getLoc();
  OpBuilder::InsertionGuard guard(b);
  if (Operation *def = weight.getDefiningOp())
    b.setInsertionPointAfter(def);
  else
    b.setInsertionPointToStart(cast<BlockArgument>(weight).getOwner());

  Value local;
  ElementsAttr value;
  if (auto cst = weight.getDefiningOp<arith::ConstantOp>())
    value = dyn_cast<ElementsAttr>(cst.getValue());
  int64_t perExpert = 1;
  for (int64_t d : type.getShape().drop_front())
    perExpert *= d;
  int64_t bytes = (type.getElementTypeBitWidth() + 7) / 8;
  auto dense = dyn_cast_if_present<DenseElementsAttr>(value);
  if (dense && dense.isSplat()) {
    local = arith::ConstantOp::create(b, loc, dense.resizeSplat(localType));
  } else if (std::optional<ArrayRef<char>> raw =
                 value ? moe::constantData(weight) : std::nullopt) {
    int64_t stride = perExpert * bytes;
    auto copyMine = [&](MutableArrayRef<char> out) {
      char *at = out.data();
      for (int64_t e : placement.mine) {
        std::memcpy(at, raw->data() + e * stride, stride);
        at += stride;
      }
    };
    if (dense) {
      std::vector<char> data(stride * count);
      copyMine(data);
      local = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::getFromRawBuffer(localType, data));
    } else {
      // Written straight into the shard's blob (file-backed when large).
      auto res = cast<DenseResourceElementsAttr>(value);
      local = moe::createBlobConstant(
          b, loc, localType, stride * count, copyMine,
          res.getRawHandle().getKey().str() + "_shard");
    }
  }
  if (!local) {
    // Runs of consecutive experts, each one slice.
    SmallVector<Value> pieces;
    ArrayRef<int64_t> mine = placement.mine;
    for (size_t i = 0; i < mine.size();) {
      size_t j = i + 1;
      while (j < mine.size() && mine[j] == mine[j - 1] + 1)
        ++j;
      SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
      offsets[0] = b.getIndexAttr(mine[i]);
      SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, weight);
      sizes[0] = b.getIndexAttr(j - i);
      SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
      pieces.push_back(tensor::ExtractSliceOp::create(b, loc, weight, offsets,
                                                      sizes, strides));
      i = j;
    }
    local = pieces.size() == 1
                ? pieces.front()
                : tensor::ConcatOp::create(b, loc, 0, pieces).getResult();
  }
  weightSlices[weight] = local;
  return local;
}

/// The expert compute on the rows received, grouped by local expert, with
/// the local weights; its result is put back into the received order.
Value LayerSharder::computeLocally(OpBuilder &b, Location loc, Value rows,
                                   Value ids) {
  auto rowsType = cast<RankedTensorType>(rows.getType());
  Type elt = rowsType.getElementType();
  int64_t width = rowsType.getDimSize(1);
  int64_t count = placement.mine.size();
  Value received = tensor::DimOp::create(b, loc, rows, 0);
  auto resultType = RankedTensorType::get(
      {kDynamic,
       cast<RankedTensorType>(combine.getInput().getType()).getDimSize(1)},
      elt);
  if (count == 0) {
    // No expert here: nobody sends rows (the result has none).
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(elt));
    Value empty = tensor::EmptyOp::create(b, loc, resultType.getShape(), elt,
                                          ValueRange{received});
    return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  }
  Type i32 = b.getI32Type();
  auto local =
      DispatchOp::create(b, loc, RankedTensorType::get({kDynamic, width}, elt),
                         RankedTensorType::get({count + 1}, i32),
                         RankedTensorType::get({kDynamic}, i32), rows, ids,
                         b.getI64IntegerAttr(count), dispatch.getBlockAttr());

  IRMapping map;
  map.map(dispatch.getGrouped(), local.getGrouped());
  map.map(dispatch.getOffsets(), local.getOffsets());
  for (Operation *op : compute) {
    if (auto mm = dyn_cast<ExpertMatmulOp>(op)) {
      map.map(mm.getWeight(), localWeight(b, mm.getWeight()));
      if (Value bias = mm.getBias())
        map.map(bias, localWeight(b, bias));
      for (Value v : {mm.getScales(), mm.getZeroPoints()})
        if (v)
          map.map(v, localWeight(b, v));
    }
    Operation *clone = b.clone(*op, map);
    for (Value r : clone->getResults()) {
      auto type = cast<RankedTensorType>(r.getType());
      SmallVector<int64_t> shape(type.getShape());
      shape[0] = kDynamic;
      r.setType(type.clone(shape));
    }
  }
  Value computed = map.lookup(combine.getInput());

  // Unit weights: moe.combine then only un-permutes (x * 1 is exact).
  Value one = arith::ConstantOp::create(b, loc, b.getOneAttr(elt));
  Value onesInit = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{kDynamic, 1}, elt, ValueRange{received});
  Value ones = linalg::FillOp::create(b, loc, one, onesInit).getResult(0);
  return CombineOp::create(b, loc, resultType, computed, local.getSlots(),
                           ones);
}

LogicalResult LayerSharder::run() {
  if (failed(collectExpertCompute()))
    return failure();

  OpBuilder b(combine);
  Location loc = combine.getLoc();
  Type i32 = b.getI32Type();
  // The token dimension becomes dynamic inside the layer, so that every
  // value of it is sized from its operands and moe-overlap can run the same
  // ops on row chunks.
  auto dynamicRows = [&](Value v) -> Value {
    auto type = cast<RankedTensorType>(v.getType());
    if (type.isDynamicDim(0))
      return v;
    SmallVector<int64_t> shape(type.getShape());
    shape[0] = kDynamic;
    return tensor::CastOp::create(b, loc, type.clone(shape), v);
  };
  Value x = dynamicRows(dispatch.getInput());
  Value pids = dynamicRows(placementIds(b, loc, dispatch.getIds()));
  Value weights = dynamicRows(combine.getWeights());
  auto xType = cast<RankedTensorType>(x.getType());
  auto grouped = DispatchOp::create(
      b, loc,
      RankedTensorType::get({kDynamic, xType.getDimSize(1)},
                            xType.getElementType()),
      dispatch.getOffsets().getType(), RankedTensorType::get({kDynamic}, i32),
      x, pids, dispatch.getNumExpertsAttr(), b.getI64IntegerAttr(1));

  Value counts = sendCounts(b, loc, grouped.getOffsets());
  Value ids = localIds(b, loc, grouped.getSlots(), pids);
  auto rowsType = cast<RankedTensorType>(grouped.getGrouped().getType());
  auto countsType = RankedTensorType::get({ranks}, i32);
  auto received = AllToAllOp::create(
      b, loc,
      RankedTensorType::get({kDynamic, rowsType.getDimSize(1)},
                            rowsType.getElementType()),
      countsType, grouped.getGrouped(), counts, ranks);
  auto receivedIds =
      AllToAllOp::create(b, loc, RankedTensorType::get({kDynamic, 1}, i32),
                         countsType, ids, counts, ranks);
  Value computed =
      computeLocally(b, loc, received.getOutput(), receivedIds.getOutput());
  auto returned =
      AllToAllOp::create(b, loc, cast<RankedTensorType>(computed.getType()),
                         countsType, computed, received.getRecvCounts(), ranks);
  auto resultType = cast<RankedTensorType>(combine.getType());
  Value result = CombineOp::create(
      b, loc,
      RankedTensorType::get({kDynamic, resultType.getDimSize(1)},
                            resultType.getElementType()),
      returned.getOutput(), grouped.getSlots(), weights);
  if (result.getType() != resultType)
    result = tensor::CastOp::create(b, loc, resultType, result);
  combine.replaceAllUsesWith(result);
  combine.erase();
  for (Operation *op : llvm::reverse(compute))
    op->erase();
  if (dispatch->use_empty())
    dispatch.erase();
  return success();
}

struct ExpertParallelPass : moe::impl::ExpertParallelBase<ExpertParallelPass> {
  using Base::Base;

  /// The rank of each of `experts` experts, or failure (diagnosed).
  FailureOr<SmallVector<int64_t>> rankOf(Operation *at, int64_t experts) {
    SmallVector<int64_t> result;
    if (!expertMap.empty()) {
      if (static_cast<int64_t>(expertMap.size()) != experts) {
        at->emitError("moe-expert-parallel: map has ")
            << expertMap.size() << " entries, but the layer has " << experts
            << " experts";
        return failure();
      }
      for (int64_t r : expertMap) {
        if (r < 0 || r >= ranks) {
          at->emitError("moe-expert-parallel: map names rank ")
              << r << ", outside [0, " << static_cast<int64_t>(ranks) << ")";
          return failure();
        }
        result.push_back(r);
      }
      return result;
    }
    for (int64_t e = 0; e < experts; ++e)
      result.push_back(placement == "round-robin" ? e % ranks
                                                  : e * ranks / experts);
    return result;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (ranks < 1 || rank < 0 || rank >= ranks) {
      mlir::emitError(module.getLoc(),
                      "moe-expert-parallel: need ranks >= 1 and 0 <= rank "
                      "< ranks, got ranks = ")
          << static_cast<int64_t>(ranks)
          << ", rank = " << static_cast<int64_t>(rank);
      return signalPassFailure();
    }
    if (placement != "contiguous" && placement != "round-robin") {
      mlir::emitError(module.getLoc(),
                      "moe-expert-parallel: unknown placement '")
          << placement << "' (contiguous or round-robin)";
      return signalPassFailure();
    }
    SmallVector<CombineOp> combines;
    module.walk([&](CombineOp op) { combines.push_back(op); });
    if (ranks == 1)
      return;

    // FNV-1a over the placement: the same in every compiler process.
    uint64_t layout = 0xcbf29ce484222325ull;
    auto mix = [&](int64_t v) {
      for (int i = 0; i < 8; ++i) {
        layout ^= static_cast<uint64_t>(v >> (8 * i)) & 0xff;
        layout *= 0x100000001b3ull;
      }
    };
    mix(ranks);
    DenseMap<Value, Value> weightSlices;
    for (CombineOp combine : combines) {
      auto dispatch = combine.getSlots().getDefiningOp<DispatchOp>();
      if (!dispatch) {
        combine.emitError("moe-expert-parallel: the combine's slots do not "
                          "come from a moe.dispatch");
        return signalPassFailure();
      }
      int64_t experts = dispatch.getNumExperts();
      FailureOr<SmallVector<int64_t>> map = rankOf(combine, experts);
      if (failed(map))
        return signalPassFailure();
      mix(experts);
      for (int64_t r : *map)
        mix(r);
      Placement where = makePlacement(*map, ranks, rank);
      LayerSharder sharder(dispatch, combine, where, ranks, weightSlices);
      if (failed(sharder.run()))
        return signalPassFailure();
    }
    // Weights no longer used (the other ranks' experts) go away.
    for (auto [weight, slice] : weightSlices)
      if (Operation *def = weight.getDefiningOp())
        if (def->use_empty() && isa<arith::ConstantOp>(def))
          def->erase();

    Builder b(&getContext());
    module->setAttr(
        "moe.shard",
        b.getDictionaryAttr(
            {b.getNamedAttr("rank", b.getI64IntegerAttr(rank)),
             b.getNamedAttr("ranks", b.getI64IntegerAttr(ranks)),
             b.getNamedAttr("layout", b.getI64IntegerAttr(static_cast<int64_t>(
                                          layout & 0x7fffffffffffffffull)))}));
  }
};
} // namespace
