//===- DecomposedFFN.cpp - expert FFNs written as dense ops ---------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

namespace {
/// A constant weight, possibly cast to the compute type (w.float()).
Value weightOf(Value w) {
  w = stripFloatCasts(w);
  auto t = rankedType(w);
  if (t && t.getRank() == 2 && t.hasStaticShape() &&
      w.getDefiningOp<onnx::ConstantOp>())
    return w;
  return nullptr;
}

/// `b` when it is a constant bias of `lin`'s output width, shaped `[out]`
/// or `[1, out]` (so that it broadcasts along the rows only).
Value biasOf(Value b, const DecomposedLinear &lin) {
  b = stripFloatCasts(b);
  auto t = rankedType(b);
  auto w = rankedType(lin.weight);
  if (!t || !w || !t.hasStaticShape() || !b.getDefiningOp<onnx::ConstantOp>())
    return nullptr;
  int64_t out = w.getDimSize(lin.transposed ? 1 : 0);
  bool row =
      (t.getRank() == 1 && t.getDimSize(0) == out) ||
      (t.getRank() == 2 && t.getDimSize(0) == 1 && t.getDimSize(1) == out);
  return row ? b : nullptr;
}

std::optional<DecomposedLinear> matchUnbiased(Operation *op) {
  if (auto mm = dyn_cast_or_null<onnx::MatMulOp>(op)) {
    Value w = weightOf(mm.getB());
    if (!w)
      return std::nullopt;
    return DecomposedLinear{mm.getA(), w, /*transposed=*/true, Value()};
  }
  return std::nullopt;
}
} // namespace

std::optional<DecomposedLinear> mlir::moe::matchLinear(Value y) {
  Operation *op = y.getDefiningOp();
  if (auto lin = matchUnbiased(op))
    return lin;
  // MatMul then the bias added (nn.Linear with bias, as torch exports it).
  if (auto add = dyn_cast_or_null<onnx::AddOp>(op)) {
    for (auto [p, b] : {std::pair{add.getA(), add.getB()},
                        std::pair{add.getB(), add.getA()}}) {
      auto lin = matchUnbiased(p.getDefiningOp());
      if (!lin || !(lin->bias = biasOf(b, *lin)))
        continue;
      // The sum has the product's shape: the bias only broadcast.
      if (add.getC().getType() != p.getType())
        continue;
      return lin;
    }
    return std::nullopt;
  }
  if (auto gemm = dyn_cast_or_null<onnx::GemmOp>(op)) {
    Value w = weightOf(gemm.getB());
    if (!w || gemm.getTransA() != 0 || gemm.getAlpha().convertToFloat() != 1.0f)
      return std::nullopt;
    DecomposedLinear lin{gemm.getA(), w, gemm.getTransB() == 0, Value()};
    if (!isa<NoneType>(gemm.getC().getType()) &&
        gemm.getBeta().convertToFloat() != 0.0f) {
      if (gemm.getBeta().convertToFloat() != 1.0f ||
          !(lin.bias = biasOf(gemm.getC(), lin)))
        return std::nullopt;
    }
    return lin;
  }
  return std::nullopt;
}

namespace {
bool near(double value, double want) {
  return std::abs(value - want) <= 1e-6 * std::abs(want);
}

/// `v` as a product: its non-constant factors (through nested Muls and
/// `Pow(f, n)` for small whole n) and the product of its one-element
/// constant factors.
void productFactors(Value v, SmallVector<Value> &factors, double &scale,
                    int depth = 0) {
  if (depth < 6) {
    if (auto mul = v.getDefiningOp<onnx::MulOp>()) {
      productFactors(mul.getA(), factors, scale, depth + 1);
      productFactors(mul.getB(), factors, scale, depth + 1);
      return;
    }
    if (auto pow = v.getDefiningOp<onnx::PowOp>()) {
      std::optional<double> n = scalarFloat(pow.getB());
      if (!n) {
        std::optional<int64_t> i = scalarInt(pow.getB());
        if (i)
          n = static_cast<double>(*i);
      }
      if (n && *n >= 1 && *n <= 4 && *n == std::floor(*n)) {
        for (int i = 0; i < static_cast<int>(*n); ++i)
          productFactors(pow.getA(), factors, scale, depth + 1);
        return;
      }
    }
  }
  if (std::optional<double> c = scalarFloat(v)) {
    scale *= *c;
    return;
  }
  factors.push_back(v);
}

/// `1 + f(y)` for the unary op `Op` (Erf, Tanh): sets `y`.
template <typename Op> bool matchOnePlus(Value v, Value &y) {
  auto add = v.getDefiningOp<onnx::AddOp>();
  Value other;
  std::optional<double> one =
      add ? scalarFloatOperand(add, other) : std::nullopt;
  auto f = one && *one == 1.0 ? other.getDefiningOp<Op>() : nullptr;
  if (!f)
    return false;
  y = f->getOperand(0);
  return true;
}

/// GELU written out, as exporters without the Gelu op (opset < 20) do:
/// `0.5 x (1 + erf(x / sqrt(2)))`, or with tanh `0.5 x (1 + tanh(sqrt(2 /
/// pi) (x + 0.044715 x^3)))`, the factors in any order. Sets `g` to x.
std::optional<ActivationKind> matchWrittenGelu(Value v, Value &g) {
  SmallVector<Value> factors;
  double scale = 1;
  productFactors(v, factors, scale);
  if (factors.size() != 2 || !near(scale, 0.5))
    return std::nullopt;
  for (auto [x, rest] :
       {std::pair{factors[0], factors[1]}, std::pair{factors[1], factors[0]}}) {
    Value y;
    if (matchOnePlus<onnx::ErfOp>(rest, y)) {
      // x / sqrt(2) or x * (1 / sqrt(2)).
      SmallVector<Value> inner;
      double innerScale = 1;
      if (auto div = y.getDefiningOp<onnx::DivOp>()) {
        std::optional<double> d = scalarFloat(div.getB());
        if (!d || *d == 0.0)
          continue;
        innerScale = 1.0 / *d;
        productFactors(div.getA(), inner, innerScale);
      } else {
        productFactors(y, inner, innerScale);
      }
      if (inner.size() == 1 && inner[0] == x && near(innerScale, M_SQRT1_2)) {
        g = x;
        return ActivationKind::gelu;
      }
    }
    if (matchOnePlus<onnx::TanhOp>(rest, y)) {
      // sqrt(2 / pi) * (x + 0.044715 * x^3).
      SmallVector<Value> inner;
      double innerScale = 1;
      productFactors(y, inner, innerScale);
      auto add =
          inner.size() == 1 ? inner[0].getDefiningOp<onnx::AddOp>() : nullptr;
      if (!add || !near(innerScale, std::sqrt(2.0 / M_PI)))
        continue;
      for (auto [lin, cube] : {std::pair{add.getA(), add.getB()},
                               std::pair{add.getB(), add.getA()}}) {
        SmallVector<Value> xs;
        double kappa = 1;
        productFactors(cube, xs, kappa);
        Value input = x;
        if (lin == input && near(kappa, 0.044715) && xs.size() == 3 &&
            llvm::all_of(xs, [&](Value f) { return f == input; })) {
          g = x;
          return ActivationKind::gelu_tanh;
        }
      }
    }
  }
  return std::nullopt;
}

} // namespace

std::optional<ActivationKind> mlir::moe::matchActivation(Value v, Value &g) {
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
    return matchWrittenGelu(v, g);
  }
  return std::nullopt;
}

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
