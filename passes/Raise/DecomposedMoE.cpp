//===- DecomposedMoE.cpp - recognizing exported MoE blocks ----------------===//
//
// The exporters differ in every detail of the dispatch loop (OneHot or an
// Equal against an arange, Split or Slice, Gather or GatherND, ScatterND
// with reduction or ScatterElements added to the accumulator), so the
// matcher does not follow op sequences. It evaluates values into a small
// symbolic domain instead: "the tokens routed to expert e", "their slots",
// "x at those tokens", "their routing weights". Each rule derives a value's
// meaning from one op's ONNX semantics and its operands' meanings and
// checks the shapes that semantics depends on; a value no rule explains is
// unknown, and a block with an unknown part is not raised.
//
//===----------------------------------------------------------------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

namespace {
/// What a value of the dispatch/combine loop holds.
enum class Kind {
  Unknown,
  Hidden,      // x: [T, H]
  Ids,         // the router's top-k expert ids: [T, k]
  IdsCol,      // ids with a trailing unit dim: [T, k, 1]
  Weights,     // the routing weights: [T, k]
  WeightsFlat, // the routing weights flattened row-major: [T * k]
  OneHot,      // [T, k, E], 1 where ids[t, j] == e
  MaskAll,     // OneHot transposed to [E, k, T] (slotFirst) or [E, T, k]
  Mask,        // MaskAll[e]
  Pairs,       // NonZero(Mask[e]): [2, n]
  PairsT,      // [n, 2]
  Slot,        // j of the pairs: [n]
  Token,       // t of the pairs: [n]
  TokenK,      // t * k: [n]
  FlatIdx,     // t * k + j: [n]
  TokSlot,     // (t, j) index tuples: [n, 2]
  TokenBcast,  // t broadcast over H: [n, H]
  Rows,        // x[t]: [n, H]
  SlotW,       // w[t, j]: [n, 1]
  Update,      // w[t, j] * ffn_e(x[t]): [n, H]
  Acc,         // the accumulator, shaped like x
  // transformers' eager loop visits the experts that got any token, read
  // from a hit list computed at run time; `expert` is then a position in
  // that list (`hit`).
  ExpertCounts, // MaskAll summed over slots and tokens: [E']
  HitMask,      // ExpertCounts > 0
  HitList,      // NonZero(HitMask): [1, m]
  HitListT,     // [m, 1]
  HitRow,       // row j of HitListT: [1, 1] or [1]
  HitId,        // its expert id as a scalar
};

/// Kinds that hold one value per token, slot or pair, whose layout only
/// changes by unit dimensions.
bool isList(Kind k) {
  switch (k) {
  case Kind::Hidden:
  case Kind::Slot:
  case Kind::Token:
  case Kind::TokenK:
  case Kind::FlatIdx:
  case Kind::Rows:
  case Kind::SlotW:
  case Kind::Update:
  case Kind::Weights:
  case Kind::WeightsFlat:
  case Kind::HitRow:
    return true;
  default:
    return false;
  }
}

struct Sym {
  Kind kind = Kind::Unknown;
  int64_t expert = -1;
  bool slotFirst = true; // Mask/Pairs: NonZero rows are (j, t), else (t, j)
  bool hit = false;      // `expert` is a position in the hit list
  bool operator==(const Sym &o) const {
    return kind == o.kind && expert == o.expert && slotFirst == o.slotFirst &&
           hit == o.hit;
  }
};

class Analysis {
public:
  explicit Analysis(Value hidden) : hidden(hidden) {}

  Sym eval(Value v);
  void setAccumulator(Value v) { memo[v] = Sym{Kind::Acc}; }
  bool isIndexAddExpand(onnx::ExpandOp op);

