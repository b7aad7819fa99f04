//===- MoEOps.td - moe dialect operations --------------------*- tablegen -*-===//
//
// The MoE block (`moe.layer`), its decomposed steps and expert-parallel
// communication. Each op's description is the normative semantics that every
// lowering must implement.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_OPS_TD
#define MOE_OPS_TD

include "MoEDialect.td"
include "MoEAttrs.td"
include "MoETypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpAsmInterface.td"

def MoE_FloatTensor : RankedTensorOf<[F16, BF16, F32]>;
def MoE_I32Tensor : RankedTensorOf<[I32]>;
// Rows an all-to-all can move: activations, or i32 row metadata (such as the
// local expert id of each row under expert parallelism).
def MoE_ExchangeTensor : RankedTensorOf<[F16, BF16, F32, I32]>;
// Expert weights: floating point, or quantized bytes (i8 holding unsigned
// 4-bit pairs or 8-bit values, with per-row or per-block scales).
def MoE_WeightTensor : RankedTensorOf<[F16, BF16, F32, I8]>;
// Zero points of quantized weights: one i8 (an unsigned value) per scale.
def MoE_ZeroPointTensor : RankedTensorOf<[I8]>;

//===----------------------------------------------------------------------===//
// moe.layer
//===----------------------------------------------------------------------===//

