//===- GroupedMoE.cpp - transformers' grouped_mm experts as exported ------===//
//
// transformers' OnnxExporter keeps the default "grouped_mm" experts: the
// k * T slots are sorted by expert id (TopK of all of them, ascending), the
// token rows gathered in that order, each expert's contiguous run of rows
// (Range between cumulative counts of a histogram of the sorted ids)
// multiplied by its matrix of the stacked weights (Split, per expert), the
// runs concatenated, scaled by the sorted routing weights and put back in
// slot order by the inverse permutation (ScatterND of 0..n-1, GatherND)
// before the sum over the k slots. This file proves each of those steps
// from the ops' semantics; the sort then cancels out and the block is the
// stacked-experts layer batchedMoE reads.
//
//===----------------------------------------------------------------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

#include "mlir/IR/TypeUtilities.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

std::optional<SlotSort> mlir::moe::matchSlotSort(Value perm) {
  auto topk = perm.getDefiningOp<onnx::TopKOp>();
  if (!topk || topk.getIndices() != perm || topk.getLargest() != 0 ||
      topk.getSorted() == 0)
    return std::nullopt;
  auto ft = rankedType(topk.getX());
  if (!ft || ft.getRank() != 1)
    return std::nullopt;
  // K is the whole length: read from the shape of the same tensor.
  Value kv = throughReshapes(topk.getK());
  for (int i = 0; i < 4 && kv; ++i) {
    Operation *op = kv.getDefiningOp();
    if (auto shape = dyn_cast_or_null<onnx::ShapeOp>(op)) {
      if (shape.getData() == topk.getX())
        return SlotSort{topk, topk.getX(), Value()};
      // Another 1-D value's length (an earlier layer's slots): equal at run
      // time or the raised block fails a check.
      auto dt = rankedType(shape.getData());
      if (dt && dt.getRank() == 1 && shape.getStart() == 0)
        return SlotSort{topk, topk.getX(), shape.getData()};
      return std::nullopt;
    }
    if (!isa_and_nonnull<onnx::GatherOp, onnx::SliceOp>(op))
      break;
    kv = throughReshapes(op->getOperand(0));
  }
  if (!ft.isDynamicDim(0) && scalarInt(topk.getK()) == ft.getDimSize(0))
    return SlotSort{topk, topk.getX(), Value()};
  return std::nullopt;
}

bool mlir::moe::isGatherAtPerm(Value v, Value perm, Value &data) {
  auto g = v.getDefiningOp<onnx::GatherNDOp>();
  if (!g || g.getBatchDims() != 0 || throughReshapes(g.getIndices()) != perm)
    return false;
  auto it = rankedType(g.getIndices());
  if (!it || it.getRank() != 2 || it.getDimSize(1) != 1)
    return false;
  data = g.getData();
  return true;
}

