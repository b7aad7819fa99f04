//===- Passes.td - GPU stage passes ------------------------*- tablegen -*-===//
//
// The GPU code generation (kernels, tensor cores, NVVM, serialization).
// Each pass lives in its own .cpp file beside this one and has a lit test
// in test/Passes/GPU/.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_PASSES_TD
#define MOE_PASSES_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def GPUExpertMatmul : Pass<"moe-gpu-expert-matmul", "::mlir::ModuleOp"> {
  let summary = "Lower moe.expert_matmul to one grouped-GEMM GPU kernel";
  let description = [{
    Replaces every `moe.expert_matmul` whose row groups are padded to 16
    rows (its `offsets` come from a `moe.dispatch` or `moe.route_plan` whose
    `block` is a multiple of 16) with a `gpu.launch_func` of a kernel (a
    `gpu.func` in the `@moe_kernels` GPU module) over all experts' rows. Each
    expert's group is cut into row tiles; a block walks the offsets to find
    its tile's expert and first row (tiles past the last group stop at
    once; a tile's rows past its group's end are read as zeros and not
    written). The grid is `ceil(N / tile columns)` x a bound of the tiles
    computed on the host from the token count (`(T k + min(E, T k) (rows -
    1)) / rows`), and each block stages slices of the rows and of the
    expert's weight rows in workgroup memory:

    * f16/bf16 with K a multiple of 8 (with `tensor-cores`, the default):
      up to three kernels: 16 x 128 tiles of 4 warps (16 x 32 each) for
      few rows per expert, 64 x 128 tiles of 4 warps (32 x 64 each), 128 x
      128 tiles of 8 warps (32 x 64 each) for very many, all
      `mma.sync.m16n8k16` accumulating in f32 registers (sm_80 and newer);
      on `sm_90a` the 64- and 128-row tiles are `wgmma.mma_async`
      warpgroups, and a 128 x 256 tile joins them.
      A cost model of the `chip` (Utils/GemmTiles.h: issue slots,
      tensor-core rate, L2 and HBM traffic of each tile, SMs filled) gives
      the token-copy counts from which each tile is the faster; tiles it
      never picks are left out. All the others are launched, the host
      giving those not picked for this call's copies an empty grid, which
      the runtime skips; a static token count picks at compile time. The
      kernels carry `moe.row_tile`. The 16-row tile loads its operands
      from global memory straight into mma registers (16-byte vector
      loads, the next 64 of K in flight). The others stage 32-deep K
      slices in a ring (4 slots for 64-row tiles, 3 for 128-row ones, 48
      KB) filled ahead by 16-byte `cp.async` copies
      (`nvgpu.device_async_copy`, zero-filled where rows or columns are
      outside the operands); mma.sync reads them with `ldmatrix.x4`
      (`nvgpu.ldmatrix`) from planes of 16 of K whose rows hold their two
      16-byte chunks XOR-swizzled by row, so that reads and copies are
      free of bank conflicts without padding; wgmma reads core matrices
      through shared-memory descriptors. Operands whose strides or base
      are not 16-byte aligned at run time are staged by scalar loads;
    * other f16/bf16 (K not a multiple of 8):
      64 x 64 tiles (64-row tiles for all kernels below), 4 warps, each a 32 x 32 quarter as 2 x 4
      `mma.sync.m16n8k16` tiles, operands staged by scalar loads;
    * f32 with `allow-tf32`: the same on tf32 tensor cores
      (`mma.sync.m16n8k8.tf32`, about 10 mantissa bits per product);
    * otherwise (f32, quantized weights, mixed types): 16 x 16 threads,
      each a 4 x 4 f32 register tile updated with fused multiply-adds.

    The epilogue adds the bias and rounds once to the result type.

    A one-expert matmul over dense rows (offsets `tensor.from_elements 0,
    T`, as moe-decompose writes shared experts) needs no padding: the grid
    has `ceil(T / rows)` row tiles and the kernel, given T, reads rows past
    it as zeros and does not write them.

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
    "::mlir::nvgpu::NVGPUDialect",
  ];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "Use mma.sync tensor cores for f16/bf16 (sm_80+)">,
    Option<"allowTF32", "allow-tf32", "bool", /*default=*/"false",
           "Also run f32 expert GEMMs on tensor cores as tf32 (less precise)">,
    Option<"asyncCopies", "async-copies", "bool", /*default=*/"true",
           "Stage aligned 16-bit operands with cp.async (off: scalar loads "
           "always, the path misaligned operands take)">,
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "Target GPU (sm_80, sm_90, ...) whose cost model picks the row "
           "tile by token count">,
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

    With a fused router matmul, the routing kernel's warp per token reads
    the whole gate matrix, one block of 8 tokens at a time: at decode a
    single warp reads it all, with many tokens every warp re-reads it. By
    token count (thresholds from the cost model of `chip`,
    Utils/GemmTiles.h, or the options; -1 asks the model, 0 never) the
    logits come from elsewhere, into an f32 buffer: from `router-gemv-from`
    tokens `route_plan_dots` runs in place of the routing kernel, a block
    per token and pair of experts (4 warps per dot product, many blocks,
    the weights read once from HBM); the last of a token's blocks (a
    ticket per token after the counts) routes it, the last token routed
    makes the plan: still one launch. From `router-gemm-from` tokens
    `router_matmul`, the grouped GEMM's 64-row pipelined tensor-core kernel
    over one expert (16-bit operands, K a multiple of 8; mma.sync, or one
    warpgroup's wgmma on `sm_90a`), runs before the routing kernel. Every variant is launched, those not chosen with an
    empty grid (the runtime skips them); a kernel argument tells the
    routing kernel whether to read the GEMM's logits or compute them.
  }];
  let options = [
    Option<"routerGemvFrom", "router-gemv-from", "int64_t",
           /*default=*/"-1",
           "Tokens from which routing runs as the dot-product kernel, "
           "blocks per token and pair of experts (-1: the cost model's "
           "choice; 0: never)">,
    Option<"routerGemmFrom", "router-gemm-from", "int64_t",
           /*default=*/"-1",
           "Tokens from which the router logits run as a tensor-core GEMM "
           "(-1: the cost model's choice; 0: never)">,
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "Target GPU whose cost model picks the router logits' kernel">,
  ];
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
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
    "::mlir::nvgpu::NVGPUDialect",
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

