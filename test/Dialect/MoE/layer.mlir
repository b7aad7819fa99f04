// RUN: moe-opt %s | FileCheck %s
// Round trip: the printed form parses again and prints identically.
// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// Mixtral / onnxruntime com.microsoft.MoE: softmax top-2, renormalized,
// SwiGLU experts with interleaved gate/up rows.
// CHECK-LABEL: func.func @mixtral
// CHECK: %[[Y:.*]] = moe.layer %{{.*}} : tensor<?x64xf32> logits(%{{.*}} : tensor<?x8xf32>) fc1(%{{.*}} : tensor<8x256x64xf32>) fc2(%{{.*}} : tensor<8x64x128xf32>) routing <softmax, k = 2, renormalize> activation <silu, gated = interleaved> -> tensor<?x64xf32>
// CHECK: return %[[Y]]
func.func @mixtral(%x: tensor<?x64xf32>, %logits: tensor<?x8xf32>,
                   %w1: tensor<8x256x64xf32>, %w2: tensor<8x64x128xf32>)
    -> tensor<?x64xf32> {
  %y = moe.layer %x : tensor<?x64xf32>
      logits(%logits : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x64xf32>)
      fc2(%w2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Biased fc1/fc2 with an ungated tanh-GELU (onnxruntime's `gelu`), static T.
// CHECK-LABEL: func.func @biases
// CHECK: moe.layer %{{.*}} : tensor<4x32xf16> logits(%{{.*}} : tensor<4x4xf16>) fc1(%{{.*}} : tensor<4x16x32xf16>) fc1_bias(%{{.*}} : tensor<4x16xf16>) fc2(%{{.*}} : tensor<4x32x16xf16>) fc2_bias(%{{.*}} : tensor<4x32xf16>) routing <softmax, k = 1> activation <gelu_tanh> -> tensor<4x32xf16>
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

// DeepSeek-V3 style: router weight inside the layer, sigmoid scoring with a
// selection bias, group-limited top-k, scaling, separate gate/up projections
// and a shared expert.
// CHECK-LABEL: func.func @deepseek
// CHECK: moe.layer %{{.*}} : tensor<?x32xbf16> gate(%{{.*}} : tensor<16x32xbf16>) router_bias(%{{.*}} : tensor<16xbf16>) fc1(%{{.*}} : tensor<16x8x32xbf16>) fc3(%{{.*}} : tensor<16x8x32xbf16>) fc2(%{{.*}} : tensor<16x32x8xbf16>) shared_fc1(%{{.*}} : tensor<16x32xbf16>) shared_fc3(%{{.*}} : tensor<16x32xbf16>) shared_fc2(%{{.*}} : tensor<32x16xbf16>)
// CHECK-SAME: routing <sigmoid, k = 4, renormalize, groups = 4, topk_groups = 2, scale = 2.5> activation <silu, gated = separate>
func.func @deepseek(%x: tensor<?x32xbf16>, %wg: tensor<16x32xbf16>,
                    %bias: tensor<16xbf16>, %w1: tensor<16x8x32xbf16>,
                    %w3: tensor<16x8x32xbf16>, %w2: tensor<16x32x8xbf16>,
                    %s1: tensor<16x32xbf16>, %s3: tensor<16x32xbf16>,
                    %s2: tensor<32x16xbf16>) -> tensor<?x32xbf16> {
  %y = moe.layer %x : tensor<?x32xbf16> gate(%wg : tensor<16x32xbf16>)
      router_bias(%bias : tensor<16xbf16>)
      fc1(%w1 : tensor<16x8x32xbf16>) fc3(%w3 : tensor<16x8x32xbf16>)
      fc2(%w2 : tensor<16x32x8xbf16>)
      shared_fc1(%s1 : tensor<16x32xbf16>) shared_fc3(%s3 : tensor<16x32xbf16>)
      shared_fc2(%s2 : tensor<32x16xbf16>)
      routing <sigmoid, k = 4, renormalize, groups = 4, topk_groups = 2,
               group_score = top2_sum, scale = 2.5>
      activation <silu, gated = separate> -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}

// Qwen2-MoE style: no renormalization, shared expert with a sigmoid gate,
// concatenated gate/up rows.
// CHECK-LABEL: func.func @qwen
// CHECK: shared_fc1(%{{.*}} : tensor<64x32xf32>) shared_fc2(%{{.*}} : tensor<32x32xf32>) shared_gate(%{{.*}} : tensor<1x32xf32>) routing <softmax, k = 2> activation <silu, gated = concatenated>
func.func @qwen(%x: tensor<?x32xf32>, %l: tensor<?x4xf32>,
                %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x8xf32>,
                %s1: tensor<64x32xf32>, %s2: tensor<32x32xf32>,
                %g: tensor<1x32xf32>) -> tensor<?x32xf32> {
  %y = moe.layer %x : tensor<?x32xf32> logits(%l : tensor<?x4xf32>)
      fc1(%w1 : tensor<4x16x32xf32>) fc2(%w2 : tensor<4x32x8xf32>)
      shared_fc1(%s1 : tensor<64x32xf32>) shared_fc2(%s2 : tensor<32x32xf32>)
      shared_gate(%g : tensor<1x32xf32>)
      routing <softmax, k = 2> activation <silu, gated = concatenated>
      -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// gpt-oss: onnxruntime's parameterized swiglu.
// CHECK-LABEL: func.func @gpt_oss
// CHECK: activation <silu, gated = interleaved, alpha = 1.702, beta = 1.0, limit = 7.0>
func.func @gpt_oss(%x: tensor<?x32xf32>, %l: tensor<?x4xf32>,
                   %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x8xf32>)
    -> tensor<?x32xf32> {
  %y = moe.layer %x : tensor<?x32xf32> logits(%l : tensor<?x4xf32>)
      fc1(%w1 : tensor<4x16x32xf32>) fc2(%w2 : tensor<4x32x8xf32>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = interleaved, alpha = 1.702, beta = 1.0,
                  limit = 7.0> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