namespace {
/// `v` through Unsqueeze/Reshape/Squeeze and no-op casts.
Value base(Value v) { return throughReshapes(v); }

/// `len(other) == T * k` for this block's T rows of `hidden`. When `other`
/// flattens another router's [T', k'] top-k ids, T' is read from that
/// router's input rows instead (cheaper than keeping its top-k alive).
LengthCheck slotCountCheck(Value other, Value hidden, int64_t k) {
  LengthCheck check{other, 1, hidden, k};
  auto topk = base(other).getDefiningOp<onnx::TopKOp>();
  auto it = topk ? rankedType(topk.getIndices()) : nullptr;
  if (!topk || base(other) != topk.getIndices() || !it || it.getRank() != 2 ||
      it.isDynamicDim(1) || !isSlotFlat(other, topk.getIndices()))
    return check;
  Value scores = stripFloatCasts(topk.getX());
  if (auto sm = scores.getDefiningOp<onnx::SoftmaxOp>())
    scores = stripFloatCasts(sm.getInput());
  Operation *lin = scores.getDefiningOp();
  if (!isa_and_nonnull<onnx::GemmOp, onnx::MatMulOp>(lin))
    return check;
  Value rows = lin->getOperand(0);
  auto rt = rankedType(rows);
  if (!rt || rt.getRank() != 2 || (isa<onnx::GemmOp>(lin) &&
                                   cast<onnx::GemmOp>(lin).getTransA()))
    return check;
  return LengthCheck{rows, it.getDimSize(1), hidden, k};
}

/// `perm floordiv k` as torch writes it for int64: `perm / k` minus a
/// correction that needs a negative operand (and perm, TopK's indices, is
/// never negative).
bool isTokenOfSlot(Value v, Value perm, int64_t k) {
  Value q = v;
  if (auto sub = v.getDefiningOp<onnx::SubOp>()) {
    // The correction: Cast(And(..., Less(perm, 0) ...)).
    Value fix = stripNoopCasts(sub.getB());
    if (auto c = fix.getDefiningOp<onnx::CastOp>())
      fix = c.getInput();
    auto andOp = fix.getDefiningOp<onnx::AndOp>();
    if (!andOp)
      return false;
    bool needsNegative = false;
    for (Value side : {andOp.getA(), andOp.getB()}) {
      Value s = side;
      if (auto eq = s.getDefiningOp<onnx::EqualOp>())
        s = eq.getA(); // Equal(Less(...), true)
      if (auto less = s.getDefiningOp<onnx::LessOp>())
        needsNegative |= less.getA() == perm && scalarInt(less.getB()) == 0;
    }
    if (!needsNegative)
      return false;
    q = sub.getA();
  }
  auto div = q.getDefiningOp<onnx::DivOp>();
  return div && div.getA() == perm && scalarInt(div.getB()) == k;
}

/// One expert's run of the sorted rows: `Range(start, end, 1)`.
struct Run {
  Value start, end;
};

/// The stacked constant behind `Squeeze(Split(W, axis 0)[e], 0)`.
Value expertMatrix(Value v, int64_t e, int64_t experts) {
  Value s = base(v);
  auto split = s.getDefiningOp<onnx::SplitOp>();
  if (!split || split.getAxis() != 0 || split->getNumResults() != experts ||
      cast<OpResult>(s).getResultNumber() != e)
    return nullptr;
  Value w = stripFloatCasts(split.getInput());
  auto wt = rankedType(w);
  if (!wt || !wt.hasStaticShape() || wt.getRank() != 3 ||
      wt.getDimSize(0) != experts || !w.getDefiningOp<onnx::ConstantOp>())
    return nullptr;
  auto vt = rankedType(v);
  if (!vt || vt.getRank() != 2)
    return nullptr;
  return w;
}

/// `Concat(axis 0)` of E products `Gather(rows, run_e) x W[e]` for one
/// stacked `W` ([E, in, out]); sets `rows` and `weight`, and the runs (or
/// checks them against `runs` when given).
bool matchGroupedProduct(Value v, Value &rows, Value &weight,
                         SmallVectorImpl<Run> &runs) {
  auto concat = v.getDefiningOp<onnx::ConcatOp>();
  if (!concat || concat.getAxis() != 0)
    return false;
  int64_t experts = concat->getNumOperands();
  bool known = !runs.empty();
  if (known && static_cast<int64_t>(runs.size()) != experts)
    return false;
  rows = weight = nullptr;
  for (auto [e, part] : llvm::enumerate(concat->getOperands())) {
    auto mm = part.getDefiningOp<onnx::MatMulOp>();
    auto gather = mm ? mm.getA().getDefiningOp<onnx::GatherOp>() : nullptr;
    if (!gather || gather.getAxis() != 0)
      return false;
    Value w = expertMatrix(mm.getB(), e, experts);
    if (!w || (weight && w != weight) || (rows && gather.getData() != rows))
      return false;
    weight = w;
    rows = gather.getData();
    auto range = gather.getIndices().getDefiningOp<onnx::RangeOp>();
    if (!range || scalarInt(range.getDelta()) != 1)
      return false;
    Run run{range.getStart(), range.getLimit()};
    if (known) {
      if (run.start != runs[e].start || run.end != runs[e].end)
        return false;
    } else {
      runs.push_back(run);
    }
  }
  return true;
}

/// Whether `idx` (the histogram's bins) is computed from `ids` by casts,
/// reshapes, divisions by constants and clamps to constant bounds that map
/// every valid id i in [0, E) to bin i. (torch.histc(ids, E, 0, E - 1)
/// divides by the bin width (E - 1) / E, truncates and clamps.) Each id is
/// run through the chain.
bool binsAreIds(Value idx, Value ids, int64_t experts) {
  SmallVector<Operation *> chain;
  for (int i = 0; i < 8 && idx != ids; ++i) {
    Operation *op = idx.getDefiningOp();
    if (!isa_and_nonnull<onnx::CastOp, onnx::ClipOp, onnx::DivOp,
                         onnx::ReshapeOp, onnx::IdentityOp>(op))
      return false;
    chain.push_back(op);
    idx = op->getOperand(0);
  }
  if (idx != ids)
    return false;
  auto constant = [](Value v) -> std::optional<double> {
    if (auto f = scalarFloat(v))
      return f;
    if (auto i = scalarInt(v))
      return static_cast<double>(*i);
    return std::nullopt;
  };
  for (int64_t id = 0; id < experts; ++id) {
    double x = static_cast<double>(id);
    for (Operation *op : llvm::reverse(chain)) {
      if (auto cast = dyn_cast<onnx::CastOp>(op)) {
        if (getElementTypeOrSelf(cast.getOutput().getType()).isInteger())
          x = std::trunc(x);
      } else if (auto div = dyn_cast<onnx::DivOp>(op)) {
        std::optional<double> d = constant(div.getB());
        if (!d || *d == 0)
          return false;
        x /= *d;
        if (getElementTypeOrSelf(div.getC().getType()).isInteger())
          x = std::trunc(x);
      } else if (auto clip = dyn_cast<onnx::ClipOp>(op)) {
        for (auto [bound, isMin] :
             {std::pair{clip.getMin(), true}, std::pair{clip.getMax(), false}}) {
          if (isa<NoneType>(bound.getType()))
            continue;
          std::optional<double> c = constant(bound);
          if (!c)
            return false;
          x = isMin ? std::max(x, *c) : std::min(x, *c);
        }
      }
    }
    if (x != static_cast<double>(id))
      return false;
  }
  return true;
}

/// `v` = `rows + B[sorted]`, B a constant [E, out] gathered at the sorted
/// ids (each sorted row's expert): sets `bias` and returns `rows`; `v`
/// itself otherwise.
Value stripSortedBias(Value v, Value sortedIds, int64_t experts, Value &bias) {
  auto add = v.getDefiningOp<onnx::AddOp>();
  if (!add)
    return v;
  for (auto [rows, b] :
       {std::pair{add.getA(), add.getB()}, std::pair{add.getB(), add.getA()}}) {
    auto g = b.getDefiningOp<onnx::GatherNDOp>();
    if (!g || g.getBatchDims() != 0)
      continue;
    auto it = rankedType(g.getIndices());
    Value ids = base(g.getIndices());
    if (auto c = ids.getDefiningOp<onnx::CastOp>())
      ids = base(c.getInput());
    Value w = stripFloatCasts(g.getData());
    auto wt = rankedType(w);
    if (!it || it.getRank() != 2 || it.getDimSize(1) != 1 || ids != sortedIds ||
        !wt || !wt.hasStaticShape() || wt.getRank() != 2 ||
        wt.getDimSize(0) != experts || !w.getDefiningOp<onnx::ConstantOp>() ||
        add.getC().getType() != rows.getType())
      continue;
    bias = w;
    return rows;
  }
  return v;
}

/// The runs tile the sorted rows by expert: run e starts where run e-1
/// ends (the first at 0) and ends at the e-th cumulative count of a
/// histogram (ScatterElements add of ones) of the sorted ids.
bool runsFollowSortedIds(ArrayRef<Run> runs, Value sortedIds) {
  Value counts;
  for (auto [e, run] : llvm::enumerate(runs)) {
    if (e == 0 ? scalarInt(run.start) != 0 : run.start != runs[e - 1].end)
      return false;
    Value end = base(run.end);
    auto split = end.getDefiningOp<onnx::SplitOp>();
    if (!split || split.getAxis() != 0 ||
        split->getNumResults() != static_cast<unsigned>(runs.size()) ||
        cast<OpResult>(end).getResultNumber() != e)
      return false;
    Value c = stripNoopCasts(split.getInput());
    if (auto cast = c.getDefiningOp<onnx::CastOp>())
      c = cast.getInput();
    if (counts && c != counts)
      return false;
    counts = c;
  }
  auto cumsum = counts ? counts.getDefiningOp<onnx::CumSumOp>() : nullptr;
  if (!cumsum || cumsum.getExclusive() || cumsum.getReverse() ||
      scalarInt(cumsum.getAxis()) != 0)
    return false;
  Value hist = cumsum.getX();
  if (auto cast = hist.getDefiningOp<onnx::CastOp>())
    hist = cast.getInput();
  auto scatter = hist.getDefiningOp<onnx::ScatterElementsOp>();
  if (!scatter || scatter.getReduction() != "add" || scatter.getAxis() != 0)
    return false;
  auto zt = rankedType(scatter.getData());
  if (!zt || zt.getRank() != 1 ||
      zt.getDimSize(0) != static_cast<int64_t>(runs.size()) ||
      !hasValues(scatter.getData(),
                 SmallVector<int64_t>(runs.size(), 0)))
    return false;
  // The updates are ones.
  Value ones = scatter.getUpdates();
  if (auto ex = ones.getDefiningOp<onnx::ExpandOp>())
    ones = ex.getInput();
  if (scalarFloat(ones) != 1.0 && scalarInt(ones) != 1)
    return false;
  return binsAreIds(scatter.getIndices(), sortedIds, runs.size());
}
} // namespace

