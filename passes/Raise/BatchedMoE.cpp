//===- BatchedMoE.cpp - MoE blocks computed slot by slot ------------------===//
//
// transformers' "batched_mm" experts: every (token, slot) pair s = t * k + j
// takes its expert's whole weight matrices from the stacked parameters
// (W[ids[t, j]]), applies them to x[t] with a batched matmul, scales the
// result by w[t, j], and the k rows of a token are summed
// (`view(T, k, H).sum(1)`). The proof follows the values from that final
// sum back: each is one of a few kinds of per-slot tensor, established from
// the ONNX semantics of the op that produces it.
//
//===----------------------------------------------------------------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;
} // namespace

/// `v` through ops that keep the row-major order of its elements (the
/// reshapes) and casts that change nothing.
Value mlir::moe::throughReshapes(Value v) {
  for (int i = 0; i < 16 && v; ++i) {
    Operation *op = v.getDefiningOp();
    if (!isa_and_nonnull<onnx::ReshapeOp, onnx::FlattenOp, onnx::SqueezeOp,
                         onnx::UnsqueezeOp, onnx::IdentityOp>(op)) {
      Value stripped = stripNoopCasts(v);
      if (stripped == v)
        return v;
      v = stripped;
      continue;
    }
    v = op->getOperand(0);
  }
  return v;
}

/// Whether `v` holds `base`'s elements in row-major order with its two
/// leading dimensions ([T, k, rest...]) merged into `v`'s first real one
/// (the slot s = t * k + j) and `v`'s other real dimensions exactly
/// `base`'s trailing ones.
bool mlir::moe::isSlotFlat(Value v, Value base) {
  auto bt = rankedType(base);
  auto vt = rankedType(v);
  if (!bt || !vt || bt.getRank() < 2 || throughReshapes(v) != base)
    return false;
  SmallVector<int64_t> rest;
  for (int64_t d : bt.getShape().drop_front(2))
    if (d != 1)
      rest.push_back(d);
  std::optional<SmallVector<int64_t>> real = realDims(v);
  if (!real || real->size() != rest.size() + 1 ||
      ArrayRef<int64_t>(*real).drop_front() != ArrayRef<int64_t>(rest))
    return false;
  int64_t t = bt.getDimSize(0), k = bt.getDimSize(1), s = real->front();
  return s == kDyn ? (t == kDyn || k == kDyn) : t != kDyn && s == t * k;
}

