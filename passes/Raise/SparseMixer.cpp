//===- SparseMixer.cpp - Phi-MoE's sparse mixer router --------------------===//
//
// Phi-MoE routes with a sparse mixer instead of a top-k: pick j is the ArgMax
// of the logits with the earlier picks scattered to -inf, and its weight the
// softmax at it of those logits with every expert whose relative gap to the
// pick, (max - l) / max(|l|, max), exceeds a threshold masked to -inf. The
// ids and the weights are the picks' columns concatenated. This proves that
// form pick by pick from the ONNX ops and reads the threshold.
//
//===----------------------------------------------------------------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

namespace {
bool isLastAxis(int64_t axis) { return axis == -1 || axis == 1; }

/// The [T, E] value an ArgMax over its experts (keeping the axis, ties to
/// the first index) ranks; null otherwise.
Value argMaxInput(Value v) {
  auto am = v.getDefiningOp<onnx::ArgMaxOp>();
  auto t = am ? rankedType(am.getData()) : nullptr;
  if (!am || !t || t.getRank() != 2 || am.getKeepdims() != 1 ||
      am.getSelectLastIndex() != 0 || !isLastAxis(am.getAxis()))
    return nullptr;
  return am.getData();
}

/// Whether `m` is the row maximum of `s` ([T, 1], through no-op casts).
bool isRowMax(Value m, Value s) {
  auto r = stripNoopCasts(m).getDefiningOp<onnx::ReduceMaxOp>();
  return r && stripNoopCasts(r.getData()) == s && r.getKeepdims() == 1 &&
         isSingleAxis(r.getAxes(), 1, 2);
}

/// `s` with column `pick` set to -inf: ScatterElements of -inf (a scalar
/// expanded to the pick's shape) along the experts. Returns the scattered
/// value, null otherwise.
Value scatteredFrom(Value s, Value pick) {
  auto sc = s.getDefiningOp<onnx::ScatterElementsOp>();
  if (!sc || sc.getIndices() != pick || !isLastAxis(sc.getAxis()) ||
      sc.getReduction() != "none")
    return nullptr;
  Value upd = sc.getUpdates();
  if (auto ex = upd.getDefiningOp<onnx::ExpandOp>())
    upd = ex.getInput();
  std::optional<double> v = scalarFloat(upd);
  if (!v || !std::isinf(*v) || *v > 0)
    return nullptr;
  return sc.getData();
}

/// The relative-gap mask of the pick that ranked `s` over the logits `l`:
/// `((max(s) - l) / Max(|l|, max(s))) > gap`. Returns the gap.
std::optional<double> maskGap(Value cond, Value s, Value l) {
  auto gt = stripNoopCasts(cond).getDefiningOp<onnx::GreaterOp>();
  auto div = gt ? gt.getA().getDefiningOp<onnx::DivOp>() : nullptr;
  auto sub = div ? div.getA().getDefiningOp<onnx::SubOp>() : nullptr;
  auto mx = div ? div.getB().getDefiningOp<onnx::MaxOp>() : nullptr;
  std::optional<double> gap = gt ? scalarFloat(gt.getB()) : std::nullopt;
  if (!sub || !mx || !gap || *gap < 0 || !isRowMax(sub.getA(), s) ||
      stripNoopCasts(sub.getB()) != l || mx->getNumOperands() != 2)
    return std::nullopt;
  for (auto [a, m] : {std::pair{mx->getOperand(0), mx->getOperand(1)},
                      std::pair{mx->getOperand(1), mx->getOperand(0)}}) {
    auto abs = a.getDefiningOp<onnx::AbsOp>();
    if (abs && stripNoopCasts(abs.getX()) == l && isRowMax(m, s))
      return gap;
  }
  return std::nullopt;
}

/// The weight column of the pick `pick` that ranked `s`: GatherElements at
/// the pick of softmax(where(mask, -inf, s)); sets `gap`.
bool isPickWeight(Value w, Value pick, Value s, Value l, double &gap) {
  auto ge = w.getDefiningOp<onnx::GatherElementsOp>();
  auto sm = ge ? ge.getData().getDefiningOp<onnx::SoftmaxOp>() : nullptr;
  auto where = sm ? sm.getInput().getDefiningOp<onnx::WhereOp>() : nullptr;
  if (!where || ge.getIndices() != pick || !isLastAxis(ge.getAxis()) ||
      !isLastAxis(sm.getAxis()) || stripNoopCasts(where.getY()) != s)
    return false;
  std::optional<double> masked = scalarFloat(where.getX());
  std::optional<double> g = maskGap(where.getCondition(), s, l);
  if (!masked || !std::isinf(*masked) || *masked > 0 || !g)
    return false;
  gap = *g;
  return true;
}

/// The Concat along the experts of exactly `parts`, in order, among the
/// users of the first one; null if none.
Value concatOf(ArrayRef<Value> parts) {
  for (Operation *user : parts.front().getUsers()) {
    auto cat = dyn_cast<onnx::ConcatOp>(user);
    if (cat && isLastAxis(cat.getAxis()) &&
        llvm::equal(cat.getInputs(), parts))
      return cat.getConcatResult();
  }
  return nullptr;
}

/// The sparse mixer whose picks are `picks` (ArgMax outputs, in order) and
/// whose weight columns are `weights` (in order; found from the picks'
/// users when empty).
std::optional<RouterEvidence> matchPicks(ArrayRef<Value> picks,
                                         SmallVector<Value> weights) {
  if (picks.empty() || (!weights.empty() && weights.size() != picks.size()))
    return std::nullopt;
  Value logits = argMaxInput(picks.front());
  if (!logits)
    return std::nullopt;
  logits = stripNoopCasts(logits);
  std::optional<double> gap;
  Value s = logits;
  for (auto [j, pick] : llvm::enumerate(picks)) {
    Value ranked = argMaxInput(pick);
    if (!ranked)
      return std::nullopt;
    ranked = stripNoopCasts(ranked);
    // Pick j ranks the logits with picks 0..j-1 scattered to -inf.
    if (j > 0 && scatteredFrom(ranked, picks[j - 1]) != s)
      return std::nullopt;
    s = ranked;
    double g = 0;
    if (j < weights.size()) {
      if (!isPickWeight(weights[j], pick, s, logits, g))
        return std::nullopt;
    } else {
      Value found;
      for (Operation *user : pick.getUsers())
        if (auto ge = dyn_cast<onnx::GatherElementsOp>(user);
            ge && isPickWeight(ge.getOutput(), pick, s, logits, g))
          found = ge.getOutput();
      if (!found)
        return std::nullopt;
      weights.push_back(found);
    }
    // One threshold for every pick.
    if (gap && *gap != g)
      return std::nullopt;
    gap = g;
  }
  auto lt = rankedType(logits);
  Value ids = concatOf(picks);
  if (!ids || !lt || lt.isDynamicDim(1))
    return std::nullopt;
  RouterEvidence evidence;
  evidence.ids = ids;
  evidence.weights = concatOf(weights);
  evidence.k = picks.size();
  evidence.numExperts = lt.getDimSize(1);
  evidence.sparseLogits = logits;
  evidence.gap = *gap;
  if (!evidence.weights)
    return std::nullopt;
  return evidence;
}

SmallVector<Value> inputsOfConcat(Value v) {
  auto cat = v.getDefiningOp<onnx::ConcatOp>();
  if (!cat || !isLastAxis(cat.getAxis()))
    return {};
  return llvm::to_vector(cat.getInputs());
}
} // namespace

std::optional<RouterEvidence> mlir::moe::matchSparseMixerIds(Value ids) {
  SmallVector<Value> picks = inputsOfConcat(ids);
  std::optional<RouterEvidence> evidence = matchPicks(picks, {});
  if (!evidence || evidence->ids != ids)
    return std::nullopt;
  return evidence;
}

std::optional<RouterEvidence> mlir::moe::matchSparseMixerWeights(Value w) {
  SmallVector<Value> weights = inputsOfConcat(w);
  SmallVector<Value> picks;
  for (Value col : weights) {
    auto ge = col.getDefiningOp<onnx::GatherElementsOp>();
    if (!ge)
      return std::nullopt;
    picks.push_back(ge.getIndices());
  }
  std::optional<RouterEvidence> evidence = matchPicks(picks, weights);
  if (!evidence || evidence->weights != w)
    return std::nullopt;
  return evidence;
}
