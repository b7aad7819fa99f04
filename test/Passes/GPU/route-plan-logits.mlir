// RUN: moe-opt %s --moe-gpu-route-plan="router-gemv-from=2 router-gemm-from=32" --cse | FileCheck %s
// RUN: moe-opt %s --moe-gpu-route-plan="router-gemv-from=0 router-gemm-from=0" --cse | FileCheck %s --check-prefix=NEVER
// On sm_90a the logits GEMM is one warpgroup's wgmma.
// RUN: moe-opt %s --moe-gpu-route-plan="chip=sm_90a router-gemv-from=2 router-gemm-from=32" --cse | FileCheck %s --check-prefix=WGMMA
// WGMMA: gpu.func @router_matmul({{.*}}) workgroup(%{{.*}} : memref<4x8x4x8x8xf16, {{.*}}, %{{.*}} : memref<4x16x4x8x8xf16, {{.*}}) kernel attributes {moe.wgmma}
// WGMMA-COUNT-2: nvvm.wgmma.mma_async
// WGMMA-NOT: nvvm.mma.sync

// The router logits by token count: from 2 tokens (and below 32) the
// dot-product routing kernel (route_plan_dots, grid T x 4: a block per
// token and 2 experts, 4 warps per dot product) computes them into an f32
// [T, 8] buffer, routes each token in the last of its blocks and makes the
// plan in the last token's, in place of the routing kernel (whose grid is
// then empty); from 32 tokens a tensor-core GEMM, the 64-row pipelined
// grouped-GEMM kernel over one expert (the gate as [1, 8, 64]), computes
// them before the routing kernel, which takes them and whether it ran and
// either copies them or computes its own dot products (one warp per token).
// With the dot-product kernel the counts carry its per-token tickets after
// the E + 2 counters.
// CHECK-LABEL: func.func @gate
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0 : tensor<?x64xf16>
// CHECK: %[[LOGITS:.*]] = memref.alloc(%[[T]]) : memref<?x8xf32>
// CHECK: %[[GEMM:.*]] = arith.cmpi uge, %[[T]], %c32 : index
// CHECK: %[[FROM2:.*]] = arith.cmpi uge, %[[T]], %c2 : index
// CHECK: %[[NOGEMM:.*]] = arith.xori %[[GEMM]], %true
// CHECK: %[[DOTS:.*]] = arith.andi %[[FROM2]], %[[NOGEMM]]
// CHECK: %[[G3:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [1, 8, 64] : tensor<8x64xf16> into tensor<1x8x64xf16>
// CHECK: %[[TILES:.*]] = arith.ceildivui %[[T]], %c64 : index
// CHECK: %[[GY:.*]] = arith.select %[[GEMM]], %[[TILES]], %c0 : index
// CHECK: gpu.launch_func @moe_kernels::@router_matmul blocks in (%{{.*}}, %[[GY]], %c1) threads in (%c128, %c1, %c1) args(%{{.*}} : memref<?x64xf16, {{.*}}>, %{{.*}} : memref<1x8x64xf16, {{.*}}>, %[[T]] : index, %[[T]] : index, %[[LOGITS]] : memref<?x8xf32>)
// CHECK: %[[RAN32:.*]] = arith.extui %[[GEMM]] : i1 to i32
// CHECK: %[[RAN:.*]] = arith.index_cast %[[RAN32]] : i32 to index
// CHECK: %[[TICKETS:.*]] = arith.addi %[[T]], %c10 : index
// CHECK: %[[COUNTS:.*]] = memref.alloc(%[[TICKETS]]) : memref<?xi32>
// CHECK: linalg.fill ins(%c0_i32 : i32) outs(%[[COUNTS]] : memref<?xi32>)
// CHECK: %[[ROWS:.*]] = arith.select %[[DOTS]], %[[T]], %c0 : index
// CHECK: gpu.launch_func @moe_kernels::@route_plan_dots blocks in (%[[ROWS]], %c4, %c1) threads in (%c256, %c1, %c1) args({{.*}}, %[[COUNTS]] : memref<?xi32>, {{.*}}, %[[LOGITS]] : memref<?x8xf32>)
// CHECK: %[[PLANGRID:.*]] = arith.maxui
// CHECK: %[[GRID:.*]] = arith.select %[[DOTS]], %c0, %[[PLANGRID]] : index
// CHECK: gpu.launch_func @moe_kernels::@route_plan blocks in (%[[GRID]], %c1, %c1) {{.*}} args({{.*}}, %[[LOGITS]] : memref<?x8xf32>, %[[RAN]] : index)
//
// CHECK: gpu.func @router_matmul({{.*}}) workgroup(%{{.*}} : memref<4x2048xf16, {{.*}}, %{{.*}} : memref<4x4096xf16, {{.*}}) kernel
// CHECK: nvvm.mma.sync
//
// Block (t, c): expert 2 c + warp / 4, its 4 warps striding H by 128; the
// warps' sums through workgroup memory into logits[t, x]; then the token's
// ticket at counts[E + 2 + t]; its last block reads the logits back with
// atomic reads, routes the token and takes the ticket of the plan.
// CHECK: gpu.func @route_plan_dots(%{{.*}}, %[[D_COUNTS:.*]]: memref<?xi32>, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?xi32>, %[[D_LOGITS:.*]]: memref<?x8xf32>) workgroup(%[[D_SH:.*]] : memref<1x8xf32, {{.*}}, %{{.*}} : memref<8xi32, {{.*}}, %[[D_LAST:.*]] : memref<1xi32, {{.*}}, %[[D_PARTS:.*]] : memref<8xf32, {{.*}}) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// CHECK: %[[D_T:.*]] = gpu.block_id x
// CHECK: %[[D_C:.*]] = gpu.block_id y
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c128 iter_args
// CHECK: math.fma
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK: memref.store %{{.*}}, %[[D_PARTS]]
// CHECK: gpu.barrier
// CHECK-COUNT-4: memref.load %[[D_PARTS]]
// CHECK: memref.store %{{.*}}, %[[D_LOGITS]][%[[D_T]], %{{.*}}]
// CHECK: nvvm.memory.barrier <gpu>
// CHECK: %[[D_TICKET:.*]] = arith.addi %[[D_T]], %c10 : index
// CHECK: memref.atomic_rmw addi %c1_i32, %[[D_COUNTS]][%[[D_TICKET]]]
// CHECK: memref.atomic_rmw addf %{{.*}}, %[[D_LOGITS]][%[[D_T]], %{{.*}}]
// CHECK: memref.atomic_rmw addi %c1_i32, %[[D_COUNTS]][%c8]
// CHECK: gpu.return
//
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
