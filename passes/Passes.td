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

#endif // MOE_PASSES_TD