std::optional<DecomposedMoE> mlir::moe::matchGroupedMoE(Value result,
                                                        std::string &why) {
  std::optional<int64_t> width = slotSumWidth(result);
  if (!width)
    return std::nullopt;
  int64_t k = *width;
  auto sum = result.getDefiningOp<onnx::ReduceSumOp>();
  // Slot order restored: GatherND(sortedRows, inverse(perm)).
  auto back = base(stripFloatCasts(sum.getData())).getDefiningOp<onnx::GatherNDOp>();
  if (!back || back.getBatchDims() != 0)
    return std::nullopt;
  auto inv = base(back.getIndices()).getDefiningOp<onnx::ScatterNDOp>();
  if (!inv || inv.getReduction() != "none")
    return std::nullopt;
  auto iota = inv.getUpdates().getDefiningOp<onnx::RangeOp>();
  if (!iota || scalarInt(iota.getStart()) != 0 ||
      scalarInt(iota.getDelta()) != 1)
    return std::nullopt;
  Value perm = base(inv.getIndices());
  std::optional<SlotSort> sort = matchSlotSort(perm);
  if (!sort) {
    why = "the rows are put back in slot order by a permutation that is not "
          "an ascending sort of all the slots' expert ids";
    return std::nullopt;
  }
  // Weighted rows: Mul(products, w[perm]) with w the flattened routing
  // weights.
  auto mul = back.getData().getDefiningOp<onnx::MulOp>();
  if (!mul)
    return std::nullopt;
  for (auto [y, ws] :
       {std::pair{mul.getA(), mul.getB()}, std::pair{mul.getB(), mul.getA()}}) {
    Value wFlat;
    if (!isGatherAtPerm(base(ws), perm, wFlat))
      continue;
    Value wBase = base(wFlat);
    std::optional<RouterEvidence> evidence = matchRoutingWeights(wBase);
    if (!evidence || evidence->k != k || !isSlotFlat(wFlat, wBase))
      continue;
    if (!isSlotFlat(sort->flat, evidence->ids)) {
      why = "the sorted ids are not the router's top-k ids";
      return std::nullopt;
    }
    StackedFFN ffn;
    SmallVector<Run> runs;
    Value act, down, downBias, upBias;
    Value sortedIds = cast<onnx::TopKOp>(sort->topk).getValues();
    int64_t experts = evidence->numExperts;
    Value downRows =
        stripSortedBias(stripFloatCasts(y), sortedIds, experts, downBias);
    if (!matchGroupedProduct(downRows, act, down, runs) ||
        !runsFollowSortedIds(runs, sortedIds)) {
      why = "the weighted rows are not the experts' down projections over "
            "their runs of the sorted rows";
      return std::nullopt;
    }
    ffn.fc2 = StackedLinear{down, /*transposed=*/true, downBias};
    Value proj = matchSlotActivation(act, ffn);
    if (proj)
      proj = stripSortedBias(proj, sortedIds, experts, upBias);
    Value rows, up;
    if (!proj || !matchGroupedProduct(proj, rows, up, runs)) {
      why = "the down projections' input is not an activation of the "
            "experts' first projections over the same runs";
      return std::nullopt;
    }
    ffn.fc1 = StackedLinear{up, /*transposed=*/true, upBias};
    // Bias widths: the projections' output sizes ([E, in, out] weights).
    for (const StackedLinear &lin : {ffn.fc1, ffn.fc2})
      if (lin.bias && rankedType(lin.bias).getDimSize(1) !=
                          rankedType(lin.weight).getDimSize(2)) {
        why = "an expert bias does not match its projection's width";
        return std::nullopt;
      }
    // The sorted rows: hidden[perm / k].
    Value hidden;
    auto rowGather = rows.getDefiningOp<onnx::GatherNDOp>();
    if (!rowGather || rowGather.getBatchDims() != 0 ||
        !isTokenOfSlot(base(rowGather.getIndices()), perm, k) ||
        rankedType(rowGather.getData()).getRank() != 2) {
      why = "the experts do not read each slot's token row";
      return std::nullopt;
    }
    hidden = stripNoopCasts(rowGather.getData());
    std::optional<DecomposedMoE> moe =
        routedBlock(*evidence, hidden, blockResultOf(result, hidden), why);
    if (!moe)
      return std::nullopt;
    moe->stacked = ffn;
    // The sort covers all T * k slots only if the other length is T * k.
    if (sort->lengthOf)
      moe->lengthChecks.push_back(slotCountCheck(sort->lengthOf, hidden, k));
    return moe;
  }
  return std::nullopt;
}
