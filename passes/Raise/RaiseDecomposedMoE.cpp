//===- RaiseDecomposedMoE.cpp - exported MoE blocks -> moe.layer ------===//
//-------===//
//
// PyTorch exports a MoE block as dense ops: the router, top-k, and a loop
// over the experts that gathers each expert's tokens, runs its FFN, scales
// by the routing weights and scatter-adds back. utils/DecomposedMoE proves
// that such a graph computes a moe.layer; this pass replaces it with one,
// its weights stacked into [E, out, in] constants at compile time, and folds
// a shared expert added to the block's output into the layer.
//
//===----------------------------------------------------------------------===//

#include "Raise/DecomposedMoE.h"
#include "Raise/ONNXValueMatchers.h"
#include "Utils/ConstantData.h"
#include "moe/Dialect/MoE.h"
#include "moe/Dialect/ONNX.h"
#include "moe/Passes/Raise.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_RAISEDECOMPOSEDMOE
#include "passes/Raise/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
/// `lin`'s weight as `[out, in]`.
Value outIn(OpBuilder &b, Location loc, const DecomposedLinear &lin,
            StringRef name) {
  if (!lin.transposed)
    return lin.weight;
  return transposeConstant(b, loc, lin.weight, name);
}

/// The experts' weights of one projection stacked to `[E, out, in]`.
Value stack(OpBuilder &b, Location loc, ArrayRef<DecomposedFFN> experts,
            DecomposedLinear DecomposedFFN::*proj, StringRef name) {
  SmallVector<Value> parts;
  for (const DecomposedFFN &ffn : experts)
    parts.push_back((ffn.*proj).weight);
  return stackConstants(b, loc, parts, (experts.front().*proj).transposed,
                        name);
}

Gating gatingOf(const DecomposedFFN &ffn) {
  return ffn.up.weight ? Gating::separate : Gating::none;
}

/// The experts' biases of one projection stacked to `[E, out]` in the
/// layer's type; null when none has one, failure when only some do or one
/// does not convert exactly.
FailureOr<Value> stackBiases(OpBuilder &b, Location loc,
                             ArrayRef<DecomposedFFN> experts,
                             DecomposedLinear DecomposedFFN::*proj,
                             FloatType elt, StringRef name) {
  SmallVector<Value> parts;
  for (const DecomposedFFN &ffn : experts)
    if (Value bias = (ffn.*proj).bias)
      parts.push_back(bias);
  if (parts.empty())
    return Value();
  if (parts.size() != experts.size())
    return failure();
  if (Value stacked = stackVectors(b, loc, parts, elt, name))
    return stacked;
  return failure();
}

/// Whether any linear map of `ffn` has a bias.
bool hasBias(const DecomposedFFN &ffn) {
  return ffn.gate.bias || ffn.up.bias || ffn.down.bias;
}

bool weightsOfType(const DecomposedFFN &ffn, Type elt) {
  for (const DecomposedLinear *lin : {&ffn.gate, &ffn.up, &ffn.down})
    if (lin->weight &&
        cast<ShapedType>(lin->weight.getType()).getElementType() != elt)
      return false;
  return true;
}

/// The layer's router operands for `block`: its logits (computed by the
/// graph) or its router weight `[E, H]`, and the selection bias `[E]`.
struct RouterOperands {
  Value logits, weight, bias;
};

