// RUN: moe-opt %s -split-input-file --moe-annotate-abi | FileCheck %s

// Every public entry function records its tensors: ONNX names and dim_param
// names where the importer left them, input<i> / output<i> and empty dims
// otherwise.
// CHECK-LABEL: func.func @model
// CHECK-SAME: moe.abi = {inputs = [{dims = ["tokens", ""], name = "hidden", type = tensor<?x4xf32>}, {dims = [""], name = "input1", type = tensor<3xi64>}], outputs = [{dims = ["", ""], name = "out", type = tensor<?x4xf32>}]}
func.func @model(%x: tensor<?x4xf32> {onnx.name = "hidden", onnx.dims = ["tokens", ""]},
                 %ids: tensor<3xi64>) -> (tensor<?x4xf32> {onnx.name = "out"}) {
  return %x : tensor<?x4xf32>
}

// Private helpers are not entry points.
// CHECK-LABEL: func.func private @helper
// CHECK-NOT: moe.abi
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// Every element type of the C ABI.
// CHECK-LABEL: func.func @types
// CHECK-SAME: type = tensor<2xf16>
// CHECK-SAME: type = tensor<2xbf16>
// CHECK-SAME: type = tensor<2xi32>
// CHECK-SAME: type = tensor<2xi1>
// CHECK-SAME: outputs = [{dims = [""], name = "output0", type = tensor<2xf32>}]
func.func @types(%a: tensor<2xf16>, %b: tensor<2xbf16>, %c: tensor<2xi32>,
                 %d: tensor<2xi1>) -> tensor<2xf32> {
  %0 = arith.constant dense<0.0> : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// A dims list that does not match the rank is replaced by empty names.
// CHECK-LABEL: func.func @bad_dims
// CHECK-SAME: inputs = [{dims = ["", ""], name = "x"
func.func @bad_dims(%x: tensor<2x3xf32> {onnx.name = "x", onnx.dims = ["n"]}) -> tensor<2x3xf32> {
  return %x : tensor<2x3xf32>
}

// -----

// Functions with a type outside the ABI (f64, unranked) get no signature,
// but the reason, which --emit=shared reports.
// CHECK-LABEL: func.func @wide
// CHECK-SAME: attributes {moe.abi_unsupported = "input 'input0' has element type f64"}
// CHECK-LABEL: func.func @unranked
// CHECK-SAME: attributes {moe.abi_unsupported = "input 'input0' is not a ranked tensor"}
func.func @wide(%x: tensor<4xf64>) -> tensor<4xf64> {
  return %x : tensor<4xf64>
}
func.func @unranked(%x: tensor<*xf32>) -> tensor<*xf32> {
  return %x : tensor<*xf32>
}

// -----

// With `require` (the compile pipelines), a module none of whose public
// functions can cross the C interface is an error naming the first value
// that cannot.
// RUN: not moe-opt %s -split-input-file --moe-annotate-abi=require 2>&1 | FileCheck %s --check-prefix=REQUIRE
// REQUIRE: error: the model's input 'x' has element type f64, which a compiled model's C interface does not take
func.func @only_f64(%x: tensor<4xf64> {onnx.name = "x"}) -> tensor<4xf64> {
  return %x : tensor<4xf64>
}
