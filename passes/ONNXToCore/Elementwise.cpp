//===- Elementwise.cpp - onnx elementwise ops -> linalg.generic -----------===//
//
// Every elementwise ONNX op becomes one linalg.generic over the result shape
// with numpy broadcasting in its indexing maps. 16-bit floats are computed in
// f32 where the function is transcendental, then rounded once.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe::onnx_to_core;

namespace {
/// Scalar body: (builder, loc, input scalars, result element type, op).
using BodyFn = Value (*)(OpBuilder &, Location, ValueRange, Type, Operation *);

bool isSignlessIntOrFloat(Type t) {
  return isa<FloatType>(t) || t.isSignlessInteger();
}

template <typename OpT> struct ElementwisePattern : OpRewritePattern<OpT> {
  ElementwisePattern(MLIRContext *ctx, BodyFn body)
      : OpRewritePattern<OpT>(ctx), body(body) {}

  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!type || !isSignlessIntOrFloat(type.getElementType()))
      return rewriter.notifyMatchFailure(op, "needs a ranked signless result");
    for (Value v : op->getOperands()) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      if (!t || !isSignlessIntOrFloat(t.getElementType()))
        return rewriter.notifyMatchFailure(op, "needs ranked signless inputs");
    }
    Operation *raw = op.getOperation();
    auto result = buildElementwise(
        rewriter, op.getLoc(), type, op->getOperands(),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          return body(b, loc, args, type.getElementType(), raw);
        });
    if (failed(result))
      return rewriter.notifyMatchFailure(op, "cannot size a dynamic result");
    rewriter.replaceOp(op, *result);
    return success();
  }

  BodyFn body;
};

Value floatConst(OpBuilder &b, Location loc, Type type, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, v));
}

/// Applies `f` in f32 and rounds back to the result type.
template <typename F>
Value inF32(OpBuilder &b, Location loc, Value x, Type resultType, F f) {
  return fromF32(b, loc, f(toF32(b, loc, x)), resultType);
}

Value sigmoidF32(OpBuilder &b, Location loc, Value x) {
  Value one = floatConst(b, loc, b.getF32Type(), 1.0);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, e));
}

template <typename FloatOp, typename IntOp>
Value binary(OpBuilder &b, Location loc, ValueRange a, Type t, Operation *) {
  if (isa<FloatType>(t))
    return FloatOp::create(b, loc, a[0], a[1]);
  return IntOp::create(b, loc, a[0], a[1]);
}

template <arith::CmpFPredicate FP, arith::CmpIPredicate IP>
Value compare(OpBuilder &b, Location loc, ValueRange a, Type, Operation *) {
  if (isa<FloatType>(a[0].getType()))
    return arith::CmpFOp::create(b, loc, FP, a[0], a[1]);
  return arith::CmpIOp::create(b, loc, IP, a[0], a[1]);
}

template <typename FloatOp, typename IntOp>
Value fold(OpBuilder &b, Location loc, ValueRange a, Type t, Operation *op) {
  Value acc = a[0];
  for (Value v : a.drop_front())
    acc = binary<FloatOp, IntOp>(b, loc, {acc, v}, t, op);
  return acc;
}

template <typename MathOp>
Value unaryF32(OpBuilder &b, Location loc, ValueRange a, Type t, Operation *) {
  return inF32(b, loc, a[0], t,
               [&](Value x) -> Value { return MathOp::create(b, loc, x); });
}

