//===- RaiseONNXMoE.cpp - onnx.MoE -> moe.layer ---------------------------===//
//
// onnxruntime's com.microsoft.MoE is a whole MoE block already; raising it is
// a mapping of attributes and operands. A node that cannot be mapped is
// reported (by the pattern, with its reason) and fails the pass.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Dialect/ONNX.h"
#include "moe/Passes/Raise.h"
#include "Utils/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_RAISEONNXMOE
#include "passes/Raise/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
constexpr int64_t kDynamic = ShapedType::kDynamic;

/// The #moe.activation equivalent of an onnx.MoE / onnx.QMoE node's
/// activation settings.
template <typename OpT> FailureOr<ActivationAttr> mapActivation(OpT op) {
  MLIRContext *ctx = op.getContext();
  StringRef type = op.getActivationType();
  int64_t fusion = op.getSwigluFusion();
  bool hasFc3 = !isa<NoneType>(op.getFc3ExpertsWeights().getType());
  APFloat inf = APFloat::getInf(APFloat::IEEEdouble());
  if (type == "swiglu") {
    Gating gating;
    switch (fusion) {
    case 0:
      if (!hasFc3)
        return op.emitError("swiglu with swiglu_fusion = 0 needs "
                            "fc3_experts_weights (the up projection)");
      gating = Gating::separate;
      break;
    case 1:
      gating = Gating::interleaved;
      break;
    case 2:
      gating = Gating::concatenated;
      break;
    default:
      return op.emitError()
             << "swiglu_fusion must be 0, 1 or 2, got " << fusion;
    }
    if (hasFc3 && gating != Gating::separate)
      return op.emitError("fc3_experts_weights given with fused swiglu "
                          "(swiglu_fusion = ")
             << fusion << ")";
    APFloat limit = inf;
    if (auto l = op.getSwigluLimit())
      limit = APFloat(static_cast<double>(l->convertToFloat()));
    return ActivationAttr::getChecked(
        [&] { return op.emitError(); }, ctx, ActivationKind::silu, gating,
        APFloat(static_cast<double>(op.getActivationAlpha().convertToFloat())),
        APFloat(static_cast<double>(op.getActivationBeta().convertToFloat())),
        limit);
  }
  std::optional<ActivationKind> kind =
      llvm::StringSwitch<std::optional<ActivationKind>>(type)
          .Case("relu", ActivationKind::relu)
          .Case("gelu", ActivationKind::gelu_tanh) // onnxruntime's gelu
          .Case("silu", ActivationKind::silu)
          .Case("identity", ActivationKind::identity)
          .Default(std::nullopt);
  if (!kind)
    return op.emitError() << "unsupported activation_type '" << type
                          << "' (expected relu, gelu, silu, identity or "
                             "swiglu)";
  if (fusion != 0)
    return op.emitError("swiglu_fusion is only valid with activation_type = "
                        "swiglu");
  return ActivationAttr::get(ctx, *kind,
                             hasFc3 ? Gating::separate : Gating::none);
}

/// `v` as a ranked tensor, or an error naming the ONNX input.
LogicalResult requireRanked(Operation *op, Value v, StringRef name) {
  if (isa<NoneType>(v.getType()) || isa<RankedTensorType>(v.getType()))
    return success();
  return op->emitError()
         << "input '" << name
         << "' has an unknown rank; give the model's value_info "
            "or graph input a shape";
}

Value orNull(Value v) { return isa<NoneType>(v.getType()) ? Value() : v; }

/// Flattens `[B, S, X]` to `[B * S, X]`; rank-2 values pass through.
Value flattenTokens(OpBuilder &b, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() == 2)
    return v;
  int64_t rows = type.isDynamicDim(0) || type.isDynamicDim(1)
                     ? kDynamic
                     : type.getDimSize(0) * type.getDimSize(1);
  auto flat =
      RankedTensorType::get({rows, type.getDimSize(2)}, type.getElementType());
  return tensor::CollapseShapeOp::create(
      b, loc, flat, v, SmallVector<ReassociationIndices>{{0, 1}, {2}});
}