  Value hidden;
  Value ids;              // the router's [T, k] expert ids, once seen
  int64_t routerWidth = 0; // the number of experts they choose from
  Value weights;          // the routing weights (casts stripped), once seen
  std::optional<RouterEvidence> router; // what the weights prove
  int64_t numExperts = 0; // from the one-hot encoding, once seen
  int64_t k = 0;
  /// The FFN of each expert whose update has been evaluated.
  llvm::DenseMap<int64_t, DecomposedFFN> ffns;
  /// The hit list's Split into rows, once seen, and the stacked FFN that
  /// every hit expert's update applies (none when they differ).
  Operation *hitSplit = nullptr;
  std::optional<StackedFFN> hitFFN;
  bool hitFFNsDiffer = false;

private:
  Sym evalOp(Value v);
  Sym listOf(Kind kind, const Sym &like) {
    return Sym{kind, like.expert, like.slotFirst, like.hit};
  }
  bool setTopK(onnx::TopKOp op);
  bool setIds(Value v, int64_t picks, int64_t width);
  bool isWeights(Value v);
  bool setExperts(int64_t e);
  Sym column(const Sym &pairs, int64_t c) {
    bool slot = (c == 0) == pairs.slotFirst;
    return Sym{slot ? Kind::Slot : Kind::Token, pairs.expert, true, pairs.hit};
  }
  // One rule per op kind, each from that op's ONNX semantics.
  Sym evalCast(Value v, Value in0);
  Sym evalReshape(Operation *op, Value v, Value in0);
  Sym evalTranspose(onnx::TransposeOp op, Value v);
  Sym evalExpand(onnx::ExpandOp op, Value v);
  Sym evalOneHot(onnx::OneHotOp op);
  Sym evalEqual(onnx::EqualOp op);
  Sym evalGather(onnx::GatherOp op);
  Sym evalGatherND(onnx::GatherNDOp op);
  Sym evalNonZero(onnx::NonZeroOp op);
  Sym evalSplit(onnx::SplitOp op, Value v);
  Sym evalSlice(onnx::SliceOp op);
  Sym evalAdd(onnx::AddOp op, Value v);
  Sym evalMul(onnx::MulOp op);
  Sym evalConcat(onnx::ConcatOp op);
  Sym evalReduceSum(onnx::ReduceSumOp op);
  Sym evalGreater(onnx::GreaterOp op);
  Sym evalHitUpdate(const Sym &weights, Value y);