/// Pow: integer bases with integer exponents stay integers (math.ipowi);
/// otherwise in f32, converted to the base's type.
Value pow(OpBuilder &b, Location loc, ValueRange a, Type t, Operation *) {
  Value exponent = a[1];
  if (t.isSignlessInteger()) {
    Type et = exponent.getType();
    if (et.isSignlessInteger()) {
      unsigned from = et.getIntOrFloatBitWidth(),
               to = t.getIntOrFloatBitWidth();
      if (from < to)
        exponent = arith::ExtSIOp::create(b, loc, t, exponent);
      else if (from > to)
        exponent = arith::TruncIOp::create(b, loc, t, exponent);
      return math::IPowIOp::create(b, loc, a[0], exponent);
    }
    Value base = arith::SIToFPOp::create(b, loc, b.getF32Type(), a[0]);
    Value p = math::PowFOp::create(b, loc, base, toF32(b, loc, exponent));
    return arith::FPToSIOp::create(b, loc, t, p);
  }
  if (exponent.getType().isSignlessInteger())
    exponent = arith::SIToFPOp::create(b, loc, b.getF32Type(), exponent);
  return inF32(b, loc, a[0], t, [&](Value x) -> Value {
    return math::PowFOp::create(b, loc, x, toF32(b, loc, exponent));
  });
}

Value castScalar(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (to.isInteger(1)) {
    if (fromFloat)
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, v,
                                   floatConst(b, loc, from, 0.0));
    return arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne, v,
        arith::ConstantOp::create(b, loc, b.getIntegerAttr(from, 0)));
  }
  if (fromFloat && toFloat)
    return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
               ? Value(arith::ExtFOp::create(b, loc, to, v))
               : Value(arith::TruncFOp::create(b, loc, to, v));
  if (fromFloat)
    return arith::FPToSIOp::create(b, loc, to, v);
  // Booleans are unsigned (true = 1); other integers are signed in ONNX's
  // signless encoding here.
  bool unsignedSource = from.isInteger(1);
  if (toFloat)
    return unsignedSource ? Value(arith::UIToFPOp::create(b, loc, to, v))
                          : Value(arith::SIToFPOp::create(b, loc, to, v));
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return unsignedSource ? Value(arith::ExtUIOp::create(b, loc, to, v))
                          : Value(arith::ExtSIOp::create(b, loc, to, v));
  return arith::TruncIOp::create(b, loc, to, v);
}

/// -1, 0 or 1 (NaN stays NaN for floats).
Value sign(OpBuilder &b, Location loc, ValueRange a, Type t, Operation *) {
  Value x = a[0];
  if (isa<FloatType>(t)) {
    Value zero = floatConst(b, loc, t, 0), one = floatConst(b, loc, t, 1);
    Value neg = floatConst(b, loc, t, -1);
    Value gt =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
    Value lt =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, zero);
    Value eq =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, zero);
    Value r = arith::SelectOp::create(b, loc, gt, one, x);
    r = arith::SelectOp::create(b, loc, lt, neg, r);
    return arith::SelectOp::create(b, loc, eq, zero, r);
  }
  auto c = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getIntegerAttr(t, v));
  };
  Value gt = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, x, c(0));
  Value lt = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, c(0));
  Value r = arith::SelectOp::create(b, loc, gt, c(1), c(0));
  return arith::SelectOp::create(b, loc, lt, c(-1), r);
}

Value relu(OpBuilder &b, Location loc, ValueRange a, Type t, Operation *) {
  if (isa<FloatType>(t))
    return arith::MaximumFOp::create(b, loc, a[0], floatConst(b, loc, t, 0));
  return arith::MaxSIOp::create(
      b, loc, a[0], arith::ConstantOp::create(b, loc, b.getIntegerAttr(t, 0)));
}

Value gelu(OpBuilder &b, Location loc, ValueRange a, Type t, Operation *op) {
  bool tanhForm = cast<onnx::GeluOp>(op).getApproximate() == "tanh";
  return inF32(b, loc, a[0], t, [&](Value x) -> Value {
    Type f32 = b.getF32Type();
    Value half = floatConst(b, loc, f32, 0.5), one = floatConst(b, loc, f32, 1);
    Value inner;
    if (tanhForm) {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      Value x3 =
          arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
      Value poly = arith::AddFOp::create(
          b, loc, x,
          arith::MulFOp::create(b, loc, floatConst(b, loc, f32, 0.044715), x3));
      inner = math::TanhOp::create(
          b, loc,
          arith::MulFOp::create(
              b, loc, floatConst(b, loc, f32, std::sqrt(2.0 / M_PI)), poly));
    } else {
      // 0.5 x (1 + erf(x / sqrt(2)))
      inner = math::ErfOp::create(
          b, loc,
          arith::MulFOp::create(b, loc, x,
                                floatConst(b, loc, f32, 1.0 / std::sqrt(2.0))));
    }
    return arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, half, x),
                                 arith::AddFOp::create(b, loc, one, inner));
  });
}

