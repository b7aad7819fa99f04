// RUN: moe-opt %s -split-input-file -moe-split-empty-tensors | FileCheck %s
// A tensor.empty shared by several ops (as CSE leaves it) becomes one per
// use, each just before its user; slices of an empty tensor are empty too.

#id = affine_map<(d0, d1) -> (d0, d1)>

// CHECK-LABEL: func.func @shared_destination
// CHECK: %[[D:.*]] = tensor.dim
// CHECK-NEXT: %[[E1:.*]] = tensor.empty(%[[D]])
// CHECK-NEXT: %[[A:.*]] = linalg.generic {{.*}} outs(%[[E1]] :
// CHECK: %[[E2:.*]] = tensor.empty(%[[D]])
// CHECK-NEXT: %[[B:.*]] = linalg.generic {{.*}} ins(%[[A]] : {{.*}} outs(%[[E2]] :
// CHECK-NOT: tensor.empty
// CHECK: return %[[B]]
func.func @shared_destination(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %d = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%d) : tensor<?x8xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%i: f32, %o: f32):
    %s = arith.addf %i, %i : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%i: f32, %o: f32):
    %s = arith.mulf %i, %i : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %b : tensor<?x8xf32>
}

// -----

// A shared slice of an empty tensor (two loops' destinations) is folded to
// an empty tensor, then split; a use inside a loop gets its clone before
// the loop, not inside it.

// CHECK-LABEL: func.func @shared_slice
// CHECK-NOT: tensor.extract_slice
// CHECK: %[[E1:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK-NEXT: scf.for {{.*}} iter_args(%{{.*}} = %[[E1]])
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK-NEXT: %[[E3:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK-NEXT: scf.for {{.*}} iter_args(%{{.*}} = %[[E3]])
// CHECK: linalg.fill {{.*}} outs(%[[E2]] :
// CHECK-NOT: tensor.empty
func.func @shared_slice(%v: tensor<4x8xf32>, %n: index) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %e = tensor.empty() : tensor<16x8xf32>
  %s = tensor.extract_slice %e[0, 0] [4, 8] [1, 1] : tensor<16x8xf32> to tensor<4x8xf32>
  %a = scf.for %i = %c0 to %n step %c1 iter_args(%t = %s) -> tensor<4x8xf32> {
    scf.yield %v : tensor<4x8xf32>
  }
  %b = scf.for %i = %c0 to %n step %c1 iter_args(%t = %s) -> tensor<4x8xf32> {
    %f = arith.constant 1.0 : f32
    %u = linalg.fill ins(%f : f32) outs(%s : tensor<4x8xf32>) -> tensor<4x8xf32>
    scf.yield %u : tensor<4x8xf32>
  }
  return %a, %b : tensor<4x8xf32>, tensor<4x8xf32>
}
