//===- MoEOps.cpp - moe dialect op verifiers ------------------------------===//
//
// Verifiers enforce the shape contracts written in MoEOps.td. Dimensions are
// checked where both sides are static; a dynamic dimension is compatible with
// anything (it is checked at run time by the generated code).
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"

#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;
using namespace mlir::moe;

namespace {
constexpr int64_t kDynamic = ShapedType::kDynamic;

/// Checks operands and results of one op against its shape contract and
/// reports the first violation on the op, naming the value and dimension.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  static RankedTensorType type(Value v) {
    return cast<RankedTensorType>(v.getType());
  }

  LogicalResult rank(Value v, StringRef name, int64_t expected) {
    int64_t actual = type(v).getRank();
    if (actual == expected)
      return success();
    return op->emitOpError() << "expects " << name << " to have rank "
                             << expected << ", got " << type(v);
  }

  /// Dimension `d` of `v` must equal `expected` when both are static.
  LogicalResult dim(Value v, StringRef name, unsigned d, int64_t expected,
                    StringRef meaning) {
    int64_t actual = type(v).getDimSize(d);
    if (actual == kDynamic || expected == kDynamic || actual == expected)
      return success();
    return op->emitOpError()
           << "expects " << name << " dimension " << d << " (" << meaning
           << ") to be " << expected << ", got " << actual;
  }

  /// `v` must be rank `dims.size()` with each dimension matching.
  LogicalResult shape(Value v, StringRef name,
                      ArrayRef<std::pair<int64_t, StringRef>> dims) {
    if (failed(rank(v, name, dims.size())))
      return failure();
    for (auto [i, d] : llvm::enumerate(dims))
      if (failed(dim(v, name, i, d.first, d.second)))
        return failure();
    return success();
  }

  LogicalResult elementType(Value v, StringRef name, Type expected) {
    Type actual = type(v).getElementType();
    if (actual == expected)
      return success();
    return op->emitOpError() << "expects " << name << " to have element type "
                             << expected << ", got " << actual;
  }

  LogicalResult staticDim(Value v, StringRef name, unsigned d,
                          StringRef meaning) {
    if (!type(v).isDynamicDim(d))
      return success();
    return op->emitOpError() << "expects a static " << meaning << " (" << name
                             << " dimension " << d << "), got " << type(v);
  }

private:
  Operation *op;
};

int64_t dimOf(Value v, unsigned d) {
  return ShapeChecker::type(v).getDimSize(d);
}

/// a * b + c, or dynamic when an input is dynamic or the result overflows.
int64_t mulAdd(int64_t a, int64_t b, int64_t c) {
  if (a == kDynamic || b == kDynamic || c == kDynamic)
    return kDynamic;
  int64_t prod, sum;
  if (llvm::MulOverflow(a, b, prod) || llvm::AddOverflow(prod, c, sum))
    return kDynamic;
  return sum;
}

/// Intermediate width `I` implied by a first-projection width under `act`,
/// or dynamic when it cannot be known.
int64_t interFromFc1(ActivationAttr act, int64_t fc1Width) {
  if (fc1Width == kDynamic)
    return kDynamic;
  if (act.getFc1Width(1) == 2)
    return fc1Width / 2;
  return fc1Width;
}
} // namespace