/// Router operands in the layer's element type `elt`; a remark and nothing
/// when they cannot be.
std::optional<RouterOperands> buildRouter(OpBuilder &b, Location loc,
                                          const DecomposedMoE &block,
                                          FloatType elt) {
  RouterOperands r;
  // Router weights and bias kept in f32 by an f16/bf16 model convert when
  // no value changes; logits computed with a bias stay the graph's.
  r.logits = block.router.logits;
  if (r.logits &&
      cast<ShapedType>(r.logits.getType()).getElementType() != elt) {
    emitRemark(loc, "MoE block left as dense ops: its router logits are not "
                    "of the input's element type");
    return std::nullopt;
  }
  Value routerWeight =
      r.logits ? Value()
               : convertConstantExactly(b, loc, block.router.linear.weight, elt,
                                        "moe_router");
  // The selection bias as the layer's [E] vector, converted and flattened
  // in one step.
  if (Value given = block.router.bias) {
    auto biasType = cast<ShapedType>(given.getType());
    if (biasType.hasStaticShape())
      r.bias =
          convertConstantExactly(b, loc, given, elt, "moe_router_bias",
                                 ArrayRef<int64_t>{biasType.getNumElements()});
  }
  if ((!routerWeight && !r.logits) || (block.router.bias && !r.bias)) {
    emitRemark(loc, "MoE block left as dense ops: its router weights are not "
                    "constants exactly representable in the input's element "
                    "type");
    return std::nullopt;
  }
  if (routerWeight) {
    DecomposedLinear routerLinear = block.router.linear;
    routerLinear.weight = routerWeight;
    r.weight = outIn(b, loc, routerLinear, "moe_router");
    if (!r.weight) {
      emitRemark(loc, "MoE block left as dense ops: its router weight is not "
                      "a readable constant");
      return std::nullopt;
    }
  }
  return r;
}

RoutingAttr routingOf(MLIRContext *ctx, const DecomposedRouter &r) {
  return RoutingAttr::get(ctx, r.scoring, r.k, r.renormalize, r.groups,
                          r.topkGroups, r.groupScore, APFloat(r.scale),
                          APFloat(r.maskedScore), APFloat(r.gap));
}

/// Builds the moe.layer for `block`'s per-expert FFNs; null (with a remark)
/// when the layer cannot hold it.
LayerOp buildLayer(OpBuilder &b, const DecomposedMoE &block) {
  Location loc = block.result.getLoc();
  auto elt = cast<FloatType>(
      cast<ShapedType>(block.hidden.getType()).getElementType());
  const DecomposedFFN &first = block.experts.front();
  if (!llvm::all_of(block.experts, [&](const DecomposedFFN &f) {
        return weightsOfType(f, elt);
      })) {
    emitRemark(loc, "MoE block left as dense ops: its expert weights are not "
                    "all of the input's element type");
    return nullptr;
  }
  std::optional<RouterOperands> router = buildRouter(b, loc, block, elt);
  if (!router)
    return nullptr;
  Value fc1 = stack(b, loc, block.experts, &DecomposedFFN::gate, "moe_fc1");
  Value fc3 = first.up.weight
                  ? stack(b, loc, block.experts, &DecomposedFFN::up, "moe_fc3")
                  : Value();
  Value fc2 = stack(b, loc, block.experts, &DecomposedFFN::down, "moe_fc2");
  if (!fc1 || !fc2 || (first.up.weight && !fc3)) {
    emitRemark(loc, "MoE block left as dense ops: its weights are not "
                    "readable constants");
    return nullptr;
  }
  FailureOr<Value> fc1Bias = stackBiases(
      b, loc, block.experts, &DecomposedFFN::gate, elt, "moe_fc1_bias");
  FailureOr<Value> fc3Bias = stackBiases(
      b, loc, block.experts, &DecomposedFFN::up, elt, "moe_fc3_bias");
  FailureOr<Value> fc2Bias = stackBiases(
      b, loc, block.experts, &DecomposedFFN::down, elt, "moe_fc2_bias");
  if (failed(fc1Bias) || failed(fc3Bias) || failed(fc2Bias)) {
    emitRemark(loc, "MoE block left as dense ops: its experts' biases are "
                    "not all present and exactly representable in the "
                    "input's element type");
    return nullptr;
  }
  MLIRContext *ctx = b.getContext();
  auto act = ActivationAttr::get(ctx, first.activation,
                                 block.expertsGating.value_or(gatingOf(first)));
  return LayerOp::create(
      b, loc, block.hidden.getType(), block.hidden, router->logits,
      router->weight, router->bias, fc1, *fc1Bias, fc3, *fc3Bias, fc2, *fc2Bias,
      /*shared_fc1=*/Value(), /*shared_fc3=*/Value(),
      /*shared_fc2=*/Value(), /*shared_gate=*/Value(), /*fc1_scales=*/Value(),
      /*fc3_scales=*/Value(), /*fc2_scales=*/Value(),
      /*fc1_zero_points=*/Value(), /*fc3_zero_points=*/Value(),
      /*fc2_zero_points=*/Value(),
      routingOf(ctx, block.router), act, /*weight_bits=*/0, /*quant_block=*/0);
}

