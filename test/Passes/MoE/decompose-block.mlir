// RUN: moe-opt %s -moe-decompose=block=16 | FileCheck %s
// RUN: moe-opt %s -moe-decompose=block=16 | moe-opt -verify-roundtrip | FileCheck %s
// RUN: not moe-opt %s -moe-decompose=block=0 2>&1 | FileCheck %s --check-prefix=BAD

// With 16-row GEMM tiles, the plan is padded: 6 tokens * 2 + 4 experts * 15.
// CHECK-LABEL: func.func @padded
// CHECK: moe.dispatch %{{.*}}, %{{.*}} experts = 4 block = 16 : (tensor<6x32xf32>, tensor<6x2xi32>) -> (tensor<64x32xf32>, tensor<5xi32>, tensor<64xi32>)
// CHECK: moe.expert_matmul {{.*}} -> tensor<64x16xf32>
// CHECK: moe.activation {{.*}} -> tensor<64x16xf32>
// CHECK: moe.expert_matmul {{.*}} -> tensor<64x32xf32>
// CHECK: moe.combine {{.*}} : (tensor<64x32xf32>, tensor<64xi32>, tensor<6x2xf32>) -> tensor<6x32xf32>

// BAD: error: moe-decompose: block must be at least 1, got 0
func.func @padded(%x: tensor<6x32xf32>, %l: tensor<6x4xf32>,
                  %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>)
    -> tensor<6x32xf32> {
  %y = moe.layer %x : tensor<6x32xf32> logits(%l : tensor<6x4xf32>)
      fc1(%w1 : tensor<4x16x32xf32>) fc2(%w2 : tensor<4x32x16xf32>)
      routing <softmax, k = 2> activation <relu> -> tensor<6x32xf32>
  return %y : tensor<6x32xf32>
}
