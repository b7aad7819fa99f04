//===- MoEDialect.td - the moe dialect definition ------------*- tablegen -*-===//
//
// Declares the `moe` dialect: Mixture-of-Experts routing, dispatch, expert
// compute, combine and all-to-all communication as first-class ops.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_TD
#define MOE_DIALECT_TD

include "mlir/IR/OpBase.td"

def MoE_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::mlir::moe";
  let summary = "Mixture-of-Experts layers as first-class IR";
  let description = [{
    The `moe` dialect represents a Mixture-of-Experts (MoE) block at two levels
    of abstraction, both on ranked tensors with value semantics:

    * `moe.layer` is the whole block: router, expert FFNs, weighted combine and
      optional shared experts. Importers and raising passes produce it.
    * `moe.route`, `moe.dispatch`, `moe.expert_matmul`, `moe.activation` and
      `moe.combine` are its steps; `moe-decompose` rewrites a layer into them.
      `moe.all_to_all` (and its async `_start`/`_wait` form) moves grouped
      tokens between expert-parallel ranks.

    Conventions shared by every op:

    * `T` is the number of tokens (usually dynamic), `H` the hidden size,
      `E` the number of experts (always static), `k` the experts per token,
      `I` the expert intermediate size.
    * Expert weights are laid out `[E, out_features, in_features]`, the layout
      of onnxruntime's `com.microsoft.MoE`: a row of the weight is dotted with a
      row of the activations.
    * Routing plans are plain `i32` tensors so that they bufferize and lower
      like any other tensor.
    * Floating-point reductions (matmuls, combine sums) accumulate in at least
      f32, also for f16/bf16 operands, and round once to the result type.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
    void registerTypes();
  }];
}

class MoE_Op<string mnemonic, list<Trait> traits = []>
    : Op<MoE_Dialect, mnemonic, traits>;

#endif // MOE_DIALECT_TD
