//===- Passes.td - Linalg stage passes ---------------------*- tablegen -*-===//
//
// The target-independent preparation of linalg for code generation.
// Each pass lives in its own .cpp file beside this one and has a lit test
// in test/Passes/Linalg/.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_LINALG_PASSES_TD
#define MOE_PASSES_LINALG_PASSES_TD

include "mlir/Pass/PassBase.td"

def ReassociateReductions : Pass<"moe-reassociate-reductions"> {
  let summary = "Allow reassociation in the floating-point reductions of linalg ops";
  let description = [{
    Marks the `arith.addf` / `arith.mulf` in the bodies of `linalg.generic`
    ops that have reduction iterators (matmuls once generalized, row sums)
    with `fastmath<reassoc, contract>`, so that code generation may vectorize
    the reductions and use fused multiply-adds. The dialects' precision rule
    (accumulate in f32, round once) is unchanged; only the summation order
    becomes unspecified, as it is in every tiled or threaded GEMM.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def DecomposeLinalgAggregates : Pass<"moe-decompose-linalg-aggregates"> {
  let summary = "Decompose aggregate linalg ops (linalg.softmax) into generics";
  let description = [{
    Rewrites every op implementing `linalg::AggregatedOpInterface` (such as
    `linalg.softmax`, which moe-convert-onnx-to-core produces) into the
    structured ops of its definition (max, exp of the difference, sum,
    division), which loop lowering and vectorization understand.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
  ];
}

#endif // MOE_PASSES_LINALG_PASSES_TD