/// QMoE's quantization: bits, scale block, and its weights and scales as
/// the moe dialect holds them (signless i8 bytes). Float MoE: none.
struct QuantInputs {
  int64_t bits = 0, block = 0;
  Value fc1Scales, fc2Scales, fc3Scales;
  Value fc1ZeroPoints, fc2ZeroPoints, fc3ZeroPoints;
};

LogicalResult quantInputs(onnx::MoEOp, PatternRewriter &, QuantInputs &) {
  return success();
}

/// QMoE weights are unsigned bytes; moe.layer holds them as signless i8: a
/// constant of the same bytes (blobs are shared, not copied), or a
/// tensor.bitcast of a weight given at run time.
Value asBytes(PatternRewriter &rewriter, Location loc, Value v) {
  auto type = dyn_cast_or_null<RankedTensorType>(v ? v.getType() : Type());
  if (!type || !type.getElementType().isUnsignedInteger(8))
    return v;
  auto bytes = type.clone(rewriter.getIntegerType(8));
  if (auto constant = v.getDefiningOp<onnx::ConstantOp>()) {
    Attribute value = constant.getValue();
    TypedAttr retyped;
    if (auto dense = dyn_cast_or_null<DenseElementsAttr>(value))
      retyped = dense.bitcast(bytes.getElementType());
    else if (auto blob = dyn_cast_or_null<DenseResourceElementsAttr>(value))
      retyped = DenseResourceElementsAttr::get(bytes, blob.getRawHandle());
    if (retyped)
      return arith::ConstantOp::create(rewriter, loc, bytes, retyped);
  }
  return tensor::BitcastOp::create(rewriter, loc, bytes, v);
}

/// QMoE zero points (uint8, `bits`-bit values packed along the last
/// dimension, the lower nibble first) as moe.layer holds them: one i8 per
/// scale, the shape of `scales`. Constants are unpacked here; zero points
/// given at run time by a tensor.generate.
FailureOr<Value> unpackZeroPoints(PatternRewriter &rewriter, Location loc,
                                  Operation *op, Value zp, Value scales,
                                  int64_t bits, StringRef name) {
  auto zt = dyn_cast<RankedTensorType>(zp.getType());
  auto st = dyn_cast<RankedTensorType>(scales.getType());
  if (!zt || !st || !zt.getElementType().isUnsignedInteger(8))
    return op->emitError() << name << " must be a ranked uint8 tensor, got "
                           << zp.getType();
  int64_t rank = st.getRank();
  int64_t perByte = 8 / bits;
  auto packedLength = [&](int64_t n) {
    return n == kDynamic ? kDynamic : (n + perByte - 1) / perByte;
  };
  bool fits = zt.getRank() == rank;
  for (int64_t d = 0; fits && d < rank; ++d) {
    int64_t want = d + 1 == rank ? packedLength(st.getDimSize(d))
                                 : st.getDimSize(d);
    fits = zt.isDynamicDim(d) || want == kDynamic ||
           zt.getDimSize(d) == want;
  }
  if (!fits)
    return op->emitError() << name << " " << zt
                           << " does not match its scales " << st << " ("
                           << bits << "-bit values packed along the last "
                              "dimension)";
  if (bits == 8)
    return asBytes(rewriter, loc, zp);
  if (!st.hasStaticShape() || !zt.hasStaticShape())
    return op->emitError() << "4-bit " << name
                           << " need static shapes, got " << zt << " for "
                           << st;
  auto type = st.clone(rewriter.getIntegerType(8));
  int64_t last = st.getShape().back(), packedLast = zt.getShape().back();
  if (std::optional<std::vector<char>> packed = constantBytes(zp)) {
    std::vector<char> values(type.getNumElements());
    for (int64_t i = 0, e = values.size(); i < e; ++i) {
      int64_t row = i / last, col = i % last;
      auto byte = static_cast<unsigned char>(
          (*packed)[row * packedLast + col / 2]);
      values[i] = static_cast<char>(col % 2 ? byte >> 4 : byte & 15);
    }
    return createBlobConstant(rewriter, loc, type, values, "zero_points");
  }
  Value bytes = asBytes(rewriter, loc, zp);
  auto gen = tensor::GenerateOp::create(
      rewriter, loc, type, ValueRange{},
      [&](OpBuilder &b, Location l, ValueRange at) {
        SmallVector<Value> src(at);
        Value two = arith::ConstantIndexOp::create(b, l, 2);
        src.back() = arith::DivUIOp::create(b, l, at.back(), two);
        Value byte = tensor::ExtractOp::create(b, l, bytes, src);
        Type i8 = b.getIntegerType(8);
        Value odd = arith::IndexCastOp::create(
            b, l, i8, arith::RemUIOp::create(b, l, at.back(), two));
        Value shift = arith::MulIOp::create(
            b, l, odd, arith::ConstantOp::create(b, l, b.getI8IntegerAttr(4)));
        Value shifted = arith::ShRUIOp::create(b, l, byte, shift);
        Value mask = arith::ConstantOp::create(b, l, b.getI8IntegerAttr(15));
        Value nibble = arith::AndIOp::create(b, l, shifted, mask);
        tensor::YieldOp::create(b, l, nibble);
      });
  return gen.getResult();
}