def MoE_LayerOp : MoE_Op<"layer", [Pure, AttrSizedOperandSegments]> {
  let summary = "a whole Mixture-of-Experts block";
  let description = [{
    Computes a Mixture-of-Experts FFN block for `T` tokens of width `H`.

    Operands (all floating-point operands share one element type):
    * `hidden`: `[T, H]` token activations.
    * exactly one of `logits(%l)`: `[T, E]` router logits, or
      `gate(%wg)`: `[E, H]` router weight, in which case
      `logits = hidden * wg^T`.
    * `router_bias`: optional `[E]` selection bias (see `#moe.routing`).
    * `fc1`: `[E, F1, H]` first projection, `F1 = 2I` for `interleaved` or
      `concatenated` gating, else `F1 = I`; optional `fc1_bias` `[E, F1]`.
    * `fc3`: `[E, I, H]` up projection, present exactly when the gating is
      `separate`; optional `fc3_bias` `[E, I]`.
    * `fc2`: `[E, H, I]` down projection; optional `fc2_bias` `[E, H]`.
    * Shared experts (applied to every token, independent of routing), all
      present or all absent except `shared_fc3` and `shared_gate`:
      `shared_fc1` `[Fs, H]` and `shared_fc2` `[H, Is]`, with
      `Fs = Is` or `2 Is` by the same gating rule, `shared_fc3` `[Is, H]`
      exactly when gating is `separate`, and an optional `shared_gate` `[1, H]`
      (Qwen2-MoE's sigmoid gate on the shared expert's output).

    Semantics, for each token `t` (`x = hidden[t]`):
    ```
    (w, ids) = route(logits[t], router_bias)          // per #moe.routing
    out[t] = sum_{j < k} w[j] * ffn_{ids[j]}(x)       // in order j = 0..k-1
    ffn_e(x) = fc2[e] * act(fc1[e] * x + fc1_bias[e]
                            [, fc3[e] * x + fc3_bias[e]]) + fc2_bias[e]
    ```
    where `act` is the `#moe.activation` (gate/up split per its gating).
    With shared experts `out[t] += g * shared(x)`, where `shared` is the same
    FFN with the shared weights and no biases, and
    `g = sigmoid(shared_gate * x)` (or `1` without `shared_gate`).

    Quantized experts (`weight_bits = 4` or `8`): `fc1`, `fc3` and `fc2`
    are `i8` tensors of unsigned bytes, `[E, out, in * bits / 8]` (two 4-bit
    values per byte, the lower nibble first), with `fc1_scales` (and
    `fc3_scales`, `fc2_scales`) of the float type: `[E, out]` (one scale per
    row, `quant_block = 0`) or `[E, out, in / quant_block]`. The weight used
    is `(q - z) * scale`, `z = 2^(bits - 1)` or, with `fc1_zero_points` (and
    `fc3_zero_points`, `fc2_zero_points`: `i8` of the scales' shape, one
    unsigned value per scale, unpacked), the zero point of the scale's row
    and block; the bytes stay bytes until the GEMM reads them
    (onnxruntime's `com.microsoft.QMoE`). Shared experts are not quantized.

    For what onnxruntime's `com.microsoft.MoE` supports (softmax routing,
    relu/gelu_tanh/silu/swiglu experts, biases), this is its semantics.
    Expert ids cannot be out of range here: they come from the router.
  }];
  let arguments = (ins
    MoE_FloatTensor:$hidden,
    Optional<MoE_FloatTensor>:$router_logits,
    Optional<MoE_FloatTensor>:$router_weight,
    Optional<MoE_FloatTensor>:$router_bias,
    MoE_WeightTensor:$fc1,
    Optional<MoE_FloatTensor>:$fc1_bias,
    Optional<MoE_WeightTensor>:$fc3,
    Optional<MoE_FloatTensor>:$fc3_bias,
    MoE_WeightTensor:$fc2,
    Optional<MoE_FloatTensor>:$fc2_bias,
    Optional<MoE_FloatTensor>:$shared_fc1,
    Optional<MoE_FloatTensor>:$shared_fc3,
    Optional<MoE_FloatTensor>:$shared_fc2,
    Optional<MoE_FloatTensor>:$shared_gate,
    Optional<MoE_FloatTensor>:$fc1_scales,
    Optional<MoE_FloatTensor>:$fc3_scales,
    Optional<MoE_FloatTensor>:$fc2_scales,
    Optional<MoE_ZeroPointTensor>:$fc1_zero_points,
    Optional<MoE_ZeroPointTensor>:$fc3_zero_points,
    Optional<MoE_ZeroPointTensor>:$fc2_zero_points,
    MoE_RoutingAttr:$routing,
    MoE_ActivationAttr:$activation,
    DefaultValuedAttr<I64Attr, "0">:$weight_bits,
    DefaultValuedAttr<I64Attr, "0">:$quant_block
  );
  let results = (outs MoE_FloatTensor:$result);
  let assemblyFormat = [{
    $hidden `:` type($hidden)
    (`logits` `(` $router_logits^ `:` type($router_logits) `)`)?
    (`gate` `(` $router_weight^ `:` type($router_weight) `)`)?
    (`router_bias` `(` $router_bias^ `:` type($router_bias) `)`)?
    `fc1` `(` $fc1 `:` type($fc1) `)`
    (`fc1_scales` `(` $fc1_scales^ `:` type($fc1_scales) `)`)?
    (`fc1_zero_points` `(` $fc1_zero_points^ `:` type($fc1_zero_points) `)`)?
    (`fc1_bias` `(` $fc1_bias^ `:` type($fc1_bias) `)`)?
    (`fc3` `(` $fc3^ `:` type($fc3) `)`)?
    (`fc3_scales` `(` $fc3_scales^ `:` type($fc3_scales) `)`)?
    (`fc3_zero_points` `(` $fc3_zero_points^ `:` type($fc3_zero_points) `)`)?
    (`fc3_bias` `(` $fc3_bias^ `:` type($fc3_bias) `)`)?
    `fc2` `(` $fc2 `:` type($fc2) `)`
    (`fc2_scales` `(` $fc2_scales^ `:` type($fc2_scales) `)`)?
    (`fc2_zero_points` `(` $fc2_zero_points^ `:` type($fc2_zero_points) `)`)?
    (`fc2_bias` `(` $fc2_bias^ `:` type($fc2_bias) `)`)?
    (`shared_fc1` `(` $shared_fc1^ `:` type($shared_fc1) `)`)?
    (`shared_fc3` `(` $shared_fc3^ `:` type($shared_fc3) `)`)?
    (`shared_fc2` `(` $shared_fc2^ `:` type($shared_fc2) `)`)?
    (`shared_gate` `(` $shared_gate^ `:` type($shared_gate) `)`)?
    `routing` $routing `activation` $activation attr-dict `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Number of experts (static by construction).
    int64_t getNumExperts() {
      return ::llvm::cast<::mlir::RankedTensorType>(getFc1().getType())
          .getDimSize(0);
    }
    bool hasSharedExperts() { return getSharedFc1() != nullptr; }
    bool isQuantized() { return getWeightBits() != 0; }
  }];
}

//===----------------------------------------------------------------------===//
// moe.route
//===----------------------------------------------------------------------===//

def MoE_RouteOp : MoE_Op<"route", [Pure, AttrSizedOperandSegments]> {
  let summary = "router scoring and top-k selection";
  let description = [{
    Chooses `k` experts per token and their weights, exactly as described by
    the `#moe.routing` attribute.

    `input` is either router logits `[T, E]`, or, when `gate(%wg)` is given,
    hidden states `[T, H]` with `wg: [E, H]`, and the logits are
    `input * wg^T` (the router matmul fused into routing). `bias(%b)` is the
    optional `[E]` selection bias.

    Results: `weights: [T, k]` (the element type of the input) and
    `ids: [T, k] i32`, each row in descending order of selection score.

    ```mlir
    %w, %ids = moe.route %logits routing <softmax, k = 2, renormalize>
        : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
    ```
  }];
  let arguments = (ins
    MoE_FloatTensor:$input,
    Optional<MoE_FloatTensor>:$gate_weight,
    Optional<MoE_FloatTensor>:$bias,
    MoE_RoutingAttr:$routing
  );
  let results = (outs MoE_FloatTensor:$weights, MoE_I32Tensor:$ids);
  let assemblyFormat = [{
    $input (`gate` `(` $gate_weight^ `)`)? (`bias` `(` $bias^ `)`)?
    `routing` $routing attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getNumExperts();
  }];
}

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

