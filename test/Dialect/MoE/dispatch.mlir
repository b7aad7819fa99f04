// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func.func @dynamic_tokens
// CHECK: moe.dispatch %{{.*}}, %{{.*}} experts = 8 : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
func.func @dynamic_tokens(%x: tensor<?x64xf32>, %ids: tensor<?x2xi32>)
    -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>) {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 8
      : (tensor<?x64xf32>, tensor<?x2xi32>)
        -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  return %g, %off, %slots : tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>
}

// Static tokens: R = T * k = 12 rows; block = 1 is the default and elided.
// CHECK-LABEL: func.func @static_tokens
// CHECK: moe.dispatch %{{.*}}, %{{.*}} experts = 4 : (tensor<6x16xf16>, tensor<6x2xi32>) -> (tensor<12x16xf16>, tensor<5xi32>, tensor<12xi32>)
func.func @static_tokens(%x: tensor<6x16xf16>, %ids: tensor<6x2xi32>) -> tensor<12x16xf16> {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 4 block = 1
      : (tensor<6x16xf16>, tensor<6x2xi32>)
        -> (tensor<12x16xf16>, tensor<5xi32>, tensor<12xi32>)
  return %g : tensor<12x16xf16>
}

// Padded to GEMM tiles of 16 rows: R = 6 * 2 + 4 * 15 = 72, rounded down to 64 (a multiple of 16).
// CHECK-LABEL: func.func @padded
// CHECK: moe.dispatch %{{.*}}, %{{.*}} experts = 4 block = 16 : (tensor<6x16xf32>, tensor<6x2xi32>) -> (tensor<64x16xf32>, tensor<5xi32>, tensor<64xi32>)
func.func @padded(%x: tensor<6x16xf32>, %ids: tensor<6x2xi32>) -> tensor<64x16xf32> {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 4 block = 16
      : (tensor<6x16xf32>, tensor<6x2xi32>)
        -> (tensor<64x16xf32>, tensor<5xi32>, tensor<64xi32>)
  return %g : tensor<64x16xf32>
}
