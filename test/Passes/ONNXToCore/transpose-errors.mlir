// RUN: moe-opt %s --moe-convert-onnx-to-core -split-input-file -verify-diagnostics
// A Transpose whose perm is not a permutation (MLIR input skips the
// importer's check) is an error at the op, never a crash.

func.func @negative(%x: tensor<3x4xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{Transpose perm is not a permutation of its input's dimensions}}
  %0 = onnx.Transpose(%x) {perm = [1, -2]} : (tensor<3x4xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @repeated(%x: tensor<3x4xf32>) -> tensor<3x3xf32> {
  // expected-error @+1 {{Transpose perm is not a permutation of its input's dimensions}}
  %0 = onnx.Transpose(%x) {perm = [0, 0]} : (tensor<3x4xf32>) -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}
