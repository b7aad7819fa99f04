// RUN: moe-opt %s -moe-fuse-routing-plan -split-input-file | FileCheck %s
// RUN: moe-opt %s -moe-fuse-routing-plan -moe-convert-moe-to-linalg -split-input-file | FileCheck %s --check-prefix=LOWERED

// A router whose ids feed only a dispatch that builds no rows: one
// moe.route_plan with the router's operands and routing and the dispatch's
// block, whose weights, offsets and slots replace theirs.
// CHECK-LABEL: func.func @fused
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<?x64xf32>, %[[WG:[a-z0-9]+]]: tensor<8x64xf32>, %[[B:[a-z0-9]+]]: tensor<8xf32>
// CHECK: %[[W:.*]], %[[OFF:.*]], %[[SLOTS:.*]] = moe.route_plan %[[X]] gate(%[[WG]]) bias(%[[B]]) routing <sigmoid, k = 2, renormalize> block = 64 : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<9xi32>, tensor<?xi32>)
// CHECK-NOT: moe.route
// CHECK-NOT: moe.dispatch
// CHECK: moe.expert_matmul %[[X]], %{{.*}}, %[[OFF]] gather(%[[SLOTS]]) k = 2
// CHECK: moe.combine %{{.*}}, %[[SLOTS]], %[[W]]
// The reference lowering routes, then builds the plan by counting sort.
// LOWERED-LABEL: func.func @fused
// LOWERED-NOT: moe.route_plan
// LOWERED: linalg.matmul
// LOWERED: scf.forall
// LOWERED: cf.assert {{.*}} "moe.dispatch: expert id out of range [0, 8)"
func.func @fused(%x: tensor<?x64xf32>, %wg: tensor<8x64xf32>, %b: tensor<8xf32>,
                 %w1: tensor<8x32x64xf32>) -> tensor<?x32xf32> {
  %w, %ids = moe.route %x gate(%wg) bias(%b) routing <sigmoid, k = 2, renormalize>
      : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %g, %off, %slots = moe.dispatch %x, %ids experts = 8 block = 64
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %x, %w1, %off gather(%slots) k = 2
      : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>, tensor<?xi32>) -> tensor<?x32xf32>
  %o = moe.combine %y, %slots, %w
      : (tensor<?x32xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}

// -----

// The grouped rows are used: the dispatch must build them, nothing fuses.
// CHECK-LABEL: func.func @rows_used
// CHECK: moe.route %
// CHECK: moe.dispatch
// CHECK-NOT: moe.route_plan
func.func @rows_used(%l: tensor<?x8xf32>, %x: tensor<?x64xf32>,
                     %w1: tensor<8x32x64xf32>) -> tensor<?x32xf32> {
  %w, %ids = moe.route %l routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %g, %off, %slots = moe.dispatch %x, %ids experts = 8
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  %y = moe.expert_matmul %g, %w1, %off
      : (tensor<?x64xf32>, tensor<8x32x64xf32>, tensor<9xi32>) -> tensor<?x32xf32>
  %o = moe.combine %y, %slots, %w
      : (tensor<?x32xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}

// -----

// The ids are also returned: they must exist, nothing fuses.
// CHECK-LABEL: func.func @ids_used
// CHECK: moe.route %
// CHECK-NOT: moe.route_plan
func.func @ids_used(%l: tensor<?x8xf32>, %x: tensor<?x64xf32>)
    -> (tensor<9xi32>, tensor<?x2xi32>) {
  %w, %ids = moe.route %l routing <softmax, k = 2>
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %g, %off, %slots = moe.dispatch %x, %ids experts = 8
      : (tensor<?x64xf32>, tensor<?x2xi32>) -> (tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>)
  return %off, %ids : tensor<9xi32>, tensor<?x2xi32>
}
