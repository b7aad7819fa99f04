// A Mixtral-style MoE block as one op: 8 experts, top-2 softmax routing with
// renormalization, SwiGLU experts (gate/up rows interleaved, the layout of
// onnxruntime's com.microsoft.MoE), hidden size 64, a dynamic token count.
func.func @moe_block(%hidden: tensor<?x64xf32>, %router_logits: tensor<?x8xf32>,
                     %fc1: tensor<8x256x64xf32>, %fc2: tensor<8x64x128xf32>)
    -> tensor<?x64xf32> {
  %out = moe.layer %hidden : tensor<?x64xf32>
      logits(%router_logits : tensor<?x8xf32>)
      fc1(%fc1 : tensor<8x256x64xf32>)
      fc2(%fc2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return %out : tensor<?x64xf32>
}
