//===- EntryPoint.h - C entry points of compiled models ---------*- C++ -*-===//
//
// Private to lib/Target: the C source of a model's entry points, generated
// from the `moe.abi` signatures that moe-annotate-abi records.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_TARGET_ENTRYPOINT_H
#define MOE_LIB_TARGET_ENTRYPOINT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::moe::detail {

/// The model's C header: the ABI types and one `<fn>_info` / `<fn>_run`
/// pair per entry function (plus `moe_model_get_info` / `moe_model_run` when
/// there is exactly one). Fails, with an error on the module, when no
/// function carries a `moe.abi` signature.
FailureOr<std::string> generateHeader(ModuleOp module);

/// The C source implementing those declarations on top of the functions'
/// `_mlir_ciface_<fn>` wrappers.
FailureOr<std::string> generateEntrySource(ModuleOp module);

} // namespace mlir::moe::detail

#endif // MOE_LIB_TARGET_ENTRYPOINT_H
