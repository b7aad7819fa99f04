//===- EntrySignature.h - what the generated entry points know -*- C++ -*-===//
//
// Private to lib/Target: the tensor signature of an entry function (from
// its `moe.abi` attribute) and the C-text helpers that EntryPoint.cpp and
// AsyncEntryPoint.cpp share.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_TARGET_ENTRYSIGNATURE_H
#define MOE_LIB_TARGET_ENTRYSIGNATURE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::moe::detail {

struct TensorSig {
  std::string name;
  RankedTensorType type;
  SmallVector<std::string> dims; // "" or the dim_param
};

struct EntrySig {
  std::string function;
  SmallVector<TensorSig> inputs, outputs;
};

/// The parameters of `<f>_run_async` and of the function it serializes.
inline constexpr const char *kAsyncParams =
    "const moe_tensor *inputs, int32_t num_inputs, const moe_tensor "
    "*outputs, int32_t num_outputs, void *stream, char *error, size_t "
    "error_size";

/// The size in bytes of an element of a model tensor.
unsigned dtypeBytes(Type t);

/// `s` as a C string literal.
std::string cString(StringRef s);

/// `struct moe_memref<rank> <name> = {data, data, 0, {sizes}, {strides}}`
/// for a row-major tensor whose data and shape are C expressions
/// (`shape` indexed by the dimension).
void printRowMajorDescriptor(llvm::raw_ostream &os, StringRef name,
                             int64_t rank, StringRef data, StringRef shape);

/// The C block that returns MOE_ERROR_DEVICE with the reason when the
/// CUDA driver or device cannot be used.
void printCudaAvailableCheck(llvm::raw_ostream &os);

/// `int <name>(<params>)`: `<serialized>(<args>)` under the runtime's call
/// lock (one per model library), the call's buffers given back when it
/// failed.
void printSerializedCall(llvm::raw_ostream &os, StringRef name,
                         StringRef params, StringRef serialized,
                         StringRef args);

/// For CUDA models: declarations, helpers and definitions of
/// `<f>_run_async` (AsyncEntryPoint.cpp).
void printAsyncDeclarations(llvm::raw_ostream &os, ArrayRef<EntrySig> entries);
void printAsyncHelpers(llvm::raw_ostream &os);
void printAsyncEntry(llvm::raw_ostream &os, const EntrySig &e,
                     ModuleOp module);
/// `moe_model_run_async` for a model with one entry function.
void printAsyncSingleEntry(llvm::raw_ostream &os, const EntrySig &e);

} // namespace mlir::moe::detail

#endif // MOE_LIB_TARGET_ENTRYSIGNATURE_H
