//===- SortedMoE.cpp - MoE blocks that split sorted slots by counts -------===//
//
// JetMoE (torch.export): the k * T slots are sorted by expert id (an
// ascending TopK of all of them), each sorted slot's token row gathered
// (token = slot / k), the rows split into per-expert runs by the per-expert
// counts of the ids (a histogram read expert by expert), each run
// multiplied by its expert's own matrices, the runs concatenated, scaled by
// the sorted routing weights and scatter-added at their tokens. Sorted
// ascending, run e is exactly the slots routed to expert e, so the block is
// a moe.layer with those per-expert matrices stacked.
//
//===----------------------------------------------------------------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

namespace {
/// `trunc(perm / k)` written in floats (Cast, Div by k, then Sign(q) *
/// Floor(|q|), cast back to an integer): the token of each sorted slot.
/// Exact while the slot count stays below 2^24.
bool isFloatTokenOfSlot(Value v, Value perm, int64_t k) {
  auto back = v.getDefiningOp<onnx::CastOp>();
  auto mul = back ? back.getInput().getDefiningOp<onnx::MulOp>() : nullptr;
  if (!mul || !cast<ShapedType>(v.getType()).getElementType().isInteger())
    return false;
  for (auto [f, s] :
       {std::pair{mul.getA(), mul.getB()}, std::pair{mul.getB(), mul.getA()}}) {
    auto floor = f.getDefiningOp<onnx::FloorOp>();
    auto abs = floor ? floor.getX().getDefiningOp<onnx::AbsOp>() : nullptr;
    auto sign = s.getDefiningOp<onnx::SignOp>();
    if (!abs || !sign || abs.getX() != sign.getX())
      continue;
    auto div = abs.getX().getDefiningOp<onnx::DivOp>();
    auto toFloat = div ? div.getA().getDefiningOp<onnx::CastOp>() : nullptr;
    std::optional<double> d = div ? scalarFloat(div.getB()) : std::nullopt;
    if (toFloat && toFloat.getInput() == perm && d &&
        *d == static_cast<double>(k))
      return true;
  }
  return false;
}

/// The token of each sorted slot, as an index column [S, 1].
bool isTokenColumn(Value v, Value perm, int64_t k) {
  auto it = rankedType(v);
  if (!it || it.getRank() != 2 || it.getDimSize(1) != 1)
    return false;
  return isFloatTokenOfSlot(throughReshapes(v), perm, k);
}

/// Whether every element of `v` is `x`: a one-element constant, Expand of
/// one, or ConstantOfShape of it.
bool isSplatOf(Value v, double x) {
  if (auto ex = v.getDefiningOp<onnx::ExpandOp>())
    v = ex.getInput();
  if (auto cs = v.getDefiningOp<onnx::ConstantOfShapeOp>()) {
    Attribute a = cs.getValueAttr();
    if (!a)
      return x == 0.0;
    if (isFloatSplat(a, x))
      return true;
    auto ints = dyn_cast<DenseIntElementsAttr>(a);
    return ints && ints.isSplat() &&
           ints.getSplatValue<APInt>().getSExtValue() == x;
  }
  std::optional<double> f = scalarFloat(v);
  std::optional<int64_t> i = f ? std::nullopt : scalarInt(v);
  return (f && *f == x) || (i && static_cast<double>(*i) == x);
}

/// The per-expert counts of `ids` ([T, k], distinct per token): ReduceSum
/// over the tokens of ScatterElements(zeros [T, E], ids, 1, axis 1) (a
/// Cast between). Returns E.
std::optional<int64_t> histogramExperts(Value v, Value ids) {
  auto sum = v.getDefiningOp<onnx::ReduceSumOp>();
  if (!sum || sum.getKeepdims() != 0 || !isSingleAxis(sum.getAxes(), 0, 2))
    return std::nullopt;
  Value h = sum.getData();
  if (auto c = h.getDefiningOp<onnx::CastOp>())
    h = c.getInput();
  auto sc = h.getDefiningOp<onnx::ScatterElementsOp>();
  auto zt = sc ? rankedType(sc.getData()) : nullptr;
  if (!sc || sc.getIndices() != ids || (sc.getAxis() != 1 && sc.getAxis() != -1) ||
      !zt || zt.getRank() != 2 || zt.isDynamicDim(1))
    return std::nullopt;
  if (!isSplatOf(sc.getUpdates(), 1.0) || !isSplatOf(sc.getData(), 0.0))
    return std::nullopt;
  return zt.getDimSize(1);
}

/// Element `e` of `counts` ([E]) as a one-element value: Slice [e, e+1) or
/// Gather at e, through reshapes and Gathers at 0 of one element.
bool isCountOf(Value v, Value counts, int64_t e) {
  for (int i = 0; i < 8; ++i) {
    v = throughReshapes(v);
    if (auto g = v.getDefiningOp<onnx::GatherOp>()) {
      if (g.getData() == counts)
        return g.getAxis() == 0 && scalarInt(g.getIndices()) == e;
      auto dt = rankedType(g.getData());
      if (!dt || dt.getNumElements() != 1 || scalarInt(g.getIndices()) != 0)
        return false;
      v = g.getData();
      continue;
    }
    auto sl = v.getDefiningOp<onnx::SliceOp>();
    if (!sl || sl.getData() != counts)
      return false;
    auto starts = onnx::getConstantInts(sl.getStarts());
    auto ends = onnx::getConstantInts(sl.getEnds());
    bool axis0 = isa<NoneType>(sl.getAxes().getType()) ||
                 hasValues(sl.getAxes(), {0});
    bool unit = isa<NoneType>(sl.getSteps().getType()) ||
                hasValues(sl.getSteps(), {1});
    return starts && ends && axis0 && unit &&
           *starts == ArrayRef<int64_t>{e} && *ends == ArrayRef<int64_t>{e + 1};
  }
  return false;
}

/// Split sizes that are the per-expert counts of `ids`, in expert order;
/// returns E.
std::optional<int64_t> sizesAreCounts(Value sizes, Value ids) {
  auto cat = sizes.getDefiningOp<onnx::ConcatOp>();
  if (!cat || cat.getAxis() != 0 || cat.getInputs().empty())
    return std::nullopt;
  // The counts vector: the ReduceSum that the first piece reads from,
  // through element extractions.
  Value counts;
  Value v = throughReshapes(cat.getInputs().front());
  for (int i = 0; i < 8 && !counts; ++i) {
    if (!isa_and_nonnull<onnx::GatherOp, onnx::SliceOp>(v.getDefiningOp()))
      return std::nullopt;
    Value data = v.getDefiningOp()->getOperand(0);
    if (data.getDefiningOp<onnx::ReduceSumOp>())
      counts = data;
    v = throughReshapes(data);
  }
  std::optional<int64_t> experts =
      counts ? histogramExperts(counts, ids) : std::nullopt;
  if (!experts || static_cast<int64_t>(cat.getInputs().size()) != *experts)
    return std::nullopt;
  for (auto [e, part] : llvm::enumerate(cat.getInputs()))
    if (!isCountOf(part, counts, e))
      return std::nullopt;
  return experts;
}

/// `Concat(axis 0)` of one linear map per piece of `Split(in, sizes)` in
/// piece order; sets `in`, `sizes` and the maps (checked against `sizes`
/// when set).
bool matchRunProducts(Value v, Value &in, Value &sizes,
                      SmallVectorImpl<DecomposedLinear> &maps) {
  auto cat = v.getDefiningOp<onnx::ConcatOp>();
  if (!cat || cat.getAxis() != 0)
    return false;
  onnx::SplitOp split;
  for (auto [e, part] : llvm::enumerate(cat.getInputs())) {
    std::optional<DecomposedLinear> lin = matchLinear(part);
    auto piece = lin ? dyn_cast<OpResult>(lin->input) : nullptr;
    auto s = piece ? dyn_cast<onnx::SplitOp>(piece.getOwner()) : nullptr;
    if (!s || piece.getResultNumber() != e || (split && s != split) ||
        s.getAxis() != 0 || s->getNumResults() != cat.getInputs().size())
      return false;
    split = s;
    maps.push_back(*lin);
  }
  if (!split || (sizes && split.getSplit() != sizes))
    return false;
  in = split.getInput();
  sizes = split.getSplit();
  return true;
}

/// The zeros the block scatters into: [T, H] with T from the shape of a
/// value holding `hidden`'s rows.
bool isZeroRowsOf(Value zeros, Value hidden) {
  auto ex = zeros.getDefiningOp<onnx::ExpandOp>();
  auto zt = rankedType(zeros), ht = rankedType(hidden);
  if (!ex || scalarFloat(ex.getInput()) != 0.0 || zt != ht)
    return false;
  auto cat = ex.getShape().getDefiningOp<onnx::ConcatOp>();
  if (!cat || cat.getInputs().size() != 2 ||
      !hasValues(cat.getInputs()[1], {ht.getDimSize(1)}))
    return false;
  auto shape = cat.getInputs()[0].getDefiningOp<onnx::ShapeOp>();
  if (!shape || unitSource(shape.getData()) != unitSource(hidden))
    return false;
  std::optional<int64_t> pos = realDimPos(shape.getData(), 0);
  int64_t start = shape.getStart();
  return pos && start == *pos && shape.getEnd() && *shape.getEnd() == start + 1;
}
} // namespace

