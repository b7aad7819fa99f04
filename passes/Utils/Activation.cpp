//===- Activation.cpp - the math of #moe.activation -----------------------===//

#include "Utils/Activation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;

namespace {
/// The math of one activation on f32 scalars or vectors of f32 (constants
/// take the operand's shape, so the CPU's GEMM tiles apply it lane-wise).
struct Math {
  OpBuilder &b;
  Location loc;
  Type type;
  Value f32(double v) {
    FloatAttr attr = b.getF32FloatAttr(v);
    if (auto vec = dyn_cast<VectorType>(type))
      return arith::ConstantOp::create(b, loc,
                                       DenseElementsAttr::get(vec, attr));
    return arith::ConstantOp::create(b, loc, attr);
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value sigmoid(Value x) {
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    return arith::DivFOp::create(b, loc, f32(1.0), add(f32(1.0), e));
  }

  Value apply(ActivationKind kind, double alpha, Value x) {
    switch (kind) {
    case ActivationKind::identity:
      return x;
    case ActivationKind::relu:
      return arith::MaximumFOp::create(b, loc, x, f32(0));
    case ActivationKind::silu:
      return mul(x, sigmoid(alpha == 1.0 ? x : mul(f32(alpha), x)));
    case ActivationKind::gelu: {
      Value erf = math::ErfOp::create(b, loc, mul(x, f32(M_SQRT1_2)));
      return mul(mul(f32(0.5), x), add(f32(1), erf));
    }
    case ActivationKind::gelu_tanh: {
      Value x3 = mul(x, mul(x, x));
      Value inner =
          mul(f32(std::sqrt(2.0 / M_PI)), add(x, mul(f32(0.044715), x3)));
      Value th = math::TanhOp::create(b, loc, inner);
      return mul(mul(f32(0.5), x), add(f32(1), th));
    }
    }
    llvm_unreachable("unknown activation");
  }
};
} // namespace

Value mlir::moe::emitActivation(OpBuilder &b, Location loc, ActivationAttr act,
                                Value g, Value u) {
  Math s{b, loc, g.getType()};
  double alpha = act.getAlpha().convertToDouble();
  if (!act.isGated())
    return s.apply(act.getKind(), alpha, g);
  if (!act.getLimit().isInfinity()) {
    double limit = act.getLimit().convertToDouble();
    g = arith::MinimumFOp::create(b, loc, g, s.f32(limit));
    u = arith::MinimumFOp::create(
        b, loc, arith::MaximumFOp::create(b, loc, u, s.f32(-limit)),
        s.f32(limit));
  }
  double beta = act.getBeta().convertToDouble();
  if (beta != 0.0)
    u = s.add(u, s.f32(beta));
  return s.mul(s.apply(act.getKind(), alpha, g), u);
}
