func.func @plan(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>) -> tensor<5xi32> {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 4
      : (tensor<?x4xf32>, tensor<?x2xi32>) -> (tensor<?x4xf32>, tensor<5xi32>, tensor<?xi32>)
  return %off : tensor<5xi32>
}
