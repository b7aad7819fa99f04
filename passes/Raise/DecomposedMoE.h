//===- DecomposedMoE.h - recognizing exported MoE blocks --------*- C++ -*-===//
//
// Private to the Raise stage: the analysis behind moe-raise-decomposed-moe. It
// reads a MoE block as PyTorch exporters write it (router, top-k, a loop of
// per-expert gathers, FFNs and scatter-adds) and proves, op by op from each
// op's ONNX semantics, that the block computes a moe.layer.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_RAISE_DECOMPOSEDMOE_H
#define MOE_PASSES_RAISE_DECOMPOSEDMOE_H

#include "moe/Dialect/MoE.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <limits>
#include <optional>
#include <string>

namespace mlir::moe {

/// A linear map `y = x W^T [+ b]` read from MatMul (plus an Add of the
/// bias) or Gemm with a constant weight: `weight` is `[out, in]`, or
/// `[in, out]` when `transposed`; `bias`, when present, a constant with
/// `out` elements (`[out]` or `[1, out]`).
struct DecomposedLinear {
  Value input;
  Value weight;
  bool transposed = false;
  Value bias;
};

/// One FFN `down(act(gate(x)) [* up(x)])`.
struct DecomposedFFN {
  Value input;
  DecomposedLinear gate, up, down; // up.weight null when ungated
  ActivationKind activation = ActivationKind::identity;
};

/// The router: `logits = hidden W^T`, scored (softmax or sigmoid), top-k
/// of the scores plus `bias` (a constant with E elements), optionally
/// limited to the best `topkGroups` of `groups` expert groups; the weights
/// are the chosen experts' scores, optionally renormalized, times `scale`.
struct DecomposedRouter {
  DecomposedLinear linear;
  Scoring scoring = Scoring::softmax;
  int64_t k = 0;
  bool renormalize = false;
  Value bias;
  int64_t groups = 1, topkGroups = 1;
  GroupScore groupScore = GroupScore::top2_sum;
  double scale = 1.0;
  double maskedScore = -std::numeric_limits<double>::infinity();
  double gap = 0.0; // sparsemixer
  /// When set, the router's logits as computed by the graph (a linear map
  /// with a bias: the layer takes them as its `logits` operand and
  /// `linear` is unused).
  Value logits;
};

/// A projection applied with its expert's matrix of a stacked constant
/// `weight` (`[E, out, in]`, or `[E, in, out]` when `transposed`), plus the
/// expert's row of `bias` (`[E, out]`) when present.
struct StackedLinear {
  Value weight;
  bool transposed = false;
  Value bias;
};

/// Experts whose weights are stacked parameters (transformers 5.x): fc1
/// holds gate and up (`gating` concatenated or interleaved) or the gate
/// only, with the up projection in fc3 (separate; DBRX), then the
/// activation and fc2. `alpha`, `beta`, `limit`: gpt-oss's clamped SwiGLU.
struct StackedFFN {
  StackedLinear fc1, fc3, fc2; // fc3.weight null unless gating is separate
  ActivationKind activation = ActivationKind::identity;
  Gating gating = Gating::none;
  double alpha = 1.0, beta = 0.0;
  std::optional<double> limit;
};

/// A run-time check that `dim(a, 0) * aScale == dim(b, 0) * bScale`: a
/// length the block's ops take from elsewhere equals the one they need.
struct LengthCheck {
  Value a;
  int64_t aScale = 1;
  Value b;
  int64_t bScale = 1;
};

/// A decomposed MoE block: `result[t] = sum_j w[t, j] ffn_{ids[t, j]}(x[t])`
/// for `x = hidden` with (w, ids) from `router`. The FFNs are either one
/// per expert (`experts`) or `stacked`.
struct DecomposedMoE {
  Value hidden;
  Value result;
  DecomposedRouter router;
  SmallVector<DecomposedFFN> experts; // indexed by expert id
  /// When set, each expert's `gate` holds its gate and up rows so (the
  /// halves or interleaved columns of one projection).
  std::optional<Gating> expertsGating;
  std::optional<StackedFFN> stacked;
  /// What the raised layer checks at run time to stay exact.
  SmallVector<LengthCheck> lengthChecks;
};

/// Matches a block computed slot by slot (transformers' "batched_mm"
/// experts) whose final per-token sum over the k slots is `result`.
std::optional<DecomposedMoE> matchBatchedMoE(Value result, std::string &why);

/// Matches a block whose slots are sorted by expert, each expert's run of
/// rows multiplied by its matrix, and put back in slot order before the
/// sum over the k slots `result` (transformers' "grouped_mm" experts as its
/// OnnxExporter writes them).
std::optional<DecomposedMoE> matchGroupedMoE(Value result, std::string &why);

/// A sort of the slots by expert: `perm` is the indices of one ascending
/// TopK over every element of `flat` (the slots' expert ids, flattened).
struct SlotSort {
  Operation *topk;
  Value flat;
  /// When the sort's K is the length of this other 1-D value (the exporter
  /// reused an earlier layer's), not of `flat` itself.
  Value lengthOf;
};
std::optional<SlotSort> matchSlotSort(Value perm);

/// Whether `v` = GatherND(data, perm as 1-tuples); sets `data`.
bool isGatherAtPerm(Value v, Value perm, Value &data);

/// Matches a block that sorts its slots by expert, splits the sorted token
/// rows into per-expert runs by a histogram of the ids, applies each
/// expert's FFN (per-expert constants) to its run and scatter-adds the
/// weighted rows back at their tokens (JetMoE as torch.export writes it);
/// `result` is that ScatterND.
std::optional<DecomposedMoE> matchSortedMoE(Value result, std::string &why);

/// For `result` = ReduceSum(view [T, k, H], axis 1, keepdims 0), [T, H]:
/// the per-token sum over the k slots that ends both stacked forms, k;
/// nullopt otherwise.
std::optional<int64_t> slotSumWidth(Value result);

/// `result`, or the Cast after it that returns a sum taken in f32 to
/// `hidden`'s type (f16/bf16 models).
Value blockResultOf(Value result, Value hidden);

/// `v` through ops that keep the row-major order of its elements
/// (reshapes) and casts that change nothing.
Value throughReshapes(Value v);

/// Whether `v` holds `base`'s elements in row-major order with its two
/// leading dimensions ([T, k, rest...]) merged into `v`'s first real one
/// (the slot s = t * k + j) and its other real dimensions `base`'s
/// trailing ones.
bool isSlotFlat(Value v, Value base);

/// The expert activation `h` of a projection P: `act(P)`, `act(gate) * up`
/// with gate and up the halves or interleaved columns of P, or gpt-oss's
/// clamped SwiGLU. Sets `ffn`'s activation fields and returns P (null when
/// `h` is none of these).
Value matchSlotActivation(Value h, StackedFFN &ffn);

/// Matches `y = ffn(x)` applied with one expert's matrices taken from
/// stacked constants (`W[e]`, `B[e]`: Gathers at a scalar expert id that
/// `isExpert` accepts), as transformers' eager expert loop writes it; sets
/// `input` to x.
std::optional<StackedFFN>
matchGatheredFFN(Value y, llvm::function_ref<bool(Value)> isExpert,
                 Value &input);

/// Whether two stacked FFNs are the same parameters and activation.
bool sameStackedFFN(const StackedFFN &a, const StackedFFN &b);

/// Matches the block whose accumulation starts at `zeros` (zeros shaped
/// like the block's input). On failure, `why` says what did not match.
std::optional<DecomposedMoE> matchDecomposedMoE(Value zeros, std::string &why);

/// What the dispatch analysis learned about the routing: the top-k that
/// chose the experts and where the routing weights come from.
struct RouterEvidence {
  Operation *topk = nullptr; // an onnx.TopK (null for a sparse mixer)
  Value ids;                 // the [T, k] expert ids
  Value weights;             // set by the sparse mixer's matchers
  int64_t numExperts = 0, k = 0;
  bool renormalize = false;
  double scale = 1.0;
  bool weightsFromTopK = false; // else scores gathered at its ids:
  Value gatheredScores;
  /// The top-k ranked the router logits and the weights are the softmax of
  /// the chosen ones: the same as the softmax scores' top-k renormalized.
  bool topkOfLogits = false;
  /// Phi-MoE's sparse mixer of these logits with this relative gap.
  Value sparseLogits;
  double gap = 0.0;
};

/// Matches routing weights `w` ([T, k]): `s[ids]` (the top-k's values, or
/// scores gathered at its ids), optionally divided by their sum (plus a
/// negligible epsilon, as DeepSeek writes it), optionally times a constant
/// scale; or the softmax of the top-k's values (top-k of the logits).
/// Casts between float types around it are looked through.
std::optional<RouterEvidence> matchRoutingWeights(Value w);

/// Phi-MoE's sparse mixer (SparseMixer.cpp), from its [T, k] ids or
/// weights (the picks' columns concatenated).
std::optional<RouterEvidence> matchSparseMixerIds(Value ids);
std::optional<RouterEvidence> matchSparseMixerWeights(Value w);

/// Matches the router feeding `evidence.topk`, the scores of a linear map
/// of `hidden`, consistent with the weights; on failure `why` says why.
std::optional<DecomposedRouter> matchRouter(const RouterEvidence &evidence,
                                            Value hidden, std::string &why);

/// The block of `hidden` whose MoE output is `result`, its router matched
/// from `evidence` (experts left to the caller); nothing, with `why`, when
/// the router does not match.
std::optional<DecomposedMoE> routedBlock(const RouterEvidence &evidence,
                                         Value hidden, Value result,
                                         std::string &why);

/// Matches `y = ffn(x)` (any `x`, the same for every projection).
std::optional<DecomposedFFN> matchFFN(Value y);

/// `act(g)` for an activation the expert FFNs use: relu, gelu (the op or
/// written out), or silu written as `g * sigmoid(g)`. Sets `g`.
std::optional<ActivationKind> matchActivation(Value v, Value &g);

/// Remarks at the routers of MoE forms moe.layer does not express
/// (Llama4's dense score matrix, Switch's expert capacity).
void remarkDenseRouters(Operation *root);

/// Matches a linear map (MatMul or Gemm with a constant 2-D weight).
std::optional<DecomposedLinear> matchLinear(Value y);

} // namespace mlir::moe

#endif // MOE_PASSES_RAISE_DECOMPOSEDMOE_H
