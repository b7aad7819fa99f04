//===- FoldDequantization.cpp - quantized constant weights to floats ------===//
//
// Quantizing exporters store weights as integer codes with scales:
// DequantizeLinear of constant codes, or onnxruntime's MatMulNBits with a
// constant bit-packed B. Both become float constants here (MatMulNBits a
// MatMul by the dequantized B^T), before the raising, so that quantized
// experts are read like float ones and the float lowerings apply.
//
//===----------------------------------------------------------------------===//

#include "Utils/ConstantData.h"
#include "moe/Dialect/ONNX.h"
#include "moe/Passes/ONNXToCore.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_FOLDDEQUANTIZATION
#include "passes/ONNXToCore/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// `values` rounded to `type`'s float elements as a blob constant.
Value floatConstant(OpBuilder &b, Location loc, RankedTensorType type,
                    ArrayRef<double> values, StringRef name) {
  std::optional<std::vector<char>> bytes = moe::floatBytes(
      values, cast<FloatType>(type.getElementType()), /*exact=*/false);
  return moe::createBlobConstant(b, loc, type, *bytes, name, /*asONNX=*/true);
}

/// A float DequantizeLinear of a constant: (x - zero_point) * scale with
/// the scale per tensor, per slice of `axis` or per block along it.
struct FoldDequantizeLinear : OpRewritePattern<onnx::DequantizeLinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::DequantizeLinearOp op,
                                PatternRewriter &rewriter) const override {
    auto xt = dyn_cast<RankedTensorType>(op.getX().getType());
    auto yt = dyn_cast<RankedTensorType>(op.getY().getType());
    Value zpV = op.getXZeroPoint();
    bool hasZp = !isa<NoneType>(zpV.getType());
    auto x = moe::constantValues(op.getX());
    auto scale = moe::constantValues(op.getXScale());
    std::optional<std::vector<double>> zp;
    if (hasZp)
      zp = moe::constantValues(zpV);
    if (!xt || !yt || !yt.hasStaticShape() ||
        !isa<FloatType>(yt.getElementType()) || !x || !scale ||
        (hasZp && !zp))
      return rewriter.notifyMatchFailure(op, "not a constant dequantization");
    auto st = cast<RankedTensorType>(op.getXScale().getType());
    int64_t rank = xt.getRank(), axis = op.getAxis();
    if (axis < 0)
      axis += rank;
    int64_t block = op.getBlockSize();
    // Which scale element each x element uses.
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < rank; ++d)
      inner *= xt.getDimSize(d);
    int64_t axisDim = rank ? xt.getDimSize(axis) : 1;
    auto scaleIndex = [&](int64_t i) -> std::optional<int64_t> {
      if (scale->size() == 1)
        return 0;
      if (axis < 0 || axis >= rank)
        return std::nullopt;
      int64_t a = (i / inner) % axisDim;
      if (st.getRank() == 1 && !block)
        return a < static_cast<int64_t>(scale->size()) ? std::optional(a)
                                                        : std::nullopt;
      if (st.getRank() != rank || block <= 0)
        return std::nullopt;
      // Blocked: x's index with the axis coordinate divided by the block.
      int64_t outer = i / (inner * axisDim), in = i % inner;
      int64_t blocks = st.getDimSize(axis);
      return (outer * blocks + a / block) * inner + in;
    };
    std::vector<double> y(x->size());
    for (size_t i = 0; i < x->size(); ++i) {
      std::optional<int64_t> s = scaleIndex(i);
      if (!s || *s >= static_cast<int64_t>(scale->size()))
        return op.emitError("DequantizeLinear's scale does not match its "
                            "input's shape for its axis and block_size");
      double z = hasZp ? (*zp)[*s] : 0.0;
      y[i] = ((*x)[i] - z) * (*scale)[*s];
    }
    rewriter.replaceOp(op, floatConstant(rewriter, op.getLoc(), yt, y,
                                         "dequantized"));
    return success();
  }
};