LogicalResult quantInputs(onnx::QMoEOp op, PatternRewriter &rewriter,
                          QuantInputs &q) {
  q.bits = op.getExpertWeightBits();
  if (q.bits != 4 && q.bits != 8)
    return op.emitError() << "expert_weight_bits must be 4 or 8, got "
                          << q.bits;
  q.block = op.getBlockSize().value_or(0);
  if (q.block < 0)
    return op.emitError() << "block_size must be positive, got " << q.block;
  if (!isa<NoneType>(op.getRouterWeights().getType()))
    return op.emitError("QMoE with router_weights is not supported");
  q.fc1Scales = orNull(op.getFc1Scales());
  q.fc2Scales = orNull(op.getFc2Scales());
  q.fc3Scales = orNull(op.getFc3Scales());
  if (!q.fc1Scales || !q.fc2Scales)
    return op.emitError("QMoE needs fc1_scales and fc2_scales");
  Location loc = op.getLoc();
  for (auto [zp, scales, out, name] :
       {std::tuple{op.getFc1ZeroPoints(), q.fc1Scales, &q.fc1ZeroPoints,
                   "fc1_zero_points"},
        std::tuple{op.getFc2ZeroPoints(), q.fc2Scales, &q.fc2ZeroPoints,
                   "fc2_zero_points"},
        std::tuple{op.getFc3ZeroPoints(), q.fc3Scales, &q.fc3ZeroPoints,
                   "fc3_zero_points"}}) {
    if (isa<NoneType>(zp.getType()))
      continue;
    if (!scales)
      return op.emitError() << name << " given without its scales";
    FailureOr<Value> unpacked =
        unpackZeroPoints(rewriter, loc, op, zp, scales, q.bits, name);
    if (failed(unpacked))
      return failure();
    *out = *unpacked;
  }
  return success();
}

