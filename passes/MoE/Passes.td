//===- Passes.td - MoE stage passes ------------------------*- tablegen -*-===//
//
// The MoE graph transforms: decomposition, fusions, expert parallelism, overlap, cost report.
// Each pass lives in its own .cpp file beside this one and has a lit test
// in test/Passes/MoE/.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_MOE_PASSES_TD
#define MOE_PASSES_MOE_PASSES_TD

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
    Shared experts become a dense FFN of `moe.expert_matmul`s with one
    expert over every token (offsets `[0, T]`, so they run on the expert
    GEMM kernels and take the activation fusion) and `moe.activation`,
    added to the routed output by one `linalg.generic` that also applies the
    optional sigmoid shared gate (whose logits are a `linalg.matmul`).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"dispatchBlock", "block", "int64_t", /*default=*/"1",
           "Pad each expert's row group to a multiple of this (GEMM tile rows)">,
  ];
}

def ExpertParallel : Pass<"moe-expert-parallel", "::mlir::ModuleOp"> {
  let summary = "Shard the experts of every MoE layer over ranks (one rank's program)";
  let description = [{
    Rewrites the decomposed MoE layers (`moe.dispatch` -> expert compute ->
    `moe.combine`) into the program of rank `rank` of `ranks`, which keeps
    only the weights of its own experts. Tokens stay on the rank that owns
    them; each of their expert copies travels to the expert's rank and back:

    ```
    route (replicated router)            -> weights, ids
    ids -> placement order (rank-major)  ;  moe.dispatch (all experts)
    send_counts[p] = rows of rank p's experts
    moe.all_to_all rows, and the rows' local expert ids
    moe.dispatch by local expert -> the expert compute on the local weights
    moe.combine with unit weights (back to the received order)
    moe.all_to_all back (the counts received are the counts to send)
    moe.combine with the routing weights (unchanged)
    ```

    Placement: `contiguous` (rank p holds experts [p*E/N, (p+1)*E/N)),
    `round-robin` (expert e on rank e mod N), or `map`: a list of E ranks,
    one per expert (a rank may hold none). The module records the shard as
    `moe.shard = {rank, ranks, layout}`, `layout` being a hash of the
    placement that the runtime compares across ranks. Expert weights that
    are constants are sliced at compile time; weights passed as arguments
    are sliced in the program. The dispatch that groups rows for sending is
    unpadded; the receiver's keeps the layer's `block` (GEMM tile rows).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"ranks", "ranks", "int64_t", /*default=*/"1",
           "Number of ranks the experts are spread over">,
    Option<"rank", "rank", "int64_t", /*default=*/"0",
           "The rank whose program (and weights) this module becomes">,
    Option<"placement", "placement", "std::string", /*default=*/"\"contiguous\"",
           "Expert placement: contiguous or round-robin (ignored with map)">,
    ListOption<"expertMap", "map", "int64_t",
               "The rank of each expert (overrides placement)">,
  ];
}

def Overlap : Pass<"moe-overlap", "::mlir::ModuleOp"> {
  let summary = "Pipeline token chunks so all-to-alls overlap expert compute";
  let description = [{
    Splits the tokens of every expert-parallel MoE layer (the result of
    moe-expert-parallel) into `chunks` row blocks and software-pipelines
    them: every `moe.all_to_all` becomes `moe.all_to_all_start` /
    `moe.all_to_all_wait`, and the chunks are interleaved so that chunk
    i+1's dispatch exchange is in flight while chunk i's experts compute, and
    chunk i's return exchange while chunk i+1's experts compute:

    ```
    start dispatch(0); start dispatch(1)
    wait dispatch(0); experts(0); start return(0); start dispatch(2)
    wait dispatch(1); experts(1); start return(1); wait return(0); combine(0)
    ...
    ```

    Then, by dependence analysis, every side-effect-free op that depends on
    no exchange (shared experts, other routing-independent work) is hoisted
    above the first wait, into the communication window, and every wait sinks
    to just before its first use. A layer with a dynamic token count is split
    into chunks of `ceil(T / chunks)` rows (the last ones may be empty).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"chunks", "chunks", "int64_t", /*default=*/"2",
           "Number of token chunks to pipeline">,
  ];
}

def CostReport : Pass<"moe-cost-report", "::mlir::ModuleOp"> {
  let summary = "Print FLOPs, bytes and roofline time per kernel (IR unchanged)";
  let description = [{
    Prints, for every function, the kernels its ops become on `device`
    (`h100`, `h200`, `a100`: the CUDA pipeline's schedule; `cpu`: the CPU
    pipeline's parallel loop nests, with the peak figures `cpu-gflops` and
    `cpu-gbps`), and for each kernel the FLOPs and the bytes read and
    written, counted from the IR's tensor types, and its roofline time
    (the larger of FLOPs / peak and bytes / bandwidth; f16/bf16 GEMMs at
    the tensor-core peak, f32 at the FMA peak). `moe.layer`s are costed as
    moe-decompose writes them (on a copy; rows padded to `block`, by
    default 64 on GPUs and 1 on the CPU); dense ops count one kernel each;
    views, constants and shape ops none. Dynamic dimensions are `tokens`.
    Routing is uniform (each expert receives tokens * k / E copies, the
    expected number of experts is active) unless `expert-counts` gives the
    copies of each expert. `moe.all_to_all` exchanges are listed with
    their bytes and their time on the device's link.

    On GPUs each grouped GEMM also names the tile the CUDA pipeline's
    kernel picks at this token count and that kernel's estimated time, by
    the model the pipeline picks with (passes/Utils/GemmTiles): rows padded
    to the tile (warps of only padding rows skip their MMAs), columns and K
    padded, the expert's weights streamed once per group of 16 row tiles,
    operand slices from L2 per block, issue slots from the tile's PTX
    instruction mix, the SMs the grid fills; the total gives the sum over
    the function's kernels against its roofline. With `sm=90a` (the
    architecture-specific target the CUDA pipeline's `sm=90a` compiles
    for) the 64- and 128-row tiles are the wgmma kernels, at the dense
    tensor-core peak; otherwise mma.sync at its sustained rate.

    The schedule applies the MoE fusions the pipelines apply (each can be
    switched off here as there). On GPUs, whole-buffer fills (zeroed
    counters and accumulators, padding slots) run on the copy engine and
    count no kernel; the combined down GEMM's atomic additions count as its
    written bytes, its initial value as read and written. Then the kernel
    count, bytes and roofline time before fusion (every fusion off) and as
    scheduled, and what the full set of MoE fusions (3 kernels per layer:
    routing with the plan, the gather and the activation in the up/gate
    GEMM, the combine in the down GEMM) leaves: the intermediates they
    remove from memory traffic.

    ```
    moe-opt model.onnx --moe-cost-report="device=h100 tokens=4096"
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"device", "device", "std::string", /*default=*/"\"h100\"",
           "h100, h200, a100 or cpu">,
    Option<"tokens", "tokens", "int64_t", /*default=*/"256",
           "The size taken for every dynamic dimension (the token count)">,
    Option<"sm", "sm", "std::string", /*default=*/"\"\"",
           "GPUs: the CUDA pipeline's sm= the kernels are costed for "
           "(default 90 on h100 and h200, 80 on a100; 90a: wgmma GEMMs)">,
    ListOption<"expertCounts", "expert-counts", "int64_t",
               "Copies routed to each expert (default: uniform routing)">,
    Option<"block", "block", "int64_t", /*default=*/"0",
           "Row-group padding of the dispatch (0: the device's pipeline's)">,
    Option<"fuseActivation", "fuse-activation", "bool", /*default=*/"true",
           "Cost the schedule with moe-fuse-expert-activation applied, as "
           "the pipelines do by default">,
    Option<"fuseGather", "fuse-gather", "bool", /*default=*/"true",
           "Cost the schedule with moe-fuse-dispatch-gather applied, as the "
           "pipelines do by default">,
    Option<"fuseRoutingPlan", "fuse-routing-plan", "bool", /*default=*/"true",
           "Cost the schedule with moe-fuse-routing-plan applied, as the "
           "pipelines do by default">,
    Option<"fuseCombine", "fuse-combine", "bool", /*default=*/"true",
           "Cost the schedule with moe-fuse-combine applied (on GPUs, as "
           "the CUDA pipeline does by default; never on the CPU)">,
    Option<"cpuGflops", "cpu-gflops", "double", /*default=*/"100.0",
           "Peak f32 GFLOP/s of the host CPU (device=cpu)">,
    Option<"cpuGbps", "cpu-gbps", "double", /*default=*/"20.0",
           "Memory bandwidth of the host CPU in GB/s (device=cpu)">,
  ];
}

def FuseExpertActivation : Pass<"moe-fuse-expert-activation"> {
  let summary = "Apply an expert activation in its grouped GEMM's epilogue";
  let description = [{
    Rewrites `moe.activation(moe.expert_matmul(...))` into one
    `moe.expert_matmul ... epilogue <act>` when the activation is ungated or
    gated with interleaved gate/up columns (onnxruntime's SwiGLU layout) and
    the GEMM's result has no other use: the GEMM applies the activation to
    its accumulators before writing, so the `[rows, 2I]` gate/up tensor is
    never written nor read, and one kernel (loop nest) less runs per layer.
    Concatenated gating (one GEMM) and separate gating (`moe.activation %g
    up(%u)` of two GEMMs over the same rows) are fused when their weights,
    biases and scales are constants: their rows are interleaved at compile
    time (new `dense_resource` constants) so that a feature's gate and up
    columns meet in one tile. With weights given at run time they stay as
    they are.
  }];
}

def FuseDispatchGather : Pass<"moe-fuse-dispatch-gather"> {
  let summary = "Read the expert GEMMs' rows from the tokens through the plan";
  let description = [{
    Rewrites every `moe.expert_matmul` whose input is a `moe.dispatch`'s
    grouped rows (grouped by that same dispatch) into one that reads the
    unpermuted tokens through the dispatch's slots
    (`gather(%slots) k = K`): the grouped copy of the tokens is neither
    written nor read, and when nothing else uses it the dispatch does not
    build it (one kernel less per layer on the GPU). Run it after
    moe-expert-parallel, whose exchanges need the grouped rows.
  }];
}

def FuseRoutingPlan : Pass<"moe-fuse-routing-plan"> {
  let summary = "Route and build the routing plan in one step";
  let description = [{
    Rewrites a `moe.route` whose ids are used only by one `moe.dispatch`
    whose grouped rows are unused (after moe-fuse-dispatch-gather) into one
    `moe.route_plan`: on the GPU, one kernel routes the tokens and places
    their slots, where the unfused plan is a chain of loops and launches.
    Nothing of size tokens x experts is written beyond the weights and the
    plan. Run it after moe-fuse-dispatch-gather.
  }];
}

def FuseCombine : Pass<"moe-fuse-combine"> {
  let summary = "Sum the routed rows into the tokens in the down GEMM";
  let description = [{
    Rewrites `moe.combine` of a `moe.expert_matmul`'s rows (grouped by the
    plan whose slots the combine reads, and used by nothing else) into that
    GEMM with `combine(%slots, %weights) into(%init)`: each row is scaled by
    its routing weight and added into its token's output row, so the
    tokens x k x hidden rows are never written. When the combined sum is
    added to another tensor of the same shape (a shared expert's output, a
    residual) by an elementwise `linalg.generic` computing `a + b`, that
    tensor becomes `init` and the addition disappears; otherwise `init` is
    zeros.

    The additions then happen in an unspecified order (GPU atomics). With
    `deterministic=true` only combines whose result cannot depend on that
    order are fused: at most two rows per token added into zeros (float
    addition is commutative, and `0 + a + b == 0 + b + a`).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"deterministic", "deterministic", "bool", /*default=*/"false",
           "Only fuse where the sum does not depend on the order of additions">,
  ];
}

#endif // MOE_PASSES_MOE_PASSES_TD
