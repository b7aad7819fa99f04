// Two entry functions in one library: moe.load lists both.
func.func @double(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %init = tensor.empty(%n) : tensor<?x4xf32>
  %y = linalg.add ins(%x, %x : tensor<?x4xf32>, tensor<?x4xf32>)
                  outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

func.func @negate(%x: tensor<3xi32>) -> tensor<3xi32> {
  %zero = arith.constant dense<0> : tensor<3xi32>
  %init = tensor.empty() : tensor<3xi32>
  %y = linalg.sub ins(%zero, %x : tensor<3xi32>, tensor<3xi32>)
                  outs(%init : tensor<3xi32>) -> tensor<3xi32>
  return %y : tensor<3xi32>
}
