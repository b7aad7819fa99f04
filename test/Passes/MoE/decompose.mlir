// RUN: moe-opt %s -moe-decompose -split-input-file | FileCheck %s

// Mixtral: route -> dispatch -> fc1 -> fused SwiGLU -> fc2 -> combine, with
// the plan threaded through and the layer gone.
// CHECK-LABEL: func.func @mixtral
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[L:.*]]: tensor<?x8xf32>, %[[W1:.*]]: tensor<8x256x64xf32>, %[[W2:.*]]: tensor<8x64x128xf32>)
// CHECK-NOT: = moe.layer
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.route %[[L]] routing <softmax, k = 2, renormalize> : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
// CHECK: %[[G:.*]], %[[OFF:.*]], %[[SLOTS:.*]] = moe.dispatch %[[X]], %[[IDS]] experts = 8 : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
// CHECK: %[[UP:.*]] = moe.expert_matmul %[[G]], %[[W1]], %[[OFF]] : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x256xf32>
// CHECK: %[[H:.*]] = moe.activation %[[UP]] <silu, gated = interleaved> : (tensor<?x256xf32>) -> tensor<?x128xf32>
// CHECK: %[[DOWN:.*]] = moe.expert_matmul %[[H]], %[[W2]], %[[OFF]] : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>) -> tensor<?x64xf32>
// CHECK: %[[OUT:.*]] = moe.combine %[[DOWN]], %[[SLOTS]], %[[W]] : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xf32>
// CHECK: return %[[OUT]]
func.func @mixtral(%x: tensor<?x64xf32>, %logits: tensor<?x8xf32>,
                   %w1: tensor<8x256x64xf32>, %w2: tensor<8x64x128xf32>)
    -> tensor<?x64xf32> {
  %y = moe.layer %x : tensor<?x64xf32> logits(%logits : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x64xf32>) fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Biases go to their projections; static token count gives static plan sizes.
// CHECK-LABEL: func.func @biases
// CHECK-SAME: %[[B1:[a-z0-9]+]]: tensor<4x16xf16>, %{{.*}}: tensor<4x32x16xf16>, %[[B2:[a-z0-9]+]]: tensor<4x32xf16>
// CHECK: moe.route %{{.*}} routing <softmax, k = 1> : (tensor<4x4xf16>) -> (tensor<4x1xf16>, tensor<4x1xi32>)
// CHECK: moe.dispatch {{.*}} -> (tensor<4x32xf16>, tensor<5xi32>, tensor<4xi32>)
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} bias(%[[B1]])
// CHECK: moe.activation %{{.*}} <gelu_tanh> : (tensor<4x16xf16>) -> tensor<4x16xf16>
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} bias(%[[B2]])
// CHECK: moe.combine
func.func @biases(%x: tensor<4x32xf16>, %l: tensor<4x4xf16>,
                  %w1: tensor<4x16x32xf16>, %b1: tensor<4x16xf16>,
                  %w2: tensor<4x32x16xf16>, %b2: tensor<4x32xf16>)
    -> tensor<4x32xf16> {
  %y = moe.layer %x : tensor<4x32xf16> logits(%l : tensor<4x4xf16>)
      fc1(%w1 : tensor<4x16x32xf16>) fc1_bias(%b1 : tensor<4x16xf16>)
      fc2(%w2 : tensor<4x32x16xf16>) fc2_bias(%b2 : tensor<4x32xf16>)
      routing <softmax, k = 1> activation <gelu_tanh> -> tensor<4x32xf16>
  return %y : tensor<4x32xf16>
}

// -----

// A router weight on the layer becomes the fused-gate form of moe.route on the
// hidden states; separate gating gives two up projections.
// CHECK-LABEL: func.func @fused_router
// CHECK-SAME: (%[[X:.*]]: tensor<?x32xf32>, %[[WG:.*]]: tensor<8x32xf32>, %[[BIAS:.*]]: tensor<8xf32>, %[[W1:.*]]: tensor<8x16x32xf32>, %[[W3:.*]]: tensor<8x16x32xf32>
// CHECK: moe.route %[[X]] gate(%[[WG]]) bias(%[[BIAS]]) routing <sigmoid, k = 2, renormalize, groups = 4, topk_groups = 2, scale = 2.5>
// CHECK: %[[G:.*]], %[[OFF:.*]], %{{.*}} = moe.dispatch
// CHECK: %[[GATE:.*]] = moe.expert_matmul %[[G]], %[[W1]], %[[OFF]]
// CHECK: %[[UP:.*]] = moe.expert_matmul %[[G]], %[[W3]], %[[OFF]]
// CHECK: moe.activation %[[GATE]] up(%[[UP]]) <silu, gated = separate>
func.func @fused_router(%x: tensor<?x32xf32>, %wg: tensor<8x32xf32>,
                        %bias: tensor<8xf32>, %w1: tensor<8x16x32xf32>,
                        %w3: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>)
    -> tensor<?x32xf32> {
  %y = moe.layer %x : tensor<?x32xf32> gate(%wg : tensor<8x32xf32>)
      router_bias(%bias : tensor<8xf32>)
      fc1(%w1 : tensor<8x16x32xf32>) fc3(%w3 : tensor<8x16x32xf32>)
      fc2(%w2 : tensor<8x32x16xf32>)
      routing <sigmoid, k = 2, renormalize, groups = 4, topk_groups = 2, scale = 2.5>
      activation <silu, gated = separate> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
