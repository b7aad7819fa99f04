//===- MoETypes.td - moe dialect types -----------------------*- tablegen -*-===//
//
// Types of the moe dialect: the handle of an in-flight all-to-all exchange.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TYPES_TD
#define MOE_TYPES_TD

include "MoEDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypes.td"

def MoE_AllToAllHandle : TypeDef<MoE_Dialect, "AllToAllHandle"> {
  let mnemonic = "a2a_handle";
  let summary = "an all-to-all exchange in flight";
  let description = [{
    Produced by `moe.all_to_all_start` and consumed by `moe.all_to_all_wait`.
    It records the number of ranks and the type of the tensor the exchange
    delivers, so that the wait's results are checked against the start.

    Syntax: `!moe.a2a_handle<2, tensor<?x64xf32>>`.
  }];
  let parameters = (ins "int64_t":$ranks, "::mlir::RankedTensorType":$data);
  let assemblyFormat = "`<` $ranks `,` $data `>`";
  let genVerifyDecl = 1;
}

#endif // MOE_TYPES_TD
