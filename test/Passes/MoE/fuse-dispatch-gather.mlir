// RUN: moe-opt %s -moe-fuse-dispatch-gather -split-input-file | FileCheck %s
// RUN: moe-opt %s -moe-fuse-dispatch-gather -moe-convert-moe-to-linalg -split-input-file | FileCheck %s --check-prefix=LOWERED
// RUN: moe-opt %s -moe-fuse-dispatch-gather -moe-convert-moe-to-linalg -split-input-file | FileCheck %s --check-prefix=NOGATHER
// RUN: moe-opt %s -moe-convert-moe-to-linalg -split-input-file | FileCheck %s --check-prefix=GATHER

// The first GEMM reads the tokens through the dispatch's slots (k = 2);
// the second GEMM's input is not a dispatch's rows and stays.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<?x64xf32>
// CHECK: %[[G:.*]], %[[OFF:.*]], %[[SLOTS:.*]] = moe.dispatch %[[X]]
// CHECK: %[[H:.*]] = moe.expert_matmul %[[X]], %{{.*}}, %[[OFF]] gather(%[[SLOTS]]) k = 2 epilogue <silu, gated = interleaved> : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<?xi32>) -> tensor<?x128xf32>
// CHECK: moe.expert_matmul %[[H]], %{{.*}}, %[[OFF]] : (tensor<?x128xf32>
// Lowered, the dispatch builds no grouped copy (the loop nest from the
// slots to [rows, 64] rows that it has unfused, GATHER); the GEMM reads its
// expert's rows through the slots, per tile.
// NOGATHER-LABEL: func.func @layer
// NOGATHER-NOT: ins(%{{.*}} : tensor<?xi32>) outs(%{{.*}} : tensor<?x64xf32>)
// NOGATHER-LABEL: func.func @mismatched
// GATHER: ins(%{{.*}} : tensor<?xi32>) outs(%{{.*}} : tensor<?x64xf32>)
// LOWERED-LABEL: func.func @layer
// LOWERED-NOT: = moe.
// LOWERED: scf.forall
// LOWERED: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x64xf32>)
// LOWERED: arith.divui %{{.*}}, %c2
// LOWERED: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x64xf32>
func.func @layer(%x: tensor<?x64xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>,
                 %w1: tensor<8x256x64xf32>, %w2: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 8
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  %h = moe.expert_matmul %g, %w1, %off epilogue <silu, gated = interleaved>
      : (tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>) -> tensor<?x128xf32>
  %y = moe.expert_matmul %h, %w2, %off
      : (tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32>) -> tensor<?x64xf32>
  %o = moe.combine %y, %slots, %w
      : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Rows grouped by another dispatch than the offsets' are not this GEMM's.
// CHECK-LABEL: func.func @mismatched
// CHECK-NOT: gather(
func.func @mismatched(%x: tensor<?x64xf32>, %ids: tensor<?x2xi32>, %ids2: tensor<?x2xi32>,
                      %w1: tensor<8x32x64xf32>) -> tensor<?x32xf32> {
  %g, %off, %slots = moe.dispatch %x, %ids experts = 8
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  %g2, %off2, %slots2 = moe.dispatch %x, %ids2 experts = 8
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w1, %off2
      : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