  llvm::DenseMap<Value, Sym> memo;
};

bool Analysis::setTopK(onnx::TopKOp op) {
  auto kv = scalarInt(op.getK());
  auto in = rankedType(op.getX());
  if (!kv || *kv <= 0 || !in || in.getRank() != 2 || in.isDynamicDim(1) ||
      op.getLargest() != 1 || (op.getAxis() != -1 && op.getAxis() != 1))
    return false;
  return setIds(op.getIndices(), *kv, in.getDimSize(1));
}

/// The router's ids (a top-k's or a sparse mixer's), one value only.
bool Analysis::setIds(Value v, int64_t picks, int64_t width) {
  if (ids)
    return ids == v;
  ids = v;
  k = picks;
  routerWidth = width;
  return true;
}

/// The routing weights (matchRoutingWeights), the first time they are
/// seen; afterwards the same value only.
bool Analysis::isWeights(Value v) {
  // f16/bf16 models route in f32 and cast the weights back.
  Value w = stripFloatCasts(v);
  if (weights)
    return w == weights;
  std::optional<RouterEvidence> evidence = matchRoutingWeights(w);
  if (!evidence || !setIds(evidence->ids, evidence->k, evidence->numExperts))
    return false;
  weights = w;
  router = evidence;
  return true;
}

bool Analysis::setExperts(int64_t e) {
  if (e <= 0 || (numExperts && numExperts != e))
    return false;
  numExperts = e;
  return true;
}

/// TorchScript's index_add_ expands the update to the shape of
/// `acc[0:1, :]`: [min(T, 1), H]. With n <= T update rows that is a no-op
/// (n = 0 when T = 0).
bool Analysis::isIndexAddExpand(onnx::ExpandOp op) {
  auto shape = op.getShape().getDefiningOp<onnx::ShapeOp>();
  auto slice = shape ? shape.getData().getDefiningOp<onnx::SliceOp>() : nullptr;
  auto in = rankedType(op.getInput());
  if (!slice || shape.getStart() != 0 || shape.getEnd() || !in ||
      in.getRank() != 2 ||
      op.getInput().getType() != op.getOutput().getType() ||
      eval(slice.getData()).kind != Kind::Acc)
    return false;
  auto starts = onnx::getConstantInts(slice.getStarts());
  auto ends = onnx::getConstantInts(slice.getEnds());
  auto axes = onnx::getConstantInts(slice.getAxes());
  bool unitSteps = isa<NoneType>(slice.getSteps().getType()) ||
                   hasValues(slice.getSteps(), {1, 1});
  return starts && ends && axes && unitSteps &&
         *starts == ArrayRef<int64_t>{0, 0} &&
         *axes == ArrayRef<int64_t>{0, 1} && (*ends)[0] == 1 &&
         (*ends)[1] >= in.getDimSize(1);
}

Sym Analysis::eval(Value v) {
  if (!v)
    return {};
  auto it = memo.find(v);
  if (it != memo.end())
    return it->second;
  Sym s = evalOp(v);
  memo[v] = s;
  return s;
}

Sym Analysis::evalGather(onnx::GatherOp op) {
  Sym data = eval(op.getData());
  auto dataType = rankedType(op.getData());
  if (!dataType)
    return {};
  int64_t axis =
      op.getAxis() < 0 ? op.getAxis() + dataType.getRank() : op.getAxis();
  // MaskAll[e] with a scalar constant e, or a hit expert's id.
  if (data.kind == Kind::MaskAll && axis == 0) {
    Sym id = eval(op.getIndices());
    if (id.kind == Kind::HitId)
      return Sym{Kind::Mask, id.expert, data.slotFirst, true};
    auto e = scalarConstant(op.getIndices());
    if (!e || *e < 0 || *e >= numExperts)
      return {};
    return Sym{Kind::Mask, *e, data.slotFirst};
  }
  // The id in a row of the hit list.
  if (data.kind == Kind::HitRow && axis == 0 &&
      scalarConstant(op.getIndices()) == 0 &&
      rankedType(op.getOutput()) && rankedType(op.getOutput()).getRank() == 0)
    return listOf(Kind::HitId, data);
  // A column of the pairs.
  if ((data.kind == Kind::PairsT && axis == 1) ||
      (data.kind == Kind::Pairs && axis == 0)) {
    auto c = scalarConstant(op.getIndices());
    if (!c || (*c != 0 && *c != 1))
      return {};
    return column(data, *c);
  }
  Sym idx = eval(op.getIndices());
  // x at the routed tokens: the gathered axis is x's token axis.
  if (data.kind == Kind::Hidden && idx.kind == Kind::Token &&
      realDimPos(op.getData(), 0) == axis) {
    auto out = realDims(op.getOutput());
    auto in = realDims(op.getData());
    if (out && in && out->size() == 2 && (*out)[1] == (*in)[1])
      return listOf(Kind::Rows, idx);
    return {};
  }
  // The flattened weights at t * k + j (with k = 1 the weights are flat).
  bool flat =
      data.kind == Kind::WeightsFlat || (data.kind == Kind::Weights && k == 1);
  if (flat && idx.kind == Kind::FlatIdx &&
      realDimPos(op.getData(), 0) == axis && numRealDims(op.getOutput()) == 1)
    return listOf(Kind::SlotW, idx);
  return {};
}

Sym Analysis::evalGatherND(onnx::GatherNDOp op) {
  if (op.getBatchDims() != 0)
    return {};
  Sym data = eval(op.getData());
  Sym idx = eval(op.getIndices());
  auto dataType = rankedType(op.getData());
  auto idxType = rankedType(op.getIndices());
  if (!dataType || !idxType || idxType.getRank() != 2)
    return {};
  int64_t tuple = idxType.getDimSize(1);
  // x[t] with 1-tuples over x's leading token axis.
  if (data.kind == Kind::Hidden && idx.kind == Kind::Token && tuple == 1 &&
      realDimPos(op.getData(), 0) == 0) {
    auto out = realDims(op.getOutput());
    auto in = realDims(op.getData());
    if (out && in && out->size() == 2 && in->size() == 2 &&
        (*out)[1] == (*in)[1])
      return listOf(Kind::Rows, idx);
    return {};
  }
  // w[t, j] with (t, j) tuples over w's leading axes.
  if (data.kind == Kind::Weights && idx.kind == Kind::TokSlot && tuple == 2 &&
      realDimPos(op.getData(), 0) == 0 && dataType.getRank() >= 2 &&
      dataType.getDimSize(1) == k && numRealDims(op.getOutput()) == 1)
    return listOf(Kind::SlotW, idx);
  return {};
}

Sym Analysis::evalMul(onnx::MulOp op) {
  Value a = op.getA(), b = op.getB();
  for (int swap = 0; swap < 2; ++swap, std::swap(a, b)) {
    Sym sa = eval(a);
    // t * k, with k read from a constant or a shape.
    if (sa.kind == Kind::Token) {
      if (auto f = scalarInt(b);
          f && *f == k && rankedType(b) && rankedType(b).getNumElements() == 1)
        return listOf(Kind::TokenK, sa);
      continue;
    }
    // ffn_e(x[t]) * w[t, j], the weight broadcast along H.
    if (sa.kind == Kind::SlotW) {
      auto wt = rankedType(a), yt = rankedType(b), outT = rankedType(op.getC());
      if (!wt || !yt || !outT || wt.getRank() != 2 || wt.getDimSize(1) != 1 ||
          yt.getRank() != 2 || yt != outT)
        return {};
      if (sa.hit)
        return evalHitUpdate(sa, b);
      // The FFN's input must be x at the same tokens.
      std::optional<DecomposedFFN> ffn = matchFFN(b);
      if (!ffn || !(eval(ffn->input) == listOf(Kind::Rows, sa)))
        return {};
      // A repeated expert fails the exactly-once check of the chain.
      ffns[sa.expert] = *ffn;
      return listOf(Kind::Update, sa);
    }
  }
  return {};
}

/// The update of a hit expert: its FFN applied with its matrices gathered
/// from stacked parameters at its id, to x at its tokens.
Sym Analysis::evalHitUpdate(const Sym &weights, Value y) {
  Sym id{Kind::HitId, weights.expert, true, true};
  Value input;
  // (f16/bf16 experts' outputs are weighted in f32.)
  std::optional<StackedFFN> ffn = matchGatheredFFN(
      stripFloatCasts(y), [&](Value v) { return eval(v) == id; }, input);
  if (!ffn || !(eval(input) == listOf(Kind::Rows, weights)))
    return {};
  if (!hitFFN)
    hitFFN = ffn;
  else if (!sameStackedFFN(*hitFFN, *ffn))
    hitFFNsDiffer = true;
  return listOf(Kind::Update, weights);
}

/// Whether `perm` keeps the real dimensions of `v` in order.
bool keepsRealOrder(Value v, ArrayRef<int64_t> perm) {
  auto t = rankedType(v);
  if (!t || static_cast<int64_t>(perm.size()) != t.getRank())
    return false;
  int64_t last = -1;
  for (int64_t p : perm) {
    if (p < 0 || p >= t.getRank())
      return false;
    if (t.getDimSize(p) == 1)
      continue;
    if (p < last)
      return false;
    last = p;
  }
  return true;
}

std::optional<SmallVector<int64_t>> permOf(onnx::TransposeOp op) {
  auto t = rankedType(op.getData());
  if (!t)
    return std::nullopt;
  SmallVector<int64_t> perm;
  if (auto p = op.getPerm()) {
    for (Attribute a : *p)
      perm.push_back(cast<IntegerAttr>(a).getInt());
  } else {
    for (int64_t i = t.getRank() - 1; i >= 0; --i)
      perm.push_back(i);
  }
  return perm;
}

/// Slice [c, c + 1) of `axis` of a rank-2 value, with unit steps.
std::optional<int64_t> sliceColumn(onnx::SliceOp op, int64_t axis) {
  auto starts = onnx::getConstantInts(op.getStarts());
  auto ends = onnx::getConstantInts(op.getEnds());
  if (!starts || !ends || starts->size() != 1 || ends->size() != 1)
    return std::nullopt;
  if (!isa<NoneType>(op.getAxes().getType()) &&
      !isSingleAxis(op.getAxes(), axis, 2))
    return std::nullopt;
  if (isa<NoneType>(op.getAxes().getType()) && axis != 0)
    return std::nullopt;
  if (!isa<NoneType>(op.getSteps().getType()) && !hasValues(op.getSteps(), {1}))
    return std::nullopt;
  int64_t c = (*starts)[0];
  if (c < 0)
    c += 2;
  int64_t end =
      (*ends)[0] < 0 ? (*ends)[0] + 2 : std::min<int64_t>((*ends)[0], 2);
  if ((c != 0 && c != 1) || end != c + 1)
    return std::nullopt;
  return c;
}

Sym Analysis::evalCast(Value v, Value in0) {
  Sym s = eval(in0);
  if (s.kind == Kind::OneHot || s.kind == Kind::MaskAll || s.kind == Kind::Mask)
    return s; // 0/1 and false/true survive any cast
  // f16/bf16 experts weighted in f32 and cast back to the accumulator's
  // type: the layer rounds once, after the sum.
  auto from = rankedType(in0), to = rankedType(v);
  if (s.kind == Kind::Update && from && to &&
      from.getShape() == to.getShape() &&
      isa<FloatType>(to.getElementType()) &&
      to.getElementType() ==
          rankedType(hidden).getElementType())
    return s;
  if (s.kind == Kind::Unknown || in0.getType() != v.getType())
    return {};
  return s;
}

Sym Analysis::evalReshape(Operation *op, Value v, Value in0) {
  Sym s = eval(in0);
  if (s.kind == Kind::Ids && isa<onnx::UnsqueezeOp>(op) &&
      isSingleAxis(op->getOperand(1), 2, 3))
    return {Kind::IdsCol};
  if (s.kind == Kind::Weights && numRealDims(in0) == 2 && numRealDims(v) == 1) {
    // Flatten keeps axes before `axis` apart: both real axes must be there.
    auto flat = dyn_cast<onnx::FlattenOp>(op);
    int64_t axis = flat ? flat.getAxis() : 0;
    if (flat && axis < 0)
      axis += rankedType(in0).getRank();
    if (isa<onnx::ReshapeOp>(op) || (flat && *realDimPos(in0, 1) < axis))
      return {Kind::WeightsFlat};
    return {};
  }
  if (isList(s.kind) && isUnitReshape(in0, v))
    return s;
  return {};
}

Sym Analysis::evalTranspose(onnx::TransposeOp tr, Value v) {
  Value in0 = tr.getData();
  Sym s = eval(in0);
  auto perm = permOf(tr);
  if (!perm)
    return {};
  if (s.kind == Kind::OneHot) {
    if (*perm == ArrayRef<int64_t>{2, 1, 0})
      return Sym{Kind::MaskAll, -1, true};
    if (*perm == ArrayRef<int64_t>{2, 0, 1})
      return Sym{Kind::MaskAll, -1, false};
    return {};
  }
  if (s.kind == Kind::Pairs && *perm == ArrayRef<int64_t>{1, 0})
    return listOf(Kind::PairsT, s);
  if (s.kind == Kind::HitList && *perm == ArrayRef<int64_t>{1, 0})
    return {Kind::HitListT};
  if (isList(s.kind) && keepsRealOrder(in0, *perm) && isUnitReshape(in0, v))
    return s;
  return {};
}

Sym Analysis::evalExpand(onnx::ExpandOp ex, Value v) {
  Value in0 = ex.getInput();
  Sym s = eval(in0);
  if (isList(s.kind) && (isNoopExpand(ex) || isIndexAddExpand(ex)))
    return s;
  // t broadcast along H, for ScatterElements: [n, 1] -> [n, H].
  auto inT = rankedType(in0), outT = rankedType(v);
  auto h = rankedType(hidden);
  if (s.kind == Kind::Token && inT && outT && inT.getRank() == 2 &&
      inT.getDimSize(1) == 1 && outT.getRank() == 2 &&
      outT.getDimSize(1) == h.getDimSize(1))
    return listOf(Kind::TokenBcast, s);
  return {};
}

Sym Analysis::evalOneHot(onnx::OneHotOp oh) {
  auto depth = scalarInt(oh.getDepth());
  if (eval(oh.getIndices()).kind != Kind::Ids || !depth ||
      !hasValues(oh.getValues(), {0, 1}) ||
      (oh.getAxis() != -1 && oh.getAxis() != 2) || !setExperts(*depth))
    return {};
  return {Kind::OneHot};
}

/// ids[..., None] == arange(E): the one-hot encoding written as Equal.
Sym Analysis::evalEqual(onnx::EqualOp eq) {
  Value a = eq.getA(), b = eq.getB();
  if (eval(a).kind != Kind::IdsCol)
    std::swap(a, b);
  auto iota = onnx::getConstantInts(b);
  auto bt = rankedType(b);
  if (eval(a).kind != Kind::IdsCol || !iota || !bt ||
      bt.getDimSize(bt.getRank() - 1) != static_cast<int64_t>(iota->size()))
    return {};
  for (auto [i, x] : llvm::enumerate(*iota))
    if (x != static_cast<int64_t>(i))
      return {};
  if (!setExperts(iota->size()))
    return {};
  return {Kind::OneHot};
}

Sym Analysis::evalNonZero(onnx::NonZeroOp nz) {
  Sym s = eval(nz.getX());
  auto t = rankedType(nz.getX());
  if (s.kind == Kind::HitMask && t && t.getRank() == 1)
    return {Kind::HitList};
  if (s.kind != Kind::Mask || !t || t.getRank() != 2)
    return {};
  return listOf(Kind::Pairs, s);
}

/// The two columns of the pairs as Split outputs.
Sym Analysis::evalSplit(onnx::SplitOp split, Value v) {
  Sym s = eval(split.getInput());
  int64_t axis = split.getAxis() < 0 ? split.getAxis() + 2 : split.getAxis();
  // The loop over the hit list, unrolled by a trace into one row per
  // iteration: sizes all 1 (one Split only, so that positions identify
  // rows).
  if (s.kind == Kind::HitListT && axis == 0) {
    auto sizes = onnx::getConstantInts(split.getSplit());
    if (!sizes || sizes->size() != split.getOutputs().size() ||
        llvm::any_of(*sizes, [](int64_t n) { return n != 1; }) ||
        (hitSplit && hitSplit != split))
      return {};
    hitSplit = split;
    return Sym{Kind::HitRow, cast<OpResult>(v).getResultNumber(), true, true};
  }
  bool ok = split.getOutputs().size() == 2 &&
            ((s.kind == Kind::PairsT && axis == 1) ||
             (s.kind == Kind::Pairs && axis == 0)) &&
            (isa<NoneType>(split.getSplit().getType()) ||
             hasValues(split.getSplit(), {1, 1}));
  if (!ok)
    return {};
  return column(s, cast<OpResult>(v).getResultNumber());
}

/// A column of the pairs as a Slice.
Sym Analysis::evalSlice(onnx::SliceOp slice) {
  Sym s = eval(slice.getData());
  std::optional<int64_t> c;
  if (s.kind == Kind::PairsT)
    c = sliceColumn(slice, 1);
  else if (s.kind == Kind::Pairs)
    c = sliceColumn(slice, 0);
  if (!c)
    return {};
  return column(s, *c);
}

/// j + t * k: the flat index of the slots.
Sym Analysis::evalAdd(onnx::AddOp add, Value v) {
  Sym a = eval(add.getA()), b = eval(add.getB());
  if (a.kind == Kind::TokenK)
    std::swap(a, b);
  if (a.kind == Kind::Slot && b.kind == Kind::TokenK && a.expert == b.expert &&
      isUnitReshape(add.getA(), add.getB()) && isUnitReshape(add.getA(), v))
    return listOf(Kind::FlatIdx, a);
  return {};
}

/// MaskAll summed over its slot and token axes: each expert's count.
Sym Analysis::evalReduceSum(onnx::ReduceSumOp op) {
  auto axes = onnx::getConstantInts(op.getAxes());
  auto t = rankedType(op.getData());
  if (eval(op.getData()).kind != Kind::MaskAll || op.getKeepdims() != 0 ||
      !axes || axes->size() != 2 || !t || t.getRank() != 3)
    return {};
  SmallVector<int64_t> norm;
  for (int64_t a : *axes)
    norm.push_back(a < 0 ? a + 3 : a);
  llvm::sort(norm);
  if (norm != ArrayRef<int64_t>{1, 2})
    return {};
  return {Kind::ExpertCounts};
}

/// The experts with any token: counts > 0.
Sym Analysis::evalGreater(onnx::GreaterOp op) {
  if (eval(op.getA()).kind != Kind::ExpertCounts ||
      !hasValues(op.getB(), {0}) || !rankedType(op.getB()) ||
      rankedType(op.getB()).getNumElements() != 1)
    return {};
  return {Kind::HitMask};
}

/// [t, j] columns concatenated into index tuples.
Sym Analysis::evalConcat(onnx::ConcatOp cat) {
  auto inputs = cat.getInputs();
  if (inputs.size() != 2 || (cat.getAxis() != 1 && cat.getAxis() != -1))
    return {};
  Sym t = eval(inputs[0]), j = eval(inputs[1]);
  auto tt = rankedType(inputs[0]), jt = rankedType(inputs[1]);
  if (t.kind == Kind::Token && j.kind == Kind::Slot && t.expert == j.expert &&
      tt && jt && tt.getRank() == 2 && jt.getRank() == 2 &&
      tt.getDimSize(1) == 1 && jt.getDimSize(1) == 1)
    return listOf(Kind::TokSlot, t);
  return {};
}

Sym Analysis::evalOp(Value v) {
  if (v == hidden)
    return {Kind::Hidden};
  Operation *op = v.getDefiningOp();
  if (!op)
    return {};
  Value in0 = op->getNumOperands() ? op->getOperand(0) : Value();
  if (auto t = dyn_cast<onnx::TopKOp>(op); t && v == t.getIndices())
    return setTopK(t) ? Sym{Kind::Ids} : Sym{};
  if (isa<onnx::ConcatOp>(op))
    if (std::optional<RouterEvidence> mixer = matchSparseMixerIds(v))
      return setIds(v, mixer->k, mixer->numExperts) ? Sym{Kind::Ids} : Sym{};
  if (isWeights(v))
    return {Kind::Weights};
  return llvm::TypeSwitch<Operation *, Sym>(op)
      .Case<onnx::CastOp, onnx::IdentityOp>(
          [&](Operation *) { return evalCast(v, in0); })
      .Case<onnx::UnsqueezeOp, onnx::SqueezeOp, onnx::ReshapeOp,
            onnx::FlattenOp>(
          [&](Operation *o) { return evalReshape(o, v, in0); })
      .Case([&](onnx::TransposeOp o) { return evalTranspose(o, v); })
      .Case([&](onnx::ExpandOp o) { return evalExpand(o, v); })
      .Case([&](onnx::OneHotOp o) { return evalOneHot(o); })
      .Case([&](onnx::EqualOp o) { return evalEqual(o); })
      .Case([&](onnx::GatherOp o) { return evalGather(o); })
      .Case([&](onnx::GatherNDOp o) { return evalGatherND(o); })
      .Case([&](onnx::NonZeroOp o) { return evalNonZero(o); })
      .Case([&](onnx::SplitOp o) { return evalSplit(o, v); })
      .Case([&](onnx::SliceOp o) { return evalSlice(o); })
      .Case([&](onnx::AddOp o) { return evalAdd(o, v); })
      .Case([&](onnx::MulOp o) { return evalMul(o); })
      .Case([&](onnx::ConcatOp o) { return evalConcat(o); })
      .Case([&](onnx::ReduceSumOp o) { return evalReduceSum(o); })
      .Case([&](onnx::GreaterOp o) { return evalGreater(o); })
      .Default([](Operation *) { return Sym{}; });
}

/// One step `acc' = acc + scatter(update_e at tokens_e)` that uses `acc`,
/// with its index and update values; nothing when no user is one.
struct Step {
  Value next, index, update;
  bool broadcastIndex = false; // ScatterElements' [n, H] index
};

std::optional<Step> nextStep(Value acc) {
  for (Operation *user : acc.getUsers()) {
    if (auto sc = dyn_cast<onnx::ScatterNDOp>(user)) {
      if (sc.getData() == acc && sc.getReduction() == "add")
        return Step{sc.getOutput(), sc.getIndices(), sc.getUpdates(), false};
      continue;
    }
    auto add = dyn_cast<onnx::AddOp>(user);
    if (!add || add.getC().getType() != acc.getType())
      continue;
    Value other = add.getA() == acc ? add.getB() : add.getA();
    // Scattered into zeros, then added: exact because a token is routed to
    // an expert at most once, so no index repeats.
    if (auto sc = other.getDefiningOp<onnx::ScatterElementsOp>()) {
      int64_t axis = sc.getAxis();
      if ((axis == 0 || axis == -2) && isZerosLike(sc.getData(), acc) &&
          (sc.getReduction() == "none" || sc.getReduction() == "add"))
        return Step{add.getC(), sc.getIndices(), sc.getUpdates(), true};
    }
    if (auto sc = other.getDefiningOp<onnx::ScatterNDOp>()) {
      if (isZerosLike(sc.getData(), acc) &&
          (sc.getReduction() == "none" || sc.getReduction() == "add"))
        return Step{add.getC(), sc.getIndices(), sc.getUpdates(), false};
    }
  }
  return std::nullopt;
}

/// Whether `seen` (sorted here) is 0..n-1, each once.
bool eachOnce(SmallVector<int64_t> &seen, int64_t n) {
  llvm::sort(seen);
  bool all = static_cast<int64_t>(seen.size()) == n;
  for (auto [i, e] : llvm::enumerate(seen))
    all &= e == static_cast<int64_t>(i);
  return all;
}

/// The block of a loop over the hit list: every row of the one Split of the
/// list added once, each the same stacked FFN. Whatever the number of rows
/// the trace unrolled, the block is then the sum over every expert that got
/// a token, so the layer computes it over all the stacked experts (an
/// expert without tokens adds nothing).
std::optional<DecomposedMoE> finishHitLoop(Analysis &an, Value acc,
                                           SmallVector<int64_t> &seen,
                                           std::string &why) {
  if (!an.hitSplit || !eachOnce(seen, an.hitSplit->getNumResults())) {
    why = "the accumulation does not add every hit expert's output exactly "
          "once";
    return std::nullopt;
  }
  if (!an.hitFFN || an.hitFFNsDiffer) {
    why = "the hit experts' FFNs do not all apply the same stacked weights";
    return std::nullopt;
  }
  // Ids from the router's top-k are below its width E, which must be the
  // number of stacked experts; the one-hot depth may exceed it.
  int64_t experts = rankedType(an.hitFFN->fc1.weight).getDimSize(0);
  if (an.routerWidth != experts || an.numExperts < experts || an.k > experts) {
    why = "the router's width, the one-hot depth and the number of stacked "
          "experts disagree";
    return std::nullopt;
  }
  if (!an.router)
    return std::nullopt;
  RouterEvidence evidence = *an.router;
  evidence.numExperts = experts;
  std::optional<DecomposedMoE> moe =
      routedBlock(evidence, an.hidden, acc, why);
  if (moe)
    moe->stacked = an.hitFFN;
  return moe;
}

/// Whether every expert's FFN has the same structure and weight layouts.
bool sameShape(const DecomposedFFN &a, const DecomposedFFN &b) {
  auto same = [](const DecomposedLinear &x, const DecomposedLinear &y) {
    return (!x.weight && !y.weight) ||
           (x.weight && y.weight && x.weight.getType() == y.weight.getType() &&
            x.transposed == y.transposed);
  };
  return a.activation == b.activation && same(a.gate, b.gate) &&
         same(a.up, b.up) && same(a.down, b.down);
}
} // namespace