/// A stacked projection as the layer's `[E, out, in]` weight and `[E, out]`
/// bias in `elt`; nothing when a constant cannot be converted exactly.
std::optional<std::pair<Value, Value>>
stackedOperands(OpBuilder &b, Location loc, const StackedLinear &lin,
                FloatType elt, StringRef name) {
  Value w = convertConstantExactly(b, loc, lin.weight, elt, name);
  if (w && lin.transposed)
    w = transposeStacked(b, loc, w, name);
  Value bias = lin.bias ? convertConstantExactly(b, loc, lin.bias, elt,
                                                 (name + "_bias").str())
                        : Value();
  if (!w || (lin.bias && !bias))
    return std::nullopt;
  return std::pair{w, bias};
}

/// Builds the moe.layer for `block`'s stacked experts (their parameters
/// are already the layer's weights, transposed per expert when stored
/// `[E, in, out]`).
LayerOp buildStackedLayer(OpBuilder &b, const DecomposedMoE &block) {
  Location loc = block.result.getLoc();
  auto elt = cast<FloatType>(
      cast<ShapedType>(block.hidden.getType()).getElementType());
  std::optional<RouterOperands> router = buildRouter(b, loc, block, elt);
  if (!router)
    return nullptr;
  const StackedFFN &ffn = *block.stacked;
  auto fc1 = stackedOperands(b, loc, ffn.fc1, elt, "moe_fc1");
  auto fc3 = ffn.fc3.weight
                 ? stackedOperands(b, loc, ffn.fc3, elt, "moe_fc3")
                 : std::optional(std::pair<Value, Value>());
  auto fc2 = stackedOperands(b, loc, ffn.fc2, elt, "moe_fc2");
  if (!fc1 || !fc3 || !fc2) {
    emitRemark(loc, "MoE block left as dense ops: its expert weights are not "
                    "constants exactly representable in the input's element "
                    "type");
    return nullptr;
  }
  MLIRContext *ctx = b.getContext();
  auto act = ActivationAttr::get(
      ctx, ffn.activation, ffn.gating, APFloat(ffn.alpha), APFloat(ffn.beta),
      ffn.limit ? APFloat(*ffn.limit) : APFloat::getInf(APFloat::IEEEdouble()));
  return LayerOp::create(
      b, loc, block.hidden.getType(), block.hidden, router->logits,
      router->weight, router->bias, fc1->first, fc1->second, fc3->first,
      fc3->second, fc2->first, fc2->second, /*shared_fc1=*/Value(),
      /*shared_fc3=*/Value(), /*shared_fc2=*/Value(), /*shared_gate=*/Value(),
      /*fc1_scales=*/Value(), /*fc3_scales=*/Value(), /*fc2_scales=*/Value(),
      /*fc1_zero_points=*/Value(), /*fc3_zero_points=*/Value(),
      /*fc2_zero_points=*/Value(),
      routingOf(ctx, block.router), act, /*weight_bits=*/0,
      /*quant_block=*/0);
}

