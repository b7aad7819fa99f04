//===- Passes.td - moe compiler passes -----------------------*- tablegen -*-===//
//
// Declarative definitions of every pass of the compiler. Each pass lives in
// its own .cpp file in this directory and has a lit test of the same name.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_TD
#define MOE_PASSES_TD

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
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"dispatchBlock", "block", "int64_t", /*default=*/"1",
           "Pad each expert's row group to a multiple of this (GEMM tile rows)">,
  ];
}

def ONNXRaiseMoE : Pass<"onnx-raise-moe"> {
  let summary = "Raise com.microsoft.MoE and QMoE nodes to moe.layer";
  let description = [{
    Replaces every `onnx.MoE` (onnxruntime's `com.microsoft.MoE`) with a
    `moe.layer` of the same semantics:

    * `router_probs` (router logits; onnxruntime applies the softmax) become
      the layer's `logits`; `k` and `normalize_routing_weights` its routing
      (`softmax`, `renormalize`).
    * `activation_type`: `relu`, `silu`, `identity` map to the same
      activation; onnxruntime's `gelu` is the tanh approximation
      (`gelu_tanh`); `swiglu` is `silu` gated by the `swiglu_fusion` layout
      (1 interleaved, 2 concatenated, 0 separate `fc3`) with
      `activation_alpha`, `activation_beta` and `swiglu_limit`. A non-swiglu
      activation with `fc3` present is gated with `fc3` as the up projection.
    * Weights are `[E, out, in]`; a 3-D input `[B, S, H]` is flattened to
      `[B * S, H]` around the layer.

    `com.microsoft.QMoE` maps the same way to a quantized `moe.layer`
    (`weight_bits` from `expert_weight_bits`, `quant_block` from
    `block_size`, the scales as `fc*_scales`); its uint8 weights become i8
    constants over the same bytes, never a dequantized copy. Zero points
    (asymmetric weights) and `router_weights` are reported as unsupported.

    Nodes that use features outside this mapping (`use_sparse_mixer`,
    `swiglu_limit_after_activation`, the old `[E, in, out]` weight layout,
    inputs of unknown rank) are reported as errors at the node.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::moe::MoEDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def ONNXRaiseDecomposedMoE : Pass<"onnx-raise-decomposed-moe"> {
  let summary = "Raise MoE blocks exported as dense ops (PyTorch) to moe.layer";
  let description = [{
    Finds MoE blocks that `torch.onnx.export` (TorchScript or dynamo) wrote
    as dense ops, the way the Hugging Face Mixtral, OLMoE and Qwen2-MoE
    blocks compute them:

    ```
    logits = x W_g^T; (w, ids) = topk(softmax(logits), k) [w /= sum(w)]
    mask = one_hot(ids, E).permute(2, 1, 0)
    for e in 0..E-1:
      j, t = where(mask[e])
      out.index_add_(0, t, ffn_e(x[t]) * w[t, j, None])
    ```

    and replaces each with a `moe.layer`. The match is a proof, not a guess
    from op names: every value of the loop is given a meaning ("the tokens
    routed to expert e", "x at those tokens", "their routing weights") by a
    rule that follows the op's ONNX semantics and checks the shapes it
    depends on (OneHot or Equal against an arange, NonZero, Split or Slice,
    Gather or GatherND, ScatterND with `add` or ScatterElements into zeros
    added to the accumulator, unit-dimension reshapes, no-op Expand and
    Cast). The block is raised only when the accumulation adds each expert's
    output exactly once, scaled by the weights of the same top-k that chose
    its tokens, and the router reads the block's input. Anything else stays
    as dense ops, with a remark saying what did not match.

    Expert FFNs are `down(act(gate(x)) * up(x))` (SwiGLU as `g * sigmoid(g)`)
    or `down(act(fc1(x)))` with act relu or gelu (the Gelu op, or
    `0.5 x (1 + erf(x / sqrt 2))` and its tanh form written out, factors in
    any order), their weights constant
    MatMul/Gemm operands; they are stacked into `[E, out, in]` constants.
    Biases of the expert projections (Gemm's C, or an Add after the
    MatMul) are stacked into the layer's `[E, out]` biases when every
    expert has them. A shared expert (without biases) added to the block's
    output, optionally scaled by `sigmoid(x W_s^T)` (Qwen2-MoE), becomes
    the layer's shared expert. The router's linear map must have no bias.
    Afterwards nothing of the decomposed routing, dispatch or combine
    remains.
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
}

def ConvertONNXToCore : Pass<"convert-onnx-to-core"> {
  let summary = "Lower dense onnx ops to linalg, tensor, arith and math";
  let description = [{
    Lowers the dense ONNX operators around MoE blocks to upstream dialects,
    one pattern set per op family:

    * elementwise (arithmetic, comparisons, logic, activations including both
      GELU forms, Cast, Where, Max/Min) -> one `linalg.generic` each, with
      numpy broadcasting in the indexing maps;
    * MatMul (2-D, N-D x 2-D, batched 3-D), Gemm -> `linalg.matmul` /
      `linalg.batch_matmul` accumulating in f32; Softmax -> `linalg.softmax`;
      ReduceSum/Mean/Max/Min over constant axes -> `linalg.reduce`;
      LayerNormalization and SimplifiedLayerNormalization (RMSNorm) ->
      `linalg.generic` with f32 statistics;
    * Constant -> `arith.constant` (blobs stay `dense_resource`), Identity,
      Transpose -> `linalg.transpose`, Reshape (0 and -1 resolved at run
      time) -> `tensor.reshape`, Squeeze/Unsqueeze -> collapse/expand_shape,
      Concat -> `tensor.concat`, Slice with constant bounds and positive
      steps -> `tensor.extract_slice`;
    * GatherND -> one `linalg.generic` reading index tuples; ScatterND and
      ScatterElements (reductions none/add/mul/max/min), NonZero and CumSum
      along a constant axis (exclusive, reverse) -> sequential `scf.for`
      loops over tensors (their definitions are sequential);
      SkipSimplifiedLayerNormalization -> the residual sum and RMS norm.

    Ops outside this set, or with unranked types, stay as they are; with
    `allow-partial=false` any leftover onnx op is an error at its node.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
  let options = [
    Option<"allowPartial", "allow-partial", "bool", /*default=*/"true",
           "Leave unsupported onnx ops in place instead of failing">,
  ];
}

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

def ConvertMoEToLinalg : Pass<"convert-moe-to-linalg"> {
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
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def AnnotateABI : Pass<"moe-annotate-abi", "::mlir::ModuleOp"> {
  let summary = "Record each entry function's tensor signature as moe.abi";
  let description = [{
    Attaches to every public `func.func` whose arguments and results are all
    ranked tensors of f32, f16, bf16, i32, i64 or i1 a `moe.abi` dictionary:
    for each input and output its name (`onnx.name`, else `input<i>` /
    `output<i>`), its tensor type, and the symbolic names of its dynamic
    dimensions (`onnx.dims`, from ONNX `dim_param`). The attribute survives
    lowering to the LLVM dialect; `--emit=shared` and `--emit=header` read it
    to generate the model's C entry point, which checks inputs against it.
  }];
}

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
    `linalg.softmax`, which convert-onnx-to-core produces) into the
    structured ops of its definition (max, exp of the difference, sum,
    division), which loop lowering and vectorization understand.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
  ];
}

def AssertsToRuntime : Pass<"moe-asserts-to-runtime", "::mlir::ModuleOp"> {
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

def GPUExpertMatmul : Pass<"moe-gpu-expert-matmul", "::mlir::ModuleOp"> {
  let summary = "Lower moe.expert_matmul to one grouped-GEMM GPU kernel";
  let description = [{
    Replaces every `moe.expert_matmul` whose row groups are padded to the
    kernel's row tile (its `offsets` come from a `moe.dispatch` whose `block`
    is a multiple of 64) with one `gpu.launch_func` of a kernel (a
    `gpu.func` in the `@moe_kernels` GPU module) over all experts' rows:
    a grid of `ceil(N / 64)` x `R / 64` blocks, each computing a 64 x 64
    output tile. A block finds the expert of its 64-row tile from `offsets`
    (tiles at or past `offsets[E]` write zeros and stop) and stages slices
    of the rows and of the expert's weight rows in workgroup memory:

    * f16/bf16 (with `tensor-cores`, the default): 4 warps, each a 32 x 32
      quarter as 2 x 4 `mma.sync.m16n8k16` tiles accumulating in f32
      registers (`nvvm.mma.sync`, sm_80 and newer);
    * f32 with `allow-tf32`: the same on tf32 tensor cores
      (`mma.sync.m16n8k8.tf32`, about 10 mantissa bits per product);
    * otherwise (f32, quantized weights, mixed types): 16 x 16 threads,
      each a 4 x 4 f32 register tile updated with fused multiply-adds.

    The epilogue adds the bias and rounds once to the result type.

    A one-expert matmul over dense rows (offsets `tensor.from_elements 0,
    T`, as moe-decompose writes shared experts) needs no padding: the grid
    has `ceil(T / 64)` row tiles and the kernel, given T, reads rows past it
    as zeros and does not write them.

    The op's tensors cross into the kernel as buffers
    (`bufferization.to_buffer`), and the result is a fresh buffer returned
    with `bufferization.to_tensor restrict`, so One-Shot Bufferize and
    buffer deallocation handle the rest of the function (the kernel is
    outlined already, so they never look inside it). A grouped matmul whose padding cannot be
    proven is reported as an error.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
    "::mlir::NVVM::NVVMDialect",
  ];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "Use mma.sync tensor cores for f16/bf16 (sm_80+)">,
    Option<"allowTF32", "allow-tf32", "bool", /*default=*/"false",
           "Also run f32 expert GEMMs on tensor cores as tf32 (less precise)">,
  ];
}

def GPURoutePlan : Pass<"moe-gpu-route-plan", "::mlir::ModuleOp"> {
  let summary = "Lower moe.route_plan to one GPU kernel";
  let description = [{
    Replaces every `moe.route_plan` (up to 1024 experts) with one
    `gpu.launch_func` of a `route_plan` kernel in `@moe_kernels`: a warp per
    token computes the router logits (the fused router matmul as
    lane-strided dot products reduced by shuffles), lane 0 scores, picks the
    top k, writes the weights and claims each pick's position in its
    expert's group with an atomic increment; the last block to finish (an
    atomic ticket behind memory fences) turns the counts into padded
    offsets and places every slot. The counts (zeros) and the slots (-1,
    padding) are filled (`linalg.fill` on the buffers) before the launch.
    Run it after moe-gpu-expert-matmul, which reads the plan's padding from
    the op.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def GPUCopyEngine : Pass<"moe-gpu-copy-engine"> {
  let summary = "Whole-buffer fills and copies in host code as gpu.memset / gpu.memcpy";
  let description = [{
    After bufferization, rewrites every `linalg.fill` of a contiguous buffer
    with a 16- or 32-bit element (outside kernels) into `gpu.memset`, and
    every `memref.copy` between contiguous buffers of the same type into
    `gpu.memcpy`, each waited for at once, as the kernel launches are. They
    run on the GPU's copy engine: a zeroed accumulator or a filled plan costs
    no kernel launch.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def GPUMapParallelLoops : Pass<"moe-gpu-map-parallel-loops"> {
  let summary = "Run each outermost scf.parallel of host code as a GPU kernel";
  let description = [{
    Turns every outermost `scf.parallel` (without reductions) into a
    `gpu.launch` of 256-thread blocks that covers its iteration space
    flattened, the innermost dimension varying fastest across threads so
    that neighbouring threads access neighbouring elements. Bounds may be
    dynamic (the grid size is computed at run time, and threads past the
    end do nothing). Inside the kernel, nested parallel loops run
    sequentially on their thread, small static scratch buffers become
    thread-private `memref.alloca`s, and `memref.copy` becomes scalar loops.
    Loops that cannot run on the device (dynamically sized allocations,
    calls) stay on the host, which works on the same unified memory.

    Host copies between buffers become parallel loops first (so kernels),
    and with `serial-loops` (the default) each outermost sequential
    `scf.for` of host code that reads or writes buffers (the routing plan's
    counting sort) runs on a single GPU thread, so plan data never moves to
    the host and back.
  }];
  let options = [
    Option<"serialLoops", "serial-loops", "bool", /*default=*/"true",
           "Run outermost sequential loops over buffers on one GPU thread">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def GPUSerialize : Pass<"moe-gpu-serialize", "::mlir::ModuleOp"> {
  let summary = "Compile gpu.modules to fat binaries of cubin and PTX";
  let description = [{
    Replaces every `gpu.module` (lowered to NVVM, with one `#nvvm.target`)
    by a `gpu.binary` holding one `fatbin` object: the PTX generated by the
    target (libdevice linked from the toolkit), the cubin ptxas compiles
    from it for the target's chip, both wrapped by `fatbinary`. The object's
    properties keep the PTX (`ptx`), ptxas's `-v` report (`ptxas_info`:
    registers, shared memory, stack) and the register spill total in bytes
    (`spill_bytes`). The toolkit is the `toolkit` option, else `$CUDA_HOME`,
    else `/usr/local/cuda`; without ptxas the pass fails with an error.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
  let options = [
    Option<"toolkit", "toolkit", "std::string", /*default=*/"\"\"",
           "CUDA toolkit root (default: $CUDA_HOME or /usr/local/cuda)">,
    Option<"failOnSpills", "fail-on-spills", "bool", /*default=*/"false",
           "Fail when ptxas reports register spills">,
  ];
}

def GPUDeviceConstants : Pass<"moe-gpu-device-constants", "::mlir::ModuleOp"> {
  let summary = "Read constant globals of host code through device copies";
  let description = [{
    On the LLVM dialect of a CUDA model's host code: every
    `llvm.mlir.addressof` of a constant tensor global (weights lowered from
    `memref.global`) in a host function is routed through
    `moe_cuda_constant(ptr, bytes)` of libmoe_runtime, which returns a copy
    in device-accessible memory, made once per process. Kernels receive
    that pointer; host code reads the same data. String globals (check
    messages) are left alone.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def GPUDeviceChecks : Pass<"moe-gpu-device-checks"> {
  let summary = "Report failed run-time checks of kernels through the host";
  let description = [{
    For every `gpu.launch` containing `cf.assert`s (such as the expert id
    range check of the routing plan): a failed check stores its number into
    a one-word buffer and skips the rest of its block, the code it guards
    (values that code yields to the block's terminator are zero instead);
    after the launch, host code reads the word and fails a `cf.assert` with
    the original message. A trap in the kernel would instead lose the CUDA
    context and the message.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

#endif // MOE_PASSES_TD
