// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func.func @ungated
// CHECK: moe.activation %{{.*}} <relu> : (tensor<?x32xf32>) -> tensor<?x32xf32>
// CHECK: moe.activation %{{.*}} <gelu> : (tensor<?x32xf32>) -> tensor<?x32xf32>
// CHECK: moe.activation %{{.*}} <identity> : (tensor<?x32xf32>) -> tensor<?x32xf32>
func.func @ungated(%x: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %a = moe.activation %x <relu> : (tensor<?x32xf32>) -> tensor<?x32xf32>
  %b = moe.activation %a <gelu> : (tensor<?x32xf32>) -> tensor<?x32xf32>
  %c = moe.activation %b <identity> : (tensor<?x32xf32>) -> tensor<?x32xf32>
  return %c : tensor<?x32xf32>
}

// Fused gate/up halves the width.
// CHECK-LABEL: func.func @fused
// CHECK: moe.activation %{{.*}} <silu, gated = interleaved, limit = 7.0> : (tensor<?x64xf16>) -> tensor<?x32xf16>
// CHECK: moe.activation %{{.*}} <gelu_tanh, gated = concatenated, beta = -0.5> : (tensor<?x64xf16>) -> tensor<?x32xf16>
func.func @fused(%x: tensor<?x64xf16>) -> (tensor<?x32xf16>, tensor<?x32xf16>) {
  %a = moe.activation %x <silu, gated = interleaved, limit = 7.0>
      : (tensor<?x64xf16>) -> tensor<?x32xf16>
  %b = moe.activation %x <gelu_tanh, gated = concatenated, beta = -0.5>
      : (tensor<?x64xf16>) -> tensor<?x32xf16>
  return %a, %b : tensor<?x32xf16>, tensor<?x32xf16>
}

// Separate gate and up tensors.
// CHECK-LABEL: func.func @separate
// CHECK: moe.activation %{{.*}} up(%{{.*}}) <silu, gated = separate> : (tensor<10x32xbf16>, tensor<10x32xbf16>) -> tensor<10x32xbf16>
func.func @separate(%g: tensor<10x32xbf16>, %u: tensor<10x32xbf16>) -> tensor<10x32xbf16> {
  %h = moe.activation %g up(%u) <silu, gated = separate>
      : (tensor<10x32xbf16>, tensor<10x32xbf16>) -> tensor<10x32xbf16>
  return %h : tensor<10x32xbf16>
}