def MoE_DispatchOp : MoE_Op<"dispatch", [Pure]> {
  let summary = "group token copies by expert and build the routing plan";
  let description = [{
    Given `input: [T, H]` and `ids: [T, k] i32` with values in `[0, E)`
    (`E = num_experts`), lays out the `T * k` token copies grouped by expert:

    * `offsets: [E + 1] i32`: `offsets[0] = 0`; expert `e`'s copies occupy rows
      `[offsets[e], offsets[e] + count_e)` where `count_e` is the number of
      slots `(t, j)` with `ids[t, j] = e`, and
      `offsets[e + 1] = offsets[e] + roundup(count_e, block)`.
    * `slots: [R] i32`: for a row `r` holding a copy, the flat slot
      `t * k + j` it came from; inside a group the rows are in increasing
      slot order (a stable sort). Padding rows hold `-1`.
    * `grouped: [R, H]`: row `r` is `input[slots[r] / k]`, or zeros for a
      padding row.

    `R = T * k` when `block = 1`; otherwise `R` is the largest padded size,
    `T * k + E * (block - 1)` rounded down to a multiple of `block`, and rows
    past `offsets[E]` are padding too. The padded form lets GEMM tiles of
    `block` rows cover `R` exactly and never straddle two experts.

    An id outside `[0, E)` has no meaning: generated code checks the ids and
    reports a run-time error naming the bad id.

    ```mlir
    %g, %off, %slots = moe.dispatch %x, %ids experts = 8
        : (tensor<?x64xf32>, tensor<?x2xi32>)
          -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
    ```
  }];
  let arguments = (ins
    MoE_FloatTensor:$input,
    MoE_I32Tensor:$ids,
    ConfinedAttr<I64Attr, [IntPositive, IntMaxValue<2147483647>]>:$num_experts,
    DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive, IntMaxValue<2147483647>]>, "1">:$block
  );
  let results = (outs MoE_FloatTensor:$grouped, MoE_I32Tensor:$offsets,
                      MoE_I32Tensor:$slots);
  let assemblyFormat = [{
    $input `,` $ids `experts` `=` $num_experts (`block` `=` $block^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Rows of `grouped`/`slots`: `tokens * k + experts * (block - 1)`
    /// rounded down to a multiple of `block`, or dynamic when `tokens` is
    /// dynamic or the count overflows.
    static int64_t getRowCount(int64_t tokens, int64_t k, int64_t experts,
                               int64_t block);
  }];
}