namespace {

/// Rows of `hidden` ([T, H]) repeated k times along a new axis 1 ([T, k,
/// H]): Expand or Tile of `hidden` unsqueezed at axis 1.
bool isRepeatedRows(Value v, Value hidden, int64_t k) {
  Operation *op = v.getDefiningOp();
  if (!isa_and_nonnull<onnx::ExpandOp, onnx::TileOp>(op))
    return false;
  Value in = op->getOperand(0);
  auto it = rankedType(in), ot = rankedType(v), ht = rankedType(hidden);
  if (!it || !ot || !ht || it.getRank() != 3 || ot.getRank() != 3 ||
      it.getDimSize(1) != 1 || it.getDimSize(2) != ht.getDimSize(1) ||
      ot.getDimSize(1) != k || ot.getDimSize(2) != ht.getDimSize(1) ||
      !sameRows(in, hidden))
    return false;
  // Only axis 1 grows: the other target sizes (repeats) are 1 or as is.
  auto target = onnx::getPartialInts(op->getOperand(1));
  if (!target || target->size() != 3 || (*target)[1] != k)
    return false;
  for (int64_t d : {0, 2})
    if ((*target)[d] != 1 &&
        (isa<onnx::TileOp>(op) || (*target)[d] != it.getDimSize(d) ||
         it.getDimSize(d) == kDyn))
      return false;
  return true;
}

/// The stacked constant `W` ([E, ...], through float casts) of `v` =
/// `W[ids[s]]`: Gather along axis 0 at the flattened ids, or GatherND at
/// them as 1-tuples. Null otherwise.
Value selectedWeight(Value v, Value ids, int64_t experts) {
  Value data, idx;
  if (auto g = v.getDefiningOp<onnx::GatherOp>()) {
    if (g.getAxis() != 0 || numRealDims(g.getIndices()) != 1)
      return nullptr;
    data = g.getData();
    idx = g.getIndices();
  } else if (auto g = v.getDefiningOp<onnx::GatherNDOp>()) {
    auto it = rankedType(g.getIndices());
    if (g.getBatchDims() != 0 || !it || it.getRank() != 2 ||
        it.getDimSize(1) != 1)
      return nullptr;
    data = g.getData();
    idx = g.getIndices();
  } else {
    return nullptr;
  }
  Value w = stripFloatCasts(data);
  auto wt = rankedType(w);
  if (!wt || !wt.hasStaticShape() || wt.getDimSize(0) != experts ||
      !w.getDefiningOp<onnx::ConstantOp>() || !isSlotFlat(idx, ids))
    return nullptr;
  return w;
}

/// A per-slot linear map: `y[s] = W[ids[s]] in[s] (+ B[ids[s]])`.
struct SlotLinear {
  StackedLinear lin;
  Value input; // [S, in]
};

std::optional<SlotLinear> matchUnbiasedSlotLinear(Value y, Value ids,
                                                  int64_t experts) {
  Value mmOut = unitSource(y);
  auto mm = mmOut.getDefiningOp<onnx::MatMulOp>();
  auto yt = rankedType(y);
  if (!mm || !yt || numRealDims(y) > 2)
    return std::nullopt;
  // W [S, out, in] x in [S, in, 1], or in [S, 1, in] x W [S, in, out].
  for (bool transposed : {false, true}) {
    Value sel = transposed ? mm.getB() : mm.getA();
    Value vec = transposed ? mm.getA() : mm.getB();
    Value w = selectedWeight(sel, ids, experts);
    auto vt = rankedType(vec);
    if (!w || !vt || vt.getRank() != 3 ||
        vt.getDimSize(transposed ? 1 : 2) != 1)
      continue;
    auto wt = rankedType(w);
    int64_t out = wt.getDimSize(transposed ? 2 : 1);
    auto mt = rankedType(mmOut);
    if (!mt || mt.getRank() != 3 || mt.getDimSize(transposed ? 2 : 1) != out)
      continue;
    return SlotLinear{StackedLinear{w, transposed, Value()}, unitSource(vec)};
  }
  return std::nullopt;
}

/// The same plus a per-expert bias gathered at the slots' ids.
std::optional<SlotLinear> matchSlotLinear(Value y, Value ids, int64_t experts) {
  y = unitSource(y);
  if (auto add = y.getDefiningOp<onnx::AddOp>()) {
    for (auto [p, b] : {std::pair{add.getA(), add.getB()},
                        std::pair{add.getB(), add.getA()}}) {
      auto lin = matchUnbiasedSlotLinear(p, ids, experts);
      Value bias = lin ? selectedWeight(b, ids, experts) : Value();
      auto bt = rankedType(bias);
      int64_t out = lin ? rankedType(lin->lin.weight)
                              .getDimSize(lin->lin.transposed ? 2 : 1)
                        : 0;
      if (!bias || bt.getRank() != 2 || bt.getDimSize(1) != out ||
          add.getC().getType() != p.getType())
        continue;
      lin->lin.bias = bias;
      return lin;
    }
    return std::nullopt;
  }
  return matchUnbiasedSlotLinear(y, ids, experts);
}

/// Which part of a projection `v` ([S, 2I]) is: 0 for the first half or
/// the even columns, 1 for the second half or the odd ones; sets `gating`
/// (concatenated halves or interleaved columns) and `whole`.
std::optional<int> partOf(Value v, Value &whole, Gating &gating) {
  if (auto split = v.getDefiningOp<onnx::SplitOp>()) {
    auto in = rankedType(split.getInput());
    int64_t axis = split.getAxis() < 0 ? split.getAxis() + 2 : split.getAxis();
    if (!in || in.getRank() != 2 || axis != 1 || in.isDynamicDim(1) ||
        split.getOutputs().size() != 2 || in.getDimSize(1) % 2)
      return std::nullopt;
    int64_t half = in.getDimSize(1) / 2;
    if (!isa<NoneType>(split.getSplit().getType()) &&
        !hasValues(split.getSplit(), {half, half}))
      return std::nullopt;
    whole = split.getInput();
    gating = Gating::concatenated;
    return cast<OpResult>(v).getResultNumber();
  }
  auto slice = v.getDefiningOp<onnx::SliceOp>();
  auto in = slice ? rankedType(slice.getData()) : nullptr;
  if (!in || in.getRank() != 2 || in.isDynamicDim(1) || in.getDimSize(1) % 2)
    return std::nullopt;
  int64_t width = in.getDimSize(1);
  auto starts = onnx::getPartialInts(slice.getStarts());
  auto ends = onnx::getPartialInts(slice.getEnds());
  auto axes = isa<NoneType>(slice.getAxes().getType())
                  ? std::optional(SmallVector<int64_t>{0})
                  : onnx::getConstantInts(slice.getAxes());
  auto steps = isa<NoneType>(slice.getSteps().getType())
                   ? std::optional(SmallVector<int64_t>{1})
                   : onnx::getConstantInts(slice.getSteps());
  if (!starts || !ends || !axes || !steps || starts->size() != 1 ||
      ends->size() != 1 || axes->size() != 1 || steps->size() != 1 ||
      ((*axes)[0] != 1 && (*axes)[0] != -1))
    return std::nullopt;
  auto clampTo = [&](int64_t x) {
    return x == kDyn ? kDyn
                     : std::clamp<int64_t>(x < 0 ? x + width : x, 0, width);
  };
  int64_t start = clampTo((*starts)[0]), end = clampTo((*ends)[0]);
  int64_t step = (*steps)[0], half = width / 2;
  whole = slice.getData();
  if (step == 1 && start == 0 && end == half) {
    gating = Gating::concatenated;
    return 0;
  }
  if (step == 1 && start == half && end == width) {
    gating = Gating::concatenated;
    return 1;
  }
  if (step == 2 && (start == 0 || start == 1) && end == width) {
    gating = Gating::interleaved;
    return start;
  }
  return std::nullopt;
}

/// `min(g, limit)` (Clip with a max only, or Min with a constant): sets
/// `g` and `limit`; anything else leaves them.
void stripUpperClamp(Value &g, std::optional<double> &limit) {
  if (auto clip = g.getDefiningOp<onnx::ClipOp>()) {
    auto hi = scalarFloat(clip.getMax());
    if (isa<NoneType>(clip.getMin().getType()) && hi) {
      limit = *hi;
      g = clip.getInput();
    }
  } else if (auto min = g.getDefiningOp<onnx::MinOp>()) {
    if (min->getNumOperands() != 2)
      return;
    for (auto [x, c] : {std::pair{min->getOperand(0), min->getOperand(1)},
                        std::pair{min->getOperand(1), min->getOperand(0)}})
      if (auto hi = scalarFloat(c); hi && x.getType() == g.getType()) {
        limit = *hi;
        g = x;
        return;
      }
  }
}

/// `clamp(u, -limit, limit)`: sets `u` when the limit is `limit`.
bool stripSymmetricClamp(Value &u, double limit) {
  auto clip = u.getDefiningOp<onnx::ClipOp>();
  auto lo = clip ? scalarFloat(clip.getMin()) : std::nullopt;
  auto hi = clip ? scalarFloat(clip.getMax()) : std::nullopt;
  if (!lo || !hi || *lo != -limit || *hi != limit)
    return false;
  u = clip.getInput();
  return true;
}

} // namespace

