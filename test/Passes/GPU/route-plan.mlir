// RUN: moe-opt %s -split-input-file --moe-gpu-route-plan="router-gemv-from=0 router-gemm-from=0" --cse | FileCheck %s

// Host side: the results and the scratch (per-expert counters, the ticket
// and the no-expert flag, each copy's expert and position) are fresh
// buffers; the counters are zeroed and the slots set to -1 (padding) before
// one launch of max(ceil(T / 8), 1) blocks of 8 warps; after it, a set flag
// is a run-time error.
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @gate
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0 : tensor<?x64xf16>
// CHECK: %[[W:.*]] = memref.alloc(%[[T]]) : memref<?x2xf16>
// CHECK: %[[OFF:.*]] = memref.alloc() : memref<9xi32>
// CHECK: %[[COPIES:.*]] = arith.muli %[[T]], %c2 : index
// CHECK: %[[SLOTS:.*]] = memref.alloc(%{{.*}}) : memref<?xi32>
// CHECK: %[[COUNTS:.*]] = memref.alloc() : memref<10xi32>
// CHECK: %[[IDS:.*]] = memref.alloc(%[[COPIES]]) : memref<?xi32>
// CHECK: %[[POS:.*]] = memref.alloc(%[[COPIES]]) : memref<?xi32>
// CHECK: linalg.fill ins(%c0_i32 : i32) outs(%[[COUNTS]] : memref<10xi32>)
// CHECK: linalg.fill ins(%c-1_i32 : i32) outs(%[[SLOTS]] : memref<?xi32>)
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[T]], %c8
// CHECK: %[[GRID:.*]] = arith.maxui %[[BLOCKS]], %c1
// CHECK: gpu.launch_func @moe_kernels::@route_plan blocks in (%[[GRID]], %c1, %c1) threads in (%c256, %c1, %c1) args(%{{.*}}, %{{.*}}, %{{.*}}, %[[W]] : memref<?x2xf16>, %[[OFF]] : memref<9xi32>, %[[SLOTS]] : memref<?xi32>, %[[COUNTS]] : memref<10xi32>, %[[IDS]] : memref<?xi32>, %[[POS]] : memref<?xi32>)
// CHECK: %[[FLAG:.*]] = memref.load %[[COUNTS]][%c9] {moe.check_flag} : memref<10xi32>
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[FLAG]], %c0_i32
// CHECK: cf.assert %[[OK]], "moe.route_plan: no expert could be chosen for a token (NaN router scores)"
// CHECK: bufferization.to_tensor %[[W]] restrict writable
//
// The kernel: a row of logits per warp, the group starts, the last-block
// flag.
// CHECK: gpu.func @route_plan({{.*}}) workgroup(%[[LOGITS:.*]] : memref<8x8xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[START:.*]] : memref<8xi32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[LAST:.*]] : memref<1xi32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel
// The fused router matmul: lane-strided dot products, reduced by shuffles.
// CHECK: math.fma
// CHECK: gpu.shuffle xor %{{.*}}, %c16_i32, %c32_i32 : f32
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32, %c32_i32 : f32
// CHECK: memref.store %{{.*}}, %[[LOGITS]]
// CHECK: gpu.barrier
// Lane 0: scores, top-k, then a position in each pick's group.
// CHECK: memref.load %[[LOGITS]]
// CHECK: math.exp
// A pick past the experts (NaN scores) sets the flag instead.
// CHECK: arith.cmpi ult, %{{.*}}, %c8
// CHECK: memref.atomic_rmw addi %c1_i32, %{{.*}}[%{{.*}}] : (i32, memref<10xi32>) -> i32
// CHECK: } else {
// CHECK: memref.atomic_rmw ori %c1_i32, %{{.*}}[%c9] : (i32, memref<10xi32>) -> i32
// CHECK: memref.atomic_rmw addi %c1_i32, %{{.*}}[%{{.*}}] : (i32, memref<10xi32>) -> i32
// The ticket, behind a fence: the last block sees every block's writes.
// CHECK: nvvm.memory.barrier <gpu>
// CHECK-NEXT: gpu.barrier
// CHECK: memref.atomic_rmw addi %c1_i32, %{{.*}}[%c8] : (i32, memref<10xi32>) -> i32
// CHECK: gpu.grid_dim x
// CHECK: memref.store %{{.*}}, %[[LAST]][%c0]
// CHECK: gpu.barrier
// CHECK: memref.load %[[LAST]][%c0]
// CHECK: scf.if
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// Offsets: group starts padded to the block (64), read atomically.
// CHECK: memref.atomic_rmw addi %c0_i32, %{{.*}}[%{{.*}}] : (i32, memref<10xi32>) -> i32
// CHECK: arith.ceildivui %{{.*}}, %c64_i32 : i32
// CHECK: memref.store %{{.*}}, %[[START]]
// CHECK: gpu.barrier
// Placement: slot s at its group's start plus its position.
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c256
// CHECK: memref.load %[[START]]
// CHECK: gpu.return
func.func @gate(%x: tensor<?x64xf16>, %wg: tensor<8x64xf16>, %b: tensor<8xf16>)
    -> (tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>) {
  %w, %off, %slots = moe.route_plan %x gate(%wg) bias(%b) routing <sigmoid, k = 2, renormalize> block = 64
      : (tensor<?x64xf16>, tensor<8x64xf16>, tensor<8xf16>) -> (tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>)
  return %w, %off, %slots : tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>
}

// -----

// Logits given: each lane copies every 32nd expert's logit, no shuffles.
// CHECK-LABEL: func.func @logits
// CHECK: gpu.func @route_plan
// CHECK-NOT: gpu.shuffle
// CHECK: scf.for %{{.*}} = %{{.*}} to %c16 step %c32
// CHECK: memref.load %{{.*}} : memref<?x16xf32, strided<[?, ?], offset: ?>>
func.func @logits(%l: tensor<?x16xf32>) -> (tensor<?x4xf32>, tensor<17xi32>, tensor<?xi32>) {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 4>
      : (tensor<?x16xf32>) -> (tensor<?x4xf32>, tensor<17xi32>, tensor<?xi32>)
  return %w, %off, %slots : tensor<?x4xf32>, tensor<17xi32>, tensor<?xi32>
}