namespace {
/// Quantization of expert weights: `bits` (0 for float weights) and the
/// scale block along the input features (0: one scale per row).
struct Quant {
  int64_t bits, block;
  bool on() const { return bits != 0; }
  /// Bytes per weight row for `in` input features.
  int64_t packed(int64_t in) const {
    return !on() || in == kDynamic ? in : in * bits / 8;
  }
  /// Input features stored in `bytes` bytes per row.
  int64_t unpacked(int64_t bytes) const {
    return !on() || bytes == kDynamic ? bytes : bytes * 8 / bits;
  }
};

LogicalResult verifyQuantAttrs(Operation *op, Quant q) {
  if (q.bits != 0 && q.bits != 4 && q.bits != 8)
    return op->emitOpError() << "weight_bits must be 0 (float weights), 4 or "
                                "8, got "
                             << q.bits;
  if (q.block < 0 || (q.block && !q.on()))
    return op->emitOpError("quant_block needs quantized weights and must be "
                           "non-negative");
  return success();
}

/// An expert weight `[E, out, packed(in)]` (float, or i8 bytes when
/// quantized) with its scales (`[E, out]` or `[E, out, in / block]`) and
/// optional zero points (i8, the scales' shape).
LogicalResult verifyExpertWeight(Operation *op, ShapeChecker &c, Value weight,
                                 Value scales, Value zeroPoints,
                                 StringRef name, Quant q,
                                 int64_t experts, int64_t out,
                                 StringRef outWhat, int64_t in,
                                 StringRef inWhat, Type elt) {
  Type weightElt = q.on() ? Type(IntegerType::get(op->getContext(), 8)) : elt;
  std::string inBytes = (inWhat + " * bits / 8 bytes").str();
  if (failed(c.shape(weight, name,
                     {{experts, "experts"},
                      {out, outWhat},
                      {q.packed(in), q.on() ? StringRef(inBytes) : inWhat}})) ||
      failed(c.elementType(weight, name, weightElt)))
    return failure();
  std::string scalesName = (name + " scales").str();
  std::string zeroPointsName = (name + " zero points").str();
  if (!q.on()) {
    for (auto [v, what] : {std::pair{scales, &scalesName},
                           std::pair{zeroPoints, &zeroPointsName}})
      if (v)
        return op->emitOpError()
               << "has " << *what << " but float weights (weight_bits = 0)";
    return success();
  }
  if (!scales)
    return op->emitOpError()
           << "expects " << scalesName << " for quantized weights";
  if (q.bits == 4 && in != kDynamic && in % 2)
    return op->emitOpError() << "expects an even number of input features "
                                "for 4-bit "
                             << name << ", got " << in;
  SmallVector<std::pair<int64_t, StringRef>> dims = {{experts, "experts"},
                                                     {out, outWhat}};
  if (q.block) {
    if (in != kDynamic && in % q.block)
      return op->emitOpError()
             << "input features (" << in
             << ") are not a multiple of quant_block (" << q.block << ")";
    dims.push_back({in == kDynamic ? kDynamic : in / q.block, "blocks"});
  }
  if (failed(c.shape(scales, scalesName, dims)) ||
      failed(c.elementType(scales, scalesName, elt)))
    return failure();
  return failure(zeroPoints &&
                 (failed(c.shape(zeroPoints, zeroPointsName, dims)) ||
                  failed(c.elementType(zeroPoints, zeroPointsName,
                                       IntegerType::get(op->getContext(), 8)))));
}
} // namespace

//===----------------------------------------------------------------------===//
// LayerOp
//===----------------------------------------------------------------------===//

