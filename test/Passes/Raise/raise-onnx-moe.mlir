// RUN: moe-opt %s -split-input-file --moe-raise-onnx-moe | FileCheck %s

// The pass on onnx-dialect IR (the .onnxtxt tests beside it go through the
// importer): com.microsoft.MoE's operands map onto moe.layer's.
// CHECK-LABEL: func.func @swiglu
// CHECK-NOT: onnx.MoE
// CHECK: %[[Y:.*]] = moe.layer %arg0 : tensor<?x8xf32> logits(%arg1 : tensor<?x4xf32>) fc1(%arg2 : tensor<4x32x8xf32>) fc2(%arg3 : tensor<4x8x16xf32>) routing <softmax, k = 2, renormalize> activation <silu, gated = interleaved> -> tensor<?x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @swiglu(%x: tensor<?x8xf32>, %logits: tensor<?x4xf32>,
                  %w1: tensor<4x32x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x8xf32> {
  %none = onnx.NoValue
  %y = onnx.MoE(%x, %logits, %w1, %none, %w2, %none, %none, %none) {activation_type = "swiglu", k = 2 : si64, normalize_routing_weights = 1 : si64, swiglu_fusion = 1 : si64} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<4x32x8xf32>, none, tensor<4x8x16xf32>, none, none, none) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A separate fc3 with its bias gates the activation; onnxruntime's gelu is
// the tanh form.
// CHECK-LABEL: func.func @fc3_gelu
// CHECK: moe.layer %arg0 : tensor<?x8xf32> logits(%arg1 : tensor<?x4xf32>) fc1(%arg2 : tensor<4x16x8xf32>) fc3(%arg4 : tensor<4x16x8xf32>) fc3_bias(%arg5 : tensor<4x16xf32>) fc2(%arg3 : tensor<4x8x16xf32>) routing <softmax, k = 2> activation <gelu_tanh, gated = separate> -> tensor<?x8xf32>
func.func @fc3_gelu(%x: tensor<?x8xf32>, %logits: tensor<?x4xf32>,
                    %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>,
                    %w3: tensor<4x16x8xf32>, %b3: tensor<4x16xf32>) -> tensor<?x8xf32> {
  %none = onnx.NoValue
  %y = onnx.MoE(%x, %logits, %w1, %none, %w2, %none, %w3, %b3) {activation_type = "gelu", k = 2 : si64} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, none, tensor<4x8x16xf32>, none, tensor<4x16x8xf32>, tensor<4x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Dense onnx ops are left to moe-convert-onnx-to-core.
// CHECK-LABEL: func.func @dense
// CHECK: onnx.Relu
func.func @dense(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = onnx.Relu(%x) : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
