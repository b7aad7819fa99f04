// RUN: moe-opt %s -split-input-file --moe-annotate-abi=require=true -verify-diagnostics

// The compile pipelines require an entry point: a model none of whose
// functions the C interface takes is an error naming the input.
// expected-error @+1 {{the model's input 'pixels' has element type ui8, which a compiled model's C interface does not take}}
func.func @image(%x: tensor<4xui8> {onnx.name = "pixels"}) -> tensor<4xui8> {
  return %x : tensor<4xui8>
}

// -----

// One function the interface takes is enough.
func.func @fine(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func @wide(%x: tensor<4xf64>) -> tensor<4xf64> {
  return %x : tensor<4xf64>
}