namespace {
/// Router logits or weight (exactly one) and bias against the layer's
/// token, expert and hidden sizes.
LogicalResult verifyLayerRouter(LayerOp op, ShapeChecker &c, int64_t tokens,
                                int64_t experts, int64_t hiddenSize) {
  if (static_cast<bool>(op.getRouterLogits()) ==
      static_cast<bool>(op.getRouterWeight()))
    return op.emitOpError(
        "expects exactly one of router logits (`logits`) or a "
        "router weight (`gate`)");
  if (op.getRouterLogits() &&
      failed(c.shape(op.getRouterLogits(), "router logits",
                     {{tokens, "tokens"}, {experts, "experts"}})))
    return failure();
  if (op.getRouterWeight() &&
      failed(c.shape(op.getRouterWeight(), "router weight",
                     {{experts, "experts"}, {hiddenSize, "hidden size"}})))
    return failure();
  if (op.getRouterBias() && failed(c.shape(op.getRouterBias(), "router bias",
                                           {{experts, "experts"}})))
    return failure();

  return success();
}

/// fc1, fc2 and (separate gating) fc3 with their scales and biases.
LogicalResult verifyLayerExperts(LayerOp op, ShapeChecker &c, const Quant &q,
                                 int64_t experts, int64_t hiddenSize,
                                 int64_t inter, int64_t fc1Width, Type elt) {
  ActivationAttr act = op.getActivation();
  if (failed(verifyExpertWeight(op, c, op.getFc1(), op.getFc1Scales(),
                                op.getFc1ZeroPoints(), "fc1", q,
                                experts, fc1Width, "fc1 width", hiddenSize,
                                "hidden size", elt)) ||
      failed(verifyExpertWeight(op, c, op.getFc2(), op.getFc2Scales(),
                                op.getFc2ZeroPoints(), "fc2", q,
                                experts, hiddenSize, "hidden size", inter,
                                "intermediate size", elt)))
    return failure();
  if (inter != kDynamic &&
      failed(c.dim(op.getFc1(), "fc1", 1, act.getFc1Width(inter),
                   act.isGated() && act.getGating() != Gating::separate
                       ? "twice the intermediate size for fused gate/up"
                       : "intermediate size")))
    return failure();

  bool separate = act.getGating() == Gating::separate;
  if (separate != static_cast<bool>(op.getFc3()))
    return op.emitOpError(separate ? "expects fc3 (the up projection) for "
                                     "separate gating"
                                   : "takes fc3 only with separate gating");
  if (op.getFc3Bias() && !op.getFc3())
    return op.emitOpError("has fc3_bias without fc3");
  if (op.getFc3Scales() && !op.getFc3())
    return op.emitOpError("has fc3_scales without fc3");
  if (op.getFc3ZeroPoints() && !op.getFc3())
    return op.emitOpError("has fc3_zero_points without fc3");
  if (op.getFc3() &&
      failed(verifyExpertWeight(op, c, op.getFc3(), op.getFc3Scales(),
                                op.getFc3ZeroPoints(), "fc3", q,
                                experts, inter, "intermediate size", hiddenSize,
                                "hidden size", elt)))
    return failure();
  if (op.getFc1Bias() &&
      failed(c.shape(op.getFc1Bias(), "fc1_bias",
                     {{experts, "experts"}, {fc1Width, "fc1 width"}})))
    return failure();
  if (op.getFc3Bias() &&
      failed(c.shape(op.getFc3Bias(), "fc3_bias",
                     {{experts, "experts"}, {inter, "intermediate size"}})))
    return failure();
  if (op.getFc2Bias() &&
      failed(c.shape(op.getFc2Bias(), "fc2_bias",
                     {{experts, "experts"}, {hiddenSize, "hidden size"}})))
    return failure();

  return success();
}

/// Shared experts: one dense FFN over every token, gated like the routed
/// ones, with an optional sigmoid gate.
LogicalResult verifyLayerShared(LayerOp op, ShapeChecker &c,
                                int64_t hiddenSize) {
  ActivationAttr act = op.getActivation();
  bool separate = act.getGating() == Gating::separate;
  bool anyShared = op.getSharedFc1() || op.getSharedFc2() ||
                   op.getSharedFc3() || op.getSharedGate();
  if (anyShared) {
    if (!op.getSharedFc1() || !op.getSharedFc2())
      return op.emitOpError("expects both shared_fc1 and shared_fc2 for shared "
                            "experts");
    if (separate != static_cast<bool>(op.getSharedFc3()))
      return op.emitOpError(separate ? "expects shared_fc3 for separate gating"
                                     : "takes shared_fc3 only with separate "
                                       "gating");
    if (failed(c.rank(op.getSharedFc2(), "shared_fc2", 2)) ||
        failed(c.dim(op.getSharedFc2(), "shared_fc2", 0, hiddenSize,
                     "hidden size")))
      return failure();
    int64_t sharedInter = dimOf(op.getSharedFc2(), 1);
    int64_t sharedWidth =
        sharedInter == kDynamic ? kDynamic : act.getFc1Width(sharedInter);
    if (failed(c.shape(
            op.getSharedFc1(), "shared_fc1",
            {{sharedWidth, "shared fc1 width"}, {hiddenSize, "hidden size"}})))
      return failure();
    if (op.getSharedFc3() &&
        failed(c.shape(op.getSharedFc3(), "shared_fc3",
                       {{sharedInter, "shared intermediate size"},
                        {hiddenSize, "hidden size"}})))
      return failure();
    if (op.getSharedGate() &&
        failed(c.shape(op.getSharedGate(), "shared_gate",
                       {{1, "one gate"}, {hiddenSize, "hidden size"}})))
      return failure();
  }

  return success();
}
} // namespace

