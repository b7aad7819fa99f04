// A DeepSeek-style MoE block for fusion_check.py: router weight inside the
// layer, selection bias, groups, k = 4, separate gate/up projections, an
// ungated shared expert.
func.func @deepseek(%x: tensor<?x32xf32>, %wg: tensor<16x32xf32>,
                    %b: tensor<16xf32>,
                    %w1: tensor<16x8x32xf32>, %w3: tensor<16x8x32xf32>,
                    %w2: tensor<16x32x8xf32>, %s1: tensor<16x32xf32>,
                    %s3: tensor<16x32xf32>, %s2: tensor<32x16xf32>)
    -> tensor<?x32xf32> {
  %y = moe.layer %x : tensor<?x32xf32> gate(%wg : tensor<16x32xf32>)
      router_bias(%b : tensor<16xf32>)
      fc1(%w1 : tensor<16x8x32xf32>) fc3(%w3 : tensor<16x8x32xf32>)
      fc2(%w2 : tensor<16x32x8xf32>)
      shared_fc1(%s1 : tensor<16x32xf32>) shared_fc3(%s3 : tensor<16x32xf32>)
      shared_fc2(%s2 : tensor<32x16xf32>)
      routing <sigmoid, k = 4, renormalize, groups = 4, topk_groups = 2>
      activation <silu, gated = separate> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
