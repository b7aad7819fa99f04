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

// Not fused: concatenated halves are not in one output tile and separate
// gating has two GEMMs, when their weights are not constants (no compile
// time re-layout); a GEMM result used elsewhere must be written.
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

// -----

// Constant weights are re-laid out at compile time: concatenated halves
// [gate 0, gate 1 | up 0, up 1] become rows [g0, u0, g1, u1]; separate
// fc1 / fc3 (and their biases) interleave the same way; one GEMM each with
// the interleaved epilogue.
// CHECK-LABEL: func.func @constant_weights
// CHECK: %[[CW:.*]] = arith.constant dense_resource<moe_interleaved> : tensor<1x4x2xf32>
// CHECK: moe.expert_matmul %{{.*}}, %[[CW]], %{{.*}} epilogue <silu, gated = interleaved> : {{.*}} -> tensor<?x2xf32>
// CHECK: %[[SW:.*]] = arith.constant dense_resource<moe_interleaved_1> : tensor<1x4x2xf32>
// CHECK: %[[SB:.*]] = arith.constant dense_resource<moe_interleaved_2> : tensor<1x4xf32>
// CHECK: moe.expert_matmul %{{.*}}, %[[SW]], %{{.*}} bias(%[[SB]]) epilogue <silu, gated = interleaved, alpha = 1.702{{.*}}, beta = 1.0{{.*}}> : {{.*}} -> tensor<?x2xf32>
// CHECK-NOT: moe.activation
// The bytes (after the 8-byte alignment word): the concatenated rows in the
// order 0, 2, 1, 3 (4 5 | 0 3 | 1 2 | 6 7); fc1 and fc3 rows alternating
// (1 2 | 5 6 | 3 4 | 7 8); the biases 0.5 2.5 1.5 3.5.
// CHECK: moe_interleaved: "0x08000000000080400000A04000000000000040400000803F000000400000C0400000E040"
// CHECK: moe_interleaved_1: "0x080000000000803F000000400000A0400000C04000004040000080400000E04000000041"
// CHECK: moe_interleaved_2: "0x080000000000003F000020400000C03F00006040"
func.func @constant_weights(%g: tensor<?x2xf32>, %off: tensor<2xi32>)
    -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %wc = arith.constant dense<[[[4.0, 5.0], [1.0, 2.0], [0.0, 3.0], [6.0, 7.0]]]> : tensor<1x4x2xf32>
  %y = moe.expert_matmul %g, %wc, %off
      : (tensor<?x2xf32>, tensor<1x4x2xf32>, tensor<2xi32>) -> tensor<?x4xf32>
  %c = moe.activation %y <silu, gated = concatenated> : (tensor<?x4xf32>) -> tensor<?x2xf32>
  %w1 = arith.constant dense<[[[1.0, 2.0], [3.0, 4.0]]]> : tensor<1x2x2xf32>
  %w3 = arith.constant dense<[[[5.0, 6.0], [7.0, 8.0]]]> : tensor<1x2x2xf32>
  %b1 = arith.constant dense<[[0.5, 1.5]]> : tensor<1x2xf32>
  %b3 = arith.constant dense<[[2.5, 3.5]]> : tensor<1x2xf32>
  %gate = moe.expert_matmul %g, %w1, %off bias(%b1)
      : (tensor<?x2xf32>, tensor<1x2x2xf32>, tensor<2xi32>, tensor<1x2xf32>) -> tensor<?x2xf32>
  %up = moe.expert_matmul %g, %w3, %off bias(%b3)
      : (tensor<?x2xf32>, tensor<1x2x2xf32>, tensor<2xi32>, tensor<1x2xf32>) -> tensor<?x2xf32>
  %s = moe.activation %gate up(%up) <silu, gated = separate, alpha = 1.702, beta = 1.0>
      : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  return %c, %s : tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

// Quantized separate gate and up projections with zero points: weights,
// scales and zero points interleave by rows alike (zero points 1 2 | 3 4
// become 1 3 2 4).
// CHECK-LABEL: func.func @zero_points
// CHECK-DAG: %[[W:.*]] = arith.constant dense_resource<[[RW:moe_interleaved[_0-9]*]]> : tensor<1x4x2xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense_resource<[[RS:moe_interleaved[_0-9]*]]> : tensor<1x4xf32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense_resource<[[RZ:moe_interleaved[_0-9]*]]> : tensor<1x4xi8>
// CHECK: moe.expert_matmul %{{.*}}, %[[W]], %{{.*}} scales(%[[S]]) zero_points(%[[Z]]) epilogue <silu, gated = interleaved> {weight_bits = 8 : i64}
// CHECK-NOT: moe.activation
// CHECK-DAG: [[RW]]: "0x080000000A0B1E1F0C0D2E2F"
// CHECK-DAG: [[RZ]]: "0x0800000001030204"
func.func @zero_points(%g: tensor<?x2xf32>, %off: tensor<2xi32>) -> tensor<?x2xf32> {
  %w1 = arith.constant dense<[[[10, 11], [12, 13]]]> : tensor<1x2x2xi8>
  %w3 = arith.constant dense<[[[30, 31], [46, 47]]]> : tensor<1x2x2xi8>
  %s1 = arith.constant dense<[[0.5, 1.5]]> : tensor<1x2xf32>
  %s3 = arith.constant dense<[[2.5, 3.5]]> : tensor<1x2xf32>
  %z1 = arith.constant dense<[[1, 2]]> : tensor<1x2xi8>
  %z3 = arith.constant dense<[[3, 4]]> : tensor<1x2xi8>
  %gate = moe.expert_matmul %g, %w1, %off scales(%s1) zero_points(%z1) {weight_bits = 8}
      : (tensor<?x2xf32>, tensor<1x2x2xi8>, tensor<2xi32>, tensor<1x2xf32>, tensor<1x2xi8>) -> tensor<?x2xf32>
  %up = moe.expert_matmul %g, %w3, %off scales(%s3) zero_points(%z3) {weight_bits = 8}
      : (tensor<?x2xf32>, tensor<1x2x2xi8>, tensor<2xi32>, tensor<1x2xf32>, tensor<1x2xi8>) -> tensor<?x2xf32>
  %s = moe.activation %gate up(%up) <silu, gated = separate>
      : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  return %s : tensor<?x2xf32>
}
