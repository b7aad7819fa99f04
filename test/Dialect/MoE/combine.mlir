// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func.func @combine
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xf32>
func.func @combine(%y: tensor<?x64xf32>, %slots: tensor<?xi32>,
                   %w: tensor<?x2xf32>) -> tensor<?x64xf32> {
  %out = moe.combine %y, %slots, %w
      : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xf32>
  return %out : tensor<?x64xf32>
}

// Padded rows (72) combine into 6 tokens.
// CHECK-LABEL: func.func @padded
// CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} : (tensor<72x16xf16>, tensor<72xi32>, tensor<6x2xf16>) -> tensor<6x16xf16>
func.func @padded(%y: tensor<72x16xf16>, %slots: tensor<72xi32>,
                  %w: tensor<6x2xf16>) -> tensor<6x16xf16> {
  %out = moe.combine %y, %slots, %w
      : (tensor<72x16xf16>, tensor<72xi32>, tensor<6x2xf16>) -> tensor<6x16xf16>
  return %out : tensor<6x16xf16>
}
