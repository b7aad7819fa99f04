// RUN: moe-opt %s --moe-convert-onnx-to-core=allow-partial=false -split-input-file -verify-diagnostics
// An Expand whose result rank is not max(input rank, shape length) (MLIR
// input skips the importer's shape inference) is an error at the op, never
// a crash.

func.func @lower_rank(%x: tensor<1x64xf32>, %shape: tensor<1xi64>) -> tensor<?xf32> {
  // expected-error @+1 {{'onnx.Expand' cannot be lowered to core dialects: the result's rank is not max(input rank, shape length)}}
  %0 = onnx.Expand(%x, %shape) : (tensor<1x64xf32>, tensor<1xi64>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @unknown_length(%x: tensor<1x64xf32>, %shape: tensor<?xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Expand' cannot be lowered to core dialects: the shape must be a 1-D int64 tensor of known length}}
  %0 = onnx.Expand(%x, %shape) : (tensor<1x64xf32>, tensor<?xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
