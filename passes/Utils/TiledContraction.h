//===- TiledContraction.h - register-tiled x * w^T on tensors ---*- C++ -*-===//
//
// Private to passes/: the CPU form of a GEMM (the experts', and dense MatMuls
// with constant weights), written as loops whose innermost body keeps a
// tile of accumulators in registers.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_UTILS_TILEDCONTRACTION_H
#define MOE_PASSES_UTILS_TILEDCONTRACTION_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <functional>

namespace mlir::moe {

/// What a tile does with its f32 sums before storing them (bias,
/// activation, rounding), so that the GEMM's results are written once,
/// from registers, in their final form.
struct TileEpilogue {
  /// The results of a tm x tn tile whose first column is `n0`, from its
  /// sums (a row-major vector<tm*tn x f32>): a row-major vector of
  /// tm * (tn / colsPerResult) elements of the destination's type.
  std::function<Value(OpBuilder &, Location, Value sums, int64_t tm, int64_t tn,
                      Value n0)>
      apply;
  /// Sum columns per result column: 2 for a gated activation over
  /// interleaved (gate, up) columns.
  int64_t colsPerResult = 1;
};

/// dest[m, n] = epilogue(sum_c x[m, c] * w[n, c]) accumulated in f32, for
/// x: [rows, K] and w: [N, K] tensors (any float type) and dest:
/// [rows, N / colsPerResult]: 4 x 4 tiles of (m, n) whose k loop carries 16
/// independent sums (8 contiguous loads per 16 multiply-adds, reassociation
/// allowed so the k loop vectorizes), then remainder rows and columns.
/// Without an epilogue dest is f32 and takes the sums. N must be a multiple
/// of colsPerResult. Returns dest, written.
Value emitTiledContraction(OpBuilder &b, Location loc, Value x, Value w,
                           Value dest, Value rows, OpFoldResult n,
                           OpFoldResult k,
                           const TileEpilogue *epilogue = nullptr);

/// One vector<16xf32> whose lane t is the sum of the lanes of `accs[t]`
/// (16 vector<16xf32> accumulators of a tile), by pairwise transposing
/// folds: cheaper than 16 horizontal reductions.
Value emitFoldedSums(OpBuilder &b, Location loc, ArrayRef<Value> accs);

/// How quantized weights are stored: unsigned `bits`-bit values (4-bit
/// packed two per byte, the lower nibble first) standing for
/// (q - z) * scale, one scale per row (`block` 0) or per `block` columns;
/// z is the zero point of the scale (an unsigned byte each) or, without
/// zero points, 2^(bits - 1).
struct QuantizedWeights {
  Value bytes;  // [N, K * bits / 8] i8
  Value scales; // [N] or [N, K / block], any float type
  int64_t bits;
  int64_t block;
  Value zeroPoints = nullptr; // the scales' shape, i8; or null

