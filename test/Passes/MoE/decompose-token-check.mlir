// RUN: moe-opt %s -split-input-file -moe-decompose | FileCheck %s
// The routing plan reads the hidden rows the logits' rows name: when either
// token count is dynamic, the decomposition compares them at run time
// (found by moe-model-fuzzer: a model whose hidden states were [1, H] while
// its logits had a dynamic token count read past the hidden tensor).

// CHECK-LABEL: func.func @mixed
// CHECK: %[[A:.*]] = tensor.dim %arg0, %{{.*}} : tensor<1x16xf32>
// CHECK: %[[B:.*]] = tensor.dim %arg1, %{{.*}} : tensor<?x4xf32>
// CHECK: %[[EQ:.*]] = arith.cmpi eq, %[[A]], %[[B]] : index
// CHECK: cf.assert %[[EQ]], "moe.layer: the router logits and the hidden states have different token counts"
// CHECK: moe.route
func.func @mixed(%x: tensor<1x16xf32>, %l: tensor<?x4xf32>,
                 %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> tensor<1x16xf32> {
  %y = moe.layer %x : tensor<1x16xf32> logits(%l : tensor<?x4xf32>)
      fc1(%w1 : tensor<4x8x16xf32>) fc2(%w2 : tensor<4x16x8xf32>)
      routing <softmax, k = 2, renormalize> activation <relu>
      -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

// Static token counts are the verifier's to compare: no run-time check.
// CHECK-LABEL: func.func @static
// CHECK-NOT: cf.assert
// CHECK: moe.route
func.func @static(%x: tensor<6x16xf32>, %l: tensor<6x4xf32>,
                  %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> tensor<6x16xf32> {
  %y = moe.layer %x : tensor<6x16xf32> logits(%l : tensor<6x4xf32>)
      fc1(%w1 : tensor<4x8x16xf32>) fc2(%w2 : tensor<4x16x8xf32>)
      routing <softmax, k = 2, renormalize> activation <relu>
      -> tensor<6x16xf32>
  return %y : tensor<6x16xf32>
}
