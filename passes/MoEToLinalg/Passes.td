//===- Passes.td - MoEToLinalg stage passes ----------------*- tablegen -*-===//
//
// The the reference lowering of moe step ops to linalg/tensor/scf.
// Each pass lives in its own .cpp file beside this one and has a lit test
// in test/Passes/MoEToLinalg/.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_MOETOLINALG_PASSES_TD
#define MOE_PASSES_MOETOLINALG_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertMoEToLinalg : Pass<"moe-convert-moe-to-linalg"> {
  let summary = "Reference lowering of the moe ops to linalg, scf and tensor";
  let description = [{
    Decomposes `moe.layer` and lowers each step op on tensors, transcribing
    the semantics of MoEOps.td:

    * `moe.route`: an `scf.forall` over tokens computing scores (softmax or
      sigmoid, in f32), the selection bias, group scores and kept groups, and
      the k picks in (score desc, index asc) order; the fused router matmul
      is a `linalg.matmul` before it. With `score-rows` the scores are a
      [T, E] tensor written by a first `scf.forall`.
    * `moe.dispatch`: a counting sort (count, prefix sum with block padding,
      stable placement) in `scf.for` loops, then one `linalg.generic`
      gathering the token rows. Ids out of range fail a `cf.assert`.
    * `moe.expert_matmul`: the experts that have rows in an `scf.forall`
      (with fewer than 16 of them, also split in 2 or 4 column chunks so
      that threads share them), each its row range times its weight^T with
      register tiles (4 x 4 tiles whose k loop carries 16 f32 sums, the 1-3
      remaining rows as one r x 8 tile; both operands read contiguously
      along k, no packing) written straight into the result, with the bias,
      the fused activation and rounding applied to each tile's sums in
      registers; quantized weights as one contraction dequantizing bytes as
      it reads, then a bias/activation/rounding `linalg.generic`.
    * `moe.activation`: one `linalg.generic` reading gate/up columns through
      its indexing maps.
    * `moe.combine`: the slot -> row inverse of the plan, then the k
      weighted rows of each token summed in order: one `linalg.generic`
      over [T, H], or with `vector-combine` an `scf.forall` over tokens
      whose rows are summed 16 lanes at a time.

    The all-to-all ops have no lowering here and are reported.
  }];
  let options = [
    Option<"vectorCombine", "vector-combine", "bool", /*default=*/"false",
           "Lower moe.combine to one parallel iteration per token summing "
           "its rows with 16-lane vectors (the CPU), not one per element "
           "(the GPU's threads)">,
    Option<"scoreRows", "score-rows", "bool", /*default=*/"false",
           "Compute moe.route's scores once per token into a [T, E] buffer "
           "(a parallel loop of its own) that top-k then reads, rather "
           "than recomputing an expert's score at each of the k scans: "
           "fewer exps on the CPU, one kernel fewer on the GPU">,
    Option<"int8Activations", "int8-activations", "std::string",
           /*default=*/"\"\"",
           "Quantized expert GEMMs of few rows quantize the activations to "
           "int8 per 32 columns and sum byte products in int32: 'vnni' "
           "(AVX512-VNNI's vpdpbusd), 'generic' (plain vector code), 'auto' "
           "(vnni when this CPU has AVX512-VNNI), or 'off' / empty (f32 "
           "products, exact to rounding)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::func::FuncDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // MOE_PASSES_MOETOLINALG_PASSES_TD
