// A Qwen2-style MoE block for fusion_check.py: router logits given, a
// sigmoid-gated shared expert, concatenated SwiGLU.
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
