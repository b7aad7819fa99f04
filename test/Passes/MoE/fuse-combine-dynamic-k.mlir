// RUN: moe-opt %s -moe-fuse-combine | FileCheck %s
// RUN: not moe-opt %s -moe-fuse-combine -moe-convert-moe-to-linalg 2>&1 | FileCheck %s --check-prefix=LOWER

// Routing weights of unknown k: the combine is not fused (the combined
// GEMM needs k), and no lowering can unroll its sum: a clear error.
// CHECK-LABEL: func.func @dynamic_k
// CHECK: moe.combine
// CHECK-NOT: combine(
// LOWER: error: 'moe.combine' cannot be lowered: its k (routing weights dimension 1) must be static
func.func @dynamic_k(%l: tensor<?x8xf32>, %w2: tensor<8x64x128xf32>,
                     %h: tensor<?x128xf32>) -> tensor<?x64xf32> {
  %w, %off, %slots = moe.route_plan %l routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %h, %w2, %off
      : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>) -> tensor<?x64xf32>
  %wd = tensor.cast %w : tensor<?x2xf32> to tensor<?x?xf32>
  %o = moe.combine %y, %slots, %wd
      : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x?xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}
