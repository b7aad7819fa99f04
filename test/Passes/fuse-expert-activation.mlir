// RUN: moe-opt %s -moe-fuse-expert-activation -split-input-file | FileCheck %s

// SwiGLU with interleaved gate/up rows: the activation moves into the
// first GEMM's epilogue, whose result is the [rows, I] activated tensor.
// CHECK-LABEL: func.func @interleaved
// CHECK: %[[H:.*]] = moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}}) epilogue <silu, gated = interleaved> : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<8x256xf32>) -> tensor<?x128xf32>
// CHECK-NOT: moe.activation
// CHECK: moe.expert_matmul %[[H]]
func.func @interleaved(%g: tensor<?x64xf32>, %off: tensor<9xi32>, %w1: tensor<8x256x64xf32>,
                       %b1: tensor<8x256xf32>, %w2: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  %y = moe.expert_matmul %g, %w1, %off bias(%b1)
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<8x256xf32>) -> tensor<?x256xf32>
  %h = moe.activation %y <silu, gated = interleaved> : (tensor<?x256xf32>) -> tensor<?x128xf32>
  %o = moe.expert_matmul %h, %w2, %off
      : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Ungated (and quantized weights): elementwise epilogue, same width.
// CHECK-LABEL: func.func @ungated
// CHECK: moe.expert_matmul %{{.*}}, %{{.*}}, %{{.*}} scales(%{{.*}}) epilogue <gelu_tanh> {weight_bits = 4 : i64} : {{.*}} -> tensor<?x32xf16>
// CHECK-NOT: moe.activation
func.func @ungated(%g: tensor<?x16xf16>, %off: tensor<5xi32>, %w: tensor<4x32x8xi8>,
                   %s: tensor<4x32xf16>) -> tensor<?x32xf16> {
  %y = moe.expert_matmul %g, %w, %off scales(%s) {weight_bits = 4 : i64}
      : (tensor<?x16xf16>, tensor<4x32x8xi8>, tensor<5xi32>, tensor<4x32xf16>) -> tensor<?x32xf16>
  %h = moe.activation %y <gelu_tanh> : (tensor<?x32xf16>) -> tensor<?x32xf16>
  return %h : tensor<?x32xf16>
}

// -----

// Not fused: concatenated halves are not in one output tile; separate
// gating has two GEMMs; a GEMM result used elsewhere must be written.
// CHECK-LABEL: func.func @unfusable
// CHECK-NOT: epilogue
// CHECK-COUNT-3: moe.activation
func.func @unfusable(%g: tensor<?x64xf32>, %off: tensor<9xi32>, %w1: tensor<8x256x64xf32>,
                     %w3: tensor<8x128x64xf32>)
    -> (tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x256xf32>, tensor<?x256xf32>) {
  %y = moe.expert_matmul %g, %w1, %off
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x256xf32>
  %c = moe.activation %y <silu, gated = concatenated> : (tensor<?x256xf32>) -> tensor<?x128xf32>
  %gate = moe.expert_matmul %g, %w3, %off
      : (tensor<?x64xf32>, tensor<8x128x64xf32>, tensor<9xi32>) -> tensor<?x128xf32>
  %up = moe.expert_matmul %g, %w3, %off
      : (tensor<?x64xf32>, tensor<8x128x64xf32>, tensor<9xi32>) -> tensor<?x128xf32>
  %s = moe.activation %gate up(%up) <silu, gated = separate> : (tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x128xf32>
  %y2 = moe.expert_matmul %g, %w1, %off
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x256xf32>
  %r = moe.activation %y2 <relu> : (tensor<?x256xf32>) -> tensor<?x256xf32>
  return %c, %s, %r, %y2 : tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x256xf32>, tensor<?x256xf32>
}