std::optional<DecomposedMoE> mlir::moe::matchSortedMoE(Value result,
                                                       std::string &why) {
  auto sc = result.getDefiningOp<onnx::ScatterNDOp>();
  if (!sc || sc.getReduction() != "add")
    return std::nullopt;
  // The weighted rows: Mul(products, w[perm]) (broadcast to [S, H]).
  Value upd = sc.getUpdates();
  if (auto ex = upd.getDefiningOp<onnx::ExpandOp>();
      ex && ex.getInput().getType() == ex.getOutput().getType())
    upd = ex.getInput();
  auto mul = upd.getDefiningOp<onnx::MulOp>();
  if (!mul)
    return std::nullopt;
  for (auto [y, ws] :
       {std::pair{mul.getA(), mul.getB()}, std::pair{mul.getB(), mul.getA()}}) {
    auto g = throughReshapes(ws).getDefiningOp<onnx::GatherNDOp>();
    Value perm = g ? throughReshapes(g.getIndices()) : Value();
    std::optional<SlotSort> sort = perm ? matchSlotSort(perm) : std::nullopt;
    Value wFlat;
    if (!sort || !isGatherAtPerm(g.getOutput(), perm, wFlat))
      continue;
    Value wBase = throughReshapes(wFlat);
    std::optional<RouterEvidence> evidence = matchRoutingWeights(wBase);
    if (!evidence || !isSlotFlat(wFlat, wBase) ||
        !isSlotFlat(sort->flat, evidence->ids))
      return std::nullopt;
    int64_t k = evidence->k;
    if (!isTokenColumn(sc.getIndices(), perm, k)) {
      why = "the sorted rows are not added back at their slots' tokens";
      return std::nullopt;
    }
    // Second projection per run, its input the activation of the first.
    Value h, sizes, rows;
    SmallVector<DecomposedLinear> downs, ups;
    StackedFFN act;
    Value proj;
    if (!matchRunProducts(y, h, sizes, downs) ||
        !(proj = matchSlotActivation(h, act)) ||
        !matchRunProducts(proj, rows, sizes, ups) ||
        ups.size() != downs.size()) {
      why = "the sorted rows are not each expert's FFN applied to its run";
      return std::nullopt;
    }
    std::optional<int64_t> experts = sizesAreCounts(sizes, evidence->ids);
    auto gather = rows.getDefiningOp<onnx::GatherNDOp>();
    Value hidden = gather ? gather.getData() : Value();
    if (!experts || *experts != static_cast<int64_t>(ups.size()) ||
        *experts != evidence->numExperts || !gather ||
        gather.getBatchDims() != 0 ||
        !isTokenColumn(gather.getIndices(), perm, k) ||
        !isZeroRowsOf(sc.getData(), hidden)) {
      why = "the runs are not the sorted tokens' rows split by the experts' "
            "counts";
      return std::nullopt;
    }
    std::optional<DecomposedMoE> block =
        routedBlock(*evidence, hidden, result, why);
    if (!block)
      return std::nullopt;
    DecomposedMoE &moe = *block;
    moe.expertsGating = act.gating;
    for (auto [up, down] : llvm::zip(ups, downs)) {
      DecomposedFFN ffn;
      ffn.input = rows;
      ffn.gate = up;
      ffn.down = down;
      ffn.activation = act.activation;
      moe.experts.push_back(ffn);
    }
    // Same layouts for every expert (the layer stacks them).
    for (const DecomposedFFN &f : moe.experts)
      if (f.gate.weight.getType() != moe.experts[0].gate.weight.getType() ||
          f.down.weight.getType() != moe.experts[0].down.weight.getType() ||
          f.gate.transposed != moe.experts[0].gate.transposed ||
          f.down.transposed != moe.experts[0].down.transposed ||
          !f.gate.bias != !moe.experts[0].gate.bias ||
          !f.down.bias != !moe.experts[0].down.bias) {
        why = "the experts' matrices differ in shape or layout";
        return std::nullopt;
      }
    if (act.alpha != 1.0 || act.beta != 0.0 || act.limit) {
      why = "the experts' activation has settings per-expert FFNs cannot hold";
      return std::nullopt;
    }
    return block;
  }
  return std::nullopt;
}
