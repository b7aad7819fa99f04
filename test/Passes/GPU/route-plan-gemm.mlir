// RUN: moe-opt %s --moe-gpu-route-plan=router-gemm-from=32 --cse | FileCheck %s
// RUN: moe-opt %s --moe-gpu-route-plan=router-gemm-from=0 --cse | FileCheck %s --check-prefix=NEVER

// From 32 tokens the router logits are a tensor-core GEMM: the 64-row
// pipelined grouped-GEMM kernel over one expert (the gate as [1, 8, 64]),
// f32 logits [T, 8]; below 32 its grid is empty. The routing kernel takes
// the logits and whether the GEMM ran, and either copies them or computes
// its own dot products.
// CHECK-LABEL: func.func @gate
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0 : tensor<?x64xf16>
// CHECK: %[[G3:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [1, 8, 64] : tensor<8x64xf16> into tensor<1x8x64xf16>
// CHECK: %[[LOGITS:.*]] = memref.alloc(%[[T]]) : memref<?x8xf32>
// CHECK: %[[USE:.*]] = arith.cmpi uge, %[[T]], %c32 : index
// CHECK: %[[TILES:.*]] = arith.ceildivui %[[T]], %c64 : index
// CHECK: %[[GY:.*]] = arith.select %[[USE]], %[[TILES]], %c0 : index
// CHECK: gpu.launch_func @moe_kernels::@router_matmul blocks in (%{{.*}}, %[[GY]], %c1) threads in (%c128, %c1, %c1) args(%{{.*}} : memref<?x64xf16, {{.*}}>, %{{.*}} : memref<1x8x64xf16, {{.*}}>, %[[T]] : index, %[[T]] : index, %[[LOGITS]] : memref<?x8xf32>)
// CHECK: %[[RAN32:.*]] = arith.extui %[[USE]] : i1 to i32
// CHECK: %[[RAN:.*]] = arith.index_cast %[[RAN32]] : i32 to index
// CHECK: gpu.launch_func @moe_kernels::@route_plan {{.*}} args({{.*}}, %[[LOGITS]] : memref<?x8xf32>, %[[RAN]] : index)
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
// NEVER-NOT: router_matmul
func.func @gate(%x: tensor<?x64xf16>, %wg: tensor<8x64xf16>, %b: tensor<8xf16>)
    -> (tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>) {
  %w, %off, %slots = moe.route_plan %x gate(%wg) bias(%b) routing <sigmoid, k = 2, renormalize> block = 16
      : (tensor<?x64xf16>, tensor<8x64xf16>, tensor<8xf16>) -> (tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>)
  return %w, %off, %slots : tensor<?x2xf16>, tensor<9xi32>, tensor<?xi32>
}
