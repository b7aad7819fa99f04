//===- DecomposedRouter.cpp - MoE routers written as dense ops ------------===//
//
// Proves what routing a top-k's input computes: softmax or sigmoid scores
// of a linear map of the block's input, a per-expert selection bias, and a
// group-limited mask, each checked against its op's semantics.
//
//===----------------------------------------------------------------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

#include <limits>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

namespace {
/// A constant with `n` elements (through Unsqueeze/Reshape of one), or null.
Value constantWithElements(Value v, int64_t n) {
  while (isa_and_nonnull<onnx::UnsqueezeOp, onnx::ReshapeOp>(v.getDefiningOp()))
    v = v.getDefiningOp()->getOperand(0);
  auto t = rankedType(v);
  if (!t || !t.hasStaticShape() || t.getNumElements() != n ||
      !v.getDefiningOp<onnx::ConstantOp>())
    return nullptr;
  return v;
}

/// Whether `v` is a tensor of ones (ConstantOfShape or Expand of 1).
bool isOnes(Value v) {
  if (auto c = v.getDefiningOp<onnx::ConstantOfShapeOp>())
    return c.getValueAttr() &&
           (isFloatSplat(c.getValueAttr(), 1.0) || hasValues(v, {1}));
  if (auto e = v.getDefiningOp<onnx::ExpandOp>())
    return scalarFloat(e.getInput()) == 1.0;
  return false;
}

/// Group-limited selection scores: `where(group_mask, sel, m)` with the mask
/// selecting the experts of the `topkGroups` best groups of `groups`
/// contiguous groups, a group's score being the sum of its two best `sel`
/// (top2_sum) or its best (max). Sets the router's group fields, `kept`
/// (sel) and `masked` (m).
bool matchGroupLimit(onnx::WhereOp where, int64_t numExperts,
                     DecomposedRouter &router, Value &kept, double &masked) {
  Value cond = stripNoopCasts(where.getCondition());
  Value maskedV = where.getY();
  kept = where.getX();
  if (auto no = cond.getDefiningOp<onnx::NotOp>()) {
    cond = stripNoopCasts(no.getX());
    std::swap(maskedV, kept);
  }
  std::optional<double> m = scalarFloat(maskedV);
  if (!m)
    return false;
  masked = *m;
  kept = stripNoopCasts(kept);
  // A 0/1 float mask cast to bool.
  if (auto c = cond.getDefiningOp<onnx::CastOp>())
    cond = c.getInput();
  // [T, G, 1] -> [T, G, E / G] -> [T, E]: each expert takes its group's flag.
  auto flat = cond.getDefiningOp<onnx::ReshapeOp>();
  auto expand = flat ? flat.getData().getDefiningOp<onnx::ExpandOp>() : nullptr;
  auto unsq =
      expand ? expand.getInput().getDefiningOp<onnx::UnsqueezeOp>() : nullptr;
  auto flatT = flat ? rankedType(flat.getReshaped()) : nullptr;
  auto expT = expand ? rankedType(expand.getOutput()) : nullptr;
  if (!unsq || !flatT || !expT || flatT.getRank() != 2 ||
      flatT.getDimSize(1) != numExperts || expT.getRank() != 3 ||
      expT.isDynamicDim(1) || expT.isDynamicDim(2) ||
      expT.getDimSize(1) * expT.getDimSize(2) != numExperts ||
      !isSingleAxis(unsq.getAxes(), 2, 3))
    return false;
  int64_t groups = expT.getDimSize(1);
  auto inT = rankedType(unsq.getData());
  if (!inT || inT.getRank() != 2 || inT.getDimSize(1) != groups)
    return false;
  // The mask: ones scattered at the chosen groups.
  auto scatter = unsq.getData().getDefiningOp<onnx::ScatterElementsOp>();
  if (!scatter || (scatter.getAxis() != 1 && scatter.getAxis() != -1) ||
      scatter.getReduction() != "none" || !isOnes(scatter.getUpdates()))
    return false;
  auto groupTopK = scatter.getIndices().getDefiningOp<onnx::TopKOp>();
  if (!groupTopK || scatter.getIndices() != groupTopK.getIndices() ||
      groupTopK.getLargest() != 1 ||
      (groupTopK.getAxis() != -1 && groupTopK.getAxis() != 1))
    return false;
  Value groupScores = stripNoopCasts(groupTopK.getX());
  auto kg = scalarInt(groupTopK.getK());
  if (!kg || !isZerosLike(scatter.getData(), groupScores))
    return false;
  // Group scores over sel viewed as [T, G, E / G].
  Value grouped;
  if (auto sum = groupScores.getDefiningOp<onnx::ReduceSumOp>()) {
    auto top2 = sum.getData().getDefiningOp<onnx::TopKOp>();
    if (!top2 || sum.getData() != top2.getValues() || sum.getKeepdims() != 0 ||
        !isSingleAxis(sum.getAxes(), 2, 3) || scalarInt(top2.getK()) != 2 ||
        top2.getLargest() != 1 || (top2.getAxis() != -1 && top2.getAxis() != 2))
      return false;
    grouped = top2.getX();
    router.groupScore = GroupScore::top2_sum;
  } else if (auto max = groupScores.getDefiningOp<onnx::ReduceMaxOp>()) {
    if (max.getKeepdims() != 0 || !isSingleAxis(max.getAxes(), 2, 3))
      return false;
    grouped = max.getData();
    router.groupScore = GroupScore::max;
  } else {
    return false;
  }
  auto view = grouped.getDefiningOp<onnx::ReshapeOp>();
  auto viewT = rankedType(grouped);
  if (!view || stripNoopCasts(view.getData()) != kept || !viewT ||
      viewT.getRank() != 3 || viewT.getDimSize(1) != groups ||
      viewT.getDimSize(2) != numExperts / groups)
    return false;
  router.groups = groups;
  router.topkGroups = *kg;
  return true;
}

/// A top-k usable as the router's: k > 0 of the largest along the experts
/// of a [T, E] input.
bool isRouterTopK(onnx::TopKOp op, RouterEvidence &evidence) {
  auto kv = scalarInt(op.getK());
  auto in = rankedType(op.getX());
  if (!kv || *kv <= 0 || !in || in.getRank() != 2 || in.isDynamicDim(1) ||
      op.getLargest() != 1 || (op.getAxis() != -1 && op.getAxis() != 1))
    return false;
  evidence.topk = op;
  evidence.ids = op.getIndices();
  evidence.k = *kv;
  evidence.numExperts = in.getDimSize(1);
  return true;
}
} // namespace

