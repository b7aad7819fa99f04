func.func @experts(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %w = arith.constant dense<0.5> : tensor<4x8x4xf32>
  %w2 = arith.constant dense<0.25> : tensor<4x4x8xf32>
  %g, %off, %slots = moe.dispatch %x, %ids experts = 4 block = 64
      : (tensor<?x4xf32>, tensor<?x2xi32>) -> (tensor<?x4xf32>, tensor<5xi32>, tensor<?xi32>)
  %h = moe.expert_matmul %g, %w, %off
      : (tensor<?x4xf32>, tensor<4x8x4xf32>, tensor<5xi32>) -> tensor<?x8xf32>
  %y = moe.expert_matmul %h, %w2, %off
      : (tensor<?x8xf32>, tensor<4x4x8xf32>, tensor<5xi32>) -> tensor<?x4xf32>
  %out = moe.combine %y, %slots, %weights
      : (tensor<?x4xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}