template <typename OpT> struct RaiseMoE : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;

  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    const std::pair<Value, StringRef> inputs[] = {
        {op.getInput(), "input"},
        {op.getRouterProbs(), "router_probs"},
        {op.getFc1ExpertsWeights(), "fc1_experts_weights"},
        {op.getFc1ExpertsBias(), "fc1_experts_bias"},
        {op.getFc2ExpertsWeights(), "fc2_experts_weights"},
        {op.getFc2ExpertsBias(), "fc2_experts_bias"},
        {op.getFc3ExpertsWeights(), "fc3_experts_weights"},
        {op.getFc3ExpertsBias(), "fc3_experts_bias"}};
    for (auto [value, name] : inputs)
      if (failed(requireRanked(op, value, name)))
        return failure();
    if (op.getUseSparseMixer())
      return op.emitError("use_sparse_mixer routing is not supported");
    if (op.getSwigluLimitAfterActivation())
      return op.emitError("swiglu_limit_after_activation is not supported");

    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto routerType = cast<RankedTensorType>(op.getRouterProbs().getType());
    auto fc1Type = cast<RankedTensorType>(op.getFc1ExpertsWeights().getType());
    if (inputType.getRank() != 2 && inputType.getRank() != 3)
      return op.emitError()
             << "expects input of rank 2 or 3, got " << inputType;
    // onnxruntime takes router_probs as [rows, E] also for a 3-D input.
    if (routerType.getRank() != 2 &&
        routerType.getRank() != inputType.getRank())
      return op.emitError() << "expects router_probs of rank 2 or of the "
                               "input's rank, got "
                            << routerType;
    int64_t hidden = inputType.getShape().back();
    bool quantized = std::is_same_v<OpT, onnx::QMoEOp>;
    if (!quantized && fc1Type.getRank() == 3 && hidden != kDynamic &&
        fc1Type.getDimSize(2) != hidden && fc1Type.getDimSize(1) == hidden)
      return op.emitError()
             << "fc1_experts_weights " << fc1Type
             << " is laid out [experts, in, out]; onnxruntime's MoE (and "
                "moe.layer) expect [experts, out, in] = [E, F, "
             << hidden << "]";
    if (op.getK() < 1)
      return op.emitError() << "k must be at least 1, got " << op.getK();

    FailureOr<ActivationAttr> act = mapActivation(op);
    if (failed(act))
      return failure();
    QuantInputs q;
    if (failed(quantInputs(op, rewriter, q)))
      return failure();
    auto routing =
        RoutingAttr::get(op.getContext(), Scoring::softmax, op.getK(),
                         op.getNormalizeRoutingWeights() != 0);

    Value hiddenStates = flattenTokens(rewriter, loc, op.getInput());
    Value logits = flattenTokens(rewriter, loc, op.getRouterProbs());
    auto layer = LayerOp::create(
        rewriter, loc, hiddenStates.getType(), hiddenStates, logits,
        /*router_weight=*/Value(), /*router_bias=*/Value(),
        asBytes(rewriter, loc, op.getFc1ExpertsWeights()),
        orNull(op.getFc1ExpertsBias()),
        asBytes(rewriter, loc, orNull(op.getFc3ExpertsWeights())),
        orNull(op.getFc3ExpertsBias()),
        asBytes(rewriter, loc, op.getFc2ExpertsWeights()),
        orNull(op.getFc2ExpertsBias()),
        /*shared_fc1=*/Value(), /*shared_fc3=*/Value(),
        /*shared_fc2=*/Value(), /*shared_gate=*/Value(), q.fc1Scales,
        q.fc3Scales, q.fc2Scales, q.fc1ZeroPoints, q.fc3ZeroPoints,
        q.fc2ZeroPoints, routing, *act, q.bits, q.block);
    if (failed(layer.verify()))
      return failure();
    Value result = layer.getResult();
    if (inputType.getRank() == 3) {
      // Restore [B, S, H]. tensor.reshape rather than expand_shape: with two
      // dynamic sizes in one group, LLVM 22's expand-strided-metadata crashes
      // on the bufferized expand_shape.
      SmallVector<Value> sizes;
      for (int64_t i = 0; i < 3; ++i)
        sizes.push_back(
            inputType.isDynamicDim(i)
                ? Value(tensor::DimOp::create(rewriter, loc, op.getInput(), i))
                : Value(arith::ConstantIndexOp::create(
                      rewriter, loc, inputType.getDimSize(i))));
      Value shape = tensor::FromElementsOp::create(rewriter, loc, sizes);
      result =
          tensor::ReshapeOp::create(rewriter, loc, inputType, result, shape);
    }
    if (result.getType() != op.getType())
      result = tensor::CastOp::create(rewriter, loc, op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct RaiseONNXMoEPass : moe::impl::RaiseONNXMoEBase<RaiseONNXMoEPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseMoE<onnx::MoEOp>, RaiseMoE<onnx::QMoEOp>>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    // A node left over could not be mapped; the pattern said why.
    if (getOperation()
            ->walk([](Operation *op) {
              return isa<onnx::MoEOp, onnx::QMoEOp>(op)
                         ? WalkResult::interrupt()
                         : WalkResult::advance();
            })
            .wasInterrupted())
      return signalPassFailure();
    // The `none` placeholders of the raised nodes' absent inputs.
    getOperation()->walk([](onnx::NoValueOp op) {
      if (op->use_empty())
        op->erase();
    });
  }
};
} // namespace