std::optional<DecomposedMoE> mlir::moe::matchDecomposedMoE(Value zeros,
                                                           std::string &why) {
  // zeros = zeros shaped like x; x is the block's [T, H] input.
  Value hidden = zerosShapedLike(zeros);
  if (!hidden)
    return std::nullopt;
  // x.float() on a float x is x (the tracer may export either).
  hidden = stripNoopCasts(hidden);
  auto ht = rankedType(hidden);
  if (ht.getRank() != 2 || ht.isDynamicDim(1) || ht.getDimSize(1) < 2 ||
      !isa<FloatType>(ht.getElementType()))
    return std::nullopt;

  Analysis an(hidden);
  Value acc = zeros;
  SmallVector<int64_t> seen;
  size_t hits = 0;
  while (std::optional<Step> step = nextStep(acc)) {
    an.setAccumulator(acc);
    Sym idx = an.eval(step->index);
    Sym upd = an.eval(step->update);
    auto it = rankedType(step->index);
    bool idxOk = step->broadcastIndex
                     ? idx.kind == Kind::TokenBcast &&
                           isa<RankedTensorType>(step->index.getType()) &&
                           step->update.getType() == acc.getType()
                     : idx.kind == Kind::Token && it && it.getRank() == 2 &&
                           it.getDimSize(1) == 1;
    if (!idxOk || upd.kind != Kind::Update || idx.expert != upd.expert ||
        idx.hit != upd.hit) {
      why = "an accumulation step is not a routed expert's weighted output "
            "added at its tokens";
      return std::nullopt;
    }
    seen.push_back(idx.expert);
    hits += idx.hit;
    acc = step->next;
  }
  if (seen.empty())
    return std::nullopt;
  if (hits)
    return hits == seen.size() ? finishHitLoop(an, acc, seen, why)
                               : std::nullopt;
  if (!eachOnce(seen, an.numExperts)) {
    why = "the accumulation does not add every expert's output exactly once";
    return std::nullopt;
  }
  if (an.k > an.numExperts) {
    why = "top-k selects more experts than there are";
    return std::nullopt;
  }
  if (!an.router)
    return std::nullopt;
  RouterEvidence evidence = *an.router;
  evidence.numExperts = an.numExperts;
  std::optional<DecomposedMoE> block = routedBlock(evidence, hidden, acc, why);
  if (!block)
    return std::nullopt;
  DecomposedMoE &moe = *block;
  for (int64_t e = 0; e < an.numExperts; ++e) {
    const DecomposedFFN &ffn = an.ffns.lookup(e);
    if (!sameShape(ffn, an.ffns.lookup(0))) {
      why = "the experts' FFNs differ in structure or weight shapes";
      return std::nullopt;
    }
    moe.experts.push_back(ffn);
  }
  return block;
}