/// The expert activation `h` of a projection: `act(P)`, `act(gate) * up`
/// with gate and up the halves or interleaved columns of P, or gpt-oss's
/// clamped `(up + beta) * gate * sigmoid(alpha gate)`. Sets `ffn`'s
/// activation fields and returns P.
Value mlir::moe::matchSlotActivation(Value h, StackedFFN &ffn) {
  Value g;
  h = unitSource(h);
  if (auto act = matchActivation(h, g)) {
    Value whole;
    Gating gating;
    if (!partOf(unitSource(g), whole, gating)) {
      ffn.activation = *act;
      ffn.gating = Gating::none;
      return g;
    }
  }
  auto mul = h.getDefiningOp<onnx::MulOp>();
  if (!mul)
    return nullptr;
  for (auto [a, u] :
       {std::pair{mul.getA(), mul.getB()}, std::pair{mul.getB(), mul.getA()}}) {
    // (u + beta): the offset of gpt-oss's up projection.
    double beta = 0;
    Value up = u;
    if (auto add = up.getDefiningOp<onnx::AddOp>()) {
      Value other;
      if (auto c = scalarFloatOperand(add, other)) {
        beta = *c;
        up = other;
      }
    }
    // g * sigmoid(alpha g): silu with a slope.
    auto inner = a.getDefiningOp<onnx::MulOp>();
    Value gate;
    double alpha = 1;
    std::optional<ActivationKind> kind = matchActivation(a, gate);
    if (!kind && inner) {
      for (auto [x, s] : {std::pair{inner.getA(), inner.getB()},
                          std::pair{inner.getB(), inner.getA()}}) {
        auto sig = s.getDefiningOp<onnx::SigmoidOp>();
        auto scaled = sig ? sig.getX().getDefiningOp<onnx::MulOp>() : nullptr;
        Value other;
        auto slope = scaled ? scalarFloatOperand(scaled, other) : std::nullopt;
        if (slope && other == x) {
          kind = ActivationKind::silu;
          alpha = *slope;
          gate = x;
        }
      }
    }
    if (!kind)
      continue;
    std::optional<double> limit;
    stripUpperClamp(gate, limit);
    if (limit && !stripSymmetricClamp(up, *limit))
      continue;
    Value wholeG, wholeU;
    Gating gg, gu;
    std::optional<int> pg = partOf(unitSource(gate), wholeG, gg);
    std::optional<int> pu = partOf(unitSource(up), wholeU, gu);
    if (!pg || !pu || *pg != 0 || *pu != 1 || wholeG != wholeU || gg != gu)
      continue;
    if ((alpha != 1 || limit) && *kind != ActivationKind::silu)
      continue;
    ffn.activation = *kind;
    ffn.gating = gg;
    ffn.alpha = alpha;
    ffn.beta = beta;
    ffn.limit = limit;
    return wholeG;
  }
  return nullptr;
}

