//===- DecomposedFFN.cpp - expert FFNs written as dense ops ---------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

std::optional<DecomposedLinear> mlir::moe::matchLinear(Value y) {
  Operation *op = y.getDefiningOp();
  // A constant weight, possibly cast to the compute type (w.float()).
  auto weightOf = [](Value w) -> Value {
    w = stripFloatCasts(w);
    auto t = rankedType(w);
    if (t && t.getRank() == 2 && t.hasStaticShape() &&
        w.getDefiningOp<onnx::ConstantOp>())
      return w;
    return nullptr;
  };
  if (auto mm = dyn_cast_or_null<onnx::MatMulOp>(op)) {
    Value w = weightOf(mm.getB());
    if (!w)
      return std::nullopt;
    return DecomposedLinear{mm.getA(), w, /*transposed=*/true};
  }
  if (auto gemm = dyn_cast_or_null<onnx::GemmOp>(op)) {
    Value w = weightOf(gemm.getB());
    if (!w || gemm.getTransA() != 0 ||
        gemm.getAlpha().convertToFloat() != 1.0f ||
        !isa<NoneType>(gemm.getC().getType()))
      return std::nullopt;
    return DecomposedLinear{gemm.getA(), w, gemm.getTransB() == 0};
  }
  return std::nullopt;
}

namespace {
/// `act(g)` for an activation the expert FFNs use: relu, or silu written as
/// `g * sigmoid(g)`. Sets `g`.
std::optional<ActivationKind> matchActivation(Value v, Value &g) {
  Operation *op = v.getDefiningOp();
  if (auto relu = dyn_cast_or_null<onnx::ReluOp>(op)) {
    g = relu.getX();
    return ActivationKind::relu;
  }
  if (auto gelu = dyn_cast_or_null<onnx::GeluOp>(op)) {
    g = gelu.getX();
    if (gelu.getApproximate() == "none")
      return ActivationKind::gelu;
    if (gelu.getApproximate() == "tanh")
      return ActivationKind::gelu_tanh;
    return std::nullopt;
  }
  if (auto mul = dyn_cast_or_null<onnx::MulOp>(op)) {
    for (auto [a, b] : {std::pair{mul.getA(), mul.getB()},
                        std::pair{mul.getB(), mul.getA()}}) {
      auto sig = b.getDefiningOp<onnx::SigmoidOp>();
      if (sig && sig.getX() == a) {
        g = a;
        return ActivationKind::silu;
      }
    }
  }
  return std::nullopt;
}
} // namespace

std::optional<DecomposedFFN> mlir::moe::matchFFN(Value y) {
  std::optional<DecomposedLinear> down = matchLinear(y);
  if (!down)
    return std::nullopt;
  DecomposedFFN ffn;
  ffn.down = *down;
  Value g;
  // Ungated: down(act(fc1(x))).
  if (auto act = matchActivation(down->input, g)) {
    if (auto fc1 = matchLinear(g)) {
      ffn.gate = *fc1;
      ffn.activation = *act;
      ffn.input = fc1->input;
      return ffn;
    }
  }
  // Gated: down(act(gate(x)) * up(x)).
  auto mul = down->input.getDefiningOp<onnx::MulOp>();
  if (!mul)
    return std::nullopt;
  for (auto [a, u] :
       {std::pair{mul.getA(), mul.getB()}, std::pair{mul.getB(), mul.getA()}}) {
    auto act = matchActivation(a, g);
    auto gate = act ? matchLinear(g) : std::nullopt;
    auto up = gate ? matchLinear(u) : std::nullopt;
    if (!up || up->input != gate->input)
      continue;
    ffn.gate = *gate;
    ffn.up = *up;
    ffn.activation = *act;
    ffn.input = gate->input;
    return ffn;
  }
  return std::nullopt;
}