LogicalResult LayerOp::verify() {
  ShapeChecker c(*this);
  Value hidden = getHidden();
  Type elt = ShapeChecker::type(hidden).getElementType();

  if (failed(c.rank(hidden, "hidden", 2)))
    return failure();
  int64_t tokens = dimOf(hidden, 0), hiddenSize = dimOf(hidden, 1);

  if (failed(c.rank(getFc1(), "fc1", 3)) ||
      failed(c.staticDim(getFc1(), "fc1", 0, "number of experts")) ||
      failed(c.rank(getFc2(), "fc2", 3)))
    return failure();
  int64_t experts = getNumExperts();
  int64_t fc1Width = dimOf(getFc1(), 1);
  // Expert ids are i32; empty sizes leave nothing to compute.
  if (experts > std::numeric_limits<int32_t>::max())
    return emitOpError() << "has " << experts
                         << " experts, more than expert ids (i32) can name";
  if (hiddenSize == 0 || fc1Width == 0 || dimOf(getFc2(), 2) == 0)
    return emitOpError("needs a positive hidden size and intermediate size");
  Quant q{static_cast<int64_t>(getWeightBits()),
          static_cast<int64_t>(getQuantBlock())};
  if (failed(verifyQuantAttrs(*this, q)))
    return failure();
  int64_t inter = q.unpacked(dimOf(getFc2(), 2));

  // Every floating-point operand and the result share the hidden type's
  // element type (quantized expert weights are checked below).
  for (OpOperand &operand : getOperation()->getOpOperands()) {
    Value v = operand.get();
    if ((q.on() && (v == getFc1() || v == getFc2() || v == getFc3())) ||
        v == getFc1ZeroPoints() || v == getFc2ZeroPoints() ||
        v == getFc3ZeroPoints())
      continue;
    std::string name = ("operand #" + Twine(operand.getOperandNumber())).str();
    if (failed(c.elementType(v, name, elt)))
      return failure();
  }
  if (failed(c.elementType(getResult(), "result", elt)))
    return failure();

  if (failed(verifyLayerRouter(*this, c, tokens, experts, hiddenSize)) ||
      failed(verifyLayerExperts(*this, c, q, experts, hiddenSize, inter,
                                fc1Width, elt)))
    return failure();
  if (failed(getRouting().verifyForExperts([&] { return emitOpError(); },
                                           experts,
                                           getRouterBias() != nullptr)))
    return failure();
  if (failed(verifyLayerShared(*this, c, hiddenSize)))
    return failure();
  return c.shape(getResult(), "result",
                 {{tokens, "tokens"}, {hiddenSize, "hidden size"}});
}

//===----------------------------------------------------------------------===//
// RouteOp
//===----------------------------------------------------------------------===//

/// The router's contract, shared by moe.route and moe.route_plan: input,
/// gate weight, bias, routing and the [T, k] weights.
template <typename OpT>
static LogicalResult verifyRouter(OpT op, ShapeChecker &c) {
  Value input = op.getInput();
  Type elt = ShapeChecker::type(input).getElementType();
  if (failed(c.rank(input, "input", 2)))
    return failure();
  if (Value gate = op.getGateWeight()) {
    if (failed(c.rank(gate, "gate weight", 2)) ||
        failed(c.dim(gate, "gate weight", 1, dimOf(input, 1), "hidden size")) ||
        failed(c.staticDim(gate, "gate weight", 0, "number of experts")) ||
        failed(c.elementType(gate, "gate weight", elt)))
      return failure();
  } else if (failed(c.staticDim(input, "logits", 1, "number of experts"))) {
    return failure();
  }
  int64_t experts = op.getNumExperts();
  if (Value bias = op.getBias())
    if (failed(c.shape(bias, "bias", {{experts, "experts"}})) ||
        failed(c.elementType(bias, "bias", elt)))
      return failure();
  if (failed(op.getRouting().verifyForExperts([&] { return op.emitOpError(); },
                                              experts, op.getBias() != nullptr)))
    return failure();
  int64_t k = op.getRouting().getK();
  return failure(failed(c.shape(op.getWeights(), "weights",
                                {{dimOf(input, 0), "tokens"}, {k, "k"}})) ||
                 failed(c.elementType(op.getWeights(), "weights", elt)));
}

int64_t RouteOp::getNumExperts() {
  return getGateWeight() ? dimOf(getGateWeight(), 0) : dimOf(getInput(), 1);
}

LogicalResult RouteOp::verify() {
  ShapeChecker c(*this);
  if (failed(verifyRouter(*this, c)))
    return failure();
  return c.shape(
      getIds(), "ids",
      {{dimOf(getInput(), 0), "tokens"}, {getRouting().getK(), "k"}});
}

//===----------------------------------------------------------------------===//
// RoutePlanOp
//===----------------------------------------------------------------------===//