std::optional<int64_t> mlir::moe::slotSumWidth(Value result) {
  auto sum = result.getDefiningOp<onnx::ReduceSumOp>();
  auto st = rankedType(result);
  if (!sum || sum.getKeepdims() != 0 || !st || st.getRank() != 2 ||
      !isSingleAxis(sum.getAxes(), 1, 3))
    return std::nullopt;
  auto view = rankedType(sum.getData());
  if (!view || view.getRank() != 3 || view.isDynamicDim(1))
    return std::nullopt;
  return view.getDimSize(1);
}

Value mlir::moe::blockResultOf(Value result, Value hidden) {
  if (result.getType() != hidden.getType() && result.hasOneUse())
    if (auto c = dyn_cast<onnx::CastOp>(*result.getUsers().begin()))
      if (c.getOutput().getType() == hidden.getType())
        return c.getOutput();
  return result;
}

std::optional<DecomposedMoE> mlir::moe::matchBatchedMoE(Value result,
                                                        std::string &why) {
  std::optional<int64_t> width = slotSumWidth(result);
  if (!width)
    return std::nullopt;
  int64_t k = *width;
  auto sum = result.getDefiningOp<onnx::ReduceSumOp>();
  auto view = rankedType(sum.getData());
  // (f16/bf16 rows may be cast to f32 for the sum.)
  Value viewed = stripFloatCasts(sum.getData());
  Value weighted = viewed.getDefiningOp<onnx::ReshapeOp>()
                       ? throughReshapes(viewed)
                       : Value();
  auto mul = weighted ? weighted.getDefiningOp<onnx::MulOp>() : nullptr;
  // The view splits the slots back into [T, k] (row-major, so row s = t * k
  // + j lands at (t, j)): the rows keep their width.
  auto wt = mul ? realDims(weighted) : std::nullopt;
  if (!mul || !wt || wt->size() != 2 || (*wt)[1] != view.getDimSize(2))
    return std::nullopt;
  // update[s] * w[s]: the routing weights flattened to the slots.
  for (auto [y, ws] :
       {std::pair{mul.getA(), mul.getB()}, std::pair{mul.getB(), mul.getA()}}) {
    Value wBase = throughReshapes(ws);
    std::optional<RouterEvidence> evidence = matchRoutingWeights(wBase);
    if (!evidence || evidence->k != k || !isSlotFlat(ws, wBase))
      continue;
    Value ids = evidence->ids;
    int64_t experts = evidence->numExperts;
    // f16/bf16 experts whose rows are weighted and summed in f32.
    std::optional<SlotLinear> down =
        matchSlotLinear(stripFloatCasts(y), ids, experts);
    if (!down) {
      why = "the weighted rows are not a down projection with the slots' "
            "expert weights";
      return std::nullopt;
    }
    StackedFFN ffn;
    ffn.fc2 = down->lin;
    Value proj = matchSlotActivation(down->input, ffn);
    std::optional<SlotLinear> up =
        proj ? matchSlotLinear(proj, ids, experts) : std::nullopt;
    if (!up) {
      why = "the down projection's input is not an activation of a "
            "projection with the slots' expert weights";
      return std::nullopt;
    }
    ffn.fc1 = up->lin;
    // The first projection reads x[t] for slot t * k + j.
    Value xs = throughReshapes(up->input);
    Value hidden =
        xs.getDefiningOp()
            ? stripNoopCasts(matrixOf(xs.getDefiningOp()->getOperand(0)))
            : Value();
    if (!hidden || rankedType(hidden).getRank() != 2 ||
        !isRepeatedRows(xs, hidden, k) || !isSlotFlat(up->input, xs)) {
      why = "the first projection does not read each token's row for each "
            "of its slots";
      return std::nullopt;
    }
    std::optional<DecomposedMoE> moe =
        routedBlock(*evidence, hidden, blockResultOf(result, hidden), why);
    if (moe)
      moe->stacked = ffn;
    return moe;
  }
  return std::nullopt;
}
