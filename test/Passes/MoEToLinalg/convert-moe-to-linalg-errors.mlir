// RUN: moe-opt %s -moe-convert-moe-to-linalg -verify-diagnostics

func.func @collective(%x: tensor<?x16xf32>, %c: tensor<2xi32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{'moe.all_to_all' has no lowering to linalg (collectives need the expert-parallel runtime)}}
  %o, %r = moe.all_to_all %x, %c ranks = 2
      : (tensor<?x16xf32>, tensor<2xi32>) -> (tensor<?x16xf32>, tensor<2xi32>)
  return %o : tensor<?x16xf32>
}
