// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func.func @softmax_logits
// CHECK: %{{.*}}, %{{.*}} = moe.route %{{.*}} routing <softmax, k = 2, renormalize> : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
func.func @softmax_logits(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %ids = moe.route %l routing <softmax, k = 2, renormalize>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return %w, %ids : tensor<?x2xf32>, tensor<?x2xi32>
}

// The router matmul fused into routing, with a selection bias and groups.
// CHECK-LABEL: func.func @fused_gate_bias_groups
// CHECK: moe.route %{{.*}} gate(%{{.*}}) bias(%{{.*}}) routing <sigmoid, k = 6, renormalize, groups = 8, topk_groups = 3, group_score = max, scale = 1.0e-05> : (tensor<5x128xf16>, tensor<64x128xf16>, tensor<64xf16>) -> (tensor<5x6xf16>, tensor<5x6xi32>)
func.func @fused_gate_bias_groups(%x: tensor<5x128xf16>, %wg: tensor<64x128xf16>,
                                  %b: tensor<64xf16>) -> tensor<5x6xi32> {
  %w, %ids = moe.route %x gate(%wg) bias(%b)
      routing <sigmoid, k = 6, renormalize, groups = 8, topk_groups = 3,
               group_score = max, scale = 0.00001>
      : (tensor<5x128xf16>, tensor<64x128xf16>, tensor<64xf16>)
        -> (tensor<5x6xf16>, tensor<5x6xi32>)
  return %ids : tensor<5x6xi32>
}

// k = E is allowed (dense routing).
// CHECK-LABEL: func.func @k_equals_experts
// CHECK: routing <softmax, k = 4>
func.func @k_equals_experts(%l: tensor<3x4xbf16>) -> tensor<3x4xbf16> {
  %w, %ids = moe.route %l routing <softmax, k = 4>
      : (tensor<3x4xbf16>) -> (tensor<3x4xbf16>, tensor<3x4xi32>)
  return %w : tensor<3x4xbf16>
}