/// `g * shared(x)` or `shared(x)` for an FFN of the layer's gating whose
/// input is the layer's; sets `ffn` and `gate` (null when ungated).
bool matchSharedExpert(Value v, LayerOp layer, DecomposedFFN &ffn,
                       std::optional<DecomposedLinear> &gate) {
  auto matches = [&](Value y) {
    auto f = matchFFN(y);
    Gating want = layer.getActivation().getGating();
    // Separate gate and up projections also fit a concatenated layer: they
    // are stacked into one [2 Is, H] weight.
    bool fits = gatingOf(*f) == want ||
                (f && want == Gating::concatenated &&
                 gatingOf(*f) == Gating::separate);
    // (The shared expert may read the block's input before it is
    // flattened to [T, H], as DeepSeek-V3 does.)
    if (!f || !fits || f->activation != layer.getActivation().getKind())
      return false;
    Value in = match::stripNoopCasts(f->input);
    if (in != layer.getHidden() &&
        match::unitSource(in) != match::unitSource(layer.getHidden()))
      return false;
    ffn = *f;
    return true;
  };
  if (matches(v)) {
    gate.reset();
    return true;
  }
  auto mul = v.getDefiningOp<onnx::MulOp>();
  if (!mul)
    return false;
  for (auto [s, y] :
       {std::pair{mul.getA(), mul.getB()}, std::pair{mul.getB(), mul.getA()}}) {
    auto sig = s.getDefiningOp<onnx::SigmoidOp>();
    auto lin = sig ? matchLinear(sig.getX()) : std::nullopt;
    auto gt = lin ? dyn_cast<RankedTensorType>(sig.getY().getType()) : nullptr;
    // The gate is one scalar per token: [T, 1].
    if (!lin || match::stripNoopCasts(lin->input) != layer.getHidden() ||
        gt.getRank() != 2 || gt.getDimSize(1) != 1 || !matches(y))
      continue;
    gate = lin;
    return true;
  }
  return false;
}

/// Folds `layer + [g *] shared(x)` into the layer's shared expert.
void foldSharedExpert(OpBuilder &b, LayerOp layer) {
  // (Through casts that change nothing, as TorchScript writes them, and
  // reshapes that only add unit dimensions, back to [1, T, H].)
  Value routed = layer.getResult();
  while (routed.hasOneUse()) {
    Operation *user = *routed.getUsers().begin();
    auto cast = dyn_cast<onnx::CastOp>(user);
    auto reshape = dyn_cast<onnx::ReshapeOp>(user);
    if (cast && cast.getOutput().getType() == routed.getType())
      routed = cast.getOutput();
    else if (reshape && match::isUnitReshape(routed, reshape.getReshaped()))
      routed = reshape.getReshaped();
    else
      break;
  }
  if (!routed.hasOneUse())
    return;
  auto add = dyn_cast<onnx::AddOp>(*routed.getUsers().begin());
  if (!add || add.getC().getType() != routed.getType())
    return;
  Value other = add.getA() == routed ? add.getB() : add.getA();
  DecomposedFFN ffn;
  std::optional<DecomposedLinear> gate;
  Type elt = layer.getType().getElementType();
  // The layer's shared expert and its gate have no bias operands.
  if (!matchSharedExpert(other, layer, ffn, gate) || !weightsOfType(ffn, elt) ||
      hasBias(ffn) || (gate && gate->bias))
    return;
  b.setInsertionPoint(layer);
  Location loc = layer.getLoc();
  Value fc1 = outIn(b, loc, ffn.gate, "moe_shared_fc1");
  Value fc3 = ffn.up.weight ? outIn(b, loc, ffn.up, "moe_shared_fc3") : Value();
  bool needsFc3 = ffn.up.weight != nullptr;
  if (fc1 && fc3 &&
      layer.getActivation().getGating() == Gating::concatenated) {
    // Gate rows then up rows: [2 Is, H], as the layer's fc1 holds them.
    Value stacked = stackConstants(b, loc, {fc1, fc3}, /*transpose=*/false,
                                   "moe_shared_fc1");
    auto bytes = stacked ? constantBytes(stacked) : std::nullopt;
    auto t = cast<RankedTensorType>(fc1.getType());
    if (!bytes)
      return;
    fc1 = createBlobConstant(
        b, loc,
        RankedTensorType::get({2 * t.getDimSize(0), t.getDimSize(1)},
                              t.getElementType()),
        *bytes, "moe_shared_fc1", /*asONNX=*/true);
    fc3 = Value();
    needsFc3 = false;
  }
  Value fc2 = outIn(b, loc, ffn.down, "moe_shared_fc2");
  Value g = gate ? outIn(b, loc, *gate, "moe_shared_gate") : Value();
  if (!fc1 || !fc2 || (needsFc3 && !fc3) || (gate && !g))
    return;
  layer.getSharedFc1Mutable().assign(fc1);
  if (fc3)
    layer.getSharedFc3Mutable().assign(fc3);
  layer.getSharedFc2Mutable().assign(fc2);
  if (g)
    layer.getSharedGateMutable().assign(g);
  add.getC().replaceAllUsesWith(routed);
}

