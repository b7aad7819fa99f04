//===- Passes.td - moe compiler passes -----------------------*- tablegen -*-===//
//
// Declarative definitions of every pass of the compiler. Each pass lives in
// its own .cpp file in this directory and has a lit test of the same name.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_TD
#define MOE_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoEDecompose : Pass<"moe-decompose"> {
  let summary = "Split moe.layer into route, dispatch, expert compute, combine";
  let description = [{
    Rewrites every `moe.layer` into the step ops whose composition is its
    definition:
    ```
    moe.route           (router matmul fused when the layer has `gate(...)`)
    moe.dispatch        (group token copies by expert, routing plan)
    moe.expert_matmul   fc1 [and fc3 for separate gating]
    moe.activation
    moe.expert_matmul   fc2
    moe.combine         (weighted un-permute and sum)
    ```
    Shared experts become a dense FFN on `linalg.matmul` (with transposed
    weight indexing maps) and `moe.activation`, added to the routed output by
    one `linalg.generic` that also applies the optional sigmoid shared gate.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"dispatchBlock", "block", "int64_t", /*default=*/"1",
           "Pad each expert's row group to a multiple of this (GEMM tile rows)">,
  ];
}

def ONNXRaiseMoE : Pass<"onnx-raise-moe"> {
  let summary = "Raise com.microsoft.MoE nodes to moe.layer";
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

    Nodes that use features outside this mapping (`use_sparse_mixer`,
    `swiglu_limit_after_activation`, the old `[E, in, out]` weight layout,
    inputs of unknown rank) are reported as errors at the node.
  }];
  let dependentDialects = [
    "::mlir::moe::MoEDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // MOE_PASSES_TD