def GPUDeferHostChecks
    : Pass<"moe-gpu-defer-host-checks", "::mlir::ModuleOp"> {
  let summary = "Read the flags of checked kernels once, at the end of a call";
  let description = [{
    The host reads what a checked kernel reports (`memref.load`s marked
    `moe.check_flag`: moe-gpu-device-checks' flags, the routing plan's flag
    of tokens without an expert) right after its launch, which makes it
    wait for the device there. This pass moves each `cf.assert` computed
    from such reads, with the reads and the pure ops between, to the end of
    the function's block (in their order, so the first failing check still
    reports first), and the flag buffers' deallocations after them. Every
    kernel launched after the check's original place takes the flag
    buffers as extra arguments and returns at once when a flag is set, so
    nothing runs on what a failed check left behind. A check stays where it
    is when host code after it does more than launch, fill, copy, allocate,
    free and work on buffers no device work used before it (host-only
    buffers, or what the host computed itself, such as an LM's position
    ids), when a later kernel is launched from several places, or when
    anything but a deallocation uses a flag buffer after the read.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::memref::MemRefDialect"];
}

def GPUStreamAllocations
    : Pass<"moe-gpu-stream-allocations", "::mlir::func::FuncOp"> {
  let summary = "Prepare host code for one stream per call: stream-ordered "
                "buffers, fills and copies without their own waits";
  let description = [{
    Host functions after kernel outlining: every `memref.alloc` becomes
    `gpu.alloc` (`host_shared`, unified memory, when anything but GPU
    operations, casts and frees uses the buffer; device memory otherwise)
    and every `memref.dealloc` `gpu.dealloc` (identity layouts),
    (buffers the host reads keep `memref.dealloc`: after the call's wait it
    frees them without starting the stream again), and the fills and
    copies of moe-gpu-copy-engine lose the `gpu.wait`s
    that started and ended each, keeping their token. Upstream's
    `gpu-async-region`, run next, then threads one token through the
    function's launches, fills, copies, allocations and frees: they go to
    one stream in order, and the host waits only before an operation that
    touches memory itself (a host read of a device check's flag, a host
    call) and before returning. Without this, every allocation (a side
    effect) was a synchronization point and every launch waited for itself.
    The runtime's `mgpuMemAlloc`/`mgpuMemFree` serve stream-ordered buffers
    from a cache, so a warmed-up call makes no driver allocation.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def GPUHostSharedAllocs
    : Pass<"moe-gpu-host-shared-allocs", "::mlir::func::FuncOp"> {
  let summary = "Take unified-memory buffers off the stream's token chain";
  let description = [{
    After `gpu-async-region`: every `gpu.alloc async [%t] host_shared`
    (a buffer the host touches, from `moe-gpu-stream-allocations`) becomes
    a synchronous `gpu.alloc host_shared`, and its token is `%t`. The
    GPU-to-LLVM lowering takes host_shared allocations only synchronously;
    the runtime hands out cached buffers, freed in stream order, so the
    allocation needs no place on the stream. Device-memory allocations
    stay on the chain.
  }];
}

def GPUMergeWaits : Pass<"moe-gpu-merge-waits", "::mlir::func::FuncOp"> {
  let summary = "Drop host waits before work that touches no buffer queued "
                "work uses";
  let description = [{
    After `gpu-async-region`: a `gpu.wait [%t]` followed, up to the start
    of the next chain (`gpu.wait async` without dependencies), only by
    host-private work (ops without memory effects, or with effects only on
    buffers allocated here that no GPU op, call or return sees, such as the
    shape buffers of `memref.reshape`; checks of host values) is removed and
    the next chain continues from `%t`. The host then waits once per call
    where before it waited at every reshape. So is a wait followed only by
    host work that touches no buffer the work queued since the last kept
    wait uses (memref operands of its launches, fills and copies): the host
    filling a fresh unified buffer for the next kernel, or reading one it
    wrote. First, a wait with no kernel,
    fill or copy queued since the previous wait in its block (only
    stream-ordered allocations and frees, which the runtime serves at once)
    goes: the device is idle.
  }];
}

def GPUAsyncEntry : Pass<"moe-gpu-async-entry", "::mlir::ModuleOp"> {
  let summary = "Add a variant of each entry function for the caller's device "
                "buffers and stream";
  let description = [{
    After `moe-gpu-merge-waits`: each function `F` with a `moe.abi`
    signature gets a copy `F__async` for applications that hold their
    tensors on the device and queue work on their own stream. Its inputs are
    the caller's device buffers; each output becomes an argument after the
    inputs (the caller's buffer, identity layout), and the function returns
    nothing. A result that `F` allocates and only GPU work touches is
    replaced by that argument (kernels write the caller's buffer); any
    other result is copied into it on the stream (`gpu.memcpy`); either way
    a host check fails the call when the buffer's sizes differ from the
    result's. The host does not wait at the end of the call: each check
    after `F`'s last wait, a comparison of a kernel-set flag word with a
    constant, becomes a call to `moe_cuda_check_later`, which the runtime
    evaluates once the stream has run the call's work. A variant whose host
    code never waits for the device is marked `moe.graph_capturable`: its
    calls can be captured into CUDA graphs.

    Where the variant cannot be built (host code reads an input, whose
    buffer is device memory; host code other than such checks follows the
    last wait; a result is a strided view), `F` gets no variant and carries
    `moe.async_unsupported` with the reason, which the generated
    `F_run_async` returns as its error.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect"];
}

def GPUFuseParallelLoops
    : Pass<"moe-gpu-fuse-parallel-loops", "::mlir::func::FuncOp"> {
  let summary = "Fuse adjacent parallel loops over the same elements into one "
                "kernel";
  let description = [{
    Before `moe-gpu-map-parallel-loops`, which makes each outermost
    `scf.parallel` a kernel: allocations right after such loops move above
    them (where their operands are defined earlier), then adjacent loops
    with identical bounds whose second reads what the first writes only at
    the same indices become one (upstream's naive parallel-loop fusion, with
    alias analysis). A MatMul and the rounding of its result are then one
    launch.
  }];
}

def GPUPromoteAccumulators : Pass<"moe-gpu-promote-accumulators"> {
  let summary = "Keep reduction accumulators of flat GPU kernels in registers";
  let description = [{
    In `gpu.launch` bodies (before outlining, while allocations are in
    sight): an `scf.for` whose only accesses to a buffer are one
    `memref.load` and, after it in the loop's block, one `memref.store` at
    the same loop-invariant indices, and whose other loads and stores reach
    buffers that cannot alias it (a different root, one of the two a fresh
    `memref.alloc`), carries the element as an `iter_arg`: loaded once
    before the loop, stored once after. Reductions lowered to loops (a
    router matmul, a norm's sum of squares) otherwise read and write global
    memory on every step, which LLVM cannot undo inside the kernel.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect"];
}

def GPURowReductions
    : Pass<"moe-gpu-row-reductions", "::mlir::func::FuncOp"> {
  let summary = "Run row reductions as one block per row, fused with the "
                "elementwise loop that uses the row's total";
  let description = [{
    Before `moe-gpu-map-parallel-loops` (which would run one thread per
    row): a host `scf.parallel` over rows whose body is one `scf.for` that
    accumulates `%A[rows] = %A[rows] + term(j)` in f32 (a norm's sum of
    squares) becomes a `gpu.launch` with one block per row. The block's
    threads (a power of two from 32 to 256, at least the row length when it
    is static) stride the row, sum their terms in registers and reduce them
    by warp shuffles and one workgroup-memory exchange; thread 0 stores the
    total (the initial `%A[rows]` plus the sum). When the next host loop is
    elementwise over the same rows and one more dimension, reads `%A` only
    at its row, and writes nothing the reduction reads (the normalization),
    the same block runs it with the total from registers: one launch
    instead of two. The sum is reassociated (partial sums per thread, then
    a tree), as any parallel reduction.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
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
    calls) stay on the host, which works on the same unified memory. So
    does shape arithmetic (an exported model's Shape / Gather / Concat
    chains that size Reshapes): a loop of static trip count up to 64 over
    small static integer buffers that reads only constants and what host
    code wrote; as a kernel the host would wait for its handful of
    integers. And position arithmetic: a loop over one dynamic dimension
    (static part up to 64) that fills integer buffers of one dynamic
    dimension from its indices and constants alone, where host code then
    loads what it wrote (an exported LM's position ids, whose values size
    buffers).

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

def GPUMergeModules : Pass<"moe-gpu-merge-modules", "::mlir::ModuleOp"> {
  let summary = "Put every kernel of a model into one gpu.module";
  let description = [{
    Kernel outlining makes one `gpu.module` per launch; this pass moves the
    contents of every `gpu.module` into one (`@moe_kernels` when it exists,
    else the first), renaming symbols that would clash (`name_1`, ...) and
    retargeting every `gpu.launch_func`. A model then has one kernel image:
    one module load at run time, one ptxas run and one emulator image at
    compile time, and `--emit=ptx` writes one PTX file that ptxas accepts.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
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

    With `emulator` (the default), the object also carries the same kernels
    compiled for the host as a shared object for the CUDA emulator
    (runtime/cuda-emulator): the bytes become a `MOEGPUI1` container
    (include/moe/Runtime/GPUImage.h) and the runtime hands each driver its
    part. The host code is taken from the LLVM IR the NVPTX backend receives.
    A module the emulator cannot run (or a build without the emulator
    library) gets a warning and the fat binary alone.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
  let options = [
    Option<"toolkit", "toolkit", "std::string", /*default=*/"\"\"",
           "CUDA toolkit root (default: $CUDA_HOME or /usr/local/cuda)">,
    Option<"failOnSpills", "fail-on-spills", "bool", /*default=*/"false",
           "Fail when ptxas reports register spills">,
    Option<"emulator", "emulator", "bool", /*default=*/"true",
           "Also embed the kernels compiled for the CUDA emulator">,
  ];
}

def GPUDeviceConstants : Pass<"moe-gpu-device-constants", "::mlir::ModuleOp"> {
  let summary = "Read constant globals of host code through device copies";
  let description = [{
    On the LLVM dialect of a CUDA model's host code: every
    `llvm.mlir.addressof` of a constant tensor global (weights lowered from
    `memref.global`) in a host function is routed through
    `moe_cuda_constant(ptr, bytes)` of libmoe_runtime, which returns a copy
    in device memory, made once per process; kernels receive that pointer.
    An address that only reaches host loads (through GEPs and memref
    descriptors: shape arithmetic kept on the host) keeps the host's copy.
    String globals (check messages) are left alone.
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

#endif // MOE_PASSES_GPU_PASSES_TD
