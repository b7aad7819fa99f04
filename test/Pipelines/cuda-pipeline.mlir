// REQUIRES: ptxas
// --moe-cuda-pipeline takes moe IR to host code in the LLVM dialect that
// launches kernels embedded as fat binaries (cubin + PTX), one gpu.binary per
// kernel module, and allocates through the runtime (unified memory): all of
// it on one stream, waited for once, at the end, where the routing plan's
// check is read.
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=90 toolkit=%cuda_root fail-on-spills=1" | FileCheck %s
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=90 toolkit=%cuda_root fuse-routing-plan=0 fuse-combine=0" | FileCheck %s --check-prefix=PARTIAL
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=90 toolkit=%cuda_root fuse-activation=0 fuse-gather=0 fuse-routing-plan=0 fuse-combine=0" | FileCheck %s --check-prefix=UNFUSED
// CHECK-NOT: = moe.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// CHECK-LABEL: llvm.func @moe_block(
// CHECK: %[[S:.*]] = llvm.call @mgpuStreamCreate()
// CHECK: llvm.call @mgpuMemAlloc(%{{.*}}, %[[S]], %{{.*}})
// 3 kernels: routing with its plan (counts zeroed and padding slots set by
// the copy engine first), the first grouped GEMM reading the tokens through
// the plan's slots (moe-fuse-dispatch-gather) with the SwiGLU in its
// epilogue (moe-fuse-expert-activation), the second adding its weighted
// rows into the zeroed output (moe-fuse-combine).
// CHECK: llvm.call @mgpuMemset32({{.*}}, %[[S]])
// CHECK: llvm.call @mgpuMemset32({{.*}}, %[[S]])
// CHECK: gpu.launch_func <%[[S]] : !llvm.ptr> @moe_kernels::@route_plan blocks
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: gpu.launch_func <%[[S]] : !llvm.ptr> @moe_kernels::@expert_matmul blocks
// CHECK: llvm.call @mgpuMemset32({{.*}}, %[[S]])
// CHECK: gpu.launch_func <%[[S]] : !llvm.ptr> @moe_kernels::@expert_matmul_0 blocks
// Without the routing-plan and combine fusions, 10: routing; the plan (the
// counting with the expert id check, the prefix sum, the offsets copy, the
// stable placement); two GEMMs; the combine (three loops). The check is
// read at the end, after the call's one wait: the host work after it (the
// plan's first offset stored into a fresh buffer) touches nothing a kernel
// wrote, and the kernels after it return at once on a failed check. With
// no fusion, 12: a gather kernel precedes the GEMMs and the activation is
// a kernel between them (UNFUSED).
// PARTIAL-LABEL: llvm.func @moe_block(
// PARTIAL-COUNT-5: gpu.launch_func <%{{.*}} : !llvm.ptr> @moe_kernels::@moe_block_kernel{{(_[0-9]+)?}}
// PARTIAL-NOT: mgpuStreamSynchronize
// PARTIAL-NOT: gpu.launch_func {{.*}}@moe_kernels::@moe_block_kernel
// PARTIAL: gpu.launch_func <%{{.*}} : !llvm.ptr> @moe_kernels::@expert_matmul blocks
// PARTIAL-NOT: gpu.launch_func {{.*}}@moe_kernels::@moe_block_kernel
// PARTIAL: gpu.launch_func <%{{.*}} : !llvm.ptr> @moe_kernels::@expert_matmul_0 blocks
// PARTIAL-COUNT-3: gpu.launch_func <%{{.*}} : !llvm.ptr> @moe_kernels::@moe_block_kernel{{(_[0-9]+)?}}
// PARTIAL-NOT: gpu.launch_func
// PARTIAL: llvm.call @mgpuStreamSynchronize
// PARTIAL-NOT: gpu.launch_func
// PARTIAL: llvm.call @moe_runtime_fail
// The variant on the caller's buffers and stream follows (moe-gpu-async-entry).
// PARTIAL-LABEL: llvm.func @moe_block__async(
// UNFUSED-LABEL: llvm.func @moe_block(
// UNFUSED: gpu.launch_func <%{{.*}} : !llvm.ptr> @moe_kernels::@moe_block_kernel_5
// UNFUSED-NOT: gpu.launch_func {{.*}}@moe_kernels::@moe_block_kernel
// UNFUSED: gpu.launch_func <%{{.*}} : !llvm.ptr> @moe_kernels::@expert_matmul blocks
// UNFUSED-NOT: gpu.launch_func {{.*}}@moe_kernels
// UNFUSED: gpu.launch_func <%{{.*}} : !llvm.ptr> @moe_kernels::@moe_block_kernel_6
// UNFUSED-NOT: gpu.launch_func {{.*}}@moe_kernels::@moe_block_kernel
// UNFUSED: gpu.launch_func <%{{.*}} : !llvm.ptr> @moe_kernels::@expert_matmul_0 blocks
// CHECK-NOT: gpu.launch_func
// CHECK: llvm.call @mgpuMemFree({{.*}}, %[[S]])
// CHECK: llvm.call @mgpuStreamSynchronize(%[[S]])
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.call @moe_runtime_fail
// CHECK: llvm.call @_mlir_memref_to_llvm_free
// CHECK: llvm.func @_mlir_ciface_moe_block(
// The variant on the caller's buffers and stream: the same launches, no
// wait; the routing plan's check goes to the runtime.
// CHECK-LABEL: llvm.func @moe_block__async(
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.call @moe_cuda_check_later
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.func @_mlir_ciface_moe_block__async(
// CHECK: gpu.binary @moe_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90">, properties = {ptx = "{{.*}}spill_bytes = 0 : i64}

// The PTX of the kernel module, for the chosen architecture: the grouped
// GEMM stages tiles in shared memory between barriers and accumulates with
// fused multiply-adds.
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root" --emit=ptx -o - | FileCheck %s --check-prefix=PTX
// The routing kernel claims group positions and takes its ticket with
// atomics behind a fence; the down projection adds its rows atomically.
// PTX: // ---- GPU module @moe_kernels (#nvvm.target<O = 3, chip = "sm_80">)
// PTX: .target sm_80
// PTX: .visible .entry expert_matmul(
// PTX: .shared .align 16 .b8 {{.*}}[4096];
// PTX: bar.sync 0;
// PTX: fma.rn.f32
// PTX: .visible .entry expert_matmul_0(
// PTX: atom.global.add.f32
// PTX: .visible .entry route_plan(
// PTX: atom.global.add.u32
// PTX: membar.gl;
// PTX: atom.global.add.u32

// f32 expert GEMMs on tf32 tensor cores when allowed.
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root allow-tf32=1" --emit=ptx -o - | FileCheck %s --check-prefix=TF32
// TF32: .visible .entry expert_matmul(
// TF32: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32

// RUN: not moe-opt %moe_src/examples/moe_layer.mlir --moe-cpu-pipeline --emit=ptx -o - 2>&1 | FileCheck %s --check-prefix=NOPTX
// NOPTX: error: no PTX to emit: compile with --moe-cuda-pipeline first
