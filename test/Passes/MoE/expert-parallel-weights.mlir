// RUN: moe-opt %s -moe-decompose -moe-expert-parallel="ranks=2 rank=1" | FileCheck %s
// RUN: moe-opt %s -moe-decompose -moe-expert-parallel="ranks=2 rank=1 placement=round-robin" | FileCheck %s --check-prefix=RR

// Weights passed as arguments are sliced in the program: one slice per run
// of consecutive local experts, concatenated when there are several.
// CHECK-LABEL: func.func @args
// CHECK-DAG: tensor.extract_slice %{{.*}}[4, 0, 0] [4, 64, 128] [1, 1, 1] : tensor<8x64x128xf32> to tensor<4x64x128xf32>
// CHECK-DAG: tensor.extract_slice %{{.*}}[4, 0, 0] [4, 256, 64] [1, 1, 1] : tensor<8x256x64xf32> to tensor<4x256x64xf32>
// CHECK-DAG: tensor.extract_slice %{{.*}}[4, 0] [4, 256] [1, 1] : tensor<8x256xf32> to tensor<4x256xf32>
// CHECK-NOT: tensor.concat
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}}) : (tensor<?x64xf32>, tensor<4x256x64xf32>, tensor<5xi32>, tensor<4x256xf32>) -> tensor<?x256xf32>
// RR-LABEL: func.func @args
// RR: %[[A:.*]] = tensor.extract_slice %{{.*}}[1, 0, 0] [1, 64, 128]
// RR: %[[B:.*]] = tensor.extract_slice %{{.*}}[3, 0, 0] [1, 64, 128]
// RR: %[[C:.*]] = tensor.extract_slice %{{.*}}[5, 0, 0] [1, 64, 128]
// RR: %[[D:.*]] = tensor.extract_slice %{{.*}}[7, 0, 0] [1, 64, 128]
// RR: tensor.concat dim(0) %[[A]], %[[B]], %[[C]], %[[D]] : {{.*}} -> tensor<4x64x128xf32>
func.func @args(%x: tensor<?x64xf32>, %logits: tensor<?x8xf32>,
                %w1: tensor<8x256x64xf32>, %b1: tensor<8x256xf32>,
                %w2: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  %y = moe.layer %x : tensor<?x64xf32> logits(%logits : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x64xf32>) fc1_bias(%b1 : tensor<8x256xf32>)
      fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Quantized weights: scales and zero points are sliced like the weights.
// CHECK-LABEL: func.func @zero_points
// CHECK-DAG: %[[W:.*]] = tensor.extract_slice %{{.*}}[4, 0, 0] [4, 256, 32] [1, 1, 1] : tensor<8x256x32xi8> to tensor<4x256x32xi8>
// CHECK-DAG: %[[S:.*]] = tensor.extract_slice %{{.*}}[4, 0, 0] [4, 256, 2] [1, 1, 1] : tensor<8x256x2xf32> to tensor<4x256x2xf32>
// CHECK-DAG: %[[Z:.*]] = tensor.extract_slice %{{.*}}[4, 0, 0] [4, 256, 2] [1, 1, 1] : tensor<8x256x2xi8> to tensor<4x256x2xi8>
// CHECK: moe.expert_matmul %{{.*}}, %[[W]], %{{.*}} scales(%[[S]]) zero_points(%[[Z]])
// RR-LABEL: func.func @zero_points
// RR: tensor.concat dim(0) {{.*}} -> tensor<4x256x2xi8>
func.func @zero_points(%x: tensor<?x64xf32>, %logits: tensor<?x8xf32>,
                       %w1: tensor<8x256x32xi8>, %s1: tensor<8x256x2xf32>, %z1: tensor<8x256x2xi8>,
                       %w2: tensor<8x64x64xi8>, %s2: tensor<8x64x4xf32>, %z2: tensor<8x64x4xi8>) -> tensor<?x64xf32> {
  %y = moe.layer %x : tensor<?x64xf32> logits(%logits : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x32xi8>) fc1_scales(%s1 : tensor<8x256x2xf32>) fc1_zero_points(%z1 : tensor<8x256x2xi8>)
      fc2(%w2 : tensor<8x64x64xi8>) fc2_scales(%s2 : tensor<8x64x4xf32>) fc2_zero_points(%z2 : tensor<8x64x4xi8>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = interleaved> {weight_bits = 4, quant_block = 32} -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