int64_t RoutePlanOp::getNumExperts() {
  return getGateWeight() ? dimOf(getGateWeight(), 0) : dimOf(getInput(), 1);
}

LogicalResult RoutePlanOp::verify() {
  ShapeChecker c(*this);
  if (failed(verifyRouter(*this, c)))
    return failure();
  int64_t experts = getNumExperts();
  int64_t rows = DispatchOp::getRowCount(
      dimOf(getInput(), 0), getRouting().getK(), experts, getBlock());
  return failure(failed(c.shape(getOffsets(), "offsets",
                                {{experts + 1, "experts + 1"}})) ||
                 failed(c.shape(getSlots(), "slots",
                                {{rows, "tokens * k plus padding"}})));
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

int64_t DispatchOp::getRowCount(int64_t tokens, int64_t k, int64_t experts,
                                int64_t block) {
  // The largest padded total, rounded down to a multiple of `block` (the
  // total itself is one), so that `block`-row tiles cover it exactly.
  int64_t bound = mulAdd(tokens, k, mulAdd(experts, block - 1, 0));
  return bound == kDynamic ? kDynamic : bound / block * block;
}

LogicalResult DispatchOp::verify() {
  ShapeChecker c(*this);
  Value input = getInput();
  if (failed(c.rank(input, "input", 2)) || failed(c.rank(getIds(), "ids", 2)) ||
      failed(c.dim(getIds(), "ids", 0, dimOf(input, 0), "tokens")) ||
      failed(c.staticDim(getIds(), "ids", 1, "k")))
    return failure();
  int64_t experts = getNumExperts(), block = getBlock();
  int64_t rows =
      getRowCount(dimOf(input, 0), dimOf(getIds(), 1), experts, block);
  Type elt = ShapeChecker::type(input).getElementType();
  if (failed(c.shape(getGrouped(), "grouped",
                     {{rows, "tokens * k plus padding"},
                      {dimOf(input, 1), "hidden size"}})) ||
      failed(c.elementType(getGrouped(), "grouped", elt)) ||
      failed(
          c.shape(getOffsets(), "offsets", {{experts + 1, "experts + 1"}})) ||
      failed(c.shape(getSlots(), "slots", {{rows, "tokens * k plus padding"}})))
    return failure();
  return c.dim(getSlots(), "slots", 0, dimOf(getGrouped(), 0),
               "rows of grouped");
}

//===----------------------------------------------------------------------===//
// ExpertMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult ExpertMatmulOp::verify() {
  ShapeChecker c(*this);
  Value input = getInput(), weight = getWeight();
  Type elt = ShapeChecker::type(input).getElementType();
  Quant q{static_cast<int64_t>(getWeightBits()),
          static_cast<int64_t>(getQuantBlock())};
  if (failed(verifyQuantAttrs(*this, q)) || failed(c.rank(input, "input", 2)) ||
      failed(c.rank(weight, "weight", 3)) ||
      failed(c.staticDim(weight, "weight", 0, "number of experts")))
    return failure();
  int64_t experts = dimOf(weight, 0), outFeatures = dimOf(weight, 1);
  if (failed(verifyExpertWeight(*this, c, weight, getScales(), getZeroPoints(), "weight", q,
                                experts, outFeatures, "out features",
                                dimOf(input, 1), "input features", elt)))
    return failure();
  if (failed(c.shape(getOffsets(), "offsets", {{experts + 1, "experts + 1"}})))
    return failure();
  if (Value bias = getBias())
    if (failed(
            c.shape(bias, "bias",
                    {{experts, "experts"}, {outFeatures, "out features"}})) ||
        failed(c.elementType(bias, "bias", elt)))
      return failure();
  int64_t resultWidth = outFeatures;
  if (std::optional<ActivationAttr> epilogue = getEpilogue()) {
    Gating gating = epilogue->getGating();
    if (gating != Gating::none && gating != Gating::interleaved)
      return emitOpError("epilogue gating must be none or interleaved, got ")
             << stringifyGating(gating);
    if (gating == Gating::interleaved && outFeatures != kDynamic) {
      if (outFeatures % 2)
        return emitOpError("an interleaved-gated epilogue needs an even "
                           "number of out features, got ")
               << outFeatures;
      resultWidth = outFeatures / 2;
    }
  }
  int64_t rows = dimOf(input, 0);
  if (Value slots = getGatherSlots()) {
    if (!getGatherK())
      return emitOpError("a gathered input needs its `k`");
    if (failed(c.rank(slots, "gather slots", 1)))
      return failure();
    rows = dimOf(slots, 0);
  } else if (getGatherK()) {
    return emitOpError("`k` is only meaningful with gather slots");
  }
  StringRef widthName =
      getEpilogue() ? "out features after the epilogue" : "out features";
  Value slots = getCombineSlots(), weights = getCombineWeights(),
        init = getCombineInit();
  if (!slots && !weights && !init)
    return failure(
        failed(c.shape(getResult(), "result",
                       {{rows, "rows"}, {resultWidth, widthName}})) ||
        failed(c.elementType(getResult(), "result", elt)));
  if (!slots || !weights || !init)
    return emitOpError("a combine needs its slots, weights and init");
  if (failed(c.shape(slots, "combine slots", {{rows, "rows"}})) ||
      failed(c.rank(weights, "combine weights", 2)) ||
      failed(c.staticDim(weights, "combine weights", 1, "k")) ||
      failed(c.elementType(weights, "combine weights", elt)))
    return failure();
  int64_t tokens = dimOf(weights, 0);
  if (getGatherK() && static_cast<int64_t>(*getGatherK()) != dimOf(weights, 1))
    return emitOpError("gathers with k = ")
           << *getGatherK() << " but combines with k = " << dimOf(weights, 1);
  return failure(
      failed(c.shape(init, "combine init",
                     {{tokens, "tokens"}, {resultWidth, widthName}})) ||
      failed(c.elementType(init, "combine init", elt)) ||
      failed(c.shape(getResult(), "result",
                     {{tokens, "tokens"}, {resultWidth, widthName}})) ||
      failed(c.elementType(getResult(), "result", elt)));
}

