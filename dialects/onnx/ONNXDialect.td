//===- ONNXDialect.td - the onnx import dialect --------------*- tablegen -*-===//
//
// The `onnx` dialect: one op per ONNX node kind, as the importer produces it.
//
//===----------------------------------------------------------------------===//

#ifndef ONNX_DIALECT_TD
#define ONNX_DIALECT_TD

include "mlir/IR/OpBase.td"

def ONNX_Dialect : Dialect {
  let name = "onnx";
  let cppNamespace = "::mlir::onnx";
  let summary = "ONNX operators as imported from a model";
  let description = [{
    A direct image of an ONNX graph: each node becomes the op of the same
    name (`onnx.MatMul`, `onnx.TopK`, ...), its attributes keep their ONNX
    names and values, and an absent optional input is a `none` value from
    `onnx.NoValue`. The ops follow the semantics of the latest opset the
    importer accepts (21); the importer rewrites older forms (for example
    `axes` given as an attribute of `ReduceMean` before opset 18) into that
    form, so later passes see one version of each op. Contrib ops of the
    `com.microsoft` domain that matter for MoE models (`MoE`, `QMoE`,
    `SimplifiedLayerNormalization`, `SkipSimplifiedLayerNormalization`) are
    here too.

    Tensor types come from the model (graph inputs, outputs, value_info,
    initializers) and from the importer's shape inference; a result whose
    rank cannot be known is an unranked tensor.
  }];
}

#endif // ONNX_DIALECT_TD