std::optional<RouterEvidence> mlir::moe::matchRoutingWeights(Value w) {
  RouterEvidence evidence;
  Value cur = stripFloatCasts(w);
  if (std::optional<RouterEvidence> mixer = matchSparseMixerWeights(cur))
    return mixer;
  // softmax(top-k values), the top-k ranking the logits.
  if (auto softmax = cur.getDefiningOp<onnx::SoftmaxOp>()) {
    auto t = stripFloatCasts(softmax.getInput()).getDefiningOp<onnx::TopKOp>();
    if (!t || stripFloatCasts(softmax.getInput()) != t.getValues() ||
        (softmax.getAxis() != 1 && softmax.getAxis() != -1) ||
        !isRouterTopK(t, evidence))
      return std::nullopt;
    evidence.weightsFromTopK = true;
    evidence.topkOfLogits = true;
    evidence.renormalize = true;
    return evidence;
  }
  if (auto mul = cur.getDefiningOp<onnx::MulOp>()) {
    Value other;
    std::optional<double> f = scalarFloatOperand(mul, other);
    if (!f)
      return std::nullopt;
    evidence.scale = *f;
    cur = stripNoopCasts(other);
  }
  if (auto div = cur.getDefiningOp<onnx::DivOp>()) {
    Value num = stripNoopCasts(div.getA());
    Value den = stripNoopCasts(div.getB());
    if (auto add = den.getDefiningOp<onnx::AddOp>()) {
      Value other;
      std::optional<double> eps = scalarFloatOperand(add, other);
      if (!eps || *eps < 0 || *eps > 1e-12)
        return std::nullopt;
      den = stripNoopCasts(other);
    }
    // The sum, or the L1 norm (DBRX): the same for the softmax or sigmoid
    // scores that matchRouter requires.
    Operation *sum = den.getDefiningOp();
    auto keeps = [&](auto op) {
      return op.getKeepdims() == 1 && stripNoopCasts(op.getData()) == num &&
             isSingleAxis(op.getAxes(), 1, 2);
    };
    bool ok = false;
    if (auto s = dyn_cast_or_null<onnx::ReduceSumOp>(sum))
      ok = keeps(s);
    else if (auto l1 = dyn_cast_or_null<onnx::ReduceL1Op>(sum))
      ok = keeps(l1);
    if (!ok)
      return std::nullopt;
    evidence.renormalize = true;
    cur = num;
  }
  if (auto t = cur.getDefiningOp<onnx::TopKOp>()) {
    if (cur != t.getValues() || !isRouterTopK(t, evidence))
      return std::nullopt;
    evidence.weightsFromTopK = true;
  } else if (auto g = cur.getDefiningOp<onnx::GatherElementsOp>()) {
    auto t = g.getIndices().getDefiningOp<onnx::TopKOp>();
    if (!t || g.getIndices() != t.getIndices() ||
        (g.getAxis() != 1 && g.getAxis() != -1) || !isRouterTopK(t, evidence))
      return std::nullopt;
    evidence.gatheredScores = stripFloatCasts(g.getData());
  } else {
    return std::nullopt;
  }
  return evidence;
}

