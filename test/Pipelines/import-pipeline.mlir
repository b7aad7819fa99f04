// RUN: moe-opt %s --moe-import-pipeline | FileCheck %s
// RUN: moe-opt %s --moe-import-pipeline --moe-import-pipeline | FileCheck %s

// The raising that moe-opt runs after every ONNX import (and both compile
// pipelines start with): contrib MoE ops and exported subgraphs become
// moe.layer; raised IR passes through unchanged.
// CHECK-LABEL: func.func @contrib
// CHECK-NOT: onnx.MoE
// CHECK: moe.layer %arg0 : tensor<?x8xf32> logits(%arg1 : tensor<?x4xf32>) fc1(%arg2 : tensor<4x32x8xf32>) fc2(%arg3 : tensor<4x8x16xf32>) routing <softmax, k = 2, renormalize> activation <silu, gated = interleaved>
func.func @contrib(%x: tensor<?x8xf32>, %logits: tensor<?x4xf32>,
                   %w1: tensor<4x32x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x8xf32> {
  %none = onnx.NoValue
  %y = onnx.MoE(%x, %logits, %w1, %none, %w2, %none, %none, %none) {activation_type = "swiglu", k = 2 : si64, normalize_routing_weights = 1 : si64, swiglu_fusion = 1 : si64} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<4x32x8xf32>, none, tensor<4x8x16xf32>, none, none, none) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
