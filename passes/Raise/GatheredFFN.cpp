//===- GatheredFFN.cpp - one expert's FFN from stacked parameters ---------===//
//
// transformers' eager expert loop applies expert e's FFN with that expert's
// matrices taken from the stacked parameters: `W[e]` is a Gather at a
// scalar expert id, used as a MatMul or Gemm operand (transposed or not),
// and `B[e]` the bias added after it.
//
//===----------------------------------------------------------------------===//

#include "DecomposedMoE.h"
#include "ONNXValueMatchers.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::match;

namespace {
/// `D[e]` for a stacked constant D of rank `rank` (through float casts),
/// gathered along axis 0 at a scalar id that `isExpert` accepts: D.
Value gatheredConstant(Value v, int64_t rank,
                       llvm::function_ref<bool(Value)> isExpert) {
  auto g = v.getDefiningOp<onnx::GatherOp>();
  auto it = g ? rankedType(g.getIndices()) : nullptr;
  if (!g || g.getAxis() != 0 || !it || it.getRank() != 0 ||
      !isExpert(g.getIndices()))
    return nullptr;
  Value d = stripFloatCasts(g.getData());
  auto dt = rankedType(d);
  if (!dt || dt.getRank() != rank || !dt.hasStaticShape() ||
      !d.getDefiningOp<onnx::ConstantOp>())
    return nullptr;
  return d;
}

/// A projection of rank-2 rows by `W[e]`: sets `lin` and returns its input.
Value matchUnbiasedGathered(Value y, llvm::function_ref<bool(Value)> isExpert,
                            StackedLinear &lin) {
  Operation *op = y.getDefiningOp();
  Value in, b;
  bool transposeB = false;
  if (auto mm = dyn_cast_or_null<onnx::MatMulOp>(op)) {
    in = mm.getA();
    b = mm.getB();
  } else if (auto gemm = dyn_cast_or_null<onnx::GemmOp>(op)) {
    // A bias as Gemm's C is read by the caller.
    if (gemm.getTransA() != 0 || gemm.getAlpha().convertToFloat() != 1.0f)
      return nullptr;
    in = gemm.getA();
    b = gemm.getB();
    transposeB = gemm.getTransB() != 0;
  } else {
    return nullptr;
  }
  // x W[e]^T with W [E, out, in], written Transpose(W[e]) or Gemm's transB.
  if (auto tr = b.getDefiningOp<onnx::TransposeOp>(); tr && !transposeB) {
    auto perm = tr.getPerm();
    bool swap = !perm || (perm->size() == 2 &&
                          cast<IntegerAttr>((*perm)[0]).getInt() == 1 &&
                          cast<IntegerAttr>((*perm)[1]).getInt() == 0);
    if (!swap)
      return nullptr;
    b = tr.getData();
    transposeB = true;
  }
  Value w = gatheredConstant(b, 3, isExpert);
  auto it = rankedType(in), yt = rankedType(y);
  if (!w || !it || !yt || it.getRank() != 2 || yt.getRank() != 2)
    return nullptr;
  auto wt = rankedType(w);
  // Stored [E, in, out] unless the product transposes it.
  int64_t inDim = wt.getDimSize(transposeB ? 2 : 1);
  int64_t outDim = wt.getDimSize(transposeB ? 1 : 2);
  if (it.getDimSize(1) != inDim || yt.getDimSize(1) != outDim)
    return nullptr;
  lin = StackedLinear{w, /*transposed=*/!transposeB, Value()};
  return in;
}

/// The same plus `B[e]` (B [E, out]) added, or given as Gemm's C.
Value matchGatheredLinear(Value y, llvm::function_ref<bool(Value)> isExpert,
                          StackedLinear &lin) {
  auto biasFits = [&](Value bias) {
    auto bt = rankedType(bias);
    auto wt = rankedType(lin.weight);
    return bt && bt.getDimSize(1) == wt.getDimSize(lin.transposed ? 2 : 1);
  };
  if (auto gemm = y.getDefiningOp<onnx::GemmOp>()) {
    Value in = matchUnbiasedGathered(y, isExpert, lin);
    if (!in || isa<NoneType>(gemm.getC().getType()) ||
        gemm.getBeta().convertToFloat() == 0.0f)
      return in;
    Value bias = gemm.getBeta().convertToFloat() == 1.0f
                     ? gatheredConstant(gemm.getC(), 2, isExpert)
                     : Value();
    if (!bias || !biasFits(bias))
      return nullptr;
    lin.bias = bias;
    return in;
  }
  if (auto add = y.getDefiningOp<onnx::AddOp>()) {
    for (auto [p, b] : {std::pair{add.getA(), add.getB()},
                        std::pair{add.getB(), add.getA()}}) {
      Value in = matchUnbiasedGathered(p, isExpert, lin);
      Value bias = in ? gatheredConstant(b, 2, isExpert) : Value();
      if (!bias || !biasFits(bias) || add.getC().getType() != p.getType())
        continue;
      lin.bias = bias;
      return in;
    }
    return nullptr;
  }
  return matchUnbiasedGathered(y, isExpert, lin);
}
/// `act(x G[e]^T) * (x U[e]^T)` with gate and up stacked apart (DBRX's w1
/// and v1): sets fc1, fc3 and the activation; returns x.
Value matchSeparateGating(Value h, llvm::function_ref<bool(Value)> isExpert,
                          StackedFFN &ffn) {
  auto mul = h.getDefiningOp<onnx::MulOp>();
  if (!mul)
    return nullptr;
  for (auto [a, u] :
       {std::pair{mul.getA(), mul.getB()}, std::pair{mul.getB(), mul.getA()}}) {
    Value g;
    std::optional<ActivationKind> kind = matchActivation(a, g);
    if (!kind)
      continue;
    StackedLinear gate, up;
    Value xg = matchGatheredLinear(unitSource(g), isExpert, gate);
    Value xu = matchGatheredLinear(unitSource(u), isExpert, up);
    if (!xg || xg != xu || gate.weight == up.weight ||
        gate.weight.getType() != up.weight.getType() ||
        gate.transposed != up.transposed)
      continue;
    ffn.fc1 = gate;
    ffn.fc3 = up;
    ffn.activation = *kind;
    ffn.gating = Gating::separate;
    return xg;
  }
  return nullptr;
}
} // namespace

