//===- Passes.td - CPU stage passes ------------------------*- tablegen -*-===//
//
// The CPU code generation (loops, vectors, OpenMP, prefetch).
// Each pass lives in its own .cpp file beside this one and has a lit test
// in test/Passes/CPU/.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_CPU_PASSES_TD
#define MOE_PASSES_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def CPULoopSchedule : Pass<"moe-cpu-loop-schedule"> {
  let summary = "Guided schedules for the CPU's uneven parallel GEMM loops";
  let description = [{
    After `convert-scf-to-openmp`: every `omp.wsloop` whose iterations run
    register-tiled GEMM tiles (it contains `vector.fma`) and has no schedule
    gets `schedule(guided)`. Those loops go over the experts' work items,
    whose cost is the expert's routed row count, so a static split of the
    iterations leaves threads idle; guided chunks shrink as the loop drains
    and cost a few atomic claims per thread. Other loops keep the static
    schedule. libmoe_runtime implements the `__kmpc_dispatch_*` entry points
    the OpenMP translation calls for it.
  }];
  let dependentDialects = ["::mlir::omp::OpenMPDialect"];
}

def CPUApproximateVectorMath : Pass<"moe-cpu-approximate-vector-math"> {
  let summary = "Polynomial approximations for math ops on vectors";
  let description = [{
    Rewrites the `math` ops whose operands are vectors (exp, tanh, erf and
    the others upstream's polynomial approximations cover) into arith ops,
    so that the CPU's GEMM epilogues (SiLU, GELU applied to a tile of sums
    in registers) stay vectorized: LLVM would otherwise split a vector exp
    into one libm call per lane. The approximations are accurate to a few
    ulp and handle overflow, underflow and NaN. Scalar math keeps its libm
    calls, so routing (softmax and sigmoid scores, whose order picks the
    experts) is unchanged.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def CPUSerialInnerLoop : Pass<"moe-cpu-serial-inner-loop"> {
  let summary = "Run the innermost dimension of multi-dimensional parallel "
                "loops as a sequential loop";
  let description = [{
    Before `convert-scf-to-openmp`: an outermost `scf.parallel` of several
    dimensions (a dense elementwise op or reduction over [B, N, S, S], say)
    keeps its outer dimensions parallel and gets its last one as an
    `scf.for` marked `moe.serial_inner`. The OpenMP loop then collapses
    only the outer dimensions (one index split per row instead of a
    division per element), and LLVM vectorizes the contiguous inner loop.
    `moe-cpu-parallel-threshold` counts the marked loop's trips as the
    loop's work.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def CPUParallelThreshold : Pass<"moe-cpu-parallel-threshold"> {
  let summary = "Run small parallel loops on one thread";
  let description = [{
    After `convert-scf-to-openmp`: every outermost `omp.parallel` around a
    worksharing loop gets an `if` clause, computed from the loop's bounds
    just before it, so that the team is forked only when the loop has the
    work to pay for it. A loop whose body has inner loops or calls (a
    token's routing, an expert's GEMM tiles) goes parallel from 2
    iterations; an elementwise body (fills, copies) from `min-elementwise`
    iterations. Below that libmoe_runtime's `__kmpc_fork_call_if` runs the
    region on the calling thread, which skips the wake-up and barrier of
    the team: a decode step has a dozen such loops of one token or a few
    rows each. Regions that already have an `if`, or whose bounds are
    computed inside them, are left alone.
  }];
  let options = [
    Option<"minElementwise", "min-elementwise", "int64_t",
           /*default=*/"16384",
           "Iterations from which a loop with an elementwise body is forked "
           "(about 10 us of work on one thread)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::omp::OpenMPDialect"];
}

def CPUPrefetchWeights : Pass<"moe-cpu-prefetch-weights"> {
  let summary = "Prefetch the next weight tile of the CPU's expert GEMMs";
  let description = [{
    After bufferization: in the register-tiled GEMM loops (k loops with
    `vector.fma`), each vector read of a constant weight (a row of the
    `memref.get_global` weights, through subviews) is preceded by a
    `memref.prefetch` of the same columns `distance` rows further, the
    rows the next column tile reads. A weight tile is read from memory once
    and then from cache by every row tile of the expert; the prefetch
    moves the next tile's memory latency under the current tile's
    arithmetic. Prefetches are hints: rows past the end fetch nothing
    harmful.
  }];
  let options = [
    Option<"distance", "distance", "int64_t", /*default=*/"4",
           "Rows ahead to prefetch (the column tile's height)">,
    Option<"locality", "locality", "int64_t", /*default=*/"3",
           "Cache locality hint, 0 (none) to 3 (keep in all levels; the "
           "fastest on the bench shapes)">,
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def CPUOutlineLoopNests : Pass<"moe-cpu-outline-loop-nests", "::mlir::ModuleOp"> {
  let summary = "Move each top-level loop nest of a function into a function of its own";
  let description = [{
    Before translation to LLVM IR, every operation with regions directly in
    a function's body (`omp.parallel`, `scf.for`, `scf.if`, ...) moves into
    a private `noinline` function of its own, called where it was: values
    from above become arguments (scalar and vector constants are re-created
    inside), results become results. Functions with the same body are then
    merged, so a model of N identical layers compiles each of its loop nests
    once, not N times (weights are arguments, not part of the body). A
    model function is
    otherwise one function holding every loop of the graph, and LLVM's
    costs grow faster than linearly in function size: the OpenMP
    translation scans the whole function once per parallel region, and
    register allocation and instruction selection slow down on huge
    functions (a chain of 100 MatMuls: 78,000 lines of LLVM IR in one
    function). Many small functions keep compile time linear in the model's
    size; each call costs nanoseconds next to the loop nest it runs.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def CPUDefineDotIntrinsics
    : Pass<"moe-cpu-define-dot-intrinsics", "::mlir::ModuleOp"> {
  let summary = "Give the GEMMs' dot-product declarations their bodies";
  let description = [{
    The expert GEMMs call their dot-product instructions through private
    declarations of the module: with `int8-activations` on VNNI CPUs
    `moe_int8_dot_vnni(acc, w, x)` (vector<16xi32>, vector<64xi8> unsigned,
    vector<64xi8> signed), with bf16 weights and activations
    `moe_bf16_dot(acc, a, b)` (vector<16xf32>, two vector<32xbf16>). The
    call keeps the intrinsic out of the tensor-level IR, where one-shot
    bufferization rejects ops whose memory effects it cannot know. After
    bufferization this pass defines each declared one as a single
    `llvm.x86.avx512.vpdpbusd.512` or `llvm.x86.avx512bf16.dpbf16ps.512`
    (internal linkage; LLVM inlines it).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def CPUFreeBuffersEarly : Pass<"moe-cpu-free-buffers-early"> {
  let summary = "Free each buffer right after its last use";
  let description = [{
    After the buffer deallocation pipeline: every `memref.dealloc` moves up
    its block to just after the last operation there that uses the buffer
    or any view of it (`BufferViewFlowAnalysis`), or contains such a use.
    The deallocation pipeline frees at the end of the block, so without
    this a model held every intermediate buffer until it returned: peak
    memory the sum of all of them, and each call's large buffers fresh
    pages from the system. Freed early, the allocator hands the same memory
    to the next intermediate. Deallocations whose buffer is used outside
    their block, or passed to a call (the runtime's asynchronous all-to-all
    reads its buffers until a later wait), stay where they are. CPU only: GPU kernels may still be
    running when the host reaches the dealloc.
  }];
}

#endif // MOE_PASSES_CPU_PASSES_TD