ExpertMatmulParts ExpertMatmulParts::of(ExpertMatmulOp op) {
  ExpertMatmulParts p;
  p.input = op.getInput();
  p.weight = op.getWeight();
  p.offsets = op.getOffsets();
  p.bias = op.getBias();
  p.scales = op.getScales();
  p.zeroPoints = op.getZeroPoints();
  p.gatherSlots = op.getGatherSlots();
  p.gatherK = op.getGatherK().value_or(0);
  p.combineSlots = op.getCombineSlots();
  p.combineWeights = op.getCombineWeights();
  p.combineInit = op.getCombineInit();
  p.weightBits = op.getWeightBits();
  p.quantBlock = op.getQuantBlock();
  p.epilogue = op.getEpilogueAttr();
  return p;
}

ExpertMatmulOp ExpertMatmulParts::create(OpBuilder &b, Location loc,
                                         Type result) const {
  return ExpertMatmulOp::create(
      b, loc, result, input, weight, offsets, bias, scales, zeroPoints, gatherSlots,
      combineSlots, combineWeights, combineInit, weightBits, quantBlock,
      epilogue, gatherK ? b.getI64IntegerAttr(gatherK) : IntegerAttr());
}

//===----------------------------------------------------------------------===//
// ActivationOp
//===----------------------------------------------------------------------===//

LogicalResult ActivationOp::verify() {
  ShapeChecker c(*this);
  Value input = getInput();
  ActivationAttr act = getActivation();
  Type elt = ShapeChecker::type(input).getElementType();
  if (failed(c.rank(input, "input", 2)))
    return failure();
  int64_t rows = dimOf(input, 0), width = dimOf(input, 1);
  bool separate = act.getGating() == Gating::separate;
  if (separate != static_cast<bool>(getUp()))
    return emitOpError(separate ? "expects an `up` operand for separate gating"
                                : "takes an `up` operand only with separate "
                                  "gating");
  if (Value up = getUp())
    if (failed(c.shape(up, "up", {{rows, "rows"}, {width, "gate width"}})) ||
        failed(c.elementType(up, "up", elt)))
      return failure();
  bool fused = act.isGated() && !separate;
  if (fused && width != kDynamic && width % 2 != 0)
    return emitOpError() << "expects an even input width for fused gate/up "
                            "values, got "
                         << width;
  int64_t outWidth = interFromFc1(act, width);
  return failure(
      failed(c.shape(getResult(), "result",
                     {{rows, "rows"}, {outWidth, "output features"}})) ||
      failed(c.elementType(getResult(), "result", elt)));
}