std::optional<StackedFFN>
mlir::moe::matchGatheredFFN(Value y, llvm::function_ref<bool(Value)> isExpert,
                            Value &input) {
  StackedFFN ffn;
  Value h = matchGatheredLinear(unitSource(y), isExpert, ffn.fc2);
  if (!h)
    return std::nullopt;
  Value x;
  if (Value proj = matchSlotActivation(h, ffn))
    x = matchGatheredLinear(unitSource(proj), isExpert, ffn.fc1);
  else
    x = matchSeparateGating(unitSource(h), isExpert, ffn);
  if (!x)
    return std::nullopt;
  // Both projections index the same stack of experts.
  if (rankedType(ffn.fc1.weight).getDimSize(0) !=
      rankedType(ffn.fc2.weight).getDimSize(0))
    return std::nullopt;
  input = x;
  return ffn;
}

bool mlir::moe::sameStackedFFN(const StackedFFN &a, const StackedFFN &b) {
  auto same = [](const StackedLinear &x, const StackedLinear &y) {
    return x.weight == y.weight && x.transposed == y.transposed &&
           x.bias == y.bias;
  };
  return same(a.fc1, b.fc1) && same(a.fc3, b.fc3) && same(a.fc2, b.fc2) &&
         a.activation == b.activation && a.gating == b.gating &&
         a.alpha == b.alpha && a.beta == b.beta && a.limit == b.limit;
}
