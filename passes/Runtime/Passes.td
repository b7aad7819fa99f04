//===- Passes.td - Runtime stage passes --------------------*- tablegen -*-===//
//
// The lowering to the runtime ABI (entry signatures, errors, collectives).
// Each pass lives in its own .cpp file beside this one and has a lit test
// in test/Passes/Runtime/.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_RUNTIME_PASSES_TD
#define MOE_PASSES_RUNTIME_PASSES_TD

include "mlir/Pass/PassBase.td"

def AnnotateABI : Pass<"moe-annotate-abi", "::mlir::ModuleOp"> {
  let summary = "Record each entry function's tensor signature as moe.abi";
  let description = [{
    Attaches to every public `func.func` whose arguments and results are all
    ranked tensors of f32, f16, bf16, i8, i16, i32, i64 or i1 a `moe.abi`
    dictionary: for each input and output its name (`onnx.name`, else
    `input<i>` / `output<i>`), its tensor type, and the symbolic names of its
    dynamic dimensions (`onnx.dims`, from ONNX `dim_param`). The attribute survives
    lowering to the LLVM dialect; `--emit=shared` and `--emit=header` read it
    to generate the model's C entry point, which checks inputs against it.
    A function with another argument or result type gets
    `moe.abi_unsupported`, saying which one; with `require`, as the compile
    pipelines run it, a module whose public functions all have one is an
    error that names it.
  }];
  let options = [
    Option<"require", "require", "bool", /*default=*/"false",
           "Fail when no public function can cross the C interface">,
  ];
}

def ConvertAssertsToRuntime : Pass<"moe-convert-asserts-to-runtime", "::mlir::ModuleOp"> {
  let summary = "Turn failed run-time checks into runtime errors, not aborts";
  let description = [{
    Rewrites every `cf.assert` into a branch to a block that calls
    `moe_runtime_fail(message)` (libmoe_runtime). Inside a model's C entry
    point that returns the message with `MOE_ERROR_RUNTIME` to the caller
    instead of aborting the process; elsewhere it prints the message to
    stderr and aborts, like the upstream lowering but on stderr and
    flushed. Runs on control flow, before the LLVM conversion of `cf`.
  }];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect",
    "::mlir::cf::ControlFlowDialect",
  ];
}

def ConvertCollectivesToRuntime
    : Pass<"moe-convert-collectives-to-runtime", "::mlir::ModuleOp"> {
  let summary = "Lower all-to-all exchanges to calls into the runtime";
  let description = [{
    Rewrites `moe.all_to_all` into `moe.all_to_all_start` +
    `moe.all_to_all_wait`, and each start/wait pair into calls of
    libmoe_runtime's collective API (include/moe/Runtime/Collectives.h),
    still on tensors, before bufferization:

    * start: `moe_rt_a2a_start(data, rows, row_bytes, send_counts, ranks,
      rank, layout)` on the buffers of the input and the counts, with the
      shard recorded by moe-expert-parallel (`moe.shard`; rank -1 and layout
      0 without it, which the runtime does not check); the runtime copies
      the rows, so the input buffer is free again after the call;
    * wait: `moe_rt_a2a_wait(handle)` returns the rows received, then a
      buffer of that many rows and one of counts are allocated and filled by
      `moe_rt_a2a_take`, and become the result tensors.
  }];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

def StoreResultsThroughPointer
    : Pass<"moe-store-results-through-pointer", "::mlir::ModuleOp"> {
  let summary = "Entry functions write their results where the C interface wants them";
  let description = [{
    In the LLVM dialect, after `convert-func-to-llvm`: a function `F` whose
    C interface wrapper `_mlir_ciface_F` only calls it and stores the
    returned struct through its result pointer takes that pointer as a new
    first argument instead, and stores each result descriptor's fields
    there; the wrapper passes its pointer on. Returned by value, the
    results form one LLVM struct of 7 fields per 2-D output, built by a
    chain of `insertvalue`s, and instruction selection splits every link of
    that chain into all of the struct's fields: quadratic in the number of
    outputs (1,000 outputs: 14 s of code generation; 5,000 did not finish
    in 8 GB). `F` is not part of the documented ABI (the entry points call
    the wrapper).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ExternalizeWeights
    : Pass<"moe-externalize-weights", "::mlir::ModuleOp"> {
  let summary = "Read large constant tensors from a weights file mapped at load time";
  let description = [{
    In the LLVM dialect: when the constant tensor globals of at least
    `min-bytes` each (the weights, already in the layout the kernels read)
    add up to `threshold-bytes` or more, each is given a 64-byte aligned
    offset in a weights file (`moe.weights_offset` on the global, the total
    in the module's `moe.weights` attribute), and every
    `llvm.mlir.addressof` of it in a function becomes that offset from
    `@moe__weights_base`, the pointer the entry points set when they map
    the file (include/moe/Runtime/Weights.h). `--emit` writes the file from
    the marked globals and drops them from the library, so neither the
    library nor the compiler's output holds the weights twice. Smaller
    models keep their constants in the library. A `threshold-bytes` of 0
    externalizes any global of `min-bytes`; a negative one none.
  }];
  let options = [
    Option<"thresholdBytes", "threshold-bytes", "int64_t", "256 << 20",
           "Externalize when the candidates total at least this many bytes">,
    Option<"minBytes", "min-bytes", "int64_t", "4096",
           "Smallest global that moves to the weights file">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // MOE_PASSES_RUNTIME_PASSES_TD
