// RUN: moe-opt %s --moe-gpu-route-plan="router-gemv-from=2 router-gemm-from=32" --cse | FileCheck %s
// RUN: moe-opt %s --moe-gpu-route-plan="router-gemv-from=0 router-gemm-from=0" --cse | FileCheck %s --check-prefix=NEVER

// The router logits by token count, into an f32 [T, 8] buffer: from 2
// tokens (and below 32) a block of 4 warps per (token, expert) dot product
// (router_gemv, grid T x 8); from 32 tokens a tensor-core GEMM, the 64-row
// pipelined grouped-GEMM kernel over one expert (the gate as [1, 8, 64]).
// The variant not chosen gets an empty grid. The routing kernel takes the
// logits and whether either ran, and either copies them or computes its
// own dot products (one token).
// CHECK-LABEL: func.func @gate
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0 : tensor<?x64xf16>
// CHECK: %[[LOGITS:.*]] = memref.alloc(%[[T]]) : memref<?x8xf32>
// CHECK: %[[GEMM:.*]] = arith.cmpi uge, %[[T]], %c32 : index
// CHECK: %[[FROM2:.*]] = arith.cmpi uge, %[[T]], %c2 : index
// CHECK: %[[NOGEMM:.*]] = arith.xori %[[GEMM]], %true
// CHECK: %[[GEMV:.*]] = arith.andi %[[FROM2]], %[[NOGEMM]]
// CHECK: %[[ROWS:.*]] = arith.select %[[GEMV]], %[[T]], %c0 : index
// CHECK: gpu.launch_func @moe_kernels::@router_gemv blocks in (%[[ROWS]], %c8, %c1) threads in (%c128, %c1, %c1) args(%{{.*}} : memref<?x64xf16, {{.*}}>, %{{.*}} : memref<8x64xf16, {{.*}}>, %[[LOGITS]] : memref<?x8xf32>)
// CHECK: %[[G3:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [1, 8, 64] : tensor<8x64xf16> into tensor<1x8x64xf16>
// CHECK: %[[TILES:.*]] = arith.ceildivui %[[T]], %c64 : index
// CHECK: %[[GY:.*]] = arith.select %[[GEMM]], %[[TILES]], %c0 : index
// CHECK: gpu.launch_func @moe_kernels::@router_matmul blocks in (%{{.*}}, %[[GY]], %c1) threads in (%c128, %c1, %c1) args(%{{.*}} : memref<?x64xf16, {{.*}}>, %{{.*}} : memref<1x8x64xf16, {{.*}}>, %[[T]] : index, %[[T]] : index, %[[LOGITS]] : memref<?x8xf32>)
// CHECK: %[[EITHER:.*]] = arith.ori %[[GEMM]], %[[GEMV]]
// CHECK: %[[RAN32:.*]] = arith.extui %[[EITHER]] : i1 to i32
// CHECK: %[[RAN:.*]] = arith.index_cast %[[RAN32]] : i32 to index
// CHECK: gpu.launch_func @moe_kernels::@route_plan {{.*}} args({{.*}}, %[[LOGITS]] : memref<?x8xf32>, %[[RAN]] : index)
// The dot-product kernel: 128 threads stride the hidden dimension, shuffle,
// then thread 0 adds the 4 warps' sums and stores the logit.
// CHECK: gpu.func @router_gemv(%[[X:.*]]: memref<?x64xf16, {{.*}}>, %[[W:.*]]: memref<8x64xf16, {{.*}}>, %[[OUT:.*]]: memref<?x8xf32>) workgroup(%[[PARTS:.*]] : memref<4xf32, {{.*}}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: %[[TOK:.*]] = gpu.block_id x
// CHECK: %[[EXP:.*]] = gpu.block_id y
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c128 iter_args
// CHECK: math.fma
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK: memref.store %{{.*}}, %[[PARTS]]
// CHECK: gpu.barrier
// CHECK-COUNT-4: memref.load %[[PARTS]]
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[TOK]], %[[EXP]]]
// CHECK: gpu.func @router_matmul({{.*}}) workgroup(%{{.*}} : memref<3x64x40xf16, {{.*}}, %{{.*}} : memref<3x128x40xf16, {{.*}}) kernel
// CHECK: nvvm.mma.sync
// CHECK: gpu.func @route_plan(%{{.*}}, %[[ARG_LOGITS:.*]]: memref<?x8xf32>, %[[ARG_RAN:.*]]: index)
// CHECK: %[[RANB:.*]] = arith.cmpi ne, %[[ARG_RAN]], %c0 : index
// CHECK: scf.if %[[RANB]] {
// CHECK: memref.load %[[ARG_LOGITS]]
// CHECK: } else {
// CHECK: math.fma
// CHECK: gpu.shuffle xor
// NEVER-LABEL: func.func @gate
// NEVER-NOT: router_
func.func @gate(%x: tensor<?x64xf16>, %wg: tensor<8x64xf16>, %b: tensor<8xf16>)
    -> (tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>) {
  %w, %off, %slots = moe.route_plan %x gate(%wg) bias(%b) routing <sigmoid, k = 2, renormalize> block = 16
      : (tensor<?x64xf16>, tensor<8x64xf16>, tensor<8xf16>) -> (tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>)
  return %w, %off, %slots : tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>
}