//===----------------------------------------------------------------------===//
// moe.route_plan
//===----------------------------------------------------------------------===//

def MoE_RoutePlanOp : MoE_Op<"route_plan", [Pure, AttrSizedOperandSegments]> {
  let summary = "routing and its plan in one step (no grouped copy)";
  let description = [{
    `moe.route` followed by the routing plan of `moe.dispatch` (experts =
    the router's, `block` as there) when the grouped copy of the tokens is
    not needed (moe-fuse-routing-plan): operands and `#moe.routing` as in
    `moe.route`, results `weights: [T, k]`, `offsets: [E + 1] i32` and
    `slots: [R] i32` as in `moe.route` and `moe.dispatch`.

    One difference: inside an expert's row group the rows are in an
    unspecified order (a permutation of the group's slots in increasing
    order), so that a GPU can place them with atomics in the same kernel
    that routes. Row results never depend on their position in a group, and
    every consumer finds a token's rows through the slots.

    ```mlir
    %w, %off, %slots = moe.route_plan %logits routing <softmax, k = 2,
        renormalize> block = 64
        : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
    ```
  }];
  let arguments = (ins
    MoE_FloatTensor:$input,
    Optional<MoE_FloatTensor>:$gate_weight,
    Optional<MoE_FloatTensor>:$bias,
    MoE_RoutingAttr:$routing,
    DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive, IntMaxValue<2147483647>]>, "1">:$block
  );
  let results = (outs MoE_FloatTensor:$weights, MoE_I32Tensor:$offsets,
                      MoE_I32Tensor:$slots);
  let assemblyFormat = [{
    $input (`gate` `(` $gate_weight^ `)`)? (`bias` `(` $bias^ `)`)?
    `routing` $routing (`block` `=` $block^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getNumExperts();
  }];
}

//===----------------------------------------------------------------------===//
// moe.expert_matmul
//===----------------------------------------------------------------------===//

def MoE_ExpertMatmulOp : MoE_Op<"expert_matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "grouped matmul: each row group times its expert's weight";
  let description = [{
    `input: [R, K]` rows grouped by expert as described by
    `offsets: [E + 1] i32` (from `moe.dispatch`), `weight: [E, N, K]`, and an
    optional `bias(%b)` of `[E, N]`. For every expert `e` and every row
    `r` in `[offsets[e], offsets[e + 1])`:
    ```
    result[r, n] = sum_c input[r, c] * weight[e, n, c] + bias[e, n]
    ```
    Rows at or past `offsets[E]` are unspecified: no consumer reads them
    (the combine reads rows through slots, grouped GEMMs stop at
    `offsets[E]`), so kernels neither compute nor clear them. This is one
    grouped GEMM over all experts, not one GEMM per expert.

    With `gather(%slots) k = K` (moe-fuse-dispatch-gather), `input` is the
    unpermuted `[T, K]` tokens and row `r` of the grouped input is read in
    place: `input[slots[r] / K]`, or zeros where `slots[r] = -1` (padding);
    `slots: [R]` is `moe.dispatch`'s, and `R` the result's rows. So the
    grouped copy of the tokens need not exist.

    With `epilogue <act>` (moe-fuse-expert-activation), the activation is
    applied to `result` before it is written: ungated, elementwise (same
    width); with `gated = interleaved`, column pairs `(2i, 2i + 1)` are
    (gate, up) and the result is `[R, N / 2]`, exactly `moe.activation` of
    the unfused result, so the wide intermediate never exists.

    With `combine(%slots, %weights) into(%init)` (moe-fuse-combine), the
    rows are not written: each row `r` with `slots[r] = t * k + j >= 0`
    (`k` the columns of `weights: [T, k]`) is scaled by `weights[t, j]` and
    added to token row `t`, so the result is `[T, N]` (after the epilogue):
    ```
    result[t, :] = init[t, :] + sum_j weights[t, j] * row(t, j)
    ```
    `moe.combine` of the unfused result, plus `init` (zeros, or a shared
    expert's output). The order of the additions is unspecified: a GPU adds
    them atomically. So the tokens x k x N intermediate never exists.

    Quantized weights (`weight_bits = 4` or `8`, with `scales(%s)`): `weight`
    is `i8` `[E, N, K * bits / 8]` of unsigned values (4-bit: two per byte,
    lower nibble first) and `weight[e, n, c]` above stands for
    `(q[e, n, c] - 2^(bits - 1)) * s[e, n]` (`quant_block = 0`, `s: [E, N]`)
    or `* s[e, n, c / quant_block]` (`s: [E, N, K / quant_block]`). With
    `zero_points(%z)` (`i8` of the scales' shape, unsigned values), the
    `2^(bits - 1)` is `z[e, n]` or `z[e, n, c / quant_block]` instead.

    ```mlir
    %y = moe.expert_matmul %g, %w1, %off
        : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>)
          -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins
    MoE_FloatTensor:$input,
    MoE_WeightTensor:$weight,
    MoE_I32Tensor:$offsets,
    Optional<MoE_FloatTensor>:$bias,
    Optional<MoE_FloatTensor>:$scales,
    Optional<MoE_ZeroPointTensor>:$zero_points,
    Optional<MoE_I32Tensor>:$gather_slots,
    Optional<MoE_I32Tensor>:$combine_slots,
    Optional<MoE_FloatTensor>:$combine_weights,
    Optional<MoE_FloatTensor>:$combine_init,
    DefaultValuedAttr<I64Attr, "0">:$weight_bits,
    DefaultValuedAttr<I64Attr, "0">:$quant_block,
    OptionalAttr<MoE_ActivationAttr>:$epilogue,
    OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$gather_k
  );
  let results = (outs MoE_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $offsets (`bias` `(` $bias^ `)`)?
    (`scales` `(` $scales^ `)`)?
    (`zero_points` `(` $zero_points^ `)`)?
    (`gather` `(` $gather_slots^ `)` `k` `=` $gather_k)?
    (`epilogue` $epilogue^)?
    (`combine` `(` $combine_slots^ `,` $combine_weights `)` `into` `(`
     $combine_init `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool isQuantized() { return getWeightBits() != 0; }
    bool isGathered() { return getGatherSlots() != nullptr; }
    bool isCombined() { return getCombineSlots() != nullptr; }
    /// Rows of the grouped GEMM (not of the result when combined).
    ::mlir::Value getRowSource() {
      if (::mlir::Value slots = getGatherSlots())
        return slots;
      return getCombineSlots() ? getCombineSlots() : getInput();
    }
  }];
}

//===----------------------------------------------------------------------===//
// moe.activation
//===----------------------------------------------------------------------===//

def MoE_ActivationOp : MoE_Op<"activation", [Pure]> {
  let summary = "expert activation, gated or not";
  let description = [{
    Applies `#moe.activation` row by row. `input: [R, F]`. Ungated: the
    result is `[R, F]`. `interleaved` / `concatenated`: `F = 2I` holds gate
    and up values and the result is `[R, I]`. `separate`: the up values come
    from the second operand `up(%u)` of shape `[R, I]`, and `input` holds the
    gate.

    ```mlir
    %h = moe.activation %y <silu, gated = interleaved>
        : (tensor<?x256xf32>) -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins
    MoE_FloatTensor:$input,
    Optional<MoE_FloatTensor>:$up,
    MoE_ActivationAttr:$activation
  );
  let results = (outs MoE_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`up` `(` $up^ `)`)? $activation attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

def MoE_CombineOp : MoE_Op<"combine", [Pure]> {
  let summary = "weighted un-permute and sum of expert outputs";
  let description = [{
    `input: [R, H]` expert outputs in grouped order, `slots: [R] i32` from
    `moe.dispatch`, `weights: [T, k]` from `moe.route`. Let `row(t, j)` be the
    row whose slot is `t * k + j`. Then
    ```
    result[t, :] = sum_{j = 0..k-1} weights[t, j] * input[row(t, j), :]
    ```
    summed in that order of `j` (deterministic). Padding rows (slot `-1`)
    are ignored. The result is `[T, H]`.

    ```mlir
    %out = moe.combine %y, %slots, %w
        : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins
    MoE_FloatTensor:$input,
    MoE_I32Tensor:$slots,
    MoE_FloatTensor:$weights
  );
  let results = (outs MoE_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $slots `,` $weights attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// All-to-all
//===----------------------------------------------------------------------===//

class MoE_AllToAllBase<string mnemonic, list<Trait> traits = []>
    : MoE_Op<mnemonic, traits> {
  let arguments = (ins
    MoE_ExchangeTensor:$input,
    MoE_I32Tensor:$send_counts,
    ConfinedAttr<I64Attr, [IntPositive]>:$ranks
  );
}

def MoE_AllToAllOp : MoE_AllToAllBase<"all_to_all"> {
  let summary = "exchange variable-sized row blocks between all ranks";
  let description = [{
    A collective over `ranks` ranks; every rank executes the same sequence of
    collectives. `input: [S, H]` is split into `ranks` contiguous blocks in
    rank order, block `p` having `send_counts[p]` rows (`send_counts: [ranks]
    i32`, summing to `S`, checked at run time). Block `p` goes to rank `p`.

    Results: `output: [sum(recv_counts), H]`, the blocks received, concatenated
    in source-rank order, and `recv_counts: [ranks] i32`, the rows received
    from each rank. The counts are exchanged first, inside the op, so no rank
    needs to know its receive sizes in advance (MPI's `Alltoallv` after an
    `Alltoall` of the counts).

    The op has unknown side effects: it is never removed, duplicated or
    reordered with other collectives.

    ```mlir
    %out, %recv = moe.all_to_all %x, %counts ranks = 4
        : (tensor<?x64xf32>, tensor<4xi32>) -> (tensor<?x64xf32>, tensor<4xi32>)
    ```
  }];
  let results = (outs MoE_ExchangeTensor:$output, MoE_I32Tensor:$recv_counts);
  let assemblyFormat = [{
    $input `,` $send_counts `ranks` `=` $ranks attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The same exchange as `moe.all_to_all_start` of `input` and
    /// `sendCounts` (this op's operands, or their replacements) and its
    /// `moe.all_to_all_wait`, created at `b`'s insertion point; returns the
    /// wait, whose results stand for this op's.
    AllToAllWaitOp createAsync(::mlir::OpBuilder &b, ::mlir::Value input,
                               ::mlir::Value sendCounts);
  }];
}

def MoE_AllToAllStartOp : MoE_AllToAllBase<"all_to_all_start"> {
  let summary = "start an all-to-all exchange without waiting for it";
  let description = [{
    The asynchronous form of `moe.all_to_all`: starts the same exchange and
    returns a handle at once, so independent compute can run while the data
    is in flight. The handle must be consumed by exactly one
    `moe.all_to_all_wait` (possibly through region arguments), which yields
    `moe.all_to_all`'s results. `input` must not be written until then.

    ```mlir
    %h = moe.all_to_all_start %x, %counts ranks = 2
        : (tensor<?x64xf32>, tensor<2xi32>) -> !moe.a2a_handle<2, tensor<?x64xf32>>
    ```
  }];
  let results = (outs MoE_AllToAllHandle:$handle);
  let assemblyFormat = [{
    $input `,` $send_counts `ranks` `=` $ranks attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_AllToAllWaitOp : MoE_Op<"all_to_all_wait"> {
  let summary = "wait for a started all-to-all and take its results";
  let description = [{
    Blocks until the exchange started by `moe.all_to_all_start` is complete
    on this rank and returns its `output` and `recv_counts`, with the types
    recorded in the handle.

    ```mlir
    %out, %recv = moe.all_to_all_wait %h
        : !moe.a2a_handle<2, tensor<?x64xf32>> -> (tensor<?x64xf32>, tensor<2xi32>)
    ```
  }];
  let arguments = (ins MoE_AllToAllHandle:$handle);
  let results = (outs MoE_ExchangeTensor:$output, MoE_I32Tensor:$recv_counts);
  let assemblyFormat = [{
    $handle attr-dict `:` qualified(type($handle)) `->` `(` type($output) `,`
    type($recv_counts) `)`
  }];
  let hasVerifier = 1;
}

#endif // MOE_OPS_TD