  /// The zero point of the scale at `at` as `type` (f32 or i32).
  Value zeroPointAt(OpBuilder &b, Location loc, ValueRange at,
                    Type type) const;
};

/// Whether emitQuantizedContraction handles K columns of `weights`: every
/// block (or row) a whole number of vector steps.
bool quantizedVectorizable(int64_t k, int64_t bits, int64_t block);

/// dest[m, n] = epilogue(sum_c x[m, c] * w[n, c]) in f32 with `weights`
/// dequantized in registers as they are read (the packed bytes are the only
/// weight memory traffic: the form for few rows, where the GEMM is bound by
/// reading the weights). Tiles of one row by 4 weight rows, vectors along
/// k: per vector step, the products of a block are summed, then scaled once
/// into the row's accumulators. N static and a multiple of the epilogue's
/// colsPerResult; K as quantizedVectorizable requires.
Value emitQuantizedContraction(OpBuilder &b, Location loc, Value x,
                               const QuantizedWeights &weights, Value dest,
                               Value rows, int64_t n, int64_t k,
                               const TileEpilogue *epilogue = nullptr);

/// Stores a tile's sums (a row-major vector<tm*tn x f32> for the tile at
/// rows m0.., columns n0..) through `epilogue` into `acc`, a vector per row.
Value emitTileStore(OpBuilder &b, Location loc, const TileEpilogue *epilogue,
                    Value sums, Value acc, Value m0, Value n0, int64_t tm,
                    int64_t tn);

/// One tile of a single row of x: (builder, location, accumulator, row m,
/// first column n0, columns tn) -> the accumulator with the tile written.
using RowTileFn = llvm::function_ref<Value(OpBuilder &, Location, Value acc,
                                           Value m, Value n0, int64_t tn)>;

/// Every row of x against columns [0, n): tiles of 4 columns, then the
/// remaining columns in steps of `step` (an epilogue's colsPerResult);
/// columns outermost, so that a tile's weights stay in cache across rows.
Value emitRowTiles(OpBuilder &b, Location loc, Value acc, Value rows, int64_t n,
                   int64_t step, RowTileFn tile);

/// How int8 products are summed: AVX512-VNNI's vpdpbusd, or plain vector
/// code that any target runs.
enum class Int8Dot { VNNI, Generic };

/// A dot-product instruction that the GEMMs call through a private
/// function of the module: `function(acc, a, b) -> acc`, defined after
/// bufferization as the LLVM `intrinsic` (moe-cpu-define-dot-intrinsics).
/// The call keeps the intrinsic out of tensor-level IR, where one-shot
/// bufferization rejects ops of unknown memory effects.
struct DotIntrinsic {
  llvm::StringLiteral function, intrinsic;
};

/// vpdpbusd (AVX512-VNNI): vector<16xi32> acc, vector<64xi8> unsigned,
/// vector<64xi8> signed; each lane adds 4 byte products.
inline constexpr DotIntrinsic kInt8DotVNNI{"moe_int8_dot_vnni",
                                           "llvm.x86.avx512.vpdpbusd.512"};
/// vdpbf16ps (AVX512-BF16): vector<16xf32> acc, two vector<32xbf16>; lane
/// l adds the products of elements 2l + 1, then 2l. lib/Target expands it
/// into plain vector code for targets without AVX512-BF16.
inline constexpr DotIntrinsic kBF16Dot{"moe_bf16_dot",
                                       "llvm.x86.avx512bf16.dpbf16ps.512"};

/// The private declaration of `dot` in `module` (created once) with
/// accumulator type `acc` and operand type `operand`.
func::FuncOp declareDot(ModuleOp module, Location loc, const DotIntrinsic &dot,
                        Type acc, Type operand);

/// Whether emitInt8Contraction handles K columns of `bits`-bit weights
/// with `block`-column scales: groups of 64 columns whose 32-column halves
/// each lie in one scale block.
bool int8Vectorizable(int64_t k, int64_t bits, int64_t block);

/// The opt-in int8 form of emitQuantizedContraction: each row of x is
/// quantized per 32 columns to int8 (symmetric, scale max|x| / 127,
/// rounded to nearest), and 64 products at a time are summed in int32
/// (`dot`), converted and scaled once per 64 columns. About 1e-2 relative
/// L2 error against the f32 result (1.0-1.4e-2 measured on random 4- and
/// 8-bit weights), all of it from the activations' rounding.
/// `vnniDot`: the declaration from declareInt8DotVNNI, or null for plain
/// vector code.
Value emitInt8Contraction(OpBuilder &b, Location loc, Value x,
                          const QuantizedWeights &weights, Value dest,
                          Value rows, int64_t n, int64_t k,
                          func::FuncOp vnniDot,
                          const TileEpilogue *epilogue = nullptr);

/// The declaration through which the int8 form calls vpdpbusd in `module`.
func::FuncOp declareInt8DotVNNI(ModuleOp module, Location loc);

/// Whether emitBF16Contraction handles x and w (bf16 both) with K columns:
/// K static, positive and a multiple of 32.
bool bf16Dottable(Value x, Value w, int64_t k);

/// dest[m, n] = epilogue(sum_c x[m, c] * w[n, c]) for bf16 x and w, 32
/// products per instruction (`dot`, from declareDot with kBF16Dot) summed
/// in f32 lanes: 4 x 4 tiles of rows, then single rows (decode) against 4
/// weight rows at a time. No conversion of either operand, so prefill runs
/// at twice the f32 multiply-add rate and decode reads each weight once.
Value emitBF16Contraction(OpBuilder &b, Location loc, Value x, Value w,
                          Value dest, Value rows, Value n, int64_t k,
                          func::FuncOp dot,
                          const TileEpilogue *epilogue = nullptr);

/// Rows [n0, n0 + rows) of a float weight `w` [N, K] (f16, bf16) as an
/// f32 [rows, K] tensor; K a multiple of 16.
Value emitConvertedPanel(OpBuilder &b, Location loc, Value w, Value n0,
                         int64_t rows, int64_t k);

/// Weight rows [n0, n0 + rows) of `weights` dequantized to f32: a
/// [rows, K] tensor (a panel that the float tiles then reuse across all
/// rows of x). K as quantizedVectorizable requires.
Value emitDequantizedPanel(OpBuilder &b, Location loc,
                           const QuantizedWeights &weights, Value n0,
                           int64_t rows, int64_t k);

} // namespace mlir::moe

#endif // MOE_PASSES_UTILS_TILEDCONTRACTION_H
