// RUN: moe-opt %s -moe-decompose --mlir-print-debuginfo | FileCheck %s
// Every op the decomposition creates carries the layer's location, so later
// diagnostics still name the source (e.g. the ONNX node).

// CHECK-LABEL: func.func @located
// CHECK: moe.route {{.*}} loc(#[[LOC:loc[0-9]*]])
// CHECK: moe.dispatch {{.*}} loc(#[[LOC]])
// CHECK: moe.expert_matmul {{.*}} loc(#[[LOC]])
// CHECK: moe.activation {{.*}} loc(#[[LOC]])
// CHECK: moe.expert_matmul {{.*}} loc(#[[LOC]])
// CHECK: moe.combine {{.*}} loc(#[[LOC]])
// CHECK: #[[LOC]] = loc("/model/layers.0/mlp/MoE")
func.func @located(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>,
                   %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> tensor<?x16xf32> {
  %y = moe.layer %x : tensor<?x16xf32> logits(%l : tensor<?x4xf32>)
      fc1(%w1 : tensor<4x8x16xf32>) fc2(%w2 : tensor<4x16x8xf32>)
      routing <softmax, k = 2, renormalize> activation <relu>
      -> tensor<?x16xf32> loc("/model/layers.0/mlp/MoE")
  return %y : tensor<?x16xf32>
}