/// MatMulNBits with constant B, scales and zero points: MatMul by the
/// dequantized B^T ([K, N], in A's type), plus the bias.
struct FoldMatMulNBits : OpRewritePattern<onnx::MatMulNBitsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::MatMulNBitsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto at = dyn_cast<RankedTensorType>(op.getA().getType());
    auto yt = dyn_cast<RankedTensorType>(op.getY().getType());
    if (!at || !yt || !isa<FloatType>(at.getElementType()))
      return op.emitError("MatMulNBits needs a ranked float A");
    int64_t k = op.getK(), n = op.getN(), bits = op.getBits();
    int64_t block = op.getBlockSize();
    if (bits != 2 && bits != 4 && bits != 8)
      return op.emitError() << "MatMulNBits with bits = " << bits
                            << " is not supported (2, 4 or 8)";
    if (block < 16 || (block & (block - 1)) || k <= 0 || n <= 0)
      return op.emitError() << "MatMulNBits needs K, N > 0 and a power-of-two "
                               "block_size >= 16, got K = "
                            << k << ", N = " << n << ", block_size = " << block;
    if (!isa<NoneType>(op.getGIdx().getType()))
      return op.emitError("MatMulNBits with g_idx is not supported");
    if (at.getDimSize(at.getRank() - 1) != ShapedType::kDynamic &&
        at.getDimSize(at.getRank() - 1) != k)
      return op.emitError() << "MatMulNBits' A has " << at.getShape().back()
                            << " columns, K = " << k;
    int64_t blocks = (k + block - 1) / block, blob = block * bits / 8;
    std::optional<std::vector<char>> packed = moe::constantBytes(op.getB());
    std::optional<std::vector<double>> scales =
        moe::constantValues(op.getScales());
    Value zpV = op.getZeroPoints();
    bool hasZp = !isa<NoneType>(zpV.getType());
    auto zpType = hasZp ? dyn_cast<RankedTensorType>(zpV.getType()) : nullptr;
    bool packedZp = zpType && zpType.getElementType().isInteger(8);
    std::optional<std::vector<char>> zpBytes =
        packedZp ? moe::constantBytes(zpV) : std::nullopt;
    std::optional<std::vector<double>> zpValues =
        hasZp && !packedZp ? moe::constantValues(zpV) : std::nullopt;
    if (!packed || !scales || (hasZp && !zpBytes && !zpValues))
      return op.emitError("MatMulNBits with B, scales or zero_points "
                          "computed at run time is not supported");
    int64_t zpRow = (blocks * bits + 7) / 8;
    if (static_cast<int64_t>(packed->size()) != n * blocks * blob ||
        static_cast<int64_t>(scales->size()) != n * blocks ||
        (zpBytes && static_cast<int64_t>(zpBytes->size()) != n * zpRow) ||
        (zpValues && static_cast<int64_t>(zpValues->size()) != n * blocks))
      return op.emitError() << "MatMulNBits' B, scales or zero_points do not "
                               "have the sizes K = "
                            << k << ", N = " << n << ", bits = " << bits
                            << " and block_size = " << block << " give";
    unsigned mask = (1u << bits) - 1;
    auto code = [&](const std::vector<char> &bytes, int64_t base,
                    int64_t i) -> double {
      unsigned byte = static_cast<unsigned char>(bytes[base + i * bits / 8]);
      return static_cast<double>((byte >> (i * bits % 8)) & mask);
    };
    // W^T: [K, N], element (kk, nn) = (code - zp) * scale.
    std::vector<double> w(k * n);
    for (int64_t nn = 0; nn < n; ++nn)
      for (int64_t b = 0; b < blocks; ++b) {
        double s = (*scales)[nn * blocks + b];
        double z = zpBytes    ? code(*zpBytes, nn * zpRow, b)
                   : zpValues ? (*zpValues)[nn * blocks + b]
                              : static_cast<double>(1u << (bits - 1));
        for (int64_t j = 0; j < block && b * block + j < k; ++j)
          w[(b * block + j) * n + nn] =
              (code(*packed, (nn * blocks + b) * blob, j) - z) * s;
      }
    auto wType = RankedTensorType::get({k, n}, at.getElementType());
    Value weight = floatConstant(rewriter, loc, wType, w, "matmul_nbits");
    Value y = onnx::MatMulOp::create(rewriter, loc, yt, op.getA(), weight);
    if (!isa<NoneType>(op.getBias().getType()))
      y = onnx::AddOp::create(rewriter, loc, yt, y, op.getBias());
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct FoldDequantizationPass
    : moe::impl::FoldDequantizationBase<FoldDequantizationPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldDequantizeLinear, FoldMatMulNBits>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    // A MatMulNBits left over was reported by its pattern.
    bool failedOp = false;
    getOperation()->walk([&](onnx::MatMulNBitsOp) { failedOp = true; });
    if (failedOp)
      signalPassFailure();
  }
};
} // namespace