/// Clip with optional min/max (absent inputs are `none`): the elementwise
/// pattern sees only the present ones, so it is its own pattern.
struct ClipPattern : OpRewritePattern<onnx::ClipOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ClipOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || !isSignlessIntOrFloat(type.getElementType()))
      return rewriter.notifyMatchFailure(op, "needs a ranked signless result");
    SmallVector<Value> inputs = {op.getInput()};
    bool hasMin = !isa<NoneType>(op.getMin().getType());
    bool hasMax = !isa<NoneType>(op.getMax().getType());
    if (hasMin)
      inputs.push_back(op.getMin());
    if (hasMax)
      inputs.push_back(op.getMax());
    for (Value v : inputs)
      if (!isa<RankedTensorType>(v.getType()))
        return rewriter.notifyMatchFailure(op, "needs ranked inputs");
    bool isFloat = isa<FloatType>(type.getElementType());
    auto result = buildElementwise(
        rewriter, op.getLoc(), type, inputs,
        [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
          Value v = a[0];
          unsigned next = 1;
          if (hasMin)
            v = isFloat ? Value(arith::MaximumFOp::create(b, loc, v, a[next++]))
                        : Value(arith::MaxSIOp::create(b, loc, v, a[next++]));
          if (hasMax)
            v = isFloat ? Value(arith::MinimumFOp::create(b, loc, v, a[next]))
                        : Value(arith::MinSIOp::create(b, loc, v, a[next]));
          return v;
        });
    if (failed(result))
      return rewriter.notifyMatchFailure(op, "cannot size the result");
    rewriter.replaceOp(op, *result);
    return success();
  }
};

/// Mod. Integer division by zero (and INT_MIN by -1) traps on x86, so
/// those lanes divide by 1 and give 0, as NumPy does for x % 0.
struct ModPattern : OpRewritePattern<onnx::ModOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::ModOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || !isSignlessIntOrFloat(type.getElementType()) ||
        !isa<RankedTensorType>(op.getA().getType()) ||
        !isa<RankedTensorType>(op.getB().getType()))
      return rewriter.notifyMatchFailure(op, "needs ranked signless tensors");
    bool isFloat = isa<FloatType>(type.getElementType());
    bool cStyle = op.getFmod() != 0;
    auto result = buildElementwise(
        rewriter, op.getLoc(), type, {op.getA(), op.getB()},
        [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
          Value x = a[0], y = a[1];
          if (isFloat) {
            Value r = arith::RemFOp::create(b, loc, x, y);
            if (cStyle)
              return r;
            // NumPy's mod: a nonzero remainder moves to the divisor's side
            // of zero, a zero one takes the divisor's sign.
            using P = arith::CmpFPredicate;
            Value zero = floatConst(b, loc, x.getType(), 0);
            Value differ = arith::XOrIOp::create(
                b, loc, arith::CmpFOp::create(b, loc, P::OLT, r, zero),
                arith::CmpFOp::create(b, loc, P::OLT, y, zero));
            Value nonzero = arith::CmpFOp::create(b, loc, P::ONE, r, zero);
            Value fix = arith::AndIOp::create(b, loc, differ, nonzero);
            r = arith::SelectOp::create(
                b, loc, fix, arith::AddFOp::create(b, loc, r, y), r);
            Value isZero = arith::CmpFOp::create(b, loc, P::OEQ, r, zero);
            return arith::SelectOp::create(
                b, loc, isZero, math::CopySignOp::create(b, loc, zero, y), r);
          }
          Type t = x.getType();
          auto c = [&](int64_t v) -> Value {
            return arith::ConstantOp::create(b, loc, b.getIntegerAttr(t, v));
          };
          using P = arith::CmpIPredicate;
          Value zero = c(0);
          Value trivial = arith::OrIOp::create(
              b, loc, arith::CmpIOp::create(b, loc, P::eq, y, zero),
              arith::CmpIOp::create(b, loc, P::eq, y, c(-1)));
          Value safe = arith::SelectOp::create(b, loc, trivial, c(1), y);
          Value r = arith::RemSIOp::create(b, loc, x, safe);
          if (!cStyle) {
            // Move a nonzero remainder to the divisor's side of zero.
            Value differ = arith::XOrIOp::create(
                b, loc, arith::CmpIOp::create(b, loc, P::slt, r, zero),
                arith::CmpIOp::create(b, loc, P::slt, safe, zero));
            Value fix = arith::AndIOp::create(
                b, loc, differ, arith::CmpIOp::create(b, loc, P::ne, r, zero));
            r = arith::SelectOp::create(
                b, loc, fix, arith::AddIOp::create(b, loc, r, safe), r);
          }
          return arith::SelectOp::create(b, loc, trivial, zero, r);
        });
    if (failed(result))
      return rewriter.notifyMatchFailure(op, "cannot size the result");
    rewriter.replaceOp(op, *result);
    return success();
  }
};

