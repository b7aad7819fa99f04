// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s
// Collectives have side effects: canonicalization must not drop them even
// when their results are unused.
// RUN: moe-opt %s --canonicalize | FileCheck %s --check-prefix=KEEP

// CHECK-LABEL: func.func @blocking
// CHECK: %{{.*}}, %{{.*}} = moe.all_to_all %{{.*}}, %{{.*}} ranks = 4 : (tensor<?x64xf32>, tensor<4xi32>) -> (tensor<?x64xf32>, tensor<4xi32>)
// KEEP-LABEL: func.func @blocking
// KEEP: moe.all_to_all
func.func @blocking(%x: tensor<?x64xf32>, %counts: tensor<4xi32>) {
  %out, %recv = moe.all_to_all %x, %counts ranks = 4
      : (tensor<?x64xf32>, tensor<4xi32>) -> (tensor<?x64xf32>, tensor<4xi32>)
  return
}

// Rows of i32 metadata travel too (each row's local expert id under expert
// parallelism).
// CHECK-LABEL: func.func @row_ids
// CHECK: moe.all_to_all %{{.*}}, %{{.*}} ranks = 2 : (tensor<?x1xi32>, tensor<2xi32>) -> (tensor<?x1xi32>, tensor<2xi32>)
func.func @row_ids(%ids: tensor<?x1xi32>, %counts: tensor<2xi32>) {
  %out, %recv = moe.all_to_all %ids, %counts ranks = 2
      : (tensor<?x1xi32>, tensor<2xi32>) -> (tensor<?x1xi32>, tensor<2xi32>)
  return
}

// Async form: compute can be placed between start and wait.
// CHECK-LABEL: func.func @async
// CHECK: %[[H:.*]] = moe.all_to_all_start %{{.*}}, %{{.*}} ranks = 2 : (tensor<?x64xbf16>, tensor<2xi32>) -> !moe.a2a_handle<2, tensor<?x64xbf16>>
// CHECK: arith.addf
// CHECK: moe.all_to_all_wait %[[H]] : !moe.a2a_handle<2, tensor<?x64xbf16>> -> (tensor<?x64xbf16>, tensor<2xi32>)
// KEEP-LABEL: func.func @async
// KEEP: moe.all_to_all_start
// KEEP: moe.all_to_all_wait
func.func @async(%x: tensor<?x64xbf16>, %counts: tensor<2xi32>,
                 %a: tensor<8xf32>) -> tensor<8xf32> {
  %h = moe.all_to_all_start %x, %counts ranks = 2
      : (tensor<?x64xbf16>, tensor<2xi32>) -> !moe.a2a_handle<2, tensor<?x64xbf16>>
  %sum = arith.addf %a, %a : tensor<8xf32>
  %out, %recv = moe.all_to_all_wait %h
      : !moe.a2a_handle<2, tensor<?x64xbf16>> -> (tensor<?x64xbf16>, tensor<2xi32>)
  return %sum : tensor<8xf32>
}
