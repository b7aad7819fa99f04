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

def SplitEmptyTensors : Pass<"moe-split-empty-tensors"> {
  let summary = "Give every use of a tensor.empty its own tensor.empty";
  let description = [{
    CSE merges the `tensor.empty` destinations of all ops with the same
    shape into one value, so in a graph of N same-shaped ops every
    destination aliases every other one. One-shot bufferization then checks
    each in-place candidate against all N uses: compile time grows with N^2
    (a chain of 1,000 Adds spent 96% of its compile in that analysis). A
    `tensor.empty` carries no data, so one per use means the same program,
    and each destination is analyzed against its own op alone. Slices and
    reshapes of empty tensors are folded to empty tensors first, since CSE
    shares those too. Each new `tensor.empty` is placed just before its
    user, so the buffer it becomes is allocated where it is needed.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def SplitDeallocations : Pass<"moe-split-deallocations"> {
  let summary = "Give each owned buffer of a bufferization.dealloc that no "
                "retained value can alias a dealloc of its own";
  let description = [{
    The ownership-based deallocation frees the buffers of a block in one
    `bufferization.dealloc` at its end, and a model function is one block:
    for a graph of thousands of layers that is one op with thousands of
    buffers. The upstream simplification then asks, for every pair of
    them, whether they may alias, and the lowering of what is left builds
    tables of the same size: compile time grows with N^2 (a 10,000-node
    graph of 1,667 MatMuls spent 5 s there). Each buffer is traced to its
    allocation through view-like ops in time linear in the op's operands: a
    buffer whose allocation is no other operand's and no retained value's
    (retained values traced to allocations of their own or to function
    arguments) gets a `bufferization.dealloc` of its own, with its
    condition and no retained values, which frees exactly what the
    combined op would have. The others, and the retained values with their
    results, stay in the original op.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def FuseElementwise : Pass<"moe-fuse-elementwise"> {
  let summary = "Fuse chains of elementwise linalg ops into one loop nest";
  let description = [{
    A `linalg.generic` with only parallel loops whose result feeds, as its
    only use, another such generic is folded into that consumer: the
    producer's body is computed inline and its intermediate tensor never
    exists. Graphs of many elementwise ONNX nodes (activations, residual
    adds, scaling, casts) then become a few loop nests: less memory traffic
    at run time and, since code generation costs about the same per loop
    nest whatever its body, compile time that no longer grows with the
    node count (a chain of 2,000 Adds: 36 s before). A fused body is
    capped at `max-body-ops` operations so that a long chain cannot build
    one huge loop body (and fusion stays linear). Consumers with reduction
    loops (contractions, row sums) are left alone, so the GEMM and
    reduction lowerings see the ops they match.
  }];
  let options = [
    Option<"maxBodyOps", "max-body-ops", "unsigned", /*default=*/"64",
           "Largest fused body, in operations">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

#endif // MOE_PASSES_LINALG_PASSES_TD
