// RUN: moe-opt %s -split-input-file | FileCheck %s
// RUN: moe-opt %s -split-input-file --mlir-print-op-generic | moe-opt -split-input-file | FileCheck %s
// RUN: moe-opt %s -split-input-file --moe-decompose | FileCheck %s --check-prefix=DECOMPOSE

// Quantized experts: 4-bit bytes (two values per byte) with one scale per
// row; the layer decomposes into grouped matmuls that keep reading bytes.
// CHECK-LABEL: func.func @int4_rows
// CHECK: moe.layer %{{.*}} : tensor<?x64xf32> logits(%{{.*}} : tensor<?x8xf32>) fc1(%{{.*}} : tensor<8x256x32xi8>) fc1_scales(%{{.*}} : tensor<8x256xf32>) fc2(%{{.*}} : tensor<8x64x64xi8>) fc2_scales(%{{.*}} : tensor<8x64xf32>) routing <softmax, k = 2, renormalize> activation <silu, gated = interleaved> {weight_bits = 4 : i64} -> tensor<?x64xf32>
// DECOMPOSE-LABEL: func.func @int4_rows
// DECOMPOSE: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} scales(%{{.*}}) {weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<8x256x32xi8>, tensor<9xi32>, tensor<8x256xf32>) -> tensor<?x256xf32>
// DECOMPOSE: moe.activation {{.*}} -> tensor<?x128xf32>
// DECOMPOSE: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} scales(%{{.*}}) {weight_bits = 4 : i64} : (tensor<?x128xf32>, tensor<8x64x64xi8>, tensor<9xi32>, tensor<8x64xf32>) -> tensor<?x64xf32>
func.func @int4_rows(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>,
                     %w1: tensor<8x256x32xi8>, %s1: tensor<8x256xf32>,
                     %w2: tensor<8x64x64xi8>, %s2: tensor<8x64xf32>) -> tensor<?x64xf32> {
  %y = moe.layer %x : tensor<?x64xf32> logits(%l : tensor<?x8xf32>)
      fc1(%w1 : tensor<8x256x32xi8>) fc1_scales(%s1 : tensor<8x256xf32>)
      fc2(%w2 : tensor<8x64x64xi8>) fc2_scales(%s2 : tensor<8x64xf32>)
      routing <softmax, k = 2, renormalize> activation <silu, gated = interleaved>
      {weight_bits = 4} -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// 8-bit bytes with one scale per block of 16 input features.
// CHECK-LABEL: func.func @int8_blocks
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} scales(%{{.*}}) {quant_block = 16 : i64, weight_bits = 8 : i64} : (tensor<?x64xbf16>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32x4xbf16>) -> tensor<?x32xbf16>
func.func @int8_blocks(%g: tensor<?x64xbf16>, %w: tensor<4x32x64xi8>,
                       %off: tensor<5xi32>, %s: tensor<4x32x4xbf16>) -> tensor<?x32xbf16> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 8, quant_block = 16}
      : (tensor<?x64xbf16>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32x4xbf16>) -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}

// -----

// Zero points (asymmetric weights): one unsigned byte per scale, carried
// to each projection's grouped matmul.
// CHECK-LABEL: func.func @zero_points
// CHECK: fc1_scales(%{{.*}} : tensor<4x32x2xf32>) fc1_zero_points(%{{.*}} : tensor<4x32x2xi8>) fc2(%{{.*}} : tensor<4x32x8xi8>) fc2_scales(%{{.*}} : tensor<4x32x1xf32>) fc2_zero_points(%{{.*}} : tensor<4x32x1xi8>)
// DECOMPOSE-LABEL: func.func @zero_points
// DECOMPOSE: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} scales(%{{.*}}) zero_points(%{{.*}}) {quant_block = 16 : i64, weight_bits = 4 : i64} : (tensor<?x32xf32>, tensor<4x32x16xi8>, tensor<5xi32>, tensor<4x32x2xf32>, tensor<4x32x2xi8>) -> tensor<?x32xf32>
// DECOMPOSE: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} scales(%{{.*}}) zero_points(%{{.*}}) {quant_block = 16 : i64, weight_bits = 4 : i64} : (tensor<?x16xf32>, tensor<4x32x8xi8>, tensor<5xi32>, tensor<4x32x1xf32>, tensor<4x32x1xi8>) -> tensor<?x32xf32>
// CHECK-LABEL: func.func @matmul_zero_points
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} scales(%{{.*}}) zero_points(%{{.*}}) {weight_bits = 8 : i64} : (tensor<?x64xf32>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32xf32>, tensor<4x32xi8>) -> tensor<?x32xf32>
func.func @zero_points(%x: tensor<?x32xf32>, %l: tensor<?x4xf32>,
                       %w1: tensor<4x32x16xi8>, %s1: tensor<4x32x2xf32>, %z1: tensor<4x32x2xi8>,
                       %w2: tensor<4x32x8xi8>, %s2: tensor<4x32x1xf32>, %z2: tensor<4x32x1xi8>) -> tensor<?x32xf32> {
  %y = moe.layer %x : tensor<?x32xf32> logits(%l : tensor<?x4xf32>)
      fc1(%w1 : tensor<4x32x16xi8>) fc1_scales(%s1 : tensor<4x32x2xf32>) fc1_zero_points(%z1 : tensor<4x32x2xi8>)
      fc2(%w2 : tensor<4x32x8xi8>) fc2_scales(%s2 : tensor<4x32x1xf32>) fc2_zero_points(%z2 : tensor<4x32x1xi8>)
      routing <softmax, k = 2, renormalize> activation <silu, gated = interleaved>
      {weight_bits = 4, quant_block = 16} -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

func.func @matmul_zero_points(%g: tensor<?x64xf32>, %w: tensor<4x32x64xi8>, %off: tensor<5xi32>,
                              %s: tensor<4x32xf32>, %z: tensor<4x32xi8>) -> tensor<?x32xf32> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) zero_points(%z) {weight_bits = 8}
      : (tensor<?x64xf32>, tensor<4x32x64xi8>, tensor<5xi32>, tensor<4x32xf32>, tensor<4x32xi8>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