//===----------------------------------------------------------------------===//
// CombineOp
//===----------------------------------------------------------------------===//

LogicalResult CombineOp::verify() {
  ShapeChecker c(*this);
  Value input = getInput(), weights = getWeights();
  Type elt = ShapeChecker::type(input).getElementType();
  if (failed(c.rank(input, "input", 2)) ||
      failed(c.shape(getSlots(), "slots", {{dimOf(input, 0), "rows"}})) ||
      failed(c.rank(weights, "weights", 2)) ||
      failed(c.elementType(weights, "weights", elt)))
    return failure();
  return failure(failed(c.shape(getResult(), "result",
                                {{dimOf(weights, 0), "tokens"},
                                 {dimOf(input, 1), "hidden size"}})) ||
                 failed(c.elementType(getResult(), "result", elt)));
}

//===----------------------------------------------------------------------===//
// All-to-all
//===----------------------------------------------------------------------===//

/// The operand contract shared by the blocking and the async all-to-all.
template <typename OpT>
static LogicalResult verifyExchangeOperands(OpT op, ShapeChecker &c) {
  return failure(
      failed(c.rank(op.getInput(), "input", 2)) ||
      failed(c.shape(op.getSendCounts(), "send_counts",
                     {{static_cast<int64_t>(op.getRanks()), "ranks"}})));
}

/// `output` must be a [?, H] tensor of the input's element type.
static LogicalResult verifyExchangeOutput(ShapeChecker &c, Value input,
                                          Type output, StringRef name,
                                          Operation *op) {
  auto outType = cast<RankedTensorType>(output);
  auto inType = ShapeChecker::type(input);
  if (outType.getRank() != 2 ||
      outType.getElementType() != inType.getElementType() ||
      (outType.getDimSize(1) != kDynamic && inType.getDimSize(1) != kDynamic &&
       outType.getDimSize(1) != inType.getDimSize(1)))
    return op->emitOpError()
           << "expects " << name << " of type [rows, " << inType.getDimSize(1)
           << "] x " << inType.getElementType() << ", got " << outType;
  return success();
}

LogicalResult AllToAllOp::verify() {
  ShapeChecker c(*this);
  if (failed(verifyExchangeOperands(*this, c)) ||
      failed(verifyExchangeOutput(c, getInput(), getOutput().getType(),
                                  "output", *this)))
    return failure();
  return c.shape(getRecvCounts(), "recv_counts",
                 {{static_cast<int64_t>(getRanks()), "ranks"}});
}

AllToAllWaitOp AllToAllOp::createAsync(OpBuilder &b, Value input,
                                       Value sendCounts) {
  auto handleType = AllToAllHandleType::get(
      getContext(), getRanks(), cast<RankedTensorType>(getOutput().getType()));
  auto start = AllToAllStartOp::create(b, getLoc(), handleType, input,
                                       sendCounts, getRanks());
  return AllToAllWaitOp::create(b, getLoc(), getOutput().getType(),
                                getRecvCounts().getType(), start.getHandle());
}

LogicalResult AllToAllStartOp::verify() {
  ShapeChecker c(*this);
  if (failed(verifyExchangeOperands(*this, c)))
    return failure();
  AllToAllHandleType handle = getHandle().getType();
  if (handle.getRanks() != static_cast<int64_t>(getRanks()))
    return emitOpError() << "handle is for " << handle.getRanks()
                         << " ranks, but the exchange has " << getRanks();
  if (failed(verifyExchangeOutput(c, getInput(), handle.getData(),
                                  "handle data", *this)))
    return failure();
  if (!getHandle().hasOneUse())
    return emitOpError("handle must be consumed exactly once (by "
                       "moe.all_to_all_wait), found ")
           << std::distance(getHandle().use_begin(), getHandle().use_end())
           << " uses";
  return success();
}

LogicalResult AllToAllWaitOp::verify() {
  ShapeChecker c(*this);
  AllToAllHandleType handle = getHandle().getType();
  if (getOutput().getType() != handle.getData())
    return emitOpError() << "output type " << getOutput().getType()
                         << " differs from the handle's " << handle.getData();
  return c.shape(getRecvCounts(), "recv_counts",
                 {{handle.getRanks(), "ranks"}});
}

#define GET_OP_CLASSES
#include "dialects/moe/MoEOps.cpp.inc"