template <typename OpT> void add(RewritePatternSet &patterns, BodyFn body) {
  patterns.add<ElementwisePattern<OpT>>(patterns.getContext(), body);
}
} // namespace

void mlir::moe::onnx_to_core::populateElementwisePatterns(
    RewritePatternSet &patterns) {
  using namespace mlir::onnx;
  add<AddOp>(patterns, binary<arith::AddFOp, arith::AddIOp>);
  add<SubOp>(patterns, binary<arith::SubFOp, arith::SubIOp>);
  add<MulOp>(patterns, binary<arith::MulFOp, arith::MulIOp>);
  add<DivOp>(patterns, binary<arith::DivFOp, arith::DivSIOp>);
  add<PowOp>(patterns, pow);
  add<MaxOp>(patterns, fold<arith::MaximumFOp, arith::MaxSIOp>);
  add<MinOp>(patterns, fold<arith::MinimumFOp, arith::MinSIOp>);
  add<AndOp>(patterns, binary<arith::AndIOp, arith::AndIOp>);
  add<OrOp>(patterns, binary<arith::OrIOp, arith::OrIOp>);
  using FP = arith::CmpFPredicate;
  using IP = arith::CmpIPredicate;
  add<EqualOp>(patterns, compare<FP::OEQ, IP::eq>);
  add<LessOp>(patterns, compare<FP::OLT, IP::slt>);
  add<LessOrEqualOp>(patterns, compare<FP::OLE, IP::sle>);
  add<GreaterOp>(patterns, compare<FP::OGT, IP::sgt>);
  add<GreaterOrEqualOp>(patterns, compare<FP::OGE, IP::sge>);
  add<WhereOp>(
      patterns,
      [](OpBuilder &b, Location loc, ValueRange a, Type, Operation *) -> Value {
        return arith::SelectOp::create(b, loc, a[0], a[1], a[2]);
      });
  add<NotOp>(
      patterns,
      [](OpBuilder &b, Location loc, ValueRange a, Type, Operation *) -> Value {
        Value one = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
        return arith::XOrIOp::create(b, loc, a[0], one);
      });
  add<NegOp>(patterns,
             [](OpBuilder &b, Location loc, ValueRange a, Type t,
                Operation *) -> Value {
               if (isa<FloatType>(t))
                 return arith::NegFOp::create(b, loc, a[0]);
               Value zero =
                   arith::ConstantOp::create(b, loc, b.getIntegerAttr(t, 0));
               return arith::SubIOp::create(b, loc, zero, a[0]);
             });
  add<AbsOp>(patterns,
             [](OpBuilder &b, Location loc, ValueRange a, Type t,
                Operation *) -> Value {
               if (isa<FloatType>(t))
                 return math::AbsFOp::create(b, loc, a[0]);
               return math::AbsIOp::create(b, loc, a[0]);
             });
  add<ReluOp>(patterns, relu);
  add<ReciprocalOp>(patterns,
                    [](OpBuilder &b, Location loc, ValueRange a, Type t,
                       Operation *) -> Value {
                      return arith::DivFOp::create(
                          b, loc, floatConst(b, loc, t, 1.0), a[0]);
                    });
  add<SqrtOp>(patterns, unaryF32<math::SqrtOp>);
  add<TanhOp>(patterns, unaryF32<math::TanhOp>);
  add<ErfOp>(patterns, unaryF32<math::ErfOp>);
  add<ExpOp>(patterns, unaryF32<math::ExpOp>);
  add<LogOp>(patterns, unaryF32<math::LogOp>);
  add<SigmoidOp>(patterns,
                 [](OpBuilder &b, Location loc, ValueRange a, Type t,
                    Operation *) -> Value {
                   return inF32(b, loc, a[0], t,
                                [&](Value x) { return sigmoidF32(b, loc, x); });
                 });
  add<SoftplusOp>(patterns,
                  [](OpBuilder &b, Location loc, ValueRange a, Type t,
                     Operation *) -> Value {
                    return inF32(b, loc, a[0], t, [&](Value x) -> Value {
                      return math::Log1pOp::create(
                          b, loc, math::ExpOp::create(b, loc, x));
                    });
                  });
  add<GeluOp>(patterns, gelu);
  add<FloorOp>(patterns, unaryF32<math::FloorOp>);
  add<CeilOp>(patterns, unaryF32<math::CeilOp>);
  add<RoundOp>(patterns, unaryF32<math::RoundEvenOp>);
  add<CosOp>(patterns, unaryF32<math::CosOp>);
  add<SinOp>(patterns, unaryF32<math::SinOp>);
  add<TanOp>(patterns, unaryF32<math::TanOp>);
  add<AcosOp>(patterns, unaryF32<math::AcosOp>);
  add<AsinOp>(patterns, unaryF32<math::AsinOp>);
  add<AtanOp>(patterns, unaryF32<math::AtanOp>);
  add<CoshOp>(patterns, unaryF32<math::CoshOp>);
  add<SinhOp>(patterns, unaryF32<math::SinhOp>);
  add<AcoshOp>(patterns, unaryF32<math::AcoshOp>);
  add<AsinhOp>(patterns, unaryF32<math::AsinhOp>);
  add<AtanhOp>(patterns, unaryF32<math::AtanhOp>);
  add<SignOp>(patterns, sign);
  add<SoftsignOp>(patterns,
                  [](OpBuilder &b, Location loc, ValueRange a, Type t,
                     Operation *) -> Value {
                    return inF32(b, loc, a[0], t, [&](Value x) -> Value {
                      Value one = floatConst(b, loc, b.getF32Type(), 1.0);
                      Value d = arith::AddFOp::create(
                          b, loc, one, math::AbsFOp::create(b, loc, x));
                      return arith::DivFOp::create(b, loc, x, d);
                    });
                  });
  add<IsNaNOp>(
      patterns,
      [](OpBuilder &b, Location loc, ValueRange a, Type, Operation *) -> Value {
        return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, a[0],
                                     a[0]);
      });
  add<CastOp>(patterns,
              [](OpBuilder &b, Location loc, ValueRange a, Type t,
                 Operation *) -> Value { return castScalar(b, loc, a[0], t); });
  patterns.add<ClipPattern, ModPattern>(patterns.getContext());
}
