// REQUIRES: ptxas
// --moe-cuda-pipeline takes moe IR to host code in the LLVM dialect that
// launches kernels embedded as fat binaries (cubin + PTX), one gpu.binary per
// kernel module, and allocates through the runtime (unified memory).
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=90 toolkit=%cuda_root fail-on-spills=1" | FileCheck %s
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=90 toolkit=%cuda_root fuse-activation=0 fuse-gather=0" | FileCheck %s --check-prefix=UNFUSED
// CHECK-NOT: = moe.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// CHECK: llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
// CHECK-LABEL: llvm.func @moe_block(
// 12 kernels: routing; the plan (zeroed counters, counting with the expert
// id check reported on the host after the launch, prefix sum, offsets copy,
// slot initialization, stable placement); the first grouped GEMM, reading
// the tokens through the plan's slots (moe-fuse-dispatch-gather) with the
// SwiGLU in its epilogue (moe-fuse-expert-activation); the second; the
// combine (three loops). With both fusions off, a gather kernel precedes
// the GEMMs and the activation is a kernel between them (UNFUSED).
// CHECK: gpu.launch_func @moe_block_kernel::@moe_block_kernel
// CHECK: gpu.launch_func @moe_block_kernel_0::@moe_block_kernel
// CHECK: gpu.launch_func @moe_block_kernel_1::@moe_block_kernel
// CHECK: llvm.call @moe_runtime_fail
// CHECK: gpu.launch_func @moe_block_kernel_2::@moe_block_kernel
// CHECK: gpu.launch_func @moe_block_kernel_3::@moe_block_kernel
// CHECK: gpu.launch_func @moe_block_kernel_4::@moe_block_kernel
// CHECK: gpu.launch_func @moe_block_kernel_5::@moe_block_kernel
// CHECK-NOT: gpu.launch_func @moe_block_kernel
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul blocks
// CHECK-NOT: gpu.launch_func @moe_block_kernel
// CHECK: gpu.launch_func @moe_kernels::@expert_matmul_0 blocks
// CHECK: gpu.launch_func @moe_block_kernel_6::@moe_block_kernel
// CHECK: gpu.launch_func @moe_block_kernel_7::@moe_block_kernel
// CHECK: gpu.launch_func @moe_block_kernel_8::@moe_block_kernel
// UNFUSED-LABEL: llvm.func @moe_block(
// UNFUSED: gpu.launch_func @moe_block_kernel_6::@moe_block_kernel
// UNFUSED-NOT: gpu.launch_func @moe_block_kernel
// UNFUSED: gpu.launch_func @moe_kernels::@expert_matmul blocks
// UNFUSED-NOT: gpu.launch_func @moe_kernels
// UNFUSED: gpu.launch_func @moe_block_kernel_7::@moe_block_kernel
// UNFUSED-NOT: gpu.launch_func @moe_block_kernel
// UNFUSED: gpu.launch_func @moe_kernels::@expert_matmul_0 blocks
// CHECK-NOT: gpu.launch_func
// CHECK: llvm.call @_mlir_memref_to_llvm_free
// CHECK: llvm.func @_mlir_ciface_moe_block(
// CHECK: gpu.binary @moe_block_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90">, properties = {ptx = "{{.*}}spill_bytes = 0 : i64}, "P\EDU\BA
// CHECK: gpu.binary @moe_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90">

// The PTX of every kernel module, for the chosen architecture: the grouped
// GEMM stages tiles in shared memory between barriers and accumulates with
// fused multiply-adds.
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root" --emit=ptx -o - | FileCheck %s --check-prefix=PTX
// PTX: // ---- GPU module @moe_block_kernel (#nvvm.target<O = 3, chip = "sm_80">)
// PTX: .target sm_80
// PTX: .visible .entry moe_block_kernel(
// PTX: // ---- GPU module @moe_kernels
// PTX: .visible .entry expert_matmul(
// PTX: .shared .align 4 .b8 {{.*}}[4096];
// PTX: bar.sync 0;
// PTX: fma.rn.f32
// PTX: .visible .entry expert_matmul_0(

// f32 expert GEMMs on tf32 tensor cores when allowed.
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root allow-tf32=1" --emit=ptx -o - | FileCheck %s --check-prefix=TF32
// TF32: .visible .entry expert_matmul(
// TF32: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32

// RUN: not moe-opt %moe_src/examples/moe_layer.mlir --moe-cpu-pipeline --emit=ptx -o - 2>&1 | FileCheck %s --check-prefix=NOPTX
// NOPTX: error: no PTX to emit: compile with --moe-cuda-pipeline first