namespace {
/// The router linear map of `logits` (of the block's input): a plain
/// matmul becomes the layer's router weight; one with a bias leaves the
/// logits to the graph (the layer's `logits` operand).
bool matchRouterLinear(Value logits, Value hidden, int64_t numExperts,
                       DecomposedRouter &router, std::string &why) {
  std::optional<DecomposedLinear> linear = matchLinear(stripFloatCasts(logits));
  if (!linear || !sameRows(stripFloatCasts(linear->input), hidden)) {
    why = "the router logits are not a linear map of the block's input";
    return false;
  }
  auto w = rankedType(linear->weight);
  if (w.getDimSize(linear->transposed ? 1 : 0) != numExperts) {
    why = "the router has a different number of experts than the dispatch";
    return false;
  }
  router.linear = *linear;
  if (linear->bias)
    router.logits = logits;
  return true;
}

/// softmax(top-k(logits)): selection and weights equal those of softmax
/// scores, top-k, renormalized (softmax is monotonic, and renormalizing the
/// chosen probabilities cancels the other experts' share).
std::optional<DecomposedRouter> matchLogitsRouter(const RouterEvidence &an,
                                                  Value logits, Value hidden,
                                                  std::string &why) {
  DecomposedRouter router;
  if (!matchRouterLinear(logits, hidden, an.numExperts, router, why))
    return std::nullopt;
  router.scoring = Scoring::softmax;
  router.k = an.k;
  router.renormalize = true;
  router.scale = an.scale;
  return router;
}
} // namespace

std::optional<DecomposedMoE>
mlir::moe::routedBlock(const RouterEvidence &evidence, Value hidden,
                       Value result, std::string &why) {
  std::optional<DecomposedRouter> router = matchRouter(evidence, hidden, why);
  if (!router)
    return std::nullopt;
  DecomposedMoE moe;
  moe.hidden = hidden;
  moe.result = result;
  moe.router = *router;
  return moe;
}

std::optional<DecomposedRouter> mlir::moe::matchRouter(const RouterEvidence &an,
                                                       Value hidden,
                                                       std::string &why) {
  DecomposedRouter router;
  if (an.sparseLogits) {
    if (!matchRouterLinear(an.sparseLogits, hidden, an.numExperts, router,
                           why))
      return std::nullopt;
    router.scoring = Scoring::sparsemixer;
    router.k = an.k;
    router.gap = an.gap;
    return router;
  }
  Value sel = stripFloatCasts(cast<onnx::TopKOp>(an.topk).getX());
  if (an.topkOfLogits)
    return matchLogitsRouter(an, sel, hidden, why);
  double masked = -std::numeric_limits<double>::infinity();
  if (auto where = sel.getDefiningOp<onnx::WhereOp>()) {
    if (!matchGroupLimit(where, an.numExperts, router, sel, masked)) {
      why = "the top-k reads a selection that is not a group-limited mask";
      return std::nullopt;
    }
  }
  Value scores = sel;
  if (auto add = sel.getDefiningOp<onnx::AddOp>()) {
    for (auto [a, b] :
         {std::pair{add.getA(), add.getB()}, std::pair{add.getB(), add.getA()}})
      if (Value bias = constantWithElements(b, an.numExperts)) {
        router.bias = bias;
        scores = stripFloatCasts(a);
        break;
      }
    if (!router.bias) {
      why = "the selection scores add something other than a constant "
            "per-expert bias";
      return std::nullopt;
    }
  }
  Value logits;
  if (auto softmax = scores.getDefiningOp<onnx::SoftmaxOp>()) {
    if (softmax.getAxis() != 1 && softmax.getAxis() != -1) {
      why = "the router softmax is not over the experts";
      return std::nullopt;
    }
    router.scoring = Scoring::softmax;
    logits = softmax.getInput();
  } else if (auto sig = scores.getDefiningOp<onnx::SigmoidOp>()) {
    router.scoring = Scoring::sigmoid;
    logits = sig.getX();
  } else {
    why = "the router scores are neither a softmax nor a sigmoid";
    return std::nullopt;
  }
  if (!matchRouterLinear(logits, hidden, an.numExperts, router, why))
    return std::nullopt;
  // The weights are the scores of the chosen experts: the top-k's own
  // values only when it ranked the scores themselves.
  bool sameScores = an.weightsFromTopK
                        ? sel == scores && !router.bias && router.groups == 1
                        : an.gatheredScores == scores;
  if (!sameScores) {
    why = "the routing weights are not the router scores of the chosen "
          "experts";
    return std::nullopt;
  }
  router.maskedScore = masked;
  router.k = an.k;
  router.renormalize = an.renormalize;
  router.scale = an.scale;
  return router;
}