/// The block's run-time length checks, before the layer.
void emitLengthChecks(OpBuilder &b, Location loc,
                      ArrayRef<LengthCheck> checks) {
  for (const LengthCheck &c : checks) {
    auto scaled = [&](Value v, int64_t scale) -> Value {
      Value d = tensor::DimOp::create(b, loc, v, 0);
      if (scale == 1)
        return d;
      return arith::MulIOp::create(b, loc, d,
                                   arith::ConstantIndexOp::create(b, loc, scale));
    };
    Value have = scaled(c.a, c.aScale);
    Value want = scaled(c.b, c.bScale);
    Value same =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, have, want);
    cf::AssertOp::create(b, loc, same,
                         "MoE block: its slot sort takes its length from "
                         "another layer's slots, which differ in number");
  }
}

struct RaiseDecomposedMoEPass
    : moe::impl::RaiseDecomposedMoEBase<RaiseDecomposedMoEPass> {
  void runOnOperation() override {
    // The accumulations that start at zeros (the expert loop) and the sums
    // over the k slots (batched experts).
    SmallVector<Value> candidates;
    getOperation()->walk([&](Operation *op) {
      if (isa<onnx::ConstantOfShapeOp, onnx::ExpandOp, onnx::ReduceSumOp,
              onnx::ScatterNDOp>(op))
        candidates.push_back(op->getResult(0));
    });
    llvm::DenseSet<Value> raised;
    OpBuilder b(&getContext());
    for (Value start : candidates) {
      std::string why;
      bool batched = isa<onnx::ReduceSumOp>(start.getDefiningOp());
      std::optional<DecomposedMoE> block =
          batched ? matchBatchedMoE(start, why)
          : isa<onnx::ScatterNDOp>(start.getDefiningOp())
              ? matchSortedMoE(start, why)
              : matchDecomposedMoE(start, why);
      if (!block && batched) {
        std::string groupedWhy;
        block = matchGroupedMoE(start, groupedWhy);
        if (!groupedWhy.empty())
          why = groupedWhy;
      }
      if (!block) {
        if (!why.empty())
          emitRemark(start.getLoc(), "MoE-like block left as dense ops: ")
              << why;
        continue;
      }
      if (!raised.insert(block->result).second)
        continue;
      if (block->result.getType() != block->hidden.getType()) {
        emitRemark(start.getLoc(), "MoE block left as dense ops: its result "
                                   "type differs from its input's");
        continue;
      }
      b.setInsertionPoint(block->result.getDefiningOp());
      LayerOp layer =
          block->stacked ? buildStackedLayer(b, *block) : buildLayer(b, *block);
      if (!layer)
        continue;
      if (failed(layer.verify())) {
        layer.erase();
        continue;
      }
      // Only a block that is replaced needs its checks.
      b.setInsertionPoint(layer);
      emitLengthChecks(b, start.getLoc(), block->lengthChecks);
      block->result.replaceAllUsesWith(layer.getResult());
      foldSharedExpert(b, layer);
    }
    remarkDenseRouters(getOperation());
    // The decomposed routing, dispatch and combine are dead now.
    if (!raised.empty() &&
        failed(applyPatternsGreedily(getOperation(),
                                     RewritePatternSet(&getContext()))))
      signalPassFailure();
  }
};
} // namespace
