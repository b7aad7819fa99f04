//===- Passes.td - Raise stage passes ----------------------*- tablegen -*-===//
//
// The raising of ONNX MoE blocks (contrib ops, exported subgraphs) to moe.layer.
// Each pass lives in its own .cpp file beside this one and has a lit test
// in test/Passes/Raise/.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_RAISE_PASSES_TD
#define MOE_PASSES_RAISE_PASSES_TD

include "mlir/Pass/PassBase.td"

def RaiseONNXMoE : Pass<"moe-raise-onnx-moe"> {
  let summary = "Raise com.microsoft.MoE and QMoE nodes to moe.layer";
  let description = [{
    Replaces every `onnx.MoE` (onnxruntime's `com.microsoft.MoE`) with a
    `moe.layer` of the same semantics:

    * `router_probs` (router logits; onnxruntime applies the softmax) become
      the layer's `logits`; `k` and `normalize_routing_weights` its routing
      (`softmax`, `renormalize`).
    * `activation_type`: `relu`, `silu`, `identity` map to the same
      activation; onnxruntime's `gelu` is the tanh approximation
      (`gelu_tanh`); `swiglu` is `silu` gated by the `swiglu_fusion` layout
      (1 interleaved, 2 concatenated, 0 separate `fc3`) with
      `activation_alpha`, `activation_beta` and `swiglu_limit`. A non-swiglu
      activation with `fc3` present is gated with `fc3` as the up projection.
    * Weights are `[E, out, in]`; a 3-D input `[B, S, H]` is flattened to
      `[B * S, H]` around the layer.

    `com.microsoft.QMoE` maps the same way to a quantized `moe.layer`
    (`weight_bits` from `expert_weight_bits`, `quant_block` from
    `block_size`, the scales as `fc*_scales`); its uint8 weights become i8
    constants over the same bytes, never a dequantized copy. Zero points
    (`fc*_zero_points`, asymmetric weights; 4-bit ones packed two per byte)
    become the layer's `fc*_zero_points`, one i8 per scale: unpacked at
    compile time when they are constants, else by a `tensor.generate` at
    run time. `router_weights` are reported as unsupported.

    Nodes that use features outside this mapping (`use_sparse_mixer`,
    `swiglu_limit_after_activation`, the old `[E, in, out]` weight layout,
    inputs of unknown rank) are reported as errors at the node.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::moe::MoEDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def WarnTraceSpecialized : Pass<"moe-warn-trace-specialized"> {
  let summary = "Warn about exports specialized to their tracing input";
  let description = [{
    A TorchScript trace of a data-dependent loop (transformers' "eager"
    experts) bakes counts that the tracing input happened to produce into
    the graph: a Split with constant sizes of rows whose number is only
    known at run time (it comes from NonZero). Such a graph computes the
    model only for inputs that reproduce the count, and fails on the others
    (so does onnxruntime). This pass warns once at each such Split, saying
    the count it expects and, for a loop over the experts hit, how to
    export all of them. The Split only gets a `moe.trace_specialized` mark.
  }];
}

def RaiseDecomposedMoE : Pass<"moe-raise-decomposed-moe"> {
  let summary = "Raise MoE blocks exported as dense ops (PyTorch) to moe.layer";
  let description = [{
    Finds MoE blocks that `torch.onnx.export` (TorchScript or dynamo) wrote
    as dense ops, the way the Hugging Face Mixtral, OLMoE and Qwen2-MoE
    blocks compute them:

    ```
    logits = x W_g^T; (w, ids) = topk(softmax(logits), k) [w /= sum(w)]
    mask = one_hot(ids, E).permute(2, 1, 0)
    for e in 0..E-1:
      j, t = where(mask[e])
      out.index_add_(0, t, ffn_e(x[t]) * w[t, j, None])
    ```

    and replaces each with a `moe.layer`. The match is a proof, not a guess
    from op names: every value of the loop is given a meaning ("the tokens
    routed to expert e", "x at those tokens", "their routing weights") by a
    rule that follows the op's ONNX semantics and checks the shapes it
    depends on (OneHot or Equal against an arange, NonZero, Split or Slice,
    Gather or GatherND, ScatterND with `add` or ScatterElements into zeros
    added to the accumulator, unit-dimension reshapes, no-op Expand and
    Cast). The block is raised only when the accumulation adds each expert's
    output exactly once, scaled by the weights of the same top-k that chose
    its tokens, and the router reads the block's input. Anything else stays
    as dense ops, with a remark saying what did not match.

    Expert FFNs are `down(act(gate(x)) * up(x))` (SwiGLU as `g * sigmoid(g)`)
    or `down(act(fc1(x)))` with act relu or gelu (the Gelu op, or
    `0.5 x (1 + erf(x / sqrt 2))` and its tanh form written out, factors in
    any order), their weights constant
    MatMul/Gemm operands; they are stacked into `[E, out, in]` constants.
    Biases of the expert projections (Gemm's C, or an Add after the
    MatMul) are stacked into the layer's `[E, out]` biases when every
    expert has them. A shared expert (without biases) added to the block's
    output, optionally scaled by `sigmoid(x W_s^T)` (Qwen2-MoE), becomes
    the layer's shared expert. The router's linear map must have no bias.
    Afterwards nothing of the decomposed routing, dispatch or combine
    remains.
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // MOE_PASSES_RAISE_PASSES_TD
